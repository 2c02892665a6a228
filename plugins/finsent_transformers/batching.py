"""Length-aware batches with dynamic padding, for training, evaluation and classification alike.

News sentences vary from a handful to hundreds of tokens; padding every batch to the longest text of the
whole set wastes most of the compute on a CPU. Evaluation and classification sort by length; training
shuffles, then sorts inside windows of a few dozen batches and shuffles the batches again, which keeps
batches of similar length (little padding) while the order still changes every epoch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

#: training batches are sorted by length within windows of this many batches
SORT_WINDOW_BATCHES = 50


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (a memory peak shows at once)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def training_batches(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """One epoch's batches: random, yet of similar lengths; the same for the same `seed`."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * SORT_WINDOW_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(ids: Sequence[Sequence[int]], pad_id: int, device: Any) -> dict[str, Any]:
    """input_ids and attention_mask padded to the longest sequence of this batch only."""
    import torch

    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, tokens in enumerate(ids):
        input_ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        mask[row, : len(tokens)] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}


def encode(tokenizer: Any, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
    """Token ids with special tokens; cut to `max_length` (None: full length, to measure)."""
    if not texts:
        return []
    if max_length is None:
        encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
    else:
        encoded = tokenizer(list(texts), add_special_tokens=True, truncation=True, max_length=max_length)
    return [list(row) for row in encoded["input_ids"]]


def auto_max_length(lengths: Sequence[int], cap: int, quantile: float = 0.99) -> int:
    """The `quantile` of the token lengths, rounded up to a multiple of 8, at most `cap`."""
    if not lengths:
        return min(cap, 128)
    ordered = sorted(lengths)
    value = ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]
    return max(8, min(cap, -(-value // 8) * 8))


def length_cap(tokenizer: Any, config: Any) -> int:
    """The longest input the model takes: 512, or less where its position table or tokenizer says so."""
    cap = 512
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style models reserve two positions for the padding offset (514 -> 512)
        cap = min(cap, positions - 2 if positions % 2 == 0 and positions % 8 == 2 else positions)
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 100_000:
        cap = min(cap, limit)
    return cap

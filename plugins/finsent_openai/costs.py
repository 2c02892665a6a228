"""Token counts and training cost per OpenAI base model, from the price list in openai_models.json beside
this module (what the core asks through `Backend.training_cost_estimates` and friends).

Exact counts use tiktoken, but only when its encoding file is already in tiktoken's local cache: finsent
never downloads anything at run time. Otherwise the count is an estimate, flagged `exact=False`:
one token per Hangul syllable (what o200k_base and cl100k_base come to on Korean news, give or take
a third) plus one token per four other characters (Latin words, digits, spaces, punctuation).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from finsent.contract import (
    COMPLETION_SEPARATOR,
    CostEstimate,
    InputError,
    PreparedDataset,
    Text,
    estimate_tokens,
    system_message,
)

# Where tiktoken fetches each encoding from, and the sha256 it expects (from tiktoken_ext.openai_public).
_ENCODING_FILES: dict[str, tuple[str, str]] = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
#: chat format overhead per message and per example (OpenAI cookbook's count for current chat models)
TOKENS_PER_MESSAGE = 3
TOKENS_PER_CHAT_EXAMPLE = 3


@lru_cache(maxsize=1)
def _price_list() -> dict[str, Any]:
    text = resources.files("finsent_openai").joinpath("openai_models.json").read_text(encoding="utf-8")
    return json.loads(text)


def prices_as_of() -> str:
    return str(_price_list()["prices_as_of"])


def openai_base_models() -> list[dict[str, Any]]:
    """The OpenAI base models finsent knows, each a dict (id, kind, trainable, prices per 1M tokens, ...)."""
    data = _price_list()
    return [dict(model, prices_as_of=data["prices_as_of"]) for model in data["models"]]


def base_model(model_id: str) -> dict[str, Any]:
    for model in openai_base_models():
        if model["id"] == model_id:
            return model
    known = ", ".join(m["id"] for m in openai_base_models())
    raise InputError(
        Text(
            f"Unknown OpenAI base model {model_id!r}. Known: {known}.",
            f"알 수 없는 OpenAI 기본 모델 {model_id!r} 입니다. 사용 가능: {known}.",
        ),
        hint=Text("Pick one of these.", "목록에서 고르세요."),
    )


def smallest_context() -> tuple[int, str]:
    """(tokens, model id) of the trainable model with the smallest example limit."""
    model = min((m for m in openai_base_models() if m["trainable"]), key=lambda m: m["context_tokens"])
    return int(model["context_tokens"]), str(model["id"])


def _tiktoken_cache_file(encoding: str) -> Path | None:
    """The cached encoding file when tiktoken has it locally with the right hash, else None."""
    if encoding not in _ENCODING_FILES:
        return None
    url, expected = _ENCODING_FILES[encoding]
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if cache_dir == "":  # tiktoken's "no cache" setting: it would download every time
        return None
    path = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return path if hashlib.sha256(data).hexdigest() == expected else None


@lru_cache(maxsize=4)
def cached_encoder(encoding: str) -> Any | None:
    """The tiktoken encoding when its verified file is in the local cache, else None: never a download.

    (tiktoken itself would fetch the file again when it is missing or does not match its hash.)"""
    if _tiktoken_cache_file(encoding) is None:
        return None
    try:
        import tiktoken

        return tiktoken.get_encoding(encoding)
    except Exception:  # a broken tiktoken install must not break cost estimates: fall back to estimating
        return None


def count_tokens(texts: Sequence[str], encoding: str = "o200k_base") -> tuple[list[int], bool]:
    """Token count per text and whether the counts are exact (tiktoken, offline) or estimated."""
    encoder = cached_encoder(encoding)
    if encoder is None:
        return [estimate_tokens(t) for t in texts], False
    return [len(tokens) for tokens in encoder.encode_ordinary_batch(list(texts))], True


def example_tokens(
    texts: Sequence[str], labels: Sequence[str], kind: str, label_names: Sequence[str], encoding: str
) -> tuple[int, bool]:
    """Billed tokens of one pass over training examples in the given file kind ("chat" or "completion")."""
    if kind == "completion":
        prompts, exact = count_tokens([t + COMPLETION_SEPARATOR for t in texts], encoding)
        answers, _ = count_tokens([" " + label for label in labels], encoding)
        return sum(prompts) + sum(answers), exact
    system, exact = count_tokens([system_message(label_names)], encoding)
    users, _ = count_tokens(list(texts), encoding)
    answers, _ = count_tokens(list(labels), encoding)
    per_example = system[0] + 3 * TOKENS_PER_MESSAGE + TOKENS_PER_CHAT_EXAMPLE
    return per_example * len(texts) + sum(users) + sum(answers), exact


def estimate_training_cost(dataset: PreparedDataset, base_model_id: str, epochs: int = 3) -> CostEstimate:
    """Training tokens of the train split x epochs x the model's training price."""
    (estimate,) = _estimates(dataset, [base_model(base_model_id)], epochs)
    return estimate


def estimate_all(dataset: PreparedDataset, epochs: int = 3) -> list[CostEstimate]:
    """One estimate per trainable base model, cheapest first."""
    estimates = _estimates(dataset, [m for m in openai_base_models() if m["trainable"]], epochs)
    return sorted(estimates, key=lambda e: (e.usd, e.base_model))


def _estimates(dataset: PreparedDataset, models: Sequence[dict[str, Any]], epochs: int) -> list[CostEstimate]:
    """The train split is read once and counted once per (file kind, encoding): models sharing both bill
    the same tokens and differ only in price."""
    if epochs < 1:
        raise InputError(Text("Epochs must be at least 1.", "에포크는 1 이상이어야 합니다."))
    frame = dataset.frame("train")
    texts, labels = frame["text"].tolist(), frame["label"].tolist()
    counted: dict[tuple[str, str], tuple[int, bool]] = {}
    estimates = []
    for model in models:
        key = (model["kind"], model["encoding"])
        if key not in counted:
            counted[key] = example_tokens(
                texts, labels, model["kind"], dataset.labels.names, model["encoding"]
            )
        tokens, exact = counted[key]
        total = tokens * epochs
        estimates.append(
            CostEstimate(
                base_model=model["id"],
                tokens_per_epoch=tokens,
                epochs=epochs,
                total_tokens=total,
                usd=round(total / 1_000_000 * float(model["training_per_1m"]), 4),
                exact=exact,
                prices_as_of=prices_as_of(),
                kind=model["kind"],
                examples=len(frame),
            )
        )
    return estimates

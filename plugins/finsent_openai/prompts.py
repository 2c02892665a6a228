"""What a chat model is told: the system message, and examples for few-shot mode.

A fine-tuned chat model gets the system message of its training file (recorded at stage 1), so that
training and classification see the same prompt. Zero/few-shot mode needs no fine-tuning at all: it
works with any chat model, which keeps the backend useful after OpenAI's fine-tuning cut-off.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from finsent.contract import LabelSet, ModelRef, PreparedDataset, Text, errors, system_message

ZERO_SHOT = "zero_shot"
FEW_SHOT = "few_shot"
SHOT_MODES = (ZERO_SHOT, FEW_SHOT)


def chat_messages(model: ModelRef, text: str) -> list[dict[str, str]]:
    """System message, few-shot examples as earlier turns, then the text in the model's input format."""
    # Zero-shot (and models from before the prompt was recorded) get the wording of finsent's training files.
    system = str(model.details.get("system_prompt") or system_message(model.labels.names))
    messages = [{"role": "system", "content": system}]
    for example in model.details.get("examples") or ():
        messages.append({"role": "user", "content": model.input_format.apply(example["text"])})
        messages.append({"role": "assistant", "content": str(example["label"])})
    messages.append({"role": "user", "content": model.input_format.apply(text)})
    return messages


def pick_examples(
    rows: Sequence[Mapping[str, str]], labels: LabelSet, per_label: int, seed: int
) -> list[dict[str, str]]:
    """`per_label` examples of each label, chosen with `seed`, interleaved so no label comes in a block."""
    rng = random.Random(seed)
    by_label: dict[str, list[Mapping[str, str]]] = {name: [] for name in labels.names}
    for row in rows:
        if row.get("label") in by_label and str(row.get("text", "")).strip():
            by_label[str(row["label"])].append(row)
    chosen = {name: rng.sample(items, min(per_label, len(items))) for name, items in by_label.items()}
    examples = []
    for i in range(per_label):
        for name in labels.names:
            if i < len(chosen[name]):
                examples.append({"text": str(chosen[name][i]["text"]), "label": name})
    return examples


def shot_details(
    dataset: PreparedDataset | None, mode: str, *, per_label: int = 2, seed: int = 42
) -> dict[str, Any]:
    """ModelRef.details for zero/few-shot mode; few-shot examples come from the training split only."""
    if mode not in SHOT_MODES:
        raise errors.InputError(
            Text(
                f"Unknown mode {mode!r}: use one of {', '.join(SHOT_MODES)}.",
                f"알 수 없는 모드 {mode!r}: {', '.join(SHOT_MODES)} 중 하나를 쓰세요.",
            )
        )
    details: dict[str, Any] = {"mode": mode, "kind": "chat"}
    if mode == FEW_SHOT:
        if dataset is None:
            raise errors.InputError(
                Text(
                    "Few-shot mode needs a prepared dataset to draw examples from (its training split).",
                    "퓨샷 모드는 예시를 뽑을 준비된 데이터(학습 분할)가 필요합니다.",
                )
            )
        frame = dataset.frame("train")
        rows = [
            {"text": str(t), "label": str(lb)} for t, lb in zip(frame["text"], frame["label"], strict=True)
        ]
        details["examples"] = pick_examples(rows, dataset.labels, per_label, seed)
        details["seed"] = seed
    return details

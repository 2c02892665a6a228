"""A small prepared dataset written by hand (invented sentences, nothing from the corpus) for OpenAI tests.

It has the layout finsent.contract.dataset documents, so the backend reads it through PreparedDataset like any
dataset `finsent prepare` writes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from finsent.contract.dataset import PreparedDataset
from finsent.contract.labels import LabelSet

COMPANIES = (
    "한빛전자",
    "푸른바이오",
    "대성건설",
    "미래금융",
    "Acme Corp",
    "Nordic Steel",
    "세종화학",
    "동해해운",
)
METRICS = ("매출", "영업이익", "순이익", "수출", "quarterly revenue", "operating profit")
CHANGES = {
    "positive": (
        "전년 대비 12% 상승했다",
        "크게 증가했다",
        "흑자로 돌아섰다",
        "rose sharply",
        "showed strong growth",
    ),
    "negative": (
        "전년 대비 8% 하락했다",
        "크게 감소했다",
        "적자로 돌아섰다",
        "fell sharply",
        "posted a loss",
    ),
    "neutral": (
        "발표 일정이 공시되었다",
        "주주총회에서 논의되었다",
        "was reported on schedule",
        "is due next week",
    ),
}
SYSTEM = "Classify the sentiment of the financial news sentence as one of: positive, negative, neutral."


def sentences(n: int, offset: int = 0) -> list[tuple[str, str]]:
    """n (text, label) pairs, labels in rotation, every text distinct."""
    labels = list(CHANGES)
    rows = []
    for i in range(offset, offset + n):
        label = labels[i % 3]
        change = CHANGES[label][(i // 3) % len(CHANGES[label])]
        company = COMPANIES[(i // 7) % len(COMPANIES)]
        metric = METRICS[(i // 5) % len(METRICS)]
        rows.append((f"{company} {metric} #{i}: {change}", label))
    return rows


def write_prepared(directory: Path, n_train: int = 30, n_valid: int = 9) -> PreparedDataset:
    directory.mkdir(parents=True, exist_ok=True)
    splits = {"train": sentences(n_train), "valid": sentences(n_valid, offset=n_train)}
    for split, rows in splits.items():
        with (directory / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "text", "label"])
            writer.writerows((i + 1, text, label) for i, (text, label) in enumerate(rows))
        with (directory / f"{split}.completion.jsonl").open("w", encoding="utf-8") as handle:
            for text, label in rows:
                handle.write(
                    json.dumps({"prompt": text + " ->", "completion": " " + label}, ensure_ascii=False) + "\n"
                )
        with (directory / f"{split}.chat.jsonl").open("w", encoding="utf-8") as handle:
            for text, label in rows:
                messages = [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": text},
                    {"role": "assistant", "content": label},
                ]
                handle.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    counts = {
        split: {label: sum(1 for _, lb in rows if lb == label) for label in CHANGES}
        for split, rows in splits.items()
    }
    manifest = {
        "labels": LabelSet().to_dict(),
        "input_format": {"lowercase": False, "separator": ""},
        "counts": counts,
        "source": "invented sentences for the OpenAI backend tests",
    }
    (directory / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return PreparedDataset.open(directory)

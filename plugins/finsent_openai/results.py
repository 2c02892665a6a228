"""OpenAI's training metrics -> finsent's MetricPoint: from metric events, checkpoints and the results file.

The results file (step_metrics.csv) arrives as plain CSV or base64-encoded CSV depending on the API
generation; both are read. Column names vary a little too (train_accuracy vs train_mean_token_accuracy).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
from collections.abc import Iterable, Mapping

from finsent.contract import MetricPoint, Text, errors

# finsent field <- OpenAI names, first present wins. Per-step validation first, full validation as fallback.
_FIELDS: dict[str, tuple[str, ...]] = {
    "train_loss": ("train_loss",),
    "train_accuracy": ("train_accuracy", "train_mean_token_accuracy"),
    "valid_loss": ("valid_loss", "full_valid_loss"),
    "valid_accuracy": ("valid_mean_token_accuracy", "valid_accuracy", "full_valid_mean_token_accuracy"),
}


def _number(value: object) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def point_from_metrics(
    data: Mapping[str, object], *, n_epochs: float | None = None, total_steps: float | None = None
) -> MetricPoint | None:
    """One row of metrics (event data, checkpoint metrics or a CSV row) -> a MetricPoint, or None without a step."""
    step = _number(data.get("step") if data.get("step") is not None else data.get("step_number"))
    if step is None:
        return None
    values: dict[str, float | None] = {}
    for name, sources in _FIELDS.items():
        values[name] = next((v for v in (_number(data.get(s)) for s in sources) if v is not None), None)
    epoch = _number(data.get("epoch"))
    total = _number(data.get("total_steps")) or total_steps
    if epoch is None and n_epochs and total:
        epoch = round(step * n_epochs / total, 4)
    return MetricPoint(step=int(step), epoch=epoch, **values)


def decode_results(content: bytes) -> str:
    """The CSV text of a results file, whether it came plain or base64-encoded."""
    text = content.decode("utf-8-sig", errors="replace").strip()
    if text.split("\n", 1)[0].lstrip().startswith("step"):
        return text
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True).decode("utf-8-sig")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        decoded = ""
    if decoded.lstrip().startswith("step"):
        return decoded
    raise errors.FinsentError(
        Text(
            "The job's results file is neither CSV nor base64-encoded CSV with a 'step' column.",
            "작업 결과 파일이 'step' 열이 있는 CSV(또는 base64 CSV)가 아닙니다.",
        ),
        hint=Text(
            "The job itself is fine; only its training curve could not be read.",
            "작업 자체는 정상이며, 학습 곡선만 읽지 못했습니다.",
        ),
    )


def parse_results(content: bytes, n_epochs: float | None = None) -> list[MetricPoint]:
    """Every step of the results file, sorted by step."""
    rows = list(csv.DictReader(io.StringIO(decode_results(content))))
    steps = [_number(r.get("step")) for r in rows]
    total = max((s for s in steps if s is not None), default=None)
    points = [point_from_metrics(row, n_epochs=n_epochs, total_steps=total) for row in rows]
    return merge_points(p for p in points if p is not None)


def merge_points(points: Iterable[MetricPoint]) -> list[MetricPoint]:
    """One point per step (later sources fill what earlier ones lacked), sorted by step."""
    merged: dict[int, MetricPoint] = {}
    for point in points:
        old = merged.get(point.step)
        if old is None:
            merged[point.step] = point
            continue
        merged[point.step] = MetricPoint(
            step=point.step,
            epoch=old.epoch if old.epoch is not None else point.epoch,
            train_loss=old.train_loss if old.train_loss is not None else point.train_loss,
            train_accuracy=old.train_accuracy if old.train_accuracy is not None else point.train_accuracy,
            valid_loss=old.valid_loss if old.valid_loss is not None else point.valid_loss,
            valid_accuracy=old.valid_accuracy if old.valid_accuracy is not None else point.valid_accuracy,
        )
    return [merged[step] for step in sorted(merged)]

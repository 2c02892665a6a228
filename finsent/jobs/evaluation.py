"""Classification metrics for any backend, computed the same way for all (replaces the old
`--compute_classification_metrics`): accuracy, macro-F1, per-class precision/recall/F1/support and the
confusion matrix, with an extra column for predictions outside the label set ("unknown")."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from finsent.contract.backend import UNKNOWN_LABEL, Backend, ModelRef, Prediction
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import DataError, FinsentError
from finsent.contract.texts import Text
from finsent.store.records import EvaluationRecord


@dataclass(frozen=True)
class ClassificationMetrics:
    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    #: rows: true labels; columns: predicted labels + "unknown"
    confusion: tuple[tuple[int, ...], ...]
    n: int


def compute_metrics(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> ClassificationMetrics:
    """Metrics over `labels`; a predicted value outside them counts in the "unknown" column (and as wrong)."""
    names = tuple(labels)
    k = len(names)
    index = {name: i for i, name in enumerate(names)}
    true_codes = np.fromiter((index.get(t, -1) for t in truth), dtype=np.int64, count=len(truth))
    if (true_codes < 0).any():
        bad = sorted({t for t in truth if t not in index})[:5]
        raise DataError(f"The reference labels {bad} are not in the label set {list(names)}.")
    pred_codes = np.fromiter((index.get(p, k) for p in predicted), dtype=np.int64, count=len(predicted))
    if len(pred_codes) != len(true_codes):
        raise ValueError("truth and predictions differ in length")
    n = len(true_codes)
    confusion = np.zeros((k, k + 1), dtype=np.int64)
    np.add.at(confusion, (true_codes, pred_codes), 1)
    tp = np.diag(confusion[:, :k]).astype(float)
    support = confusion.sum(axis=1).astype(float)
    predicted_count = confusion[:, :k].sum(axis=0).astype(float)
    # zero_division=0, as scikit-learn does by default (with a warning we do not need)
    precision = np.divide(tp, predicted_count, out=np.zeros(k), where=predicted_count > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": float(support[i]),
        }
        for i, name in enumerate(names)
    }
    return ClassificationMetrics(
        labels=names,
        accuracy=float(tp.sum() / n) if n else 0.0,
        macro_f1=float(f1.mean()) if k else 0.0,
        per_class=per_class,
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
        n=n,
    )


#: the most texts sent in one `classify` call, whatever a backend's classify_batch_size says
MAX_CHUNK = 2000


def chunk_size_for(backend: Backend) -> int:
    """Texts per `classify` call: the backend's classify_batch_size, within 1..MAX_CHUNK."""
    return max(1, min(int(backend.classify_batch_size or 1000), MAX_CHUNK))


T = TypeVar("T")


def checked(backend: Backend, answers: list[T], texts: Sequence[object], hint: Text | None = None) -> list[T]:
    """`answers`, when the backend kept its promise of one answer per text (classify, batch results);
    otherwise the error that says it did not (a bug in the plugin, not the user's)."""
    if len(answers) != len(texts):
        hint = hint or Text(
            "This is a bug in the backend plugin; report it to its author.",
            "백엔드 플러그인의 버그입니다. 작성자에게 알려 주세요.",
        )
        raise FinsentError(
            Text(
                f"The {backend.label} backend returned {len(answers)} answers for {len(texts)} texts.",
                f"{backend.label_text().get('ko')} 백엔드가 {len(texts)}개 문장에 {len(answers)}개의 답을 돌려주었습니다.",
            ),
            hint=Text(hint.en, hint.ko),
        )
    return answers


def classify_in_batches(
    backend: Backend,
    model: ModelRef,
    texts: Sequence[str],
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Prediction]:
    """backend.classify in chunks of its batch size, checking it keeps its promise of one answer per text."""
    size = chunk_size_for(backend)
    predictions: list[Prediction] = []
    for start in range(0, len(texts), size):
        batch = list(texts[start : start + size])
        predictions.extend(checked(backend, backend.classify(model, batch), batch))
        if on_progress:
            on_progress(len(predictions), len(texts))
    return predictions


def evaluate_model(
    backend: Backend,
    model: ModelRef,
    dataset: PreparedDataset,
    *,
    split: str = "valid",
    job_id: str | None = None,
    dataset_id: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[EvaluationRecord, pd.DataFrame]:
    """Classify the split with `model`; returns the record and the per-example predictions
    (columns row, text, label, predicted, confidence)."""
    frame = dataset.frame(split)
    if frame.empty:
        raise DataError(
            Text(
                f"The {split} split of {dataset.directory} is empty; nothing to evaluate on.",
                "검증 데이터가 비어 있어 평가할 수 없습니다.",
            ),
            hint=Text(
                "Prepare the data again with a validation fraction above 0.",
                "검증 비율을 0보다 크게 하여 데이터를 다시 준비하세요.",
            ),
        )
    texts = frame["text"].astype(str).tolist()
    predictions = classify_in_batches(backend, model, texts, on_progress)
    labels = tuple(dataset.labels.names)
    predicted = [p.label if p.label in labels else UNKNOWN_LABEL for p in predictions]
    metrics = compute_metrics(frame["label"].astype(str).tolist(), predicted, labels)
    record = EvaluationRecord(
        id=f"ev-{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}",
        job_id=job_id,
        model_id=model.id,
        backend=backend.name,
        dataset_id=dataset_id,
        split=split,
        accuracy=metrics.accuracy,
        macro_f1=metrics.macro_f1,
        per_class=metrics.per_class,
        labels=labels,
        confusion=metrics.confusion,
        created_at=time.time(),
        n=metrics.n,
    )
    per_example = pd.DataFrame(
        {
            "row": frame["row"].astype("int64"),
            "text": texts,
            "label": frame["label"].astype(str),
            "predicted": predicted,
            "confidence": [float(p.confidence) for p in predictions],
        }
    )
    return record, per_example


def misclassified_view(predictions: pd.DataFrame) -> pd.DataFrame:
    """The examples the model got wrong, least confident mistakes last."""
    wrong = predictions[predictions["label"] != predictions["predicted"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)

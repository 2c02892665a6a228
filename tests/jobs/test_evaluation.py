# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from core_fixtures import prepared_dir, service, write_prepared  # noqa: F401  (fixtures)
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from finsent.contract.backend import ModelRef, Prediction
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import FinsentError
from finsent.contract.labels import LabelSet
from finsent.jobs.evaluation import classify_in_batches, compute_metrics, evaluate_model
from finsent.service import FinsentService

LABELS = ("positive", "negative", "neutral")


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    truth = rng.choice(LABELS, size=500).tolist()
    predicted = [t if rng.random() < 0.7 else rng.choice([*LABELS, "unknown"]) for t in truth]
    metrics = compute_metrics(truth, predicted, LABELS)
    assert metrics.n == 500
    assert metrics.accuracy == pytest.approx(accuracy_score(truth, predicted))
    assert metrics.macro_f1 == pytest.approx(f1_score(truth, predicted, labels=list(LABELS), average="macro"))
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=list(LABELS), zero_division=0)
    for i, label in enumerate(LABELS):
        assert metrics.per_class[label]["precision"] == pytest.approx(p[i])
        assert metrics.per_class[label]["recall"] == pytest.approx(r[i])
        assert metrics.per_class[label]["f1"] == pytest.approx(f[i])
        assert metrics.per_class[label]["support"] == s[i]
    expected = confusion_matrix(truth, predicted, labels=[*LABELS, "unknown"])[:3]
    assert np.array_equal(np.array(metrics.confusion), expected)
    assert sum(row[3] for row in metrics.confusion) == predicted.count("unknown")


def test_a_class_never_predicted_scores_zero_not_nan() -> None:
    metrics = compute_metrics(["positive", "negative"], ["positive", "positive"], LABELS)
    assert metrics.per_class["negative"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1.0}
    assert metrics.per_class["neutral"]["support"] == 0.0
    assert metrics.accuracy == 0.5


def test_evaluate_model_with_the_scripted_backend(service: FinsentService, tmp_path: Path) -> None:
    directory = write_prepared(tmp_path / "p", copies=4)
    frame = PreparedDataset.open(directory).frame("valid")
    # make two validation texts unclassifiable or misleading for the keyword rule
    frame.loc[0, "text"] = "??? unreadable"
    frame.loc[1, "text"] = "prices up but " + frame.loc[1, "text"]
    frame.to_csv(directory / "valid.csv", index=False)
    backend = service.backend("scripted")
    ref = ModelRef(id="m", labels=LabelSet(LABELS))
    progress: list[tuple[int, int]] = []
    record, predictions = evaluate_model(
        backend, ref, PreparedDataset.open(directory), on_progress=lambda a, b: progress.append((a, b))
    )
    n = len(frame)
    assert record.n == n and progress[-1] == (n, n) and len(progress) == -(-n // backend.classify_batch_size)
    assert list(predictions.columns) == ["row", "text", "label", "predicted", "confidence"]
    assert predictions.loc[0, "predicted"] == "unknown"
    assert record.confusion[LABELS.index(frame.loc[0, "label"])][3] == 1
    wrong = (predictions["label"] != predictions["predicted"]).sum()
    assert record.accuracy == pytest.approx((n - wrong) / n) and wrong >= 1


def test_backend_breaking_its_promise_is_a_clear_error(service: FinsentService) -> None:
    backend = service.backend("scripted")

    class Short(type(backend)):  # type: ignore[misc]
        def classify(self, model, texts):  # type: ignore[no-untyped-def]
            return [Prediction("positive", 1.0)] * (len(texts) - 1)

    with pytest.raises(FinsentError, match="returned 9 answers for 10 texts"):
        classify_in_batches(Short(backend.context), ModelRef("m", LabelSet()), ["x"] * 10)


def test_misclassified_view_through_the_service(service: FinsentService, tmp_path: Path) -> None:
    directory = write_prepared(tmp_path / "p")
    valid = PreparedDataset.open(directory).frame("valid")
    valid.loc[valid["label"] == "neutral", "text"] = "shares up today"
    valid.to_csv(directory / "valid.csv", index=False)
    dataset = service.register_dataset(directory)
    service.add_model("scripted", "m", dataset_id=dataset.id)
    evaluation = service.evaluate("scripted", "m", dataset.id)
    wrong = service.misclassified(evaluation.id)
    assert list(wrong.columns) == ["row", "text", "label", "predicted", "confidence"]
    assert len(wrong) == (valid["label"] == "neutral").sum()
    assert set(wrong["label"]) == {"neutral"} and set(wrong["predicted"]) == {"positive"}
    assert sorted(wrong["row"]) == sorted(valid.loc[valid["label"] == "neutral", "row"])


def test_one_check_of_one_answer_per_text_for_every_caller(service: FinsentService) -> None:
    """classify_in_batches, bulk runs and batch results all go through `checked`: one message, both languages."""
    from finsent.contract.texts import Text
    from finsent.jobs.evaluation import checked

    backend = service.backend("scripted")
    assert checked(backend, [1, 2], ["a", "b"]) == [1, 2]
    with pytest.raises(FinsentError) as info:
        checked(backend, [1], ["a", "b"], Text("Resume the run.", "실행을 재개하세요."))
    assert "returned 1 answers for 2 texts" in info.value.text("en") and "Resume the run." in str(info.value)
    assert "2개 문장에 1개의 답" in info.value.text("ko") and "실행을 재개하세요." in info.value.text("ko")

"""The backend contract: every backend in CONTRACT_SETUPS, driven through the `Backend` interface only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_setups import CONTRACT_SETUPS, ContractSetup

from finsent.contract.backend import (
    UNKNOWN_LABEL,
    JobEvent,
    JobStatus,
    JobUpdate,
    MetricPoint,
    ModelRef,
    TrainingData,
)
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import FinsentError, NotFoundError


@pytest.fixture(params=sorted(CONTRACT_SETUPS))
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractSetup]:
    ready = CONTRACT_SETUPS[request.param](tmp_path)
    try:
        yield ready
    finally:
        if ready.teardown is not None:
            ready.teardown()
        ready.backend.close()


def _start(setup: ContractSetup, options: dict, tmp_path: Path) -> tuple[str, TrainingData]:
    backend = setup.backend
    opts = backend.Options(**options)
    data = backend.prepare_training_data(PreparedDataset.open(setup.dataset_dir), opts, tmp_path / "work")
    started = backend.start_training(data, opts)
    assert started.external_id
    return started.external_id, data


def _follow(setup: ContractSetup, job_id: str) -> tuple[JobUpdate, list[JobEvent], list[MetricPoint]]:
    """Poll with the cursor until the job ends; everything it reported on the way."""
    deadline = time.monotonic() + setup.deadline_seconds
    cursor: str | None = None
    events: list[JobEvent] = []
    metrics: list[MetricPoint] = []
    while True:
        update = setup.backend.poll_job(job_id, cursor)
        cursor = update.cursor
        events += update.events
        metrics += update.metrics
        if update.status.is_terminal:
            return update, events, metrics
        assert time.monotonic() < deadline, f"job {job_id} still {update.status.value} after the deadline"
        time.sleep(0.05)


@pytest.fixture
def trained(setup: ContractSetup, tmp_path: Path) -> tuple[ContractSetup, ModelRef]:
    job_id, data = _start(setup, setup.options, tmp_path)
    update, _events, _metrics = _follow(setup, job_id)
    assert update.status is JobStatus.SUCCEEDED, update.error
    assert update.fine_tuned_model
    details = dict(update.details.get("model_file", {}))
    return setup, ModelRef(update.fine_tuned_model, data.dataset.labels, data.input_format, details=details)


def test_a_job_reaches_a_terminal_state_with_increasing_metric_steps(
    setup: ContractSetup, tmp_path: Path
) -> None:
    job_id, _data = _start(setup, setup.options, tmp_path)
    update, events, metrics = _follow(setup, job_id)
    assert update.status is JobStatus.SUCCEEDED, update.error
    assert update.fine_tuned_model
    assert events, "a job reports what it does"
    assert metrics, "a job reports its training curve"
    steps = [m.step for m in metrics]
    assert steps == sorted(set(steps)), "metric steps increase and are never repeated"
    # Polling again from the last cursor brings nothing new.
    again = setup.backend.poll_job(job_id, update.cursor)
    assert again.status is JobStatus.SUCCEEDED
    assert again.events == [] and again.metrics == []


def test_classify_returns_one_prediction_per_text_in_order(trained: tuple[ContractSetup, ModelRef]) -> None:
    setup, model = trained
    texts = [
        "영업이익이 전년 대비 크게 증가했다.",
        "회사는 적자 전환과 함께 대규모 감원을 발표했다.",
        "이사회는 다음 주 화요일에 열린다.",
        "Operating profit rose to EUR 13.1 mn.",
        "   ",
        ("매출이 늘었다 " * 1500)[:10_000],  # a 10,000-character text
    ]
    assert len(texts[-1]) == 10_000
    predictions = setup.backend.classify(model, texts)
    assert len(predictions) == len(texts)
    names = set(model.labels.names)
    for prediction in predictions:
        assert prediction.label in names or prediction.label == UNKNOWN_LABEL
        assert 0.0 <= prediction.confidence <= 1.0
        assert set(prediction.scores) <= names
        assert all(0.0 <= score <= 1.0 for score in prediction.scores.values())
    # In order: each text classified alone gets the same label as in the batch.
    for text, prediction in zip(texts[:4], predictions[:4], strict=True):
        assert setup.backend.classify(model, [text])[0].label == prediction.label


def test_empty_input_gives_empty_output(trained: tuple[ContractSetup, ModelRef]) -> None:
    setup, model = trained
    assert setup.backend.classify(model, []) == []


def test_cancel_stops_a_running_job(setup: ContractSetup, tmp_path: Path) -> None:
    if setup.slow_options is None:
        pytest.skip("this backend's setup has no slow job to cancel")
    job_id, _data = _start(setup, setup.slow_options, tmp_path)
    assert not setup.backend.poll_job(job_id).status.is_terminal
    status = setup.backend.cancel_job(job_id)
    assert not status.is_terminal or status is JobStatus.CANCELLED  # some services take a moment
    update, _events, _metrics = _follow(setup, job_id)
    assert update.status is JobStatus.CANCELLED
    assert update.fine_tuned_model is None


def test_an_unknown_job_gives_a_clear_error(setup: ContractSetup) -> None:
    with pytest.raises(NotFoundError) as info:
        setup.backend.poll_job("no-such-job-42")
    assert "no-such-job-42" in str(info.value)
    with pytest.raises(FinsentError):
        setup.backend.cancel_job("no-such-job-42")

"""The mock backend: lifecycle on a fake clock, determinism, fault injection, keyword classification."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
from contract_setups import prepared_sample
from finsent_mock import MockBackend, MockOptions
from finsent_mock.backend import BUILTIN_MODEL, ClassificationRefused
from pydantic import ValidationError

from finsent.contract.backend import BackendContext, JobStatus, ModelRef
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import FinsentError, NotFoundError
from finsent.contract.labels import LabelSet
from finsent.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(clock: FakeClock) -> MockBackend:
    return MockBackend(BackendContext(Settings.from_env()), clock=clock)


@pytest.fixture
def dataset(tmp_path: Path) -> PreparedDataset:
    return PreparedDataset.open(prepared_sample(tmp_path / "prepared"))


def _start(backend: MockBackend, dataset: PreparedDataset, tmp_path: Path, **options: object) -> str:
    opts = MockOptions(**options)
    data = backend.prepare_training_data(dataset, opts, tmp_path / "work")
    return backend.start_training(data, opts).external_id


def test_a_job_walks_through_the_lifecycle_as_the_clock_moves(
    backend: MockBackend, dataset: PreparedDataset, clock: FakeClock, tmp_path: Path
) -> None:
    job = _start(backend, dataset, tmp_path, duration_seconds=100, epochs=2, steps_per_epoch=10)
    seen, progress = [], []
    for second in range(0, 101, 2):
        clock.now = 1_000_000.0 + second
        update = backend.poll_job(job)
        if not seen or seen[-1] is not update.status:
            seen.append(update.status)
        progress.append(update.progress)
    assert seen == [JobStatus.VALIDATING_FILES, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED]
    assert progress == sorted(progress) and progress[-1] == 1.0
    final = backend.poll_job(job)
    assert final.fine_tuned_model == f"mock-{job}"
    assert [m.step for m in final.metrics] == list(range(1, 21))
    assert any("Epoch 2/2" in e.text.en for e in final.events)


def test_curves_behave_like_training_and_depend_only_on_the_seed(
    backend: MockBackend, dataset: PreparedDataset, tmp_path: Path
) -> None:
    def curve(seed: int) -> list:
        job = _start(backend, dataset, tmp_path, seed=seed, epochs=5, steps_per_epoch=20)
        return backend.poll_job(job).metrics

    first, again, other = curve(7), curve(7), curve(8)
    assert first == again
    assert first != other
    head, tail = first[:10], first[-10:]
    mean = lambda points, key: sum(getattr(p, key) for p in points) / len(points)  # noqa: E731
    assert mean(tail, "train_loss") < mean(head, "train_loss") / 2
    assert mean(tail, "train_accuracy") > mean(head, "train_accuracy") + 0.2
    assert mean(tail, "valid_loss") > mean(tail, "train_loss")  # validation trails training
    assert all(0.0 <= p.valid_accuracy <= 1.0 for p in first)


def test_another_instance_and_another_process_see_the_same_job(
    dataset: PreparedDataset, tmp_path: Path
) -> None:
    first = MockBackend(BackendContext(Settings.from_env()))
    job = _start(first, dataset, tmp_path, duration_seconds=0)
    second = MockBackend(BackendContext(Settings.from_env()))
    assert second.poll_job(job).status is JobStatus.SUCCEEDED
    code = (
        "import sys, json; from finsent.contract.backend import BackendContext; from finsent.settings import Settings; "
        "from finsent_mock import MockBackend; "
        "u = MockBackend(BackendContext(Settings.from_env())).poll_job(sys.argv[1]); "
        "print(json.dumps([u.status.value, u.fine_tuned_model, len(u.metrics)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, job], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == ["succeeded", f"mock-{job}", 30]


def test_reject_file_fails_while_validating(
    backend: MockBackend, dataset: PreparedDataset, tmp_path: Path
) -> None:
    job = _start(backend, dataset, tmp_path, reject_file=True)
    update = backend.poll_job(job)
    assert update.status is JobStatus.FAILED
    assert update.error and update.error.startswith("invalid_training_file")
    assert update.metrics == []
    assert any(e.level == "error" for e in update.events)


def test_fail_at_step_stops_the_curve_there(
    backend: MockBackend, dataset: PreparedDataset, tmp_path: Path
) -> None:
    job = _start(backend, dataset, tmp_path, fail_at_step=7)
    update = backend.poll_job(job)
    assert update.status is JobStatus.FAILED
    assert update.error and "step 7" in update.error and update.error.startswith("mock_step_failure")
    assert [m.step for m in update.metrics] == list(range(1, 7))
    assert update.fine_tuned_model is None


def test_cancel_mid_run_keeps_what_happened_before(
    backend: MockBackend, dataset: PreparedDataset, clock: FakeClock, tmp_path: Path
) -> None:
    job = _start(backend, dataset, tmp_path, duration_seconds=100)
    clock.now += 50
    before = backend.poll_job(job)
    assert before.status is JobStatus.RUNNING
    assert backend.cancel_job(job) is JobStatus.CANCELLED
    clock.now += 100
    after = backend.poll_job(job, before.cursor)
    assert after.status is JobStatus.CANCELLED
    assert after.metrics == []  # nothing trained after the cancel
    assert [e.text.en for e in after.events] == ["The job was cancelled"]
    assert after.fine_tuned_model is None


def test_cancelling_a_finished_job_changes_nothing(
    backend: MockBackend, dataset: PreparedDataset, tmp_path: Path
) -> None:
    job = _start(backend, dataset, tmp_path)
    assert backend.cancel_job(job) is JobStatus.SUCCEEDED
    assert backend.poll_job(job).status is JobStatus.SUCCEEDED


def test_fault_options_for_classification(
    backend: MockBackend, dataset: PreparedDataset, tmp_path: Path
) -> None:
    refusing = _start(backend, dataset, tmp_path, refuse_classify=True)
    with pytest.raises(ClassificationRefused) as info:
        backend.classify(ModelRef(f"mock-{refusing}", dataset.labels), ["영업이익 증가"])
    assert isinstance(info.value, FinsentError) and info.value.ko
    slow = _start(backend, dataset, tmp_path, classify_delay_ms=200)
    started = time.perf_counter()
    assert len(backend.classify(ModelRef(f"mock-{slow}", dataset.labels), ["영업이익 증가"])) == 1
    assert time.perf_counter() - started >= 0.19


def test_models_listed_and_unknown_models_refused(
    backend: MockBackend, dataset: PreparedDataset, tmp_path: Path
) -> None:
    job = _start(backend, dataset, tmp_path)
    ids = [m.id for m in backend.list_models()]
    assert ids == [BUILTIN_MODEL, f"mock-{job}"]
    with pytest.raises(NotFoundError):
        backend.classify(ModelRef("mock-mockjob-000000000000", LabelSet()), ["x"])
    with pytest.raises(NotFoundError):
        backend.poll_job("../../etc/passwd")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("3분기 영업이익이 사상 최대를 기록하며 흑자 전환했다.", "positive"),
        ("대규모 수주로 주가가 상승했다.", "positive"),
        ("매출 부진으로 적자가 확대되고 감원이 이어졌다.", "negative"),
        ("영업손실을 내며 실적이 악화됐다.", "negative"),
        ("순손실이 감소했다.", "positive"),  # a shrinking loss is good news
        ("이사회는 다음 주에 열린다.", "neutral"),
        # everyday direction verbs, not only the Sino-Korean nouns
        ("3분기 영업이익이 두 배로 늘었다.", "positive"),
        ("증권사들이 목표주가를 상향했다.", "positive"),
        ("수출이 크게 줄었다.", "negative"),
        ("신용등급이 하향 조정됐다.", "negative"),
        ("대형 계약이 취소되고 소송이 제기됐다.", "negative"),
        ("영업손실이 늘었다.", "negative"),  # a growing loss is bad news
        ("적자가 줄어들었다.", "positive"),  # the deficit shrank
        ("최고경영자가 주주총회에서 인사말을 했다.", "neutral"),  # a job title, not a record
        ("Quarterly profit and revenue growth beat forecasts.", "positive"),
        ("The company announced layoffs after a decline in orders.", "negative"),
    ],
)
def test_keyword_rule(text: str, label: str, backend: MockBackend) -> None:
    [prediction] = backend.classify(ModelRef(BUILTIN_MODEL, LabelSet()), [text])
    assert prediction.label == label
    assert math.isclose(sum(prediction.scores.values()), 1.0)
    assert prediction.confidence == max(prediction.scores.values())


def test_options_are_bounded_and_described() -> None:
    with pytest.raises(ValidationError):
        MockOptions(epochs=0)
    with pytest.raises(ValidationError):
        MockOptions(epochs=51)
    with pytest.raises(ValidationError):
        MockOptions(duration_seconds=-1)
    with pytest.raises(ValidationError):
        MockOptions(unknown_option=1)
    assert all(field.description for field in MockOptions.model_fields.values())

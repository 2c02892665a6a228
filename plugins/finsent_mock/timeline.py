"""A simulated fine-tuning job, computed from its spec and the time elapsed since it started.

Nothing runs in the background: every poll rebuilds the job's full history (status changes, events,
metric points, each with its offset in seconds from the start) and keeps what has happened by now. So any
process that can read the job's JSON file sees the same job, and a restarted app picks it up where the
clock says it is. The curves come from a seeded generator: the same seed gives the same curves.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from finsent.contract import JobEvent, JobStatus, MetricPoint, Text

# Share of the duration spent in each phase before the training steps.
_VALIDATING = 0.05
_QUEUED = 0.05
_FINISHING = 0.02
#: at most this many "Step k/N" events per job, so a long job does not flood the event log
_MAX_STEP_EVENTS = 50


@dataclass
class MockJobSpec:
    """What `start_training` writes to the job's JSON file."""

    id: str
    started_at: float
    seed: int
    epochs: int
    steps_per_epoch: int
    duration_seconds: float
    labels: list[str]
    n_train: int
    n_valid: int
    base_model: str
    reject_file: bool = False
    fail_at_step: int | None = None
    classify_delay_ms: int = 0
    refuse_classify: bool = False
    #: unix time of a cancel request, if any
    cancelled_at: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"mock-{self.id}"

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MockJobSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class _Entry:
    """One thing that happens at `offset` seconds: a status change, an event, or a metric point."""

    offset: float
    status: JobStatus | None = None
    event: tuple[str, Text] | None = None  # (level, message)
    metric: MetricPoint | None = None
    error: str | None = None


@dataclass
class JobState:
    """The job as it stands at one moment."""

    status: JobStatus
    events: list[JobEvent]
    metrics: list[MetricPoint]
    progress: float
    error: str | None = None
    fine_tuned_model: str | None = None


def training_curve(spec: MockJobSpec) -> list[MetricPoint]:
    """Loss falling with noise towards a floor, accuracy rising to a plateau; valid a little behind train."""
    rng = random.Random(spec.seed)
    n_labels = max(2, len(spec.labels))
    start_loss = math.log(n_labels)
    floor = 0.12 + 0.08 * rng.random()
    chance = 1.0 / n_labels
    plateau = 0.84 + 0.08 * rng.random()
    rate = 1.3 + 0.6 * rng.random()  # per epoch
    points: list[MetricPoint] = []
    for step in range(1, spec.total_steps + 1):
        epoch = step / spec.steps_per_epoch
        decay = math.exp(-rate * epoch)
        noise = 1.0 - 0.7 * (1.0 - decay)  # noisier early, steadier later
        train_loss = floor + (start_loss - floor) * decay + rng.gauss(0.0, 0.04) * noise
        train_acc = plateau - (plateau - chance) * decay + rng.gauss(0.0, 0.02) * noise
        # Validation trails training and drifts up in loss late on, as an overfitting model does.
        gap = 0.04 + 0.015 * epoch
        valid_loss = train_loss + gap + rng.gauss(0.0, 0.02) * noise
        valid_acc = train_acc - 0.02 - 0.006 * epoch + rng.gauss(0.0, 0.015) * noise
        points.append(
            MetricPoint(
                step=step,
                epoch=round(epoch, 4),
                train_loss=round(max(0.01, train_loss), 4),
                train_accuracy=round(min(1.0, max(0.0, train_acc)), 4),
                valid_loss=round(max(0.01, valid_loss), 4),
                valid_accuracy=round(min(1.0, max(0.0, valid_acc)), 4),
            )
        )
    return points


def _history(spec: MockJobSpec) -> list[_Entry]:
    d = spec.duration_seconds
    entries = [
        _Entry(0.0, status=JobStatus.VALIDATING_FILES),
        _Entry(
            0.0,
            event=(
                "info",
                Text(
                    f"Validating training file: {spec.n_train} training and {spec.n_valid} validation examples",
                    f"학습 파일 검증 중: 학습 예제 {spec.n_train}개, 검증 예제 {spec.n_valid}개",
                ),
            ),
        ),
    ]
    t_valid = d * _VALIDATING
    if spec.reject_file:
        message = "invalid_training_file: the training file was rejected (mock fault injection reject_file)."
        entries += [
            _Entry(
                t_valid,
                event=("error", Text(f"Training file rejected: {message}", f"학습 파일 거부됨: {message}")),
            ),
            _Entry(t_valid, status=JobStatus.FAILED, error=message),
        ]
        return entries
    t_run = t_valid + d * _QUEUED
    entries += [
        _Entry(
            t_valid,
            event=(
                "info",
                Text("Files validated; job queued", "파일을 확인했습니다. 작업이 대기열에 들어갔습니다"),
            ),
        ),
        _Entry(t_valid, status=JobStatus.QUEUED),
        _Entry(t_run, status=JobStatus.RUNNING),
        _Entry(
            t_run,
            event=(
                "info",
                Text(
                    f"Fine-tuning job started: {spec.epochs} epochs x {spec.steps_per_epoch} steps",
                    f"파인튜닝 작업 시작: 에포크 {spec.epochs}회 x {spec.steps_per_epoch} 스텝",
                ),
            ),
        ),
    ]
    span = d * (1.0 - _VALIDATING - _QUEUED - _FINISHING)
    total = spec.total_steps
    every = max(1, math.ceil(total / _MAX_STEP_EVENTS))
    for point in training_curve(spec):
        at = t_run + span * point.step / total
        if spec.fail_at_step is not None and point.step >= spec.fail_at_step:
            message = f"mock_step_failure: training failed at step {point.step} (mock fault injection fail_at_step)."
            entries += [
                _Entry(at, event=("error", Text(message))),
                _Entry(at, status=JobStatus.FAILED, error=message),
            ]
            return entries
        entries.append(_Entry(at, metric=point))
        if point.step % every == 0 or point.step == total:
            text = Text(
                f"Step {point.step}/{total}: training loss={point.train_loss:.4f}",
                f"스텝 {point.step}/{total}: 학습 손실={point.train_loss:.4f}",
            )
            entries.append(_Entry(at, event=("info", text)))
        if point.step % spec.steps_per_epoch == 0:
            epoch = point.step // spec.steps_per_epoch
            text = Text(
                f"Epoch {epoch}/{spec.epochs} done: valid loss={point.valid_loss:.4f}, "
                f"valid accuracy={point.valid_accuracy:.4f}",
                f"에포크 {epoch}/{spec.epochs} 완료: 검증 손실={point.valid_loss:.4f}, "
                f"검증 정확도={point.valid_accuracy:.4f}",
            )
            entries.append(_Entry(at, event=("info", text)))
    entries += [
        _Entry(
            d,
            event=(
                "info",
                Text(
                    f"New fine-tuned model created: {spec.model_id}",
                    f"새 파인튜닝 모델을 만들었습니다: {spec.model_id}",
                ),
            ),
        ),
        _Entry(d, event=("info", Text("The job has successfully completed", "작업이 성공적으로 끝났습니다"))),
        _Entry(d, status=JobStatus.SUCCEEDED),
    ]
    return entries


def job_state(spec: MockJobSpec, now: float) -> JobState:
    """Everything that has happened to the job by unix time `now`."""
    elapsed = now - spec.started_at
    cancelled = spec.cancelled_at is not None
    if cancelled:
        elapsed = min(elapsed, spec.cancelled_at - spec.started_at)  # type: ignore[operator]
    status = JobStatus.VALIDATING_FILES
    events: list[JobEvent] = []
    metrics: list[MetricPoint] = []
    error: str | None = None
    for entry in _history(spec):
        # Jobs with duration 0 happen entirely at offset 0: `<=` lets them finish at once.
        if entry.offset > elapsed:
            break
        if entry.status is not None:
            status = entry.status
        if entry.error is not None:
            error = entry.error
        if entry.event is not None:
            level, message = entry.event
            events.append(
                JobEvent(spec.started_at + entry.offset, message, level, f"{spec.id}-ev{len(events) + 1}")
            )
        if entry.metric is not None:
            metrics.append(entry.metric)
    if cancelled and not status.is_terminal:
        status = JobStatus.CANCELLED
        at = spec.cancelled_at or now
        message = Text("The job was cancelled", "작업이 취소되었습니다")
        events.append(JobEvent(at, message, "warning", f"{spec.id}-ev{len(events) + 1}"))
    done = status is JobStatus.SUCCEEDED
    progress = 1.0 if done else len(metrics) / max(1, spec.total_steps)
    return JobState(
        status=status,
        events=events,
        metrics=metrics,
        progress=round(progress, 4),
        error=error,
        fine_tuned_model=spec.model_id if done else None,
    )

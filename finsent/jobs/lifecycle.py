"""The training job lifecycle in the core: start (prepare -> start -> store), refresh (poll -> store ->
model record -> evaluation once), cancel. Used by FinsentService; backends only do their four stages."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from finsent.contract.backend import (
    Backend,
    BackendOptions,
    JobEvent,
    JobStatus,
    JobUpdate,
    ModelRef,
    TrainingData,
)
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import FinsentError, InputError
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat
from finsent.contract.texts import Text
from finsent.jobs.evaluation import evaluate_model
from finsent.store import JobState, Store
from finsent.store.records import DatasetRecord, JobRecord, ModelRecord
from finsent.support.ids import new_id

log = logging.getLogger(__name__)

#: a job without an external id this long after its last update was being started by a process that died
STALE_START_S = 15 * 60
_SECRET_WORDS = ("api_key", "apikey", "secret", "password", "token")


def validate_options(backend_class: type[Backend], options: Mapping[str, Any]) -> BackendOptions:
    """The backend's pydantic Options from user values, with a readable message when they are wrong."""
    try:
        return backend_class.Options.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
        )
        raise InputError(
            Text(
                f"Invalid options for the {backend_class.label} backend: {problems}.",
                f"{backend_class.label_text().get('ko')} 백엔드 옵션이 올바르지 않습니다: {problems}.",
            ),
            hint=f"See `finsent train --backend {backend_class.name} --help` for the allowed values.",
            dashboard_hint=Text("Correct the values in the form above.", "위 양식의 값을 고치세요."),
        ) from None


def storable_options(options: BackendOptions) -> dict[str, Any]:
    """Options as JSON for the store, without anything that looks like a credential."""
    values = options.model_dump(mode="json")
    return {k: v for k, v in values.items() if not any(word in k.lower() for word in _SECRET_WORDS)}


def _json_safe(details: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): (str(v) if isinstance(v, Path) else v) for k, v in details.items()}


def error_text(exc: BaseException, backend: Backend) -> str:
    return error_texts(exc, backend).en


def error_texts(exc: BaseException, backend: Backend) -> Text:
    if isinstance(exc, FinsentError):
        return Text(exc.text("en"), exc.text("ko"))
    return Text(
        f"Unexpected error in the {backend.label} backend: {type(exc).__name__}: {exc}",
        f"{backend.label_text().get('ko')} 백엔드에서 예상하지 못한 오류: {type(exc).__name__}: {exc}",
    )


def status_event(status: JobStatus) -> JobEvent:
    return JobEvent(
        created_at=time.time(), message=Text(f"Status: {status.value}.", f"상태: {STATUS_KO[status]}.")
    )


#: the statuses in Korean, for events (the dashboard's own catalogue names them the same way)
STATUS_KO: Mapping[JobStatus, str] = {
    JobStatus.VALIDATING_FILES: "파일 검증 중",
    JobStatus.QUEUED: "대기 중",
    JobStatus.RUNNING: "실행 중",
    JobStatus.PAUSED: "일시 중지",
    JobStatus.SUCCEEDED: "완료",
    JobStatus.FAILED: "실패",
    JobStatus.CANCELLED: "취소됨",
    JobStatus.INTERRUPTED: "중단됨",
}


def start_job(
    store: Store,
    settings_jobs_dir: Path,
    backend: Backend,
    dataset: DatasetRecord,
    options: BackendOptions,
    name: str = "",
) -> JobRecord:
    """Stage 1 and 2 with a job record from the first moment: a failure leaves it `failed`, never stuck."""
    now = time.time()
    prepared = PreparedDataset.open(dataset.directory)
    job = JobRecord(
        id=new_id("job"),
        backend=backend.name,
        external_id=None,
        dataset_id=dataset.id,
        base_model=options.base_model,
        options=storable_options(options),
        status=JobStatus.VALIDATING_FILES,
        created_at=now,
        updated_at=now,
        name=name,
    )
    store.insert_job(job, input_format=prepared.input_format.to_dict())
    label_ko = backend.label_text().get("ko")
    store.add_event(
        job.id,
        Text(
            f"Preparing the training data for the {backend.label} backend.",
            f"{label_ko} 백엔드용 학습 데이터를 준비하는 중입니다.",
        ),
    )
    try:
        workdir = settings_jobs_dir / job.id
        workdir.mkdir(parents=True, exist_ok=True)
        data: TrainingData = backend.prepare_training_data(prepared, options, workdir)
        training = {**_json_safe(data.details), "files": {k: str(v) for k, v in data.files.items()}}
        store.update_job(job.id, input_format=data.input_format.to_dict(), training=training)
        started = backend.start_training(data, options)
    except BaseException as exc:
        texts = error_texts(exc, backend)
        store.update_job(job.id, status=JobStatus.FAILED, error=texts, finished_at=time.time())
        store.add_event(
            job.id, Text(f"Could not start: {texts.en}", f"시작하지 못했습니다: {texts.ko}"), level="error"
        )
        raise
    store.update_job(
        job.id,
        external_id=started.external_id,
        status=started.status,
        base_model=started.base_model or options.base_model,
        finished_at=time.time() if started.status.is_terminal else None,
    )
    store.add_event(
        job.id,
        Text(
            f"Started {backend.label} job {started.external_id}.",
            f"{label_ko} 작업 {started.external_id}을(를) 시작했습니다.",
        ),
    )
    return store.get_job(job.id)


def model_ref(record: ModelRecord) -> ModelRef:
    details: dict[str, Any] = dict(record.details)
    if record.path:
        details["path"] = record.path
    if record.sha256:
        details["sha256"] = record.sha256
    return ModelRef(
        id=record.id,
        labels=LabelSet.from_names(record.labels),
        input_format=InputFormat.from_dict(record.input_format),
        details=details,
    )


def _model_from_update(store: Store, state: JobState, update: JobUpdate) -> ModelRecord:
    job = state.record
    labels: tuple[str, ...] = LabelSet().names
    if job.dataset_id:
        with contextlib.suppress(FinsentError):  # a deleted dataset folder must not lose the model
            labels = PreparedDataset.open(store.get_dataset(job.dataset_id).directory).labels.names
    details = {**_json_safe(state.training), **_json_safe(update.details)}
    model_file = details.pop("model_file", None) or {}
    details.pop("files", None)
    return ModelRecord(
        id=str(update.fine_tuned_model),
        backend=job.backend,
        job_id=job.id,
        base_model=job.base_model,
        labels=tuple(labels),
        input_format=dict(state.input_format),
        created_at=time.time(),
        path=model_file.get("path") if isinstance(model_file, dict) else None,
        sha256=model_file.get("sha256") if isinstance(model_file, dict) else None,
        details=details,
        name=job.name,  # the model is known by the name of the job that made it
    )


def _record_poll_problem(store: Store, job_id: str, message: Text) -> None:
    """A poll that failed is an event (once per distinct message in a row), never a crash."""
    last = store.last_event(job_id)
    if last is None or last.message != message.en:
        store.add_event(job_id, message, level="error")
    store.update_job(job_id, polled_at=time.time())


def poll_once(store: Store, backend: Backend, state: JobState) -> bool:
    """Poll the backend with the stored cursor and store what is new; True when something was stored."""
    job = state.record
    try:
        update = backend.poll_job(str(job.external_id), state.poll_cursor)
    except Exception as exc:
        texts = error_texts(exc, backend)
        _record_poll_problem(
            store,
            job.id,
            Text(f"Could not check the job: {texts.en}", f"작업 상태를 확인하지 못했습니다: {texts.ko}"),
        )
        return False
    fields: dict[str, Any] = {"status": update.status}
    if update.progress is not None:
        fields["progress"] = max(0.0, min(1.0, float(update.progress)))
    if update.error:
        fields["error"] = update.error
    if update.fine_tuned_model:
        fields["fine_tuned_model"] = update.fine_tuned_model
    if update.status.is_terminal and job.finished_at is None:
        fields["finished_at"] = time.time()
        if update.status == JobStatus.SUCCEEDED:
            fields["progress"] = 1.0
    events = list(update.events)
    if update.status != job.status:
        events.append(status_event(update.status))
    also = None
    if update.status == JobStatus.SUCCEEDED and update.fine_tuned_model:
        model = _model_from_update(store, state, update)

        def also(conn: sqlite3.Connection) -> None:
            store.insert_model(conn, model, job.dataset_id, replace=False)

    stored = store.apply_poll(job.id, state.poll_cursor, update.cursor, events, update.metrics, fields, also)
    if stored and update.status == JobStatus.SUCCEEDED and not update.fine_tuned_model:
        store.add_event(
            job.id,
            Text(
                "The backend reported success but no model id.",
                "백엔드가 성공을 알렸지만 모델 id가 없습니다.",
            ),
            level="warning",
        )
    return stored


def evaluate_job(
    store: Store, backend: Backend, job_id: str, on_progress: Callable[[int, int], None] | None = None
) -> None:
    """The core evaluation of a succeeded job's model on its validation split, run once per job."""
    if not store.claim_evaluation(job_id):
        return
    job = store.get_job(job_id)
    try:
        if not job.fine_tuned_model or not job.dataset_id:
            store.update_job(job_id, evaluation_state="failed: no model or no dataset")
            return
        dataset = store.get_dataset(job.dataset_id)
        ref = model_ref(store.get_model(job.backend, job.fine_tuned_model))
        store.add_event(
            job_id,
            Text("Evaluating the model on the validation split.", "검증 데이터로 모델을 평가하는 중입니다."),
        )
        record, predictions = evaluate_model(
            backend, ref, PreparedDataset.open(dataset.directory), job_id=job_id, dataset_id=dataset.id,
            on_progress=on_progress,
        )  # fmt: skip
        store.add_evaluation(record, predictions)
        # The event before "done": whoever sees the evaluation done also sees what it said.
        store.add_event(
            job_id,
            Text(
                f"Evaluation on {record.n} validation examples: accuracy {record.accuracy:.3f},"
                f" macro-F1 {record.macro_f1:.3f}.",
                f"검증 예제 {record.n}개로 평가: 정확도 {record.accuracy:.3f}, 매크로 F1 {record.macro_f1:.3f}.",
            ),
        )
        store.update_job(job_id, evaluation_state="done")
    except Exception as exc:
        texts = error_texts(exc, backend)
        log.warning("evaluation of job %s failed: %s", job_id, texts.en)
        store.update_job(job_id, evaluation_state=f"failed: {texts.en}")
        store.add_event(
            job_id, Text(f"Evaluation failed: {texts.en}", f"평가 실패: {texts.ko}"), level="error"
        )


def fail_if_never_started(store: Store, state: JobState) -> bool:
    """A job with no external id whose starter has been silent for long will never start: fail it."""
    job = state.record
    if job.external_id or job.status.is_terminal or time.time() - job.updated_at < STALE_START_S:
        return False
    message = "The job never started (the process starting it stopped). Start it again."
    store.update_job(job.id, status=JobStatus.FAILED, error=message, finished_at=time.time())
    store.add_event(job.id, message, level="error")
    return True

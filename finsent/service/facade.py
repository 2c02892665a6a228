"""FinsentService: the only API the UI and the CLI call.

Thread-safe and cheap to keep for the life of a process (the UI keeps one in st.cache_resource and shares it
between browser sessions), so nothing per-user lives in it: API keys are passed per call and never stored
(backend instances built with a key are cached in memory by a hash of it, never written anywhere).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finsent.bulk import runs as bulk_runs
from finsent.contract.backend import (
    SHOT_MODES,
    Backend,
    Capability,
    JobStatus,
    ModelRef,
    Prediction,
    UnsupportedOperation,
)
from finsent.contract.costs import CostEstimate
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import FinsentError, InputError, NotFoundError
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat
from finsent.contract.texts import Text
from finsent.jobs import lifecycle as training
from finsent.jobs.evaluation import classify_in_batches, evaluate_model, misclassified_view
from finsent.plugins import BackendRegistry, get_plugin_manager
from finsent.plugins.pool import BackendInfo, BackendPool
from finsent.service.bulk_runs import BulkRequest, BulkRuns
from finsent.service.files import DataFiles, declared_token_limit
from finsent.service.housekeeping import Housekeeping
from finsent.service.naming import checked_name, default_name, find_one, short_label, unique_name
from finsent.settings import Settings
from finsent.store import Store
from finsent.store.records import (
    BulkResults,
    BulkRunRecord,
    DatasetRecord,
    EvaluationRecord,
    EventRecord,
    JobRecord,
    ModelRecord,
)

log = logging.getLogger("finsent.service")


def parse_label_map(text: str) -> dict[str, str]:
    """ "LABEL_0=negative,LABEL_1=neutral" -> {"LABEL_0": "negative", ...}; empty: the model's own names
    (the dashboard's label-map field and `finsent add-model --label-map`)."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        theirs, sep, ours = part.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise InputError(
                Text(
                    f"Label map: cannot read {part!r}; write their_label=our_label, separated by commas.",
                    f"라벨 매핑: {part!r}을(를) 읽을 수 없습니다. 모델라벨=우리라벨 형식으로 쉼표로 구분해 쓰세요.",
                )
            )
        mapping[theirs.strip()] = ours.strip()
    return mapping


class FinsentService:
    """The one API of the dashboard and the CLI, composed of parts: the backend pool, `files` (reading,
    checking, preparing, exporting) and `bulk` (bulk runs); jobs, models and names are its own."""

    def __init__(self, settings: Settings | None = None, registry: BackendRegistry | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.registry = registry or BackendRegistry.from_plugin_manager(get_plugin_manager(self.settings))
        self.store = Store(self.settings.db_path)
        self._lock = threading.RLock()
        self._pool = BackendPool(self.settings, self.registry)
        self._job_locks: dict[str, threading.Lock] = {}
        self._evaluations: dict[str, threading.Thread] = {}
        self._job_follower: threading.Thread | None = None
        self.files = DataFiles(self.settings, self.example_token_limit)
        self.bulk = BulkRuns(self.settings, self.store, self.usable_backend, self.model_ref, self._lock)
        # Runs left running by a process that is gone can never finish by themselves.
        self.store.interrupt_orphaned_runs(bulk_runs.owner_alive(self.store.path))
        # `finsent gc` and the storage panel use it; at start it frees killed writes and long-stopped runs.
        self.housekeeping = Housekeeping(self.settings, self.store)
        self.housekeeping.clean_on_start()

    def close(self) -> None:
        self._pool.close()

    # -- bulk runs: the `bulk` part's, here so the shells know one object -------------------------
    def bulk_run_for_input(self, request: BulkRequest) -> BulkRunRecord | None:
        return self.bulk.bulk_run_for_input(request)

    def start_bulk_run(self, request: BulkRequest, poll_interval: float | None = None) -> BulkRunRecord:
        return self.bulk.start_bulk_run(request, poll_interval)

    def open_bulk_run(self, request: BulkRequest) -> BulkRunRecord:
        return self.bulk.open_bulk_run(request)

    def run_bulk_here(
        self,
        run_id: str,
        api_key: str | None = None,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> BulkRunRecord:
        return self.bulk.run_bulk_here(run_id, api_key, on_progress, poll_interval)

    def run_bulk(
        self,
        request: BulkRequest,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        on_created: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> BulkRunRecord:
        return self.bulk.run_bulk(request, on_progress, on_created, poll_interval)

    def resume_bulk_run(
        self,
        run_id: str,
        api_key: str | None = None,
        foreground: bool = False,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> BulkRunRecord:
        return self.bulk.resume_bulk_run(run_id, api_key, foreground, on_progress, poll_interval)

    def bulk_runs(self) -> list[BulkRunRecord]:
        return self.bulk.bulk_runs()

    def bulk_run(self, run_id: str) -> BulkRunRecord:
        return self.bulk.bulk_run(run_id)

    def wait_bulk_run(self, run_id: str, timeout: float = 600.0) -> BulkRunRecord:
        return self.bulk.wait_bulk_run(run_id, timeout)

    def cancel_bulk_run(self, run_id: str) -> BulkRunRecord:
        return self.bulk.cancel_bulk_run(run_id)

    def cancel_bulk_batch(
        self, run_id: str, api_key: str | None = None, wait_seconds: float = 30.0
    ) -> BulkRunRecord:
        return self.bulk.cancel_bulk_batch(run_id, api_key, wait_seconds)

    def batch_cancelled_error(self, run_id: str) -> InputError:
        return self.bulk.batch_cancelled_error(run_id)

    def bulk_results(self, run_id: str, include_pending: bool = False) -> BulkResults:
        return self.bulk.bulk_results(run_id, include_pending)

    def write_bulk_results(
        self, run_id: str, path: Path | str, korean_labels: bool = False, formula_guard: bool = True
    ) -> tuple[Path, BulkResults]:
        """Write a run's finished rows to `path` (format by its suffix), a row group at a time for CSV/TSV:
        a large result is never held whole. Returns the path and the first part (its counts are the run's)."""
        parts = self.bulk.bulk_results_in_parts(run_id)
        first = next(parts)
        tables = (self.files.results_table(part, korean_labels) for part in itertools.chain([first], parts))
        return self.files.write_table_parts(path, tables, formula_guard), first

    def bulk_input(self, run_id: str) -> pd.DataFrame:
        return self.bulk.bulk_input(run_id)

    # -- backends -------------------------------------------------------------------------------
    def plugin_problems(self) -> list[str]:
        return list(self.registry.problems)

    def backend(self, name: str, api_key: str | None = None) -> Backend:
        """The backend instance (built once per key); raises NotFoundError for an unknown name."""
        return self._pool.backend(name, api_key)

    def usable_backend(self, name: str, api_key: str | None = None) -> Backend:
        """The backend, or BackendUnavailableError saying why it cannot be used (e.g. missing key)."""
        return self._pool.usable_backend(name, api_key)

    def backends(self, api_keys: dict[str, str] | None = None) -> list[BackendInfo]:
        """Every registered backend with availability; plugin load problems in `plugin_problems()`."""
        return self._pool.backends(api_keys)

    def training_notice(self, name: str) -> Text | None:
        """What the backend wants a user to know before training (e.g. a provider's end of fine-tuning)."""
        return self.backend(name).training_notice()

    # -- data -----------------------------------------------------------------------------------
    def prepare(
        self, source: Path | bytes, name: str, options: Any, sheet: str | None = None
    ) -> tuple[DatasetRecord, Any]:
        """Read, check, split and write under FINSENT_HOME/datasets/<id>; returns the record and report."""
        table = self.files.read_table(source, name, sheet=sheet)
        return self.prepare_table(table, options, name)

    def prepare_table(self, table: Any, options: Any, name: str | None = None) -> tuple[DatasetRecord, Any]:
        """Prepare a table already read (the Data page read and checked it once) and record it."""
        out_dir = self.settings.datasets_dir / training.new_id("ds")
        _, report = self.files.prepare_folder(table, options, out_dir)
        return self.register_dataset(out_dir, name=table.source_name or name), report

    # -- costs: asked of the backends (the core knows no price) ---------------------------------
    def example_token_limit(self) -> tuple[int, str] | None:
        """The smallest per-example token limit any loaded backend declares, with its base model."""
        built = []
        for name in self.registry.names():
            try:
                built.append(self.backend(name))
            except FinsentError:
                continue
        return declared_token_limit(built)

    def training_cost_estimates(self, dataset_id: str, epochs: int = 3) -> list[CostEstimate]:
        """Training cost of the dataset with every priced base model of every backend, cheapest first."""
        dataset = PreparedDataset.open(self.store.get_dataset(dataset_id).directory)
        found: list[CostEstimate] = []
        for name in self.registry.names():
            found.extend(self.backend(name).training_cost_estimates(dataset, epochs))
        return sorted(found, key=lambda e: (e.usd or 0.0, e.base_model))

    def training_cost(
        self, backend: str, dataset_id: str, base_model: str, epochs: int
    ) -> CostEstimate | None:
        dataset = PreparedDataset.open(self.store.get_dataset(dataset_id).directory)
        return self.backend(backend).training_cost(dataset, base_model, epochs)

    def input_cost(self, backend: str, model_id: str, texts: Sequence[str]) -> CostEstimate | None:
        """Input tokens (and price) of classifying `texts` with a recorded model, as its backend counts."""
        record = self.store.find_model(backend, model_id)
        return self.backend(backend).input_cost(record.base_model if record else model_id, texts)

    def register_dataset(self, directory: Path | str, name: str | None = None) -> DatasetRecord:
        """Record a prepared directory (output of `finsent prepare`); returns the existing record if known."""
        prepared = PreparedDataset.open(directory)
        manifest = dict(prepared.manifest)
        counts = manifest.get("counts", {})
        rows = sum(sum(dict(c).values()) for c in counts.values()) if isinstance(counts, dict) else 0
        raw_source = manifest.get("input")
        source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
        record = DatasetRecord(
            id=training.new_id("ds"),
            name=name or str(source.get("name") or manifest.get("source_name") or prepared.directory.name),
            directory=str(prepared.directory.resolve()),
            input_sha256=str(manifest.get("input_sha256") or source.get("sha256") or ""),
            rows=int(rows),
            created_at=time.time(),
            manifest=manifest,
        )
        return self.store.add_dataset(record)

    def datasets(self) -> list[DatasetRecord]:
        return self.store.list_datasets()

    def dataset(self, dataset_id: str) -> DatasetRecord:
        return self.store.get_dataset(dataset_id)

    # -- training and monitoring ----------------------------------------------------------------
    def start_training(
        self, backend: str, dataset_id: str, options: dict[str, Any], api_key: str | None = None
    ) -> JobRecord:
        """Validate options, then prepare -> start -> store; a failure leaves the job `failed` and raises."""
        instance = self.usable_backend(backend, api_key)
        if Capability.TRAIN not in instance.capabilities:
            raise UnsupportedOperation(
                Text(
                    f"The {instance.label} backend cannot train models.",
                    f"{instance.label_text().get('ko')} 백엔드는 학습을 지원하지 않습니다.",
                )
            )
        validated = training.validate_options(type(instance), options)
        dataset = self.store.get_dataset(dataset_id)
        name = self._new_job_name(instance, validated.base_model, dataset.name)
        return training.start_job(self.store, self.settings.jobs_dir, instance, dataset, validated, name=name)

    # -- names ----------------------------------------------------------------------------------
    def _backend_short_label(self, backend: str | Backend) -> str:
        cls = type(backend) if isinstance(backend, Backend) else self.registry.get(backend)
        return short_label(cls.label_text(), self.settings.language)

    def _new_job_name(self, backend: str | Backend, base_model: str, source: str | None) -> str:
        name = default_name([self._backend_short_label(backend), base_model, source], time.time())
        taken = {s.record.name for s in self.store.list_job_states()} | {
            m.name for m in self.store.list_models()
        }
        return unique_name(name, taken)

    def _new_model_name(self, backend: str, base_model: str, source: str | None) -> str:
        name = default_name([self._backend_short_label(backend), base_model, source], time.time())
        return unique_name(name, {m.name for m in self.store.list_models()})

    def rename_model(self, backend: str, model_id: str, name: str) -> ModelRecord:
        self.store.rename_model(backend, model_id, checked_name(name))
        return self.store.get_model(backend, model_id)

    def rename_job(self, job_id: str, name: str) -> JobRecord:
        """The job's name, and its model's too while the model still carries the job's name."""
        self.store.rename_job(job_id, checked_name(name))
        return self.store.get_job(job_id)

    def rename_bulk_run(self, run_id: str, name: str) -> BulkRunRecord:
        self.store.rename_bulk_run(run_id, checked_name(name))
        return self.bulk_run(run_id)

    def find_model(self, wanted: str, backend: str | None = None) -> ModelRecord:
        """The model with id or unique name `wanted` (of `backend`, or of any backend)."""
        listing = f"finsent models --backend {backend}" if backend else "finsent models"
        return find_one(
            wanted.strip(), self.store.list_models(backend), lambda m: m.id, lambda m: m.name,
            ("model", "모델"), listing,
        )  # fmt: skip

    def resolve_model(self, wanted: str, backend: str | None = None) -> tuple[str, str]:
        """(backend, model id) for a model id or unique name, from `backend` or any backend. An id finsent
        has not recorded passes through unchanged (the backend may know it: a provider's fine-tune made
        elsewhere); with no backend given, the default backend's."""
        try:
            record = self.find_model(wanted, backend)
        except NotFoundError:
            return backend or self.settings.default_backend, wanted.strip()
        return record.backend, record.id

    def find_job(self, wanted: str) -> JobRecord:
        """The job with id or unique name `wanted`."""
        jobs = [s.record for s in self.store.list_job_states()]
        return find_one(
            wanted.strip(), jobs, lambda j: j.id, lambda j: j.name, ("job", "작업"), "finsent jobs"
        )

    def find_bulk_run(self, wanted: str) -> BulkRunRecord:
        """The bulk run with id or unique name `wanted`."""
        return find_one(
            wanted.strip(), self.bulk_runs(), lambda r: r.id, lambda r: r.name,
            ("bulk run", "대량 분류"), "finsent runs",
        )  # fmt: skip

    def attach_job(
        self, backend: str, external_id: str, dataset_id: str | None = None, api_key: str | None = None
    ) -> JobRecord:
        """Follow a job created elsewhere (or before a restart) by its external id."""
        instance = self.usable_backend(backend, api_key)
        # Asked once before anything is stored: an unknown id is the user's error, not a job that can
        # never be polled (the backend's NotFoundError says so).
        instance.poll_job(external_id, None)
        input_format: dict[str, Any] = {}
        if dataset_id:
            input_format = PreparedDataset.open(
                self.store.get_dataset(dataset_id).directory
            ).input_format.to_dict()
        now = time.time()
        job = JobRecord(
            id=training.new_id("job"), backend=instance.name, external_id=external_id, dataset_id=dataset_id,
            base_model="", options={}, status=JobStatus.QUEUED, created_at=now, updated_at=now,
            name=self._new_job_name(instance, external_id, None),
        )  # fmt: skip
        self.store.insert_job(job, input_format=input_format)
        self.store.add_event(
            job.id,
            Text(
                f"Attached to {instance.label} job {external_id}.",
                f"{instance.label_text().get('ko')} 작업 {external_id}에 연결했습니다.",
            ),
        )
        return self.refresh_job(job.id, api_key=api_key)

    def jobs(
        self, refresh: bool = True, api_keys: dict[str, str] | None = None, min_interval: float = 2.0
    ) -> list[JobRecord]:
        """Newest first, every backend. Jobs not yet finished are polled first (at most every
        `min_interval` s) so nothing shows "running" when nothing runs it."""
        states = self.store.list_job_states()
        now = time.time()
        due = [
            s.record
            for s in states
            if refresh
            and not s.record.status.is_terminal
            and not (s.polled_at and now - s.polled_at < min_interval)
        ]
        if not due:  # most dashboard reruns: nothing to poll, so nothing to read again
            return [s.record for s in states]
        for job in due:
            try:
                self.refresh_job(job.id, api_key=(api_keys or {}).get(job.backend))
            except FinsentError:
                continue  # unknown or unavailable backend: show the job as stored
        return [s.record for s in self.store.list_job_states()]

    def job(self, job_id: str) -> JobRecord:
        return self.store.get_job(job_id)

    def _job_lock(self, job_id: str) -> threading.Lock:
        with self._lock:
            return self._job_locks.setdefault(job_id, threading.Lock())

    def refresh_job(self, job_id: str, api_key: str | None = None, evaluate: bool = True) -> JobRecord:
        """Poll the backend once, store new events/metrics/status; evaluate when it has just succeeded."""
        with self._job_lock(job_id):
            state = self.store.job_state(job_id)
            job = state.record
            if not job.status.is_terminal:
                if not job.external_id:
                    training.fail_if_never_started(self.store, state)
                    return self.store.get_job(job_id)
                training.poll_once(self.store, self.usable_backend(job.backend, api_key), state)
                state = self.store.job_state(job_id)
            if evaluate and state.record.status == JobStatus.SUCCEEDED and state.evaluation_state is None:
                self._evaluate_in_background(job_id, api_key)
        return self.store.get_job(job_id)

    # -- evaluation after training: in the background, like bulk runs --------------------------------
    def _evaluate_in_background(self, job_id: str, api_key: str | None) -> None:
        """Evaluate a job that has just succeeded in a thread of its own, so no poll (the Monitor page's
        refresh, a list of jobs) waits for a whole validation split to be classified. The store's claim
        keeps it to one evaluation across threads and processes."""
        with self._lock:
            running = self._evaluations.get(job_id)
            if running is not None and running.is_alive():
                return
            backend = self.usable_backend(self.store.get_job(job_id).backend, api_key)
            thread = threading.Thread(
                target=training.evaluate_job,
                args=(self.store, backend, job_id),
                name=f"finsent-evaluate-{job_id}",
                daemon=True,
            )
            self._evaluations[job_id] = thread
        thread.start()

    def evaluation_pending(self, job_id: str) -> bool:
        """A job that succeeded with a model whose evaluation has not ended (not started, or running)."""
        state = self.store.job_state(job_id)
        if state.record.status != JobStatus.SUCCEEDED or not state.record.fine_tuned_model:
            return False
        return state.evaluation_state is None or state.evaluation_state.startswith("running:")

    def wait_for_evaluation(self, job_id: str, api_key: str | None = None, timeout: float = 3600.0) -> None:
        """Evaluate here if nobody has started (the CLI's `follow`), else wait for whoever did."""
        if self.store.job_state(job_id).evaluation_state is None:
            job = self.store.get_job(job_id)
            if job.status == JobStatus.SUCCEEDED:
                training.evaluate_job(self.store, self.usable_backend(job.backend, api_key), job_id)
        deadline = time.monotonic() + timeout
        while self.evaluation_pending(job_id) and time.monotonic() < deadline:
            time.sleep(0.1)

    def keep_jobs_fresh(self, interval: float = 2.0) -> None:
        """Poll unfinished jobs in one background thread per process until none is left, so pages that
        only list jobs read the store and never wait for a backend. Jobs whose backend cannot be used
        without a key typed in a session are left to that session's Monitor page."""
        with self._lock:
            if self._job_follower is not None and self._job_follower.is_alive():
                return
            self._job_follower = threading.Thread(
                target=self._follow_unfinished, args=(interval,), name="finsent-jobs", daemon=True
            )
            self._job_follower.start()

    def _follow_unfinished(self, interval: float) -> None:
        skipped: set[str] = set()
        while True:
            due = [
                s.record.id
                for s in self.store.list_job_states()
                if s.record.id not in skipped
                and (
                    not s.record.status.is_terminal
                    or (s.record.status == JobStatus.SUCCEEDED and s.evaluation_state is None)
                )
            ]
            if not due:
                return
            for job_id in due:
                try:
                    self.refresh_job(job_id)
                except FinsentError:
                    skipped.add(job_id)  # e.g. a backend needing a session's key: its page polls it
                except Exception:  # a backend bug must not end the thread that keeps the others fresh
                    log.exception("polling job %s failed", job_id)
                    skipped.add(job_id)
            time.sleep(interval)

    def follow_job(
        self,
        job_id: str,
        on_update: Callable[[JobRecord], None],
        interval: float = 2.0,
        api_key: str | None = None,
        stop: threading.Event | None = None,
    ) -> JobRecord:
        """Refresh until the job ends (or `stop` is set), calling `on_update` after every poll."""
        stop = stop or threading.Event()
        while True:
            job = self.refresh_job(job_id, api_key=api_key)
            if job.status == JobStatus.SUCCEEDED:
                self.wait_for_evaluation(job_id, api_key)  # what `finsent follow` prints at the end
            on_update(job)
            if job.status.is_terminal or stop.is_set():
                return job
            stop.wait(interval)

    def cancel_job(self, job_id: str, api_key: str | None = None) -> JobRecord:
        job = self.store.get_job(job_id)
        if job.status.is_terminal:
            return job
        if not job.external_id:
            self.store.update_job(job_id, status=JobStatus.CANCELLED, finished_at=time.time())
            self.store.add_event(job_id, Text("Cancelled before it started.", "시작하기 전에 취소했습니다."))
            return self.store.get_job(job_id)
        instance = self.usable_backend(job.backend, api_key)
        status = instance.cancel_job(job.external_id)
        self.store.add_event(job_id, Text("Cancel requested.", "취소를 요청했습니다."))
        if status.is_terminal:
            self.store.update_job(job_id, status=status, finished_at=time.time())
        return self.refresh_job(job_id, api_key=api_key, evaluate=False)

    def pause_job(self, job_id: str, api_key: str | None = None) -> JobRecord:
        job = self.store.get_job(job_id)
        self.usable_backend(job.backend, api_key).pause_job(str(job.external_id))
        self.store.add_event(job_id, Text("Pause requested.", "일시 중지를 요청했습니다."))
        return self.refresh_job(job_id, api_key=api_key)

    def resume_job(self, job_id: str, api_key: str | None = None) -> JobRecord:
        job = self.store.get_job(job_id)
        self.usable_backend(job.backend, api_key).resume_job(str(job.external_id))
        self.store.add_event(job_id, Text("Resume requested.", "재개를 요청했습니다."))
        return self.refresh_job(job_id, api_key=api_key)

    def can_resume(self, job: JobRecord) -> bool:
        """An interrupted job whose backend continues from its last checkpoint (Capability.RESUME)."""
        if job.status != JobStatus.INTERRUPTED or not job.external_id:
            return False
        try:
            return Capability.RESUME in self.registry.get(job.backend).capabilities
        except NotFoundError:
            return False

    def resume_interrupted_job(self, job_id: str, api_key: str | None = None) -> JobRecord:
        """Continue a job whose worker died from its last checkpoint, under the same job and external id;
        its curve goes on where it stopped."""
        job = self.store.get_job(job_id)
        if not self.can_resume(job):
            raise InputError(
                Text(
                    f"Job {job.title} is {job.status.value}: only an interrupted job of a backend that keeps"
                    " checkpoints can be resumed.",
                    f"작업 {job.title}은(는) {job.status.value} 상태입니다. 체크포인트를 남기는 백엔드의 중단된"
                    " 작업만 이어서 학습할 수 있습니다.",
                ),
                hint=Text("Start a new training job instead.", "새 학습 작업을 시작하세요."),
            )
        with self._job_lock(job_id):
            status = self.usable_backend(job.backend, api_key).resume_interrupted(str(job.external_id))
            self.store.update_job(job_id, status=status, finished_at=None, error=None)
            self.store.add_event(
                job_id, Text("Resumed from the last checkpoint.", "마지막 체크포인트부터 이어서 학습합니다.")
            )
        return self.refresh_job(job_id, api_key=api_key)

    def job_events(self, job_id: str, after_seq: int = 0) -> list[EventRecord]:
        self.store.get_job(job_id)  # NotFoundError for an unknown job
        return self.store.events(job_id, after_seq)

    def job_metrics(self, job_id: str) -> pd.DataFrame:
        """Columns: step, epoch, train_loss, train_accuracy, valid_loss, valid_accuracy."""
        self.store.get_job(job_id)
        return self.store.metrics_frame(job_id)

    # -- models and evaluation ------------------------------------------------------------------
    def models(self, backend: str | None = None) -> list[ModelRecord]:
        return self.store.list_models(backend)

    def add_model(
        self,
        backend: str,
        model_id: str,
        dataset_id: str | None = None,
        base_model: str = "",
        details: Mapping[str, Any] | None = None,
        labels: Sequence[str] | None = None,
        input_format: InputFormat | None = None,
    ) -> ModelRecord:
        """Record a model not trained in finsent (an existing fine-tuned model, a zero/few-shot chat
        model, a model on a compatible server) so it can classify and be evaluated."""
        self.registry.get(backend)
        label_set, fmt = LabelSet(), input_format or InputFormat()
        if dataset_id:
            prepared = PreparedDataset.open(self.store.get_dataset(dataset_id).directory)
            label_set, fmt = prepared.labels, input_format or prepared.input_format
        if labels:
            label_set = LabelSet.from_names(labels)
        source = self.store.get_dataset(dataset_id).name if dataset_id else None
        record = ModelRecord(
            id=model_id, backend=backend, job_id=None, base_model=base_model or model_id,
            labels=tuple(label_set.names), input_format=fmt.to_dict(), created_at=time.time(),
            details=dict(details or {}),
            name=self._kept_or_new_name(backend, model_id, base_model or model_id, source),
        )  # fmt: skip
        self.store.add_model(record, dataset_id=dataset_id, replace=True)
        return self.store.get_model(backend, model_id)

    def add_ready_model(
        self,
        backend: str,
        source: str,
        label_map: Mapping[str, str] | None = None,
        labels: Sequence[str] | None = None,
        api_key: str | None = None,
    ) -> ModelRecord:
        """Record a model that already is a sentiment classifier (Capability.READY): it classifies and is
        evaluated with no training, its labels mapped onto ours by `label_map`."""
        instance = self.usable_backend(backend, api_key)  # a backend without Capability.READY says so
        label_set = LabelSet.from_names(labels) if labels else None
        ref = instance.ready_model_ref(source.strip(), labels=label_set, label_map=label_map)
        return self.add_model(
            instance.name, ref.id, base_model=source.strip(), details=dict(ref.details), labels=list(ref.labels.names),
            input_format=ref.input_format,
        )  # fmt: skip

    def add_shot_model(
        self,
        backend: str,
        model_id: str,
        mode: str,
        dataset_id: str | None = None,
        per_label: int = 2,
        labels: Sequence[str] | None = None,
        api_key: str | None = None,
    ) -> ModelRecord:
        """Record `model_id` for zero/few-shot classification without training (Capability.SHOTS); it then
        classifies, bulk-classifies and is evaluated like a trained model. Few-shot examples come from the
        training split of `dataset_id`, whose labels and input format it also takes. Adding the same model
        again replaces its mode and examples."""
        instance = self.backend(backend, api_key)
        if Capability.SHOTS not in instance.capabilities:
            raise UnsupportedOperation(
                Text(
                    f"The {instance.label} backend cannot classify without training.",
                    f"{instance.label_text().get('ko')} 백엔드는 학습 없이 분류할 수 없습니다.",
                ),
                hint=Text(
                    "Train a model, or pick a backend that offers zero/few-shot mode.",
                    "모델을 학습하거나, 제로샷/퓨샷을 지원하는 백엔드를 고르세요.",
                ),
            )
        shot_mode = mode.strip().lower().replace("-", "_")
        if shot_mode not in SHOT_MODES:
            choices = ", ".join(m.replace("_", "-") for m in SHOT_MODES)
            raise InputError(
                Text(f"Unknown mode {mode!r}: use one of {choices}.", f"알 수 없는 모드 {mode!r}: {choices}.")
            )
        if not 1 <= per_label <= 50:
            raise InputError(
                Text(
                    f"Examples per label must be between 1 and 50 (got {per_label}).",
                    f"라벨당 예시 수는 1에서 50 사이여야 합니다 ({per_label}).",
                )
            )
        if not model_id.strip():
            raise InputError(Text("Give the id of the model to use.", "사용할 모델 id를 입력하세요."))
        dataset = None
        label_set = LabelSet.from_names(labels) if labels else LabelSet()
        if dataset_id:
            dataset = PreparedDataset.open(self.store.get_dataset(dataset_id).directory)
            label_set = dataset.labels
        ref = instance.shot_model(model_id.strip(), label_set, shot_mode, dataset, per_label)
        mode_text = shot_mode.replace("_", "-")
        record = ModelRecord(
            id=ref.id, backend=instance.name, job_id=None, base_model=model_id.strip(),
            labels=tuple(ref.labels.names), input_format=ref.input_format.to_dict(), created_at=time.time(),
            details={**dict(ref.details), "mode": shot_mode},
            name=self._kept_or_new_name(
                instance.name, ref.id, f"{model_id.strip()} {mode_text}",
                self.store.get_dataset(dataset_id).name if dataset_id else None,
            ),
        )  # fmt: skip
        self.store.add_model(record, dataset_id=dataset_id, replace=True)
        return self.store.get_model(instance.name, ref.id)

    def _kept_or_new_name(self, backend: str, model_id: str, base_model: str, source: str | None) -> str:
        """Adding a model again keeps the name it has (the user may have chosen it)."""
        known = self.store.find_model(backend, model_id)
        return known.name if known and known.name else self._new_model_name(backend, base_model, source)

    def model_dataset_id(self, backend: str, model_id: str) -> str | None:
        """The dataset a model was trained on or added with (few-shot examples, labels), if any."""
        return self.store.model_dataset_id(backend, model_id)

    def model_ref(self, backend: str, model_id: str, api_key: str | None = None) -> ModelRef:
        """What a backend classifies with; a model the backend lists itself is recorded on first use."""
        record = self.store.find_model(backend, model_id)
        if record is None:
            known = self.usable_backend(backend, api_key).list_models()
            info = next((m for m in known if m.id == model_id), None)
            if info is None:
                record = self.store.get_model(backend, model_id)  # raises the NotFoundError
            record = self.add_model(backend, model_id, base_model=info.base_model if info else "")
        return training.model_ref(record)

    def evaluation(self, job_id: str) -> EvaluationRecord | None:
        return self.store.latest_evaluation(job_id)

    def evaluations(self, backend: str | None = None, model_id: str | None = None) -> list[EvaluationRecord]:
        return self.store.list_evaluations(backend, model_id)

    def evaluate(
        self, backend: str, model_id: str, dataset_id: str, api_key: str | None = None
    ) -> EvaluationRecord:
        instance = self.usable_backend(backend, api_key)
        ref = self.model_ref(backend, model_id, api_key)
        dataset = self.store.get_dataset(dataset_id)
        model = self.store.find_model(backend, model_id)
        record, predictions = evaluate_model(
            instance, ref, PreparedDataset.open(dataset.directory),
            job_id=model.job_id if model else None, dataset_id=dataset.id,
        )  # fmt: skip
        self.store.add_evaluation(record, predictions)
        return record

    def misclassified(self, evaluation_id: str) -> pd.DataFrame:
        """Columns: row, text, label, predicted, confidence."""
        self.store.get_evaluation(evaluation_id)
        return misclassified_view(self.store.evaluation_predictions(evaluation_id))

    def evaluation_predictions(self, evaluation_id: str) -> pd.DataFrame:
        self.store.get_evaluation(evaluation_id)
        return self.store.evaluation_predictions(evaluation_id)

    # -- classification -------------------------------------------------------------------------
    def classify(
        self, backend: str, model_id: str, texts: Sequence[str], api_key: str | None = None
    ) -> list[Prediction]:
        instance = self.usable_backend(backend, api_key)
        return classify_in_batches(instance, self.model_ref(backend, model_id, api_key), list(texts))


__all__ = ["BackendInfo", "FinsentService"]

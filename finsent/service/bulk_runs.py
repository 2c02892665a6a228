"""The service's bulk classification runs: live (chunk by chunk) or through a backend's batch API.

`BulkRuns` is one of the parts FinsentService is composed of (it holds the runs this process executes);
the facade hands the UI and the CLI its methods. A run is asked for with a `BulkRequest`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from finsent.bulk import batch as bulk_batch
from finsent.bulk import runs as bulk_runs
from finsent.contract.backend import Backend, BatchStatus, Capability, ModelRef
from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.jobs.evaluation import chunk_size_for
from finsent.service.naming import unique_name
from finsent.settings import Settings
from finsent.store import Store
from finsent.store.bulk import ACTIVE_STATUSES, RESUMABLE_STATUSES
from finsent.store.records import BulkResults, BulkRunRecord, BulkStatus
from finsent.support.ids import new_id


@dataclass(frozen=True)
class BulkRequest:
    """What a bulk run classifies and how: the table and its text column, with which model."""

    backend: str
    model_id: str
    frame: pd.DataFrame
    text_column: str
    #: the input file's name (names the run)
    source_name: str
    api_key: str | None = None
    #: through the backend's batch API (Capability.BATCH) rather than live requests
    batch_api: bool = False


class BulkRuns:
    """Bulk runs: starting one (or finding the run that already has the input), running it here or in a
    background thread, resuming, cancelling, reading results."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        usable_backend: Callable[[str, str | None], Backend],
        model_ref: Callable[[str, str, str | None], ModelRef],
        lock: threading.RLock,
    ) -> None:
        self.settings, self.store = settings, store
        self.usable_backend, self.model_ref = usable_backend, model_ref
        self._lock = lock  # the service's: checks and inserts are one step for every part of it
        self._bulk_threads: dict[str, tuple[threading.Thread, threading.Event]] = {}

    def _create_bulk_run(
        self, request: BulkRequest, input_key: str | None = None
    ) -> tuple[str, Backend, ModelRef]:
        instance = self.usable_backend(request.backend, request.api_key)
        if request.batch_api and Capability.BATCH not in instance.capabilities:
            raise instance.no_batch_api()
        ref = self.model_ref(request.backend, request.model_id, request.api_key)
        frame, text_column = request.frame, request.text_column
        if text_column not in frame.columns:
            columns = ", ".join(str(c) for c in frame.columns)
            raise InputError(
                Text(
                    f"The table has no column {text_column!r} (columns: {columns}).",
                    f"표에 {text_column!r} 열이 없습니다 (열: {columns}).",
                ),
                hint=Text(
                    "Choose the column that holds the text to classify.", "분류할 문장이 든 열을 고르세요."
                ),
            )
        run_id = new_id("run")
        directory = self.settings.bulk_dir / run_id
        bulk_runs.store_input(frame, directory)
        # The input file names a run; the list beside it shows model, rows, status and date.
        name = unique_name(request.source_name, {r.name for r in self.bulk_runs()})
        self.store.insert_bulk_run(
            run_id, request.backend, request.model_id, request.source_name, str(text_column),
            tuple(ref.labels.names), str(directory), chunk_size_for(instance), len(frame),
            batch_api=request.batch_api, input_key=input_key, name=name,
        )  # fmt: skip
        return run_id, instance, ref

    def _executor(
        self,
        run_id: str,
        backend: Backend,
        ref: ModelRef,
        cancel: threading.Event | None = None,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> bulk_runs.BulkExecutor:
        if self.bulk_run(run_id).batch_api:
            return bulk_batch.BatchExecutor(
                self.store, backend, ref, run_id, cancel, on_progress, poll_interval=poll_interval
            )
        return bulk_runs.BulkExecutor(self.store, backend, ref, run_id, cancel, on_progress)

    def _launch(
        self,
        run_id: str,
        backend: Backend,
        ref: ModelRef,
        poll_interval: float | None = None,
    ) -> None:
        cancel = threading.Event()
        executor = self._executor(run_id, backend, ref, cancel, poll_interval=poll_interval)
        executor.claim()
        thread = threading.Thread(target=executor.run, name=f"finsent-bulk-{run_id}", daemon=True)
        with self._lock:
            self._bulk_threads[run_id] = (thread, cancel)
        thread.start()

    def _input_key(self, request: BulkRequest) -> str | None:
        frame, text_column = request.frame, request.text_column
        column = frame[text_column] if text_column in frame.columns else None
        if not isinstance(column, pd.Series):
            return None  # missing or duplicated: _create_bulk_run says what is wrong
        # Hashed once per start: every text of a large table goes into the key.
        texts = bulk_runs.column_texts(column)
        return bulk_batch.input_key(request.backend, request.model_id, str(text_column), texts)

    def _same_input_run(self, backend: str, model_id: str, key: str | None) -> BulkRunRecord | None:
        """The run that already classifies (or classified) this input with this model, if it still counts:
        a finished run counts only while the model it used has not been replaced since (a model added
        again, e.g. few-shot with new examples, answers differently)."""
        previous = self.store.bulk_run_for_input(key) if key else None
        if previous is None:
            return None
        if previous.record.status == BulkStatus.SUCCEEDED:
            model = self.store.find_model(backend, model_id)
            if model is not None and model.created_at > previous.record.created_at:
                return None
        return previous.record

    def bulk_run_for_input(self, request: BulkRequest) -> BulkRunRecord | None:
        """The run of the same texts (same column) with the same model, active, stopped or finished: what
        starting this input again would show or resume instead of starting a twin."""
        return self._same_input_run(request.backend, request.model_id, self._input_key(request))

    def _find_or_create_run(
        self, request: BulkRequest
    ) -> tuple[BulkRunRecord, tuple[Backend, ModelRef] | None]:
        """The run of the same input with the same model if there is one (nothing to launch: show it, or
        resume it when it stopped); otherwise a new run with the backend and model to execute it with.
        One run per input: two clicks, two browser tabs or a CLI run beside the dashboard never start twins."""
        key = self._input_key(request)
        with self._lock:  # the check and the insert as one step for this process's threads
            previous = self._same_input_run(request.backend, request.model_id, key)
            if previous is not None:
                cancelled = previous.batch_api and previous.batch_status in bulk_batch.CANCELLED_BATCH
                if cancelled and previous.status != BulkStatus.SUCCEEDED:
                    # Cancelled on purpose: a new batch (billed again) only when the user resumes the run.
                    raise bulk_batch.batch_cancelled(previous.id, previous.batch_id)
                return previous, None
            run_id, instance, ref = self._create_bulk_run(request, input_key=key)
        return self.bulk_run(run_id), (instance, ref)

    def start_bulk_run(self, request: BulkRequest, poll_interval: float | None = None) -> BulkRunRecord:
        """Store the input, then classify it chunk by chunk in a background thread (resumable); with
        `batch_api`, through the backend's batch API. The same input with the same model again gives the
        run that has it: still running (shown as it is), stopped (resumed) or finished (shown)."""
        run, created = self._find_or_create_run(request)
        if created is None:
            if run.status in RESUMABLE_STATUSES:
                return self.resume_bulk_run(run.id, api_key=request.api_key, poll_interval=poll_interval)
            return run
        self._launch(run.id, *created, poll_interval=poll_interval)
        return self.bulk_run(run.id)

    def open_bulk_run(self, request: BulkRequest) -> BulkRunRecord:
        """The run for this input with this model, to run here next (`run_bulk_here`): a new one with its
        input stored, or the one that has it already (stopped, or finished); refused when that one is
        running elsewhere. Nothing is classified yet, so the caller can let go of its table first: the
        run reads the stored input."""
        run, created = self._find_or_create_run(request)
        if created is None and run.status in ACTIVE_STATUSES:
            raise InputError(
                Text(
                    f"This input is already being classified with this model by bulk run {run.id} ({run.title}).",
                    f"같은 입력을 같은 모델로 이미 분류하는 중입니다: {run.id} ({run.title}).",
                ),
                hint=Text(
                    f"Wait for it, or stop it with `finsent classify --cancel {run.id}`; then run again.",
                    f"끝날 때까지 기다리거나 `finsent classify --cancel {run.id}`로 멈춘 뒤 다시 실행하세요.",
                ),
                dashboard_hint=Text(
                    "Wait for it, or stop it with the Cancel button on the Classify page; then run again.",
                    "끝날 때까지 기다리거나 분류 페이지의 취소 버튼으로 멈춘 뒤 다시 실행하세요.",
                ),
            )
        return run

    def run_bulk_here(
        self,
        run_id: str,
        api_key: str | None = None,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> BulkRunRecord:
        """Run an opened run in the calling thread (the CLI): a new one from its start, a stopped one from
        where it stopped, a finished one not at all. Ctrl-C keeps finished chunks (and a submitted batch)
        and re-raises."""
        return self.resume_bulk_run(
            run_id, api_key=api_key, foreground=True, on_progress=on_progress, poll_interval=poll_interval
        )

    def run_bulk(
        self,
        request: BulkRequest,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        on_created: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> BulkRunRecord:
        """`open_bulk_run` then `run_bulk_here`, for a caller that keeps its table anyway."""
        run = self.open_bulk_run(request)
        if on_created:
            on_created(run)
        return self.run_bulk_here(run.id, request.api_key, on_progress, poll_interval)

    def _run_here(
        self,
        run_id: str,
        instance: Backend,
        ref: ModelRef,
        on_progress: Callable[[BulkRunRecord], None] | None,
        poll_interval: float | None = None,
    ) -> BulkRunRecord:
        executor = self._executor(run_id, instance, ref, on_progress=on_progress, poll_interval=poll_interval)
        executor.claim()
        return executor.run()

    def resume_bulk_run(
        self,
        run_id: str,
        api_key: str | None = None,
        foreground: bool = False,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> BulkRunRecord:
        """Continue a cancelled, interrupted or failed run; finished chunks are never sent again, and a
        batch-API run follows the batch it already submitted."""
        state = self.store.bulk_run_state(run_id)
        if state.record.status == BulkStatus.SUCCEEDED:
            return state.record
        instance = self.usable_backend(state.record.backend, api_key)
        ref = self.model_ref(state.record.backend, state.record.model_id, api_key)
        if foreground:
            return self._run_here(run_id, instance, ref, on_progress, poll_interval)
        self._launch(run_id, instance, ref, poll_interval=poll_interval)
        return self.bulk_run(run_id)

    def bulk_runs(self) -> list[BulkRunRecord]:
        return [s.record for s in self.store.list_bulk_runs()]

    def bulk_run(self, run_id: str) -> BulkRunRecord:
        return self.store.bulk_run_state(run_id).record

    def wait_bulk_run(self, run_id: str, timeout: float = 600.0) -> BulkRunRecord:
        return bulk_runs.wait_for(self.store, run_id, timeout)

    def cancel_bulk_run(self, run_id: str) -> BulkRunRecord:
        """Stop after the chunk in flight; finished chunks are kept and the run can be resumed. A batch-API
        run stops being followed, its batch keeps running at the provider (see `cancel_bulk_batch`)."""
        with self._lock:
            entry = self._bulk_threads.get(run_id)
        if entry:
            entry[1].set()
        self.store.set_bulk_status(run_id, BulkStatus.CANCELLED, only_from=ACTIVE_STATUSES)
        return self.bulk_run(run_id)

    def cancel_bulk_batch(
        self, run_id: str, api_key: str | None = None, wait_seconds: float = 30.0
    ) -> BulkRunRecord:
        """Cancel the provider batch of a batch-API run: the provider stops it (the requests it finished are
        billed, nothing more) and the run ends `cancelled`, its batch recorded as cancelled. Running the same
        input again then says so; resuming the run submits a new batch."""
        run = self.bulk_run(run_id)
        if not run.batch_api:
            raise InputError(
                Text(
                    f"Bulk run {run_id} classifies with live requests; it has no batch to cancel.",
                    f"대량 분류 {run_id}은(는) 실시간 요청으로 분류하므로 취소할 배치가 없습니다.",
                ),
                hint=Text(
                    f"Stop it with `finsent classify --cancel {run_id}` or the Cancel button.",
                    f"`finsent classify --cancel {run_id}` 또는 취소 버튼으로 멈추세요.",
                ),
                dashboard_hint=Text("Stop it with the Cancel button.", "취소 버튼으로 멈추세요."),
            )
        if run.status == BulkStatus.SUCCEEDED:
            raise InputError(
                Text(
                    f"Bulk run {run_id} has finished: its batch has nothing left to cancel.",
                    f"대량 분류 {run_id}은(는) 이미 끝나 취소할 배치가 없습니다.",
                )
            )
        # Stop following first (and wait for this process's executor), so no poll overwrites the cancel.
        self.cancel_bulk_run(run_id)
        with self._lock:
            entry = self._bulk_threads.get(run_id)
        if entry:
            entry[0].join(wait_seconds)
        run = self.bulk_run(run_id)
        if not run.batch_id:  # nothing submitted yet: stopping the run was all there was to do
            return run
        instance = self.usable_backend(run.backend, api_key)
        progress = instance.batch_progress(run.batch_id)
        if progress.status == BatchStatus.COMPLETED:
            self.store.set_bulk_batch(run_id, bulk_batch.batch_record(progress))
            raise InputError(
                Text(
                    f"Batch {run.batch_id} has already completed: its results are paid for and ready.",
                    f"배치 {run.batch_id}은(는) 이미 완료되어 결과가 준비되어 있습니다(이미 과금됨).",
                ),
                hint=Text(
                    f"Resume the run to read them: `finsent classify --resume {run_id} --output FILE` or the "
                    "Resume button.",
                    f"실행을 재개해 결과를 읽으세요: `finsent classify --resume {run_id} --output FILE` "
                    "또는 재개 버튼.",
                ),
                dashboard_hint=Text(
                    "Resume the run to read them (the Resume button).",
                    "재개 버튼으로 실행을 재개해 결과를 읽으세요.",
                ),
            )
        if not progress.done:  # failed/expired need no cancel; cancelling/cancelled are cancelled already
            progress = instance.cancel_batch(run.batch_id)
        self.store.set_bulk_batch(run_id, bulk_batch.batch_record(progress))
        if progress.status in bulk_batch.CANCELLED_BATCH:
            error = bulk_batch.batch_cancelled(run_id, run.batch_id).texts()
            self.store.set_bulk_status(run_id, BulkStatus.CANCELLED, error, only_from=RESUMABLE_STATUSES)
        return self.bulk_run(run_id)

    def batch_cancelled_error(self, run_id: str) -> InputError:
        """What to tell the user about a run whose provider batch was cancelled on purpose."""
        run = self.bulk_run(run_id)
        return bulk_batch.batch_cancelled(run.id, run.batch_id)

    def bulk_results_in_parts(self, run_id: str) -> Iterator[BulkResults]:
        """The finished rows' results a row group of the stored input at a time (at least one part)."""
        return bulk_runs.results_in_parts(self.store, self.store.bulk_run_state(run_id))

    def bulk_results(self, run_id: str, include_pending: bool = False) -> BulkResults:
        """Every input column, then label, confidence, score_<label> per label and model; finished chunks
        only (unless `include_pending`). The record names the columns it added."""
        return bulk_runs.assemble_results(self.store, self.store.bulk_run_state(run_id), include_pending)

    def bulk_input(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(bulk_runs.input_path(self.store.bulk_run_state(run_id)))

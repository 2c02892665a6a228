"""Bulk runs through a backend's own batch API (Capability.BATCH): submit once, follow, read the results.

The batch id is stored with the run as soon as the backend returns it, so resuming the run (or running the
same command again: the service finds the unfinished run by its input key) follows that batch instead of
submitting a new one: nothing is paid twice. Stopping the executor (Ctrl-C, cancel, a page closed) leaves
the batch running at the provider; cancelling the batch itself is a separate, explicit action
(`FinsentService.cancel_bulk_batch`). A cancelled batch stays recorded with its run: running the same
command again says so instead of paying for a new batch, and only resuming the run submits a new one.
When the batch completes, its predictions are committed chunk by chunk like a live run's, so results,
exports and the UI need nothing special.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence

from finsent.backend import Backend, BatchProgress, ModelRef
from finsent.bulk import BulkExecutor, encode_predictions, read_texts
from finsent.errors import FinsentError, InputError
from finsent.records import BulkRunRecord
from finsent.store import Store

#: seconds between two looks at a batch (a batch takes minutes to hours); FINSENT_BATCH_POLL_SECONDS overrides
DEFAULT_POLL_INTERVAL = 10.0


#: provider batch statuses after a cancel (by finsent, or on the provider's own dashboard)
CANCELLED_BATCH = frozenset({"cancelling", "cancelled"})


class BatchCancelled(InputError):
    code = "batch_cancelled"


def batch_cancelled(run_id: str, batch_id: str | None) -> BatchCancelled:
    """What a run whose batch was cancelled says, and what to do next."""
    return BatchCancelled(
        f"Batch {batch_id} of bulk run {run_id} was cancelled: the requests it had finished are billed, "
        "nothing more will be, and no results were read from it.",
        hint=f"To classify the rows, resume the run (a new batch, billed again): the Resume button on the "
        f"Classify page, or `finsent classify --resume {run_id} --output FILE`. Or classify without the "
        "batch API (live requests).",
        ko=f"일괄 분류 {run_id}의 배치 {batch_id}이(가) 취소되었습니다. 이미 끝난 요청만 과금되고 더는 "
        "과금되지 않으며, 결과는 읽지 않았습니다.",
        hint_ko=f"행을 분류하려면 실행을 재개하세요(새 배치, 다시 과금됨): 분류 페이지의 재개 버튼 또는 "
        f"`finsent classify --resume {run_id} --output FILE`. 또는 배치 API 없이(실시간 요청) 분류하세요.",
    )


def batch_record(progress: BatchProgress) -> dict[str, object]:
    """A batch's progress as the store keeps it with the run."""
    return {
        "id": progress.batch_id,
        "status": progress.status,
        "total": progress.total,
        "completed": progress.completed,
        "failed": progress.failed,
    }


def default_poll_interval() -> float:
    try:
        return max(0.01, float(os.environ.get("FINSENT_BATCH_POLL_SECONDS") or DEFAULT_POLL_INTERVAL))
    except ValueError:
        return DEFAULT_POLL_INTERVAL


def input_key(backend: str, model_id: str, text_column: str, texts: Sequence[str]) -> str:
    """What makes two bulk runs the same run: backend, model, text column and every text, in order."""
    digest = hashlib.sha256(f"{backend}\0{model_id}\0{text_column}\0".encode())
    for text in texts:
        digest.update(str(text).encode("utf-8") + b"\0")
    return digest.hexdigest()


class BatchExecutor(BulkExecutor):
    """Runs one batch-API bulk run until its results are stored, or until it is stopped (batch kept)."""

    def __init__(
        self,
        store: Store,
        backend: Backend,
        model: ModelRef,
        run_id: str,
        cancel: threading.Event | None = None,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
        poll_interval: float | None = None,
    ) -> None:
        super().__init__(store, backend, model, run_id, cancel, on_progress)
        self.poll_interval = poll_interval if poll_interval is not None else default_poll_interval()

    def _execute(self) -> tuple[str, str | None]:
        state = self.store.bulk_run_state(self.run_id)
        texts = read_texts(state)
        batch_id = state.record.batch_id
        if batch_id and state.record.batch_status in CANCELLED_BATCH:
            # Resuming a run whose batch was cancelled is the explicit ask for a new batch (running the
            # same command again stops earlier, in the service, with `batch_cancelled`).
            self.store.set_bulk_batch(self.run_id, None)
            batch_id = None
        if not batch_id:
            batch_id = self.backend.submit_batch(self.model, texts)
            # Recorded at once: from here on a crash or Ctrl-C resumes this batch, never a second one.
            self.store.set_bulk_batch(
                self.run_id, {"id": batch_id, "status": "submitted", "total": 0, "completed": 0, "failed": 0}
            )
        while True:
            progress = self.backend.batch_progress(batch_id)
            self.store.set_bulk_batch(self.run_id, batch_record(progress))
            self._report()
            if progress.done:
                break
            if self._cancel_requested() or self.cancel.wait(self.poll_interval):
                return "cancelled", None
        if progress.status in CANCELLED_BATCH:
            # Kept with the run (not forgotten like an expired batch): the same command run again must say
            # it was cancelled rather than pay for a new batch unasked.
            return "cancelled", batch_cancelled(self.run_id, batch_id).text("en")
        if progress.status != "completed":
            self.store.set_bulk_batch(self.run_id, None)  # a resume submits a new batch
            raise FinsentError(
                f"Batch {batch_id} ended as {progress.status} without results.",
                hint="Resume the run to submit a new batch, or classify without the batch API.",
                ko=f"배치 {batch_id}이(가) 결과 없이 {progress.status} 상태로 끝났습니다.",
                hint_ko="실행을 재개해 새 배치를 제출하거나, 배치 API 없이 분류하세요.",
            )
        predictions = self.backend.batch_results(batch_id, self.model, texts)
        if len(predictions) != len(texts):
            raise FinsentError(
                f"The {self.backend.label} backend returned {len(predictions)} batch results for"
                f" {len(texts)} texts.",
                hint="This is a bug in the backend plugin; resume the run to read the batch again.",
            )
        for index, rows in self._pending_chunks(state, len(texts)):
            self.store.add_chunk(self.run_id, encode_predictions(index, predictions[rows], state.labels))
        self._report()
        return "succeeded", None

"""Bulk runs through a backend's own batch API (Capability.BATCH): submit once, follow, read the results.

The batch id is stored with the run as soon as the backend returns it, so resuming the run (or running the
same command again: the service finds the unfinished run by its input key) follows that batch instead of
submitting a new one: nothing is paid twice. Stopping the executor (Ctrl-C, cancel, a page closed) leaves
the batch running at the provider; cancelling the batch itself is a separate, explicit action
(`FinsentService.cancel_bulk_batch`). A cancelled batch stays recorded with its run: running the same
command again says so instead of paying for a new batch, and only resuming the run submits a new one.
A cancelled or expired batch may still have answered part of its rows: resuming reads those answers first
(`Backend.batch_partial_results`, kept in `finsent.bulk.batch_answers`), so the new batch carries only the rows
still without an answer; answers that cannot be read are paid for again, never guessed. When the batch
completes, its predictions are committed chunk by chunk like a live run's, so results, exports and the UI
need nothing special.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from finsent.bulk.batch_answers import BatchAnswers
from finsent.bulk.runs import BulkExecutor, encode_predictions, read_texts
from finsent.contract.backend import Backend, BatchProgress, BatchStatus, ModelRef
from finsent.contract.errors import FinsentError, InputError, NetworkError
from finsent.contract.texts import Text
from finsent.jobs.evaluation import checked
from finsent.store import BulkRunState, Store
from finsent.store.records import BulkRunRecord, BulkStatus
from finsent.support.digests import texts_digest

log = logging.getLogger(__name__)

#: seconds between two looks at a batch (a batch takes minutes to hours); FINSENT_BATCH_POLL_SECONDS overrides
DEFAULT_POLL_INTERVAL = 10.0


#: provider batch statuses after a cancel (by finsent, or on the provider's own dashboard)
CANCELLED_BATCH = frozenset({BatchStatus.CANCELLING, BatchStatus.CANCELLED})
#: batches that stopped early but may hold answers for part of their rows (read when the run resumes)
STOPPED_BATCH = CANCELLED_BATCH | {BatchStatus.EXPIRED}


class BatchCancelled(InputError):
    code = "batch_cancelled"


def batch_cancelled(run_id: str, batch_id: str | None) -> BatchCancelled:
    """What a run whose batch was cancelled says, and what to do next."""
    return BatchCancelled(
        Text(
            f"Batch {batch_id} of bulk run {run_id} was cancelled: the requests it had finished are billed, "
            "nothing more will be. Their answers are kept when the run resumes.",
            f"대량 분류 {run_id}의 배치 {batch_id}이(가) 취소되었습니다. 이미 끝난 요청만 과금되고 더는 "
            "과금되지 않습니다. 끝난 요청의 답은 실행을 재개할 때 그대로 씁니다.",
        ),
        hint=Text(
            f"To classify the other rows, resume the run (a new batch for the rows without an answer, billed): "
            f"the Resume button on the Classify page, or `finsent classify --resume {run_id} --output FILE`. Or "
            "classify without the batch API (live requests).",
            f"나머지 행을 분류하려면 실행을 재개하세요(답이 없는 행만 새 배치로, 과금됨): 분류 페이지의 재개 "
            f"버튼 또는 `finsent classify --resume {run_id} --output FILE`. 또는 배치 API 없이(실시간 요청) "
            "분류하세요.",
        ),
        dashboard_hint=Text(
            "To classify the other rows, resume the run with the Resume button (a new batch for the rows without "
            "an answer, billed), or classify without the batch API (live requests).",
            "나머지 행을 분류하려면 재개 버튼으로 실행을 재개하세요(답이 없는 행만 새 배치로, 과금됨). 또는 배치 "
            "API 없이(실시간 요청) 분류하세요.",
        ),
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
    return texts_digest(map(str, texts), head=f"{backend}\0{model_id}\0{text_column}\0")


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

    def _execute(self) -> tuple[BulkStatus, str | Text | None]:
        state = self.store.bulk_run_state(self.run_id)
        texts = read_texts(state)
        answers = BatchAnswers(Path(state.directory), texts)
        batch_id = state.record.batch_id
        if batch_id and state.record.batch_status in STOPPED_BATCH:
            # Resuming a run whose batch was cancelled (or expired) is the explicit ask for a new batch
            # (running the same command again stops earlier, in the service, with `batch_cancelled`); the
            # answers the stopped batch had finished are read first, so the new one carries only the rest.
            stopped = self._follow(batch_id, lambda p: p.status != "cancelling")
            if stopped is None:
                return BulkStatus.CANCELLED, None
            if stopped.status in STOPPED_BATCH:
                self._harvest(stopped, answers, state)
                batch_id = None
        if not batch_id:
            rows = answers.missing(self._pending_rows(state, len(texts)))
            if not rows:  # the stopped batches answered every row: nothing left to pay for
                self._commit(state, answers)
                return BulkStatus.SUCCEEDED, None
            answers.carry(rows)
            batch_id = self.backend.submit_batch(self.model, answers.carried_texts())
            # Recorded at once: from here on a crash or Ctrl-C resumes this batch, never a second one.
            self.store.set_bulk_batch(
                self.run_id, {"id": batch_id, "status": "submitted", "total": 0, "completed": 0, "failed": 0}
            )
        progress = self._follow(batch_id, lambda p: p.done)
        if progress is None:
            return BulkStatus.CANCELLED, None
        if progress.status in CANCELLED_BATCH:
            # Kept with the run (not forgotten like an expired batch): the same command run again must say
            # it was cancelled rather than pay for a new batch unasked. Its answers are read on resume.
            return BulkStatus.CANCELLED, batch_cancelled(self.run_id, batch_id).texts()
        if progress.status == BatchStatus.EXPIRED:
            kept = self._harvest(progress, answers, state)
            left = len(answers.missing(self._pending_rows(state, len(texts))))
            if not left:  # it expired while finishing: every row has its answer
                return BulkStatus.SUCCEEDED, None
            raise FinsentError(
                Text(
                    f"Batch {batch_id} expired before it finished: {kept} rows it answered are kept, {left} are left.",
                    f"배치 {batch_id}이(가) 끝나기 전에 만료되었습니다. 답한 {kept}행은 보관했고 {left}행이 남았습니다.",
                ),
                hint=Text(
                    "Resume the run to submit a new batch for the rows left, or classify without the batch API.",
                    "실행을 재개해 남은 행만 새 배치로 제출하거나, 배치 API 없이 분류하세요.",
                ),
            )
        if progress.status != BatchStatus.COMPLETED:
            self.store.set_bulk_batch(self.run_id, None)  # a resume submits a new batch
            raise FinsentError(
                Text(
                    f"Batch {batch_id} ended as {progress.status} without results.",
                    f"배치 {batch_id}이(가) 결과 없이 {progress.status} 상태로 끝났습니다.",
                ),
                hint=Text(
                    "Resume the run to submit a new batch, or classify without the batch API.",
                    "실행을 재개해 새 배치를 제출하거나, 배치 API 없이 분류하세요.",
                ),
            )
        carried = answers.carried_texts()
        predictions = checked(
            self.backend,
            self.backend.batch_results(batch_id, self.model, carried),
            carried,
            Text(
                "This is a bug in the backend plugin; resume the run to read the batch again.",
                "백엔드 플러그인의 버그입니다. 실행을 재개해 배치를 다시 읽으세요.",
            ),
        )
        answers.take(predictions)
        self._commit(state, answers)
        if self._pending_rows(state, len(texts)):  # never "succeeded" with rows left out
            self.store.set_bulk_batch(self.run_id, None)
            raise FinsentError(
                Text(
                    f"Batch {batch_id} did not answer every row the run still needs.",
                    f"배치 {batch_id}이(가) 실행에 필요한 행 전부에 답하지 않았습니다.",
                ),
                hint=Text(
                    "Resume the run to submit a new batch for the rows left.",
                    "실행을 재개해 남은 행을 새 배치로 제출하세요.",
                ),
            )
        return BulkStatus.SUCCEEDED, None

    def _follow(self, batch_id: str, until: Callable[[BatchProgress], bool]) -> BatchProgress | None:
        """Poll the batch (recording its progress) until `until` holds; None when the run is stopped."""
        while True:
            progress = self.backend.batch_progress(batch_id)
            self.store.set_bulk_batch(self.run_id, batch_record(progress))
            self._report()
            if until(progress):
                return progress
            if self._cancel_requested() or self.cancel.wait(self.poll_interval):
                return None

    def _pending_rows(self, state: BulkRunState, n: int) -> list[int]:
        return [row for _, rows in self._pending_chunks(state, n) for row in range(n)[rows]]

    def _harvest(self, progress: BatchProgress, answers: BatchAnswers, state: BulkRunState) -> int:
        """Keep what a stopped batch answered, commit the chunks that are now complete and forget the batch;
        returns how many rows it answered. Unreadable answers are sent again, never guessed."""
        batch_id, carried = progress.batch_id, answers.carried_texts()
        try:
            found = checked(
                self.backend, self.backend.batch_partial_results(batch_id, self.model, carried), carried
            )
        except NetworkError:
            raise  # the batch stays recorded: resuming later reads it again
        except FinsentError as exc:
            log.warning(
                "Could not read the answers of %s batch %s (%s): its %d rows are sent again in the new batch.",
                progress.status, batch_id, exc.text("en"), len(carried),
            )  # fmt: skip
            found = [None] * len(carried)
        kept = answers.take(found)
        answers.save()
        log.info(
            "%s batch %s had answered %d of its %d rows: they are kept, a new batch carries only the rest.",
            progress.status.capitalize(), batch_id, kept, len(carried),
        )  # fmt: skip
        self._commit(state, answers)
        self.store.set_bulk_batch(self.run_id, None)
        return kept

    def _commit(self, state: BulkRunState, answers: BatchAnswers) -> None:
        """Store every pending chunk whose rows all have an answer (each row once: a stored chunk is done)."""
        n = len(answers.texts)
        for index, rows in self._pending_chunks(state, n):
            chunk = range(n)[rows]
            if all(row in answers.answers for row in chunk):
                predictions = [answers.answers[row] for row in chunk]
                texts = [answers.texts[row] for row in chunk]  # blank cells stored without a label
                chunk_codes = encode_predictions(index, predictions, state.labels, texts)
                self.store.add_chunk(self.run_id, chunk_codes)
        self._report()

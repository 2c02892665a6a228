"""Large bulk runs through OpenAI's Batch API (/v1/batches): half the price, results within 24 hours.

One batch per (model, texts): the request file is written and uploaded once, the batch id is kept in a
ledger under the backend's workdir, so submitting the same run again (after a crash or a restart) resumes
following that batch instead of paying twice. Rows the batch could not answer are classified with live
requests when the results are read: every text gets exactly one prediction. Cancelling a batch
(`finsent classify --cancel RUN`) removes it from the ledger, so the same texts submitted again make a new
batch. A cancelled or expired batch's output file still holds the requests it completed: `partial_results`
reads them (each line's custom_id names its rows and a hash of their texts, checked on reading) so the core
resubmits only the rows without an answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openai
from openai.types import Batch, Completion
from openai.types.chat import ChatCompletion

from finsent.contract import BatchProgress, ModelRef, Prediction, Text, errors
from finsent.support import texts_digest

from .answers import AnswerMapper
from .classify import Classifier, chat_body, chat_prediction, completion_body, completion_predictions
from .client import ClientConfig, expect_object, openai_errors
from .data import COMPLETION, AccountLedger, model_kind

_DEAD = ("failed", "expired", "cancelled", "cancelling")

log = logging.getLogger(__name__)

__all__ = ["BatchProgress", "BatchRunner"]


def _lines_hash(texts: Sequence[str]) -> str:
    return texts_digest(texts)[:16]


def custom_id(start: int, texts: Sequence[str], chat: bool) -> str:
    """The id of one request line: its rows (positions in the batch's texts) and a hash of their texts, so
    an answer read back is only ever used for the texts it was given for."""
    if chat:
        return f"row-{start}-{_lines_hash(texts)}"
    return f"rows-{start}-{start + len(texts) - 1}-{_lines_hash(texts)}"


def _rows(custom_id: str, texts: Sequence[str]) -> list[int] | None:
    """ "rows-40-59-<hash>" -> [40..59]; "row-7-<hash>" -> [7]; None when the id does not match `texts`.
    Ids without a hash (batches submitted by an older finsent, always over every text) are taken as is."""
    parts = custom_id.split("-")
    try:
        if parts[0] == "rows" and len(parts) in (3, 4):
            rows, check = list(range(int(parts[1]), int(parts[2]) + 1)), parts[3:]
        elif parts[0] == "row" and len(parts) in (2, 3):
            rows, check = [int(parts[1])], parts[2:]
        else:
            return None
    except ValueError:
        return None
    if not rows or rows[0] < 0 or rows[-1] >= len(texts):
        return None
    if check and check[0] != _lines_hash([texts[row] for row in rows]):
        return None
    return rows


def read_answers(output: bytes, model: ModelRef, texts: Sequence[str]) -> list[Prediction | None]:
    """The answers of a batch output file, by position in `texts`; None where a row has no usable answer
    (failed request, unknown or mismatching custom_id, damaged line: those rows are paid for again)."""
    mapper = AnswerMapper(model.labels)
    results: list[Prediction | None] = [None] * len(texts)
    rejected = 0
    for line in output.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            item: dict[str, Any] = json.loads(line)
            response = item.get("response") or {}
            if response.get("status_code") != 200:
                continue  # a failed request: its rows have no answer
            rows = _rows(str(item.get("custom_id")), texts)
            if rows is None:
                rejected += 1
                continue
            body = response.get("body") or {}
            if str(body.get("object")) == "text_completion":
                predictions = completion_predictions(Completion.model_validate(body), mapper, len(rows))
            else:
                predictions = [chat_prediction(ChatCompletion.model_validate(body), mapper)]
        except (ValueError, TypeError, AttributeError, errors.FinsentError):  # ValidationError: a ValueError
            rejected += 1
            continue
        if len(predictions) != len(rows):
            rejected += 1
            continue
        for row, prediction in zip(rows, predictions, strict=True):
            results[row] = prediction
    if rejected:
        log.warning(
            "%d lines of a batch output file did not match the texts sent; their rows are sent again",
            rejected,
        )
    return results


class BatchRunner:
    def __init__(
        self, client: openai.OpenAI, config: ClientConfig, classifier: Classifier, workdir: Path
    ) -> None:
        self.client = client
        self.config = config
        self.classifier = classifier
        self.ledger = AccountLedger(workdir / "batches" / "ledger.json", config)

    def _run_digest(self, model: ModelRef, texts: Sequence[str]) -> str:
        head = json.dumps([model.id, model.input_format.to_dict(), list(model.labels.names)])
        return texts_digest(texts, head=head)

    def request_lines(self, model: ModelRef, texts: Sequence[str]) -> str:
        tuning = self.classifier.tuning
        lines = []
        if model_kind_of(model) == COMPLETION:
            size = tuning.prompts_per_request
            for start in range(0, len(texts), size):
                chunk = texts[start : start + size]
                body = completion_body(model, chunk, tuning)
                lines.append(
                    {"custom_id": custom_id(start, chunk, chat=False), "method": "POST",
                     "url": "/v1/completions", "body": body}
                )  # fmt: skip
        else:
            for i, text in enumerate(texts):
                body = chat_body(model, text, tuning)
                lines.append(
                    {"custom_id": custom_id(i, [text], chat=True), "method": "POST",
                     "url": "/v1/chat/completions", "body": body}
                )  # fmt: skip
        return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)

    def submit(self, model: ModelRef, texts: Sequence[str]) -> str:
        """The batch id for this run: an existing live one if the same run was submitted before."""
        if not texts:
            raise errors.InputError(Text("There is nothing to classify.", "분류할 문장이 없습니다."))
        digest = self._run_digest(model, texts)
        known = self.ledger.get(digest)
        if known and self.progress(known).status not in _DEAD:
            return known
        completion = model_kind_of(model) == COMPLETION
        with openai_errors(self.config, "batch", subject=f"model '{model.id}'"):
            uploaded = self.client.files.create(
                file=(
                    "finsent-batch.jsonl",
                    self.request_lines(model, texts).encode("utf-8"),
                    "application/jsonl",
                ),
                purpose="batch",
            )
            uploaded = expect_object(uploaded, "file", self.config, "batch", status=False)
            batch = self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint="/v1/completions" if completion else "/v1/chat/completions",
                completion_window="24h",
                metadata={"finsent": "bulk classification", "model": model.id[:500]},
            )
        batch = self._checked(batch, "batch")
        self.ledger.remember(digest, batch.id)
        return batch.id

    def _checked(self, batch: Any, action: str) -> Batch:
        """A batch, or a clear error: a server answering with another object would be followed forever."""
        checked: Batch = expect_object(batch, "batch", self.config, action)
        return checked

    def _status(self, batch: Batch) -> str:
        """The batch's status as put in a message: a server's text."""
        return self.config.scrub(str(batch.status), 60)

    def progress(self, batch_id: str) -> BatchProgress:
        with openai_errors(self.config, "batch", subject=f"batch '{batch_id}'"):
            batch = self._checked(self.client.batches.retrieve(batch_id), "batch")
        return _progress(batch)

    def cancel(self, batch_id: str) -> BatchProgress:
        """Ask OpenAI to stop the batch (it is `cancelling` for up to 10 minutes, then `cancelled`): the
        requests it finished are billed, no more. The ledger forgets it, so the same texts submitted again
        make a new batch instead of finding this one."""
        with openai_errors(self.config, "cancel-batch", subject=f"batch '{batch_id}'"):
            batch = self._checked(self.client.batches.cancel(batch_id), "cancel-batch")
        self.ledger.forget(batch_id)
        return _progress(batch)

    def partial_results(
        self, batch_id: str, model: ModelRef, texts: Sequence[str]
    ) -> list[Prediction | None]:
        """What a cancelled or expired batch answered before it stopped (its output file holds the requests
        that completed), by position in `texts`; None for the rest. Nothing is classified live here: the
        core sends the rows without an answer in its next batch."""
        with openai_errors(self.config, "batch", subject=f"batch '{batch_id}'"):
            batch = self._checked(self.client.batches.retrieve(batch_id), "batch")
            if batch.status not in ("cancelled", "expired"):
                status = self._status(batch)
                raise errors.InputError(
                    Text(
                        f"Batch {batch_id} is {status}: only a cancelled or expired batch has partial results.",
                        f"배치 {batch_id}의 상태가 {status}입니다. 취소되었거나 만료된 배치만 일부 결과가 있습니다.",
                    )
                )
            if not batch.output_file_id:
                log.info(
                    "%s batch %s has no output file: it answered none of its rows", batch.status, batch_id
                )
                return [None] * len(texts)
            output = self.client.files.content(batch.output_file_id).content
        return read_answers(output, model, texts)

    def results(self, batch_id: str, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order; rows the batch did not answer are classified live."""
        with openai_errors(self.config, "batch", subject=f"batch '{batch_id}'"):
            batch = self._checked(self.client.batches.retrieve(batch_id), "batch")
            output = self.client.files.content(batch.output_file_id).content if batch.output_file_id else b""
        if batch.status != "completed":
            status = self._status(batch)
            raise errors.InputError(
                Text(
                    f"Batch {batch_id} is {status}, not completed: its results cannot be read yet.",
                    f"배치 {batch_id}의 상태가 {status}입니다. 아직 결과를 읽을 수 없습니다.",
                ),
                hint=Text(
                    "Wait until it completes (OpenAI allows up to 24 hours), or classify without the Batch API.",
                    "완료될 때까지 기다리거나(최대 24시간), 배치 API 없이 분류하세요.",
                ),
            )
        results = read_answers(output, model, texts)
        missing = [i for i, p in enumerate(results) if p is None]
        if missing:
            for i, prediction in zip(
                missing, self.classifier.classify(model, [texts[i] for i in missing]), strict=True
            ):
                results[i] = prediction
        return [p for p in results if p is not None]


def _progress(batch: Batch) -> BatchProgress:
    counts = batch.request_counts
    return BatchProgress(
        batch_id=batch.id,
        status=str(batch.status),
        total=counts.total if counts else 0,
        completed=counts.completed if counts else 0,
        failed=counts.failed if counts else 0,
    )


def model_kind_of(model: ModelRef) -> str:
    return str(model.details.get("kind") or model_kind(model.id))

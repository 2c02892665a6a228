"""A Batch API run whose batch stopped early (cancelled, or expired after OpenAI's 24 hours) keeps what the
batch had answered: its output file holds the requests that completed, and resuming the run commits those
answers and submits a new batch for the other rows only. Every text reaches the model exactly once in total,
counted by the fake server; answers that cannot be read (or do not match their rows) are paid for again,
never used for the wrong row. Real SDK against our fake API, every exchange checked against the OpenAPI
document."""

# ruff: noqa: F811 - pytest fixtures imported from other modules are parameters of the tests

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from finsent_openai import OpenAIBackend
from openai_fake.dataset import sentences
from openai_fake.fixtures import make_backend, openai_server  # noqa: F401
from openai_fake.model import rule_label
from openai_fake.schema import SpecChecker, batch_file_problems, spec  # noqa: F401
from openai_fake.server import TEST_KEY, FakeOpenAI

from finsent.cli import main
from finsent.contract import errors
from finsent.contract.backend import ModelRef
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat
from finsent.service import BulkRequest, FinsentService
from finsent.store.records import BulkRunRecord

MODEL = "gpt-4o-mini"
LABELS = ["positive", "negative", "neutral"]


@pytest.fixture
def svc(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FinsentService]:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_openai")
    # Chunks of 8 rows: a stopped batch's answers complete some chunks (committed at once), not others.
    monkeypatch.setattr(OpenAIBackend, "classify_batch_size", 8)
    service = FinsentService()
    service.add_model("openai", MODEL, labels=LABELS)
    yield service
    service.close()


def news(n: int = 24) -> pd.DataFrame:
    texts = [text for text, _ in sentences(n, offset=2300)]
    return pd.DataFrame({"id": range(n), "문장": texts})


def stop_following(svc: FinsentService, server: FakeOpenAI, frame: pd.DataFrame, ran: int) -> BulkRunRecord:
    """A submitted batch keeps running at the provider (Ctrl-C); `ran` of its requests will have run when
    something stops it."""

    def interrupt(record: BulkRunRecord) -> None:
        batch = server.batches[str(record.batch_id)]
        batch.done_before_stop = ran
        server.batch_seconds = 0.15  # the batches of a resume run as usual
        raise KeyboardInterrupt

    # Long from the start: a batch of the usual 0.15 s could be done before the first poll on a busy machine.
    server.batch_seconds = 3600

    with pytest.raises(KeyboardInterrupt):
        svc.run_bulk(
            BulkRequest("openai", MODEL, frame, "문장", "news.csv", batch_api=True), on_progress=interrupt
        )
    [run] = svc.bulk_runs()
    assert run.batch_id and run.rows_done == 0
    return run


def wait_until(server: FakeOpenAI, batch_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while server.batches[batch_id].status != status:
        assert time.monotonic() < deadline, f"batch {batch_id} never became {status}"
        server.advance_all()
        time.sleep(0.01)


def batch_inputs(server: FakeOpenAI) -> list[list[dict[str, Any]]]:
    """The request lines of every batch, in the order the batches were created."""
    return [
        [json.loads(line) for line in server.contents[b.input_file_id].decode("utf-8").splitlines()]
        for b in server.batches.values()
    ]


def check_output(path: Path, frame: pd.DataFrame) -> None:
    result = pd.read_csv(path, encoding="utf-8-sig")
    assert list(result["id"]) == list(frame["id"]), "every row once, in order"
    assert list(result["label"]) == [rule_label(t) for t in frame["문장"]]


def test_a_cancelled_batch_s_answers_are_kept_and_each_text_is_sent_once_in_total(
    svc: FinsentService,
    openai_server: FakeOpenAI,
    spec: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = news(24)
    run = stop_following(svc, openai_server, frame, ran=10)
    assert main(["classify", "--cancel", run.id]) == 0
    first = str(run.batch_id)
    assert openai_server.batches[first].status == "cancelling"

    out = tmp_path / "scored.csv"
    with caplog.at_level(logging.INFO, logger="finsent.bulk.batch"):
        assert main(["classify", "--resume", run.id, "--output", str(out), "--poll-interval", "0.05"]) == 0
    assert f"Cancelled batch {first} had answered 10 of its 24 rows" in caplog.text
    check_output(out, frame)
    texts = list(frame["문장"])
    assert openai_server.received == Counter(texts), "each text reached the model exactly once"
    assert openai_server.answered == Counter(texts)
    # the new batch carried the 14 rows the cancelled one had not answered, nothing else
    old, new = batch_inputs(openai_server)
    assert [line["body"]["messages"][-1]["content"] for line in new] == texts[10:]
    assert openai_server.batches[first].completed == 10 and len(old) == 24
    done = svc.bulk_run(run.id)
    assert (done.status, done.rows_done) == ("succeeded", 24) and done.batch_id not in (None, first)
    checker = SpecChecker(spec)
    problems = [p for exchange in openai_server.exchanges for p in checker.check(exchange)]
    problems += batch_file_problems(checker, openai_server)
    assert not problems, "\n".join(problems[:20])


def test_an_expired_batch_s_answers_are_kept_and_the_resume_sends_only_the_rest(
    svc: FinsentService, openai_server: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = news(20)
    run = stop_following(svc, openai_server, frame, ran=11)
    openai_server.expire_batch(str(run.batch_id))  # OpenAI's 24 hours ran out after 11 requests
    out = tmp_path / "scored.csv"
    resume = ["classify", "--resume", run.id, "--output", str(out), "--poll-interval", "0.05"]
    assert main(resume) == 2, "a new (paid) batch waits for the user's resume"
    err = capsys.readouterr().err
    assert "expired before it finished: 11 rows it answered are kept, 9 are left" in err
    stopped = svc.bulk_run(run.id)
    assert stopped.batch_id is None and stopped.rows_done == 8, "the chunk it completed is committed"
    assert openai_server.requests["/batches"] == 1

    assert main(resume) == 0
    check_output(out, frame)
    texts = list(frame["문장"])
    assert openai_server.received == Counter(texts) and openai_server.answered == Counter(texts)
    assert [len(lines) for lines in batch_inputs(openai_server)] == [20, 9]


@pytest.mark.parametrize("damage", ["file gone", "rows mixed up"])
def test_answers_that_cannot_be_trusted_are_paid_for_again_never_used(
    damage: str,
    svc: FinsentService,
    openai_server: FakeOpenAI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = news(12)
    texts = list(frame["문장"])
    run = stop_following(svc, openai_server, frame, ran=6)
    assert main(["classify", "--cancel", run.id]) == 0
    batch = openai_server.batches[str(run.batch_id)]
    wait_until(openai_server, batch.id, "cancelled")
    assert batch.output_file_id
    if damage == "file gone":  # e.g. deleted at OpenAI: the download answers 404
        del openai_server.contents[batch.output_file_id]
        resent = texts[:6]
    else:  # each answer names the row after its own (rows mixed up): its text hash no longer matches
        lines = [json.loads(x) for x in openai_server.contents[batch.output_file_id].decode().splitlines()]
        for line in lines:
            kind, row, digest = line["custom_id"].split("-")
            line["custom_id"] = f"{kind}-{int(row) + 1}-{digest}"
        openai_server.contents[batch.output_file_id] = "".join(json.dumps(x) + "\n" for x in lines).encode()
        resent = texts[:6]

    out = tmp_path / "scored.csv"
    with caplog.at_level(logging.INFO):
        assert main(["classify", "--resume", run.id, "--output", str(out), "--poll-interval", "0.05"]) == 0
    check_output(out, frame)
    assert openai_server.received == Counter(texts) + Counter(resent), "the untrusted rows paid again"
    if damage == "file gone":
        assert f"Could not read the answers of cancelled batch {batch.id}" in caplog.text
        assert "its 12 rows are sent again in the new batch" in caplog.text
    else:
        assert "6 lines of a batch output file did not match the texts sent" in caplog.text


def test_completion_lines_are_read_back_only_for_the_texts_they_were_sent_with(
    openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    """Many prompts per request line ("rows-0-19-<hash>"): a stopped batch's first line answers its 20
    rows; the same output read against other texts answers none of them."""
    backend = make_backend(openai_server, finsent_home)
    model = ModelRef("babbage-002", LabelSet(), InputFormat(separator=" ->"))
    texts = [text for text, _ in sentences(45, offset=2400)]
    batch_id = backend.submit_batch(model, texts)
    batch = openai_server.batches[batch_id]
    batch.seconds, batch.done_before_stop = 3600, 1
    with pytest.raises(errors.InputError, match="only a cancelled or expired batch"):
        backend.batch_partial_results(batch_id, model, texts)  # still running: nothing to read yet
    backend.cancel_batch(batch_id)
    wait_until(openai_server, batch_id, "cancelled")
    found = backend.batch_partial_results(batch_id, model, texts)
    assert [p.label if p else None for p in found] == [rule_label(t) for t in texts[:20]] + [None] * 25
    assert openai_server.received == Counter(texts[:20])
    shifted = texts[1:] + texts[:1]
    assert backend.batch_partial_results(batch_id, model, shifted) == [None] * 45
    backend.close()


def test_a_lost_record_of_a_batch_s_rows_never_gives_a_row_another_row_s_answer(
    svc: FinsentService, openai_server: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The second batch carries rows 10..23 (its line "row-0" is row 10). With the run's record of that
    lost, its answers are read against every text: the text hashes in the custom_ids refuse them all (read
    by position alone, rows 0-3 would get the answers of rows 10-13)."""
    frame = news(24)
    texts = list(frame["문장"])
    run = stop_following(svc, openai_server, frame, ran=10)
    first = str(run.batch_id)
    assert main(["classify", "--cancel", run.id]) == 0

    def interrupt(record: BulkRunRecord) -> None:
        if record.batch_id not in (None, first):
            batch = openai_server.batches[str(record.batch_id)]
            batch.seconds, batch.done_before_stop = 3600, 4
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        svc.resume_bulk_run(run.id, foreground=True, on_progress=interrupt, poll_interval=0.05)
    assert main(["classify", "--cancel", run.id]) == 0
    (svc.settings.bulk_dir / run.id / "batch_answers.json").unlink()

    out = tmp_path / "scored.csv"
    with caplog.at_level(logging.INFO):
        assert main(["classify", "--resume", run.id, "--output", str(out), "--poll-interval", "0.05"]) == 0
    assert "4 lines of a batch output file did not match the texts sent" in caplog.text
    check_output(out, frame)
    # rows 0-7 were committed (their chunk was complete); the answers of rows 8-13 were lost with the file
    assert [len(lines) for lines in batch_inputs(openai_server)] == [24, 14, 16]
    assert openai_server.received == Counter(texts) + Counter(texts[8:14]), "lost answers are paid again"

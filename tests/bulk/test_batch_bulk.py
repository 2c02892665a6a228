"""Bulk runs through a backend's batch API (Capability.BATCH), through the service and `finsent classify
--batch-api`: submit once, follow, resume after Ctrl-C without submitting again, write every input column.
Real SDK against our fake API (it implements /v1/batches)."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from openai_fake.dataset import sentences
from openai_fake.fixtures import openai_server  # noqa: F401
from openai_fake.model import rule_label
from openai_fake.server import TEST_KEY, FakeOpenAI

from finsent.cli import main
from finsent.contract.backend import UnsupportedOperation
from finsent.service import BulkRequest, FinsentService
from finsent.store.records import BulkRunRecord

MODEL = "gpt-4o-mini"


@pytest.fixture
def svc(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FinsentService]:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_openai")
    service = FinsentService()
    service.add_model("openai", MODEL, labels=["positive", "negative", "neutral"])
    yield service
    service.close()


def news(n: int = 40) -> pd.DataFrame:
    texts = [text for text, _ in sentences(n, offset=700)]
    return pd.DataFrame({"id": range(n), "문장": texts, "출처": ["wire"] * n})


def test_cli_batch_api_writes_every_input_column_from_one_batch(
    svc: FinsentService, openai_server: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = news()
    frame.to_csv(tmp_path / "news.csv", index=False)
    out = tmp_path / "scored.csv"
    argv = ["classify", "--backend", "openai", "--model", MODEL, "--input", str(tmp_path / "news.csv")]
    argv += ["--text-col", "문장", "--output", str(out), "--batch-api", "--poll-interval", "0.05"]
    assert main(argv) == 0, capsys.readouterr().err
    result = pd.read_csv(out, encoding="utf-8-sig")
    assert list(result.columns[:3]) == ["id", "문장", "출처"] and "score_positive" in result.columns
    assert list(result["id"]) == list(range(len(frame)))
    assert list(result["label"]) == [rule_label(t) for t in frame["문장"]]
    assert openai_server.requests["/batches"] == 1
    [run] = svc.bulk_runs()
    assert run.batch_api and run.batch_id and run.batch_status == "completed" and run.status == "succeeded"
    assert run.batch_done == run.batch_total == len(frame)


def test_ctrl_c_leaves_the_batch_running_and_the_same_command_picks_it_up(
    svc: FinsentService, openai_server: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = news(30)

    def interrupt(record: BulkRunRecord) -> None:
        openai_server.batches[str(record.batch_id)].seconds = 3600  # keep it running while we look
        openai_server.batch_seconds = 0.15  # later batches run as usual
        raise KeyboardInterrupt

    openai_server.batch_seconds = 3600  # running from the start: 0.15 s may pass before the first poll

    with pytest.raises(KeyboardInterrupt):
        svc.run_bulk(
            BulkRequest("openai", MODEL, frame, "문장", "news.csv", batch_api=True),
            on_progress=interrupt,
            poll_interval=0.05,
        )
    [run] = svc.bulk_runs()
    assert run.status == "cancelled" and run.batch_id and run.rows_done == 0
    assert openai_server.batches[run.batch_id].status not in ("cancelled", "cancelling"), "left running"
    openai_server.batches[run.batch_id].seconds = 0.15

    # the same command again: it finds the unfinished run and its batch instead of submitting a new one
    frame.to_csv(tmp_path / "news.csv", index=False)
    out = tmp_path / "scored.xlsx"
    argv = ["classify", "--backend", "openai", "--model", MODEL, "--input", str(tmp_path / "news.csv")]
    argv += ["--text-col", "문장", "--output", str(out), "--batch-api", "--poll-interval", "0.05"]
    assert main(argv) == 0
    assert f"Following batch {run.batch_id}" in capsys.readouterr().err
    assert openai_server.requests["/batches"] == 1, "nothing submitted (or paid) twice"
    assert [r.id for r in svc.bulk_runs()] == [run.id]
    result = pd.read_excel(out)
    assert list(result["label"]) == [rule_label(t) for t in frame["문장"]]
    assert set(openai_server.answered.values()) == {1} and len(openai_server.answered) == len(frame)


def test_resume_follows_the_stored_batch_and_a_dead_batch_is_submitted_again(
    svc: FinsentService, openai_server: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = news(20)
    seen: list[str] = []

    def interrupt(record: BulkRunRecord) -> None:
        seen.append(str(record.batch_id))
        openai_server.batches[str(record.batch_id)].seconds = 3600
        openai_server.batch_seconds = 0.15  # later batches run as usual
        raise KeyboardInterrupt

    openai_server.batch_seconds = 3600  # running from the start: 0.15 s may pass before the first poll

    with pytest.raises(KeyboardInterrupt):
        svc.run_bulk(
            BulkRequest("openai", MODEL, frame, "문장", "news.csv", batch_api=True), on_progress=interrupt
        )
    run = svc.bulk_runs()[0]
    openai_server.batches[seen[0]].status = "expired"  # OpenAI gave up on it after 24 hours
    out = tmp_path / "scored.csv"
    resume = ["classify", "--resume", run.id, "--output", str(out), "--poll-interval", "0.05"]
    assert main(resume) == 2
    err = capsys.readouterr().err
    assert "expired" in err and f"--resume {run.id}" in err
    assert svc.bulk_run(run.id).batch_id is None, "a resume submits a new batch"
    assert main(resume) == 0
    assert openai_server.requests["/batches"] == 2
    result = pd.read_csv(out, encoding="utf-8-sig")
    assert list(result["label"]) == [rule_label(t) for t in frame["문장"]]
    assert svc.bulk_run(run.id).batch_id not in (None, seen[0])


def test_a_backend_without_a_batch_api_is_refused(
    svc: FinsentService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    svc.add_model("mock", "kw", labels=["positive", "negative", "neutral"])
    with pytest.raises(UnsupportedOperation):
        svc.run_bulk(BulkRequest("mock", "kw", news(3), "문장", "x.csv", batch_api=True))
    news(3).to_csv(tmp_path / "news.csv", index=False)
    argv = ["classify", "--backend", "mock", "--model", "kw", "--input", str(tmp_path / "news.csv")]
    assert main([*argv, "--output", str(tmp_path / "o.csv"), "--batch-api"]) == 2
    assert "no batch API" in capsys.readouterr().err
    assert main(["classify", "--backend", "openai", "--model", MODEL, "--batch-api", "text"]) == 2
    assert svc.bulk_runs() == []

"""Cancelling a Batch API run's batch at the provider: `finsent classify --cancel RUN` and the dashboard's
"cancel the batch" button, through the real SDK (POST /v1/batches/{id}/cancel) against our fake API. The
run and the backend's batch ledger stay consistent: the same command run again says the batch was cancelled
and what to do, and only resuming the run submits (and pays for) a new batch."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from app_helpers import app_env, assert_clean, button, new_app, page, service, texts  # noqa: F401
from openai_fake.dataset import sentences
from openai_fake.fixtures import openai_server  # noqa: F401
from openai_fake.model import rule_label
from openai_fake.server import TEST_KEY, FakeOpenAI

from finsent.cli import main
from finsent.service import BulkRequest, FinsentService
from finsent.store.records import BulkRunRecord

MODEL = "gpt-4o-mini"
CANCEL = "/batches/{batch_id}/cancel"


@pytest.fixture
def openai_env(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_openai")
    return openai_server


@pytest.fixture
def svc(openai_env: FakeOpenAI) -> Iterator[FinsentService]:
    service = FinsentService()
    service.add_model("openai", MODEL, labels=["positive", "negative", "neutral"])
    yield service
    service.close()


def news(n: int = 24) -> pd.DataFrame:
    texts = [text for text, _ in sentences(n, offset=1500)]
    return pd.DataFrame({"id": range(n), "문장": texts})


def stop_following(svc: FinsentService, server: FakeOpenAI, frame: pd.DataFrame) -> BulkRunRecord:
    """A batch-API run whose batch was submitted and keeps running at the provider (Ctrl-C in the CLI)."""

    def interrupt(record: BulkRunRecord) -> None:
        server.batches[str(record.batch_id)].seconds = 3600
        server.batch_seconds = 0.15  # later batches run as usual
        raise KeyboardInterrupt

    server.batch_seconds = 3600  # running from the start: 0.15 s may pass before the first poll

    with pytest.raises(KeyboardInterrupt):
        svc.run_bulk(
            BulkRequest("openai", MODEL, frame, "문장", "news.csv", batch_api=True), on_progress=interrupt
        )
    [run] = svc.bulk_runs()
    assert run.status == "cancelled" and run.batch_id and run.batch_status not in ("cancelling", "cancelled")
    return run


def batch_ledger(home: Path) -> dict[str, str]:
    return json.loads((home / "backends" / "openai" / "batches" / "ledger.json").read_text(encoding="utf-8"))


def test_cli_cancel_stops_the_batch_and_a_rerun_says_so_until_resumed(
    svc: FinsentService,
    openai_server: FakeOpenAI,
    finsent_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = news()
    run = stop_following(svc, openai_server, frame)
    assert run.batch_id in batch_ledger(finsent_home).values()
    capsys.readouterr()

    assert main(["classify", "--cancel", run.id]) == 0
    err = capsys.readouterr().err
    assert run.batch_id in err and "billed" in err and f"--resume {run.id}" in err
    assert openai_server.requests[CANCEL] == 1 and openai_server.cancelled_batches == [run.batch_id]
    assert openai_server.batches[run.batch_id].status == "cancelling"
    cancelled = svc.bulk_run(run.id)
    assert (cancelled.status, cancelled.batch_id, cancelled.batch_status) == (
        "cancelled",
        run.batch_id,
        "cancelling",
    )
    assert cancelled.error and "was cancelled" in cancelled.error
    assert run.batch_id not in batch_ledger(finsent_home).values(), "the ledger no longer offers it"

    # the same command again: it says the batch was cancelled and what to do, and submits nothing
    frame.to_csv(tmp_path / "news.csv", index=False)
    out = tmp_path / "scored.csv"
    argv = ["classify", "--backend", "openai", "--model", MODEL, "--input", str(tmp_path / "news.csv")]
    argv += ["--text-col", "문장", "--output", str(out), "--batch-api", "--poll-interval", "0.05"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"Batch {run.batch_id} of bulk run {run.id} was cancelled" in err
    assert f"finsent classify --resume {run.id}" in err and "without the batch API" in err
    assert openai_server.requests["/batches"] == 1 and not out.exists()
    assert main(["classify", "--cancel", run.id]) == 0, "cancelling again is harmless"
    assert openai_server.requests[CANCEL] == 1, "a cancelled batch is not cancelled twice"

    # resuming is the explicit ask for a new batch
    assert main(["classify", "--resume", run.id, "--output", str(out), "--poll-interval", "0.05"]) == 0
    assert openai_server.requests["/batches"] == 2
    done = svc.bulk_run(run.id)
    assert done.status == "succeeded" and done.batch_id not in (None, run.batch_id)
    result = pd.read_csv(out, encoding="utf-8-sig")
    assert list(result["label"]) == [rule_label(t) for t in frame["문장"]]
    assert set(openai_server.answered.values()) == {1}, "the cancelled batch answered nothing"


def test_a_completed_batch_is_not_cancelled_and_the_message_points_to_its_results(
    svc: FinsentService, openai_server: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = stop_following(svc, openai_server, news(6))
    batch = openai_server.batches[str(run.batch_id)]
    batch.seconds = 0.03
    deadline = time.monotonic() + 10
    while batch.status != "completed" and time.monotonic() < deadline:
        openai_server.advance_all()
        time.sleep(0.01)
    assert main(["classify", "--cancel", run.id]) == 2
    err = capsys.readouterr().err
    assert "already completed" in err and f"--resume {run.id}" in err
    assert openai_server.requests[CANCEL] == 0
    out = tmp_path / "scored.csv"
    assert main(["classify", "--resume", run.id, "--output", str(out), "--poll-interval", "0.05"]) == 0
    assert openai_server.requests["/batches"] == 1


def test_a_batch_cancelled_elsewhere_ends_the_run_with_what_to_do(
    svc: FinsentService, openai_server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cancelled on the provider's own dashboard while finsent follows it: the run says so and keeps it."""

    def cancel_at_provider(record: BulkRunRecord) -> None:
        batch = openai_server.batches[str(record.batch_id)]
        if batch.status in ("validating", "in_progress"):
            batch.seconds = 3600
            batch.cancel(time.monotonic(), cancelling_seconds=0.0)

    frame = news(5)
    record = svc.run_bulk(
        BulkRequest("openai", MODEL, frame, "문장", "n.csv", batch_api=True),
        on_progress=cancel_at_provider,
        poll_interval=0.02,
    )
    assert record.status == "cancelled" and record.batch_status in ("cancelling", "cancelled")
    assert record.error and f"resume {record.id}" in record.error.replace("--resume ", "resume ")
    assert openai_server.requests[CANCEL] == 0 and openai_server.requests["/batches"] == 1
    with pytest.raises(Exception, match="was cancelled"):
        svc.run_bulk(BulkRequest("openai", MODEL, frame, "문장", "n.csv", batch_api=True))


def test_cancel_refuses_what_it_cannot_cancel(
    svc: FinsentService, capsys: pytest.CaptureFixture[str]
) -> None:
    done = svc.run_bulk(BulkRequest("openai", MODEL, news(3), "문장", "x.csv"))  # live requests, no batch
    assert done.status == "succeeded"
    assert main(["classify", "--cancel", done.id]) == 2
    assert "nothing to cancel" in capsys.readouterr().err
    assert main(["classify", "--cancel", "run-nope"]) == 2
    assert "Unknown bulk run" in capsys.readouterr().err
    assert main(["classify", "--cancel", done.id, "--resume", done.id]) == 2
    with pytest.raises(Exception, match="no batch to cancel"):
        svc.cancel_bulk_batch(done.id)


def test_the_dashboard_cancels_the_batch_of_a_stopped_run_after_a_confirmation(
    app_env: Path, openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_DEFAULT_BACKEND", "openai")
    svc = service()
    svc.add_model("openai", MODEL, labels=["positive", "negative", "neutral"])
    run = stop_following(svc, openai_env, news(8))
    at = new_app()
    at.switch_page(page("classify")).run()
    assert_clean(at)
    assert at.selectbox(key="cls_bulk_pick").value == run.id
    assert f"배치 {run.batch_id}은(는) 제공자 쪽에서 계속 실행됩니다" in texts(at)
    assert openai_env.requests[CANCEL] == 0, "nothing is cancelled before the confirmation"
    button(at, "네, 배치를 취소합니다").click().run()
    assert_clean(at)
    assert openai_env.cancelled_batches == [run.batch_id]
    assert svc.bulk_run(run.id).batch_status == "cancelling"
    assert any(f"배치 {run.batch_id}이(가) 취소되었습니다" in w.value for w in at.warning)
    assert not [b for b in at.button if b.label == "네, 배치를 취소합니다"], "nothing left to cancel"


def test_the_dashboard_cancels_the_batch_of_a_run_it_is_following(
    app_env: Path, openai_env: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_DEFAULT_BACKEND", "openai")
    svc = service()
    svc.add_model("openai", MODEL, labels=["positive", "negative", "neutral"])
    run = svc.start_bulk_run(
        BulkRequest("openai", MODEL, news(8), "문장", "news.csv", batch_api=True), poll_interval=0.05
    )
    deadline = time.monotonic() + 10
    while not svc.bulk_run(run.id).batch_id and time.monotonic() < deadline:
        time.sleep(0.01)
    batch_id = str(svc.bulk_run(run.id).batch_id)
    openai_env.batches[batch_id].seconds = 3600
    at = new_app()
    at.switch_page(page("classify")).run()
    assert_clean(at)
    assert at.get("progress") and svc.bulk_run(run.id).status == "running"
    button(at, "네, 배치를 취소합니다").click().run()
    assert_clean(at)
    final = svc.wait_bulk_run(run.id, timeout=10)
    assert (final.status, final.batch_status) == ("cancelled", "cancelling")
    assert openai_env.cancelled_batches == [batch_id]
    assert any(f"배치 {batch_id}이(가) 취소되었습니다" in w.value for w in at.warning)

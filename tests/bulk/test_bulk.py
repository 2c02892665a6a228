# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from core_fixtures import CORE_PLUGINS, prepared_dir, service  # noqa: F401  (fixtures)

from finsent.bulk.runs import output_names
from finsent.contract.errors import InputError
from finsent.service import BulkRequest, FinsentService
from finsent.settings import Settings

WORDS = ("up", "down", "flat")
EXPECTED = {"up": "positive", "down": "negative", "flat": "neutral"}


def input_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "headline": [f"item {i} went {WORDS[i % 3]}" for i in range(n)],
            "메모": ["한국어 메모" if i % 2 else None for i in range(n)],
            "label": ["given"] * n,  # an input column called "label" must survive
        }
    )


def model_for(svc: FinsentService) -> str:
    svc.add_model("scripted", "kw", labels=("positive", "negative", "neutral"))
    return "kw"


def check_alignment(results: pd.DataFrame) -> None:
    word = results["headline"].str.split().str[-1]
    assert (results["predicted_label"] == word.map(EXPECTED)).all()
    assert (results["id"].str[1:].astype(int) == results["headline"].str.split().str[1].astype(int)).all()


def logged_texts(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [t for line in path.read_text(encoding="utf-8").splitlines() for t in json.loads(line)]


def test_background_run_results_keep_every_column_in_order(service: FinsentService) -> None:
    model = model_for(service)
    frame = input_frame(95)
    run = service.start_bulk_run(BulkRequest("scripted", model, frame, "headline", "news.csv"))
    assert run.rows_total == 95 and run.status in ("queued", "running")
    done = service.wait_bulk_run(run.id, timeout=30)
    assert done.status == "succeeded" and done.rows_done == 95 and done.rate and done.eta_seconds is None
    results = service.bulk_results(run.id).frame
    assert list(results.columns) == [
        "id", "headline", "메모", "label",
        "predicted_label", "confidence", "score_positive", "score_negative", "score_neutral", "model",
    ]  # fmt: skip
    assert results["model"].eq(model).all()  # where the labels came from, on every row
    assert results["id"].tolist() == frame["id"].tolist() and results["label"].eq("given").all()
    check_alignment(results)
    assert results["confidence"].eq(0.8).all()
    assert results[["score_positive", "score_negative", "score_neutral"]].sum(axis=1).round(6).eq(1.0).all()
    assert [r.id for r in service.bulk_runs()] == [run.id]


def test_cancel_keeps_finished_chunks_and_resume_sends_only_the_rest(
    service: FinsentService, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = model_for(service)
    monkeypatch.setenv("FINSENT_SCRIPTED_DELAY", "0.05")
    run = service.start_bulk_run(BulkRequest("scripted", model, input_frame(300), "headline", "news.csv"))
    deadline = time.monotonic() + 20
    while service.bulk_run(run.id).rows_done < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    progress = service.bulk_run(run.id)
    assert progress.status == "running" and progress.rate and progress.eta_seconds is not None
    service.cancel_bulk_run(run.id)
    cancelled = service.wait_bulk_run(run.id, timeout=20)
    assert cancelled.status == "cancelled" and 40 <= cancelled.rows_done < 300
    partial = service.bulk_results(run.id).frame
    assert len(partial) == cancelled.rows_done
    check_alignment(partial)
    pending = service.bulk_results(run.id, include_pending=True).frame
    assert len(pending) == 300 and (pending["predicted_label"] == "").sum() == 300 - cancelled.rows_done
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FINSENT_SCRIPTED_LOG", str(log))
    monkeypatch.setenv("FINSENT_SCRIPTED_DELAY", "0")
    service.resume_bulk_run(run.id)
    assert service.wait_bulk_run(run.id, timeout=20).status == "succeeded"
    resent = logged_texts(log)
    assert len(resent) == 300 - cancelled.rows_done
    assert not set(resent) & set(partial["headline"])
    results = service.bulk_results(run.id).frame
    assert len(results) == 300 and results["id"].is_unique
    check_alignment(results)


def test_failure_mid_run_keeps_finished_chunks(
    service: FinsentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = model_for(service)
    monkeypatch.setenv("FINSENT_SCRIPTED_FAIL_CALL", "4")
    record = service.run_bulk(BulkRequest("scripted", model, input_frame(100), "headline", "news.csv"))
    assert record.status == "failed" and "Scripted failure on classify call 4" in (record.error or "")
    assert record.rows_done == 30
    check_alignment(service.bulk_results(record.id).frame)
    resumed = service.resume_bulk_run(record.id, foreground=True)
    assert resumed.status == "succeeded" and resumed.rows_done == 100 and resumed.error is None


CRASHING_RUN = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from finsent.service import BulkRequest, FinsentService
    n = int(sys.argv[1])
    words = ("up", "down", "flat")
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "headline": [f"item {i} went {words[i % 3]}" for i in range(n)],
                          "메모": [""] * n, "label": ["given"] * n})
    svc = FinsentService()
    svc.add_model("scripted", "kw", labels=("positive", "negative", "neutral"))
    svc.run_bulk(BulkRequest("scripted", "kw", frame, "headline", "news.csv"), on_created=lambda r: print(r.id, flush=True))
    """
)


def test_resume_after_a_killed_process_loses_and_repeats_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, finsent_home: Path
) -> None:
    monkeypatch.setenv("FINSENT_PLUGINS_DIR", str(CORE_PLUGINS))
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "scripted")
    first_log, second_log = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    env = {**os.environ, "FINSENT_SCRIPTED_DELAY": "0.05", "FINSENT_SCRIPTED_LOG": str(first_log)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RUN, "400"], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    svc = FinsentService(Settings.from_env())
    deadline = time.monotonic() + 30
    while svc.bulk_run(run_id).rows_done < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert svc.bulk_run(run_id).status == "running"
    assert (
        FinsentService(Settings.from_env()).bulk_run(run_id).status == "running"
    )  # a live owner is respected
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    restarted = FinsentService(Settings.from_env())
    interrupted = restarted.bulk_run(run_id)
    assert interrupted.status == "interrupted" and 50 <= interrupted.rows_done < 400
    finished_before = set(restarted.bulk_results(run_id).frame["headline"])
    monkeypatch.setenv("FINSENT_SCRIPTED_LOG", str(second_log))
    final = restarted.resume_bulk_run(run_id, foreground=True)
    assert final.status == "succeeded"
    resent = logged_texts(second_log)
    assert not set(resent) & finished_before and len(resent) == 400 - interrupted.rows_done
    results = restarted.bulk_results(run_id).frame
    assert len(results) == 400 and results["id"].tolist() == [f"r{i}" for i in range(400)]
    check_alignment(results)


def test_bad_inputs(service: FinsentService) -> None:
    model = model_for(service)
    with pytest.raises(InputError, match="no column 'text'"):
        service.start_bulk_run(BulkRequest("scripted", model, input_frame(3), "text", "x.csv"))
    twins = pd.DataFrame([["a", "b"]], columns=["t", "t"])
    with pytest.raises(InputError, match="duplicate column names"):
        service.start_bulk_run(BulkRequest("scripted", model, twins, "t", "x.csv"))
    empty = service.run_bulk(BulkRequest("scripted", model, input_frame(0), "headline", "empty.csv"))
    assert empty.status == "succeeded" and len(service.bulk_results(empty.id).frame) == 0


def test_unknown_predictions_and_clashing_names(service: FinsentService) -> None:
    model = model_for(service)
    frame = pd.DataFrame({"text": ["up", "??? what", "down"], "confidence": ["x", "y", "z"]})
    run = service.run_bulk(BulkRequest("scripted", model, frame, "text", "x.csv"))
    results = service.bulk_results(run.id).frame
    assert results["label"].tolist() == ["positive", "unknown", "negative"]
    assert results["confidence"].tolist() == ["x", "y", "z"]
    assert results["predicted_confidence"].tolist() == [0.8, 0.0, 0.8]
    assert output_names(["label", "predicted_label"], ["a"])["label"] == "predicted_predicted_label"


def test_mixed_type_columns_and_a_missing_input(service: FinsentService) -> None:
    model = model_for(service)
    frame = pd.DataFrame({"text": ["up", "down", None], "mixed": [1, "two", 3.5]})
    run = service.run_bulk(BulkRequest("scripted", model, frame, "text", "x.xlsx"))
    results = service.bulk_results(run.id).frame
    assert results["label"].tolist() == ["positive", "negative", ""]  # a missing text is not sentiment
    assert results["mixed"].tolist() == ["1", "two", "3.5"]
    from finsent.bulk.runs import INPUT_FILE
    from finsent.contract.errors import FinsentError

    (service.settings.bulk_dir / run.id / INPUT_FILE).unlink()
    with pytest.raises(FinsentError, match="stored input of bulk run"):
        service.bulk_results(run.id)

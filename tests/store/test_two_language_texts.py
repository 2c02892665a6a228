"""Texts of ours kept in both languages (schema v5/v6): events, job errors and bulk-run errors, so the
Korean dashboard shows them in Korean; a backend's plain string is kept as written."""

from __future__ import annotations

import time
from pathlib import Path

from finsent.contract import JobEvent, JobStatus, Text
from finsent.store import Store
from finsent.store.records import JobRecord


def _job(store: Store) -> None:
    now = time.time()
    store.insert_job(
        JobRecord(
            id="job-1",
            backend="scripted",
            external_id="x",
            dataset_id=None,
            base_model="b",
            options={},
            status=JobStatus.RUNNING,
            created_at=now,
            updated_at=now,
        ),
        input_format={},
    )


def test_events_keep_their_korean_and_plain_events_stay_english(tmp_path: Path) -> None:
    store = Store(tmp_path / "finsent.db")
    _job(store)
    store.add_event("job-1", Text("Status: succeeded.", "상태: 완료."))
    store.add_event("job-1", "from a provider")
    store.apply_poll("job-1", None, "1", [JobEvent(1.0, Text("Epoch 1/2", "에포크 1/2"))], [], {})
    again = Store(tmp_path / "finsent.db")
    texts = [e.text for e in again.events("job-1")]
    assert [t.get("ko") for t in texts] == ["상태: 완료.", "from a provider", "에포크 1/2"]
    assert [t.get("en") for t in texts] == ["Status: succeeded.", "from a provider", "Epoch 1/2"]


def test_job_and_bulk_run_errors_keep_their_korean(tmp_path: Path) -> None:
    store = Store(tmp_path / "finsent.db")
    _job(store)
    store.update_job("job-1", status=JobStatus.FAILED, error=Text("Could not start.", "시작하지 못했습니다."))
    job = store.get_job("job-1")
    assert job.error == "Could not start." and job.error_text == Text(
        "Could not start.", "시작하지 못했습니다."
    )
    store.update_job("job-1", error="a provider's words")  # a plain string clears the old Korean
    assert store.get_job("job-1").error_text == Text("a provider's words")

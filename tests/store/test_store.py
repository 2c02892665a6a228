from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from finsent.contract.backend import JobEvent, JobStatus, MetricPoint
from finsent.contract.errors import NotFoundError
from finsent.store import LATEST_VERSION, ChunkPredictions, Store
from finsent.store.records import DatasetRecord, JobRecord
from finsent.store.schema import current_version, migrate


def a_job(job_id: str, status: JobStatus = JobStatus.RUNNING) -> JobRecord:
    now = time.time()
    return JobRecord(
        id=job_id, backend="scripted", external_id=f"ext-{job_id}", dataset_id=None, base_model="kw-1",
        options={"epochs": 3}, status=status, created_at=now, updated_at=now,
    )  # fmt: skip


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "finsent.db")
    with store.db.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert current_version(conn) == LATEST_VERSION


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "finsent.db"
    store = Store(path)
    store.add_dataset(
        DatasetRecord("ds-1", "news.csv", str(tmp_path / "p"), "ab" * 32, 10, time.time(), {"k": "한국어"})
    )
    store.insert_job(a_job("job-1"), input_format={"lowercase": True}, training={"files": {"train": "x"}})
    store.add_event("job-1", "started")
    store.add_metrics("job-1", [MetricPoint(step=1, train_loss=0.9), MetricPoint(step=2, train_loss=0.5)])
    store.add_metrics("job-1", [MetricPoint(step=2, valid_accuracy=0.7)])  # upsert by step keeps train_loss
    store.update_job("job-1", status=JobStatus.SUCCEEDED, fine_tuned_model="m-1", finished_at=time.time())
    del store
    again = Store(path)
    job = again.get_job("job-1")
    assert (
        job.status == JobStatus.SUCCEEDED and job.fine_tuned_model == "m-1" and job.options == {"epochs": 3}
    )
    state = again.job_state("job-1")
    assert state.input_format == {"lowercase": True} and state.training == {"files": {"train": "x"}}
    assert [e.message for e in again.events("job-1")] == ["started"]
    metrics = again.metrics_frame("job-1")
    assert metrics["step"].tolist() == [1, 2]
    assert metrics.loc[1, "train_loss"] == 0.5 and metrics.loc[1, "valid_accuracy"] == 0.7
    assert again.get_dataset("ds-1").manifest == {"k": "한국어"}
    with pytest.raises(NotFoundError):
        again.get_job("job-2")


def test_poll_with_a_stale_cursor_is_discarded(tmp_path: Path) -> None:
    store = Store(tmp_path / "finsent.db")
    store.insert_job(a_job("job-1"))
    events = [JobEvent(1.0, "a", id="e1"), JobEvent(2.0, "b", id="e2")]
    assert store.apply_poll("job-1", None, "2", events, [], {"status": JobStatus.RUNNING})
    assert not store.apply_poll("job-1", None, "2", events, [], {"status": JobStatus.RUNNING})
    assert store.apply_poll(
        "job-1", "2", "3", [JobEvent(2.0, "b", id="e2"), JobEvent(3.0, "c", id="e3")], [], {}
    )
    assert [(e.seq, e.message) for e in store.events("job-1")] == [(1, "a"), (2, "b"), (3, "c")]


WRITER = textwrap.dedent(
    """
    import sys, time
    from finsent.contract.backend import MetricPoint
    from finsent.store import Store
    store = Store(sys.argv[1])
    for i in range(int(sys.argv[3])):
        store.add_event(sys.argv[2], f"{sys.argv[2]} process event {i}")
        store.add_metrics(sys.argv[2], [MetricPoint(step=1000 + i, train_loss=1.0)])
    """
)


def test_concurrent_writers_threads_and_processes(tmp_path: Path) -> None:
    path = tmp_path / "finsent.db"
    store = Store(path)
    for job_id in ("job-t", "job-p"):
        store.insert_job(a_job(job_id))
    n = 80
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "job-p", str(n)], stderr=subprocess.PIPE
    )
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            local = Store(path)  # each thread may have its own Store, or share one: both are fine
            for i in range(n):
                local.add_event("job-t", f"thread {worker} event {i}")
                store.add_metrics("job-t", [MetricPoint(step=worker * 1000 + i, train_loss=0.5)])
                store.update_job("job-t", progress=i / n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    assert errors == []
    events = store.events("job-t")
    assert len(events) == 4 * n and [e.seq for e in events] == list(range(1, 4 * n + 1))
    assert len(store.events("job-p")) == n and len(store.metrics_frame("job-p")) == n
    assert len(store.metrics_frame("job-t")) == 4 * n


def test_migration_from_v1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "finsent.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO jobs (id, backend, status, created_at, updated_at, options) VALUES"
        " ('job-old', 'openai', 'succeeded', 1.0, 2.0, '{\"epochs\": 4}')"
    )
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "bulk_runs" not in tables
    conn.close()
    store = Store(path)  # opening migrates
    with store.db.read() as c:
        assert current_version(c) == LATEST_VERSION
    job = store.get_job("job-old")
    assert job.status == JobStatus.SUCCEEDED and job.options == {"epochs": 4}
    store.insert_bulk_run("run-1", "scripted", "m", "in.csv", "text", ("a", "b"), str(tmp_path), 10, 3)
    chunk = ChunkPredictions(
        0, np.array([0, 2, 1]), np.array([0.9, 0.1, 0.6]), np.zeros((3, 2)), {1: "maybe"}
    )
    store.add_chunk("run-1", chunk)
    (back,) = store.chunks("run-1", 2)
    assert back.codes.tolist() == [0, 2, 1] and back.raw == {1: "maybe"}
    assert store.bulk_run_state("run-1").record.rows_done == 3
    assert Store(path).get_job("job-old") == job  # opening a migrated database again changes nothing


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "finsent.db"
    Store(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(RuntimeError, match="newer than this finsent"):
        Store(path)

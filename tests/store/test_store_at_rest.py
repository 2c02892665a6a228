"""The store's part of the secrets rule: whatever a caller hands it, no form of a registered API key is
written (job errors, events, the training details, bulk-run errors, the provider batch record, raw
answers); raw answers are cut short and dropped when their run succeeds; the database and its folder are
private (0600, 0700) whatever the umask, an older world-readable database included."""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from finsent.contract.backend import JobEvent, JobStatus
from finsent.contract.texts import Text
from finsent.store import ChunkPredictions, Store
from finsent.store.bulk import RAW_KEEP
from finsent.store.records import BulkStatus, JobRecord
from finsent.support.secrets import REDACTED, register_secret

KEY = "sk-storetest-Q7w8E9r0T1y2U3i4O5p6"
ECHO = f"{KEY.upper()} {KEY[3:]} {base64.b64encode(f'Bearer {KEY}'.encode()).decode()} {KEY}"


def a_job(job_id: str) -> JobRecord:
    now = time.time()
    return JobRecord(
        id=job_id, backend="scripted", external_id=None, dataset_id=None, base_model="m", options={},
        status=JobStatus.RUNNING, created_at=now, updated_at=now, error=f"at start: {ECHO}",
    )  # fmt: skip


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def raw_bytes(folder: Path) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in folder.iterdir() if p.is_file())


def test_no_text_written_to_the_store_carries_the_key(tmp_path: Path) -> None:
    register_secret(KEY)
    store = Store(tmp_path / "home" / "finsent.db")
    store.insert_job(a_job("job-1"))
    store.add_event("job-1", Text(f"en {ECHO}", f"ko {ECHO}"), level="error")
    store.update_job("job-1", error=Text(f"failed: {ECHO}", f"실패: {ECHO}"), training={"code": ECHO})
    event = JobEvent(created_at=time.time(), message=f"poll {ECHO}", id=f"ev-{KEY}")
    assert store.apply_poll("job-1", None, f"cursor-{KEY}", [event], [], {"status": JobStatus.FAILED})
    store.update_job("job-1", evaluation_state=f"failed: {ECHO}")
    store.insert_bulk_run("run-1", "scripted", "m", "in.csv", "text", ("a", "b"), str(tmp_path), 10, 2)
    store.set_bulk_batch("run-1", {"id": "batch_1", "status": ECHO, "total": 2})
    store.add_chunk(
        "run-1", ChunkPredictions(0, np.array([2, 0]), np.zeros(2), np.zeros((2, 2)), {0: f"{ECHO} " * 50})
    )
    store.set_bulk_status("run-1", BulkStatus.FAILED, Text(f"run {ECHO}", f"실행 {ECHO}"))

    job = store.get_job("job-1")
    assert job.status is JobStatus.FAILED and REDACTED in job.error and REDACTED in str(job.error_ko)
    assert all(REDACTED in e.message for e in store.events("job-1"))
    [chunk] = store.chunks("run-1", 2)
    assert REDACTED in chunk.raw[0] and len(chunk.raw[0]) == RAW_KEEP
    assert REDACTED in str(store.bulk_run_state("run-1").record.batch_status)
    on_disk = raw_bytes(tmp_path / "home")
    for form in ECHO.split():
        assert form not in on_disk and form.casefold() not in on_disk.casefold()
    assert KEY[-6:] not in on_disk


def test_raw_answers_are_dropped_when_the_run_succeeds(tmp_path: Path) -> None:
    store = Store(tmp_path / "finsent.db")
    store.insert_bulk_run("run-1", "scripted", "m", "in.csv", "text", ("a", "b"), str(tmp_path), 10, 4)
    for index in range(2):
        chunk = ChunkPredictions(index, np.array([2, 0]), np.zeros(2), np.zeros((2, 2)), {0: "maybe"})
        store.add_chunk("run-1", chunk)
    assert [c.raw for c in store.chunks("run-1", 2)] == [{0: "maybe"}, {0: "maybe"}]
    store.set_bulk_status("run-1", BulkStatus.CANCELLED)  # resumable: kept until the run is done
    assert store.chunks("run-1", 2)[0].raw == {0: "maybe"}
    store.set_bulk_status("run-1", BulkStatus.SUCCEEDED)
    assert [c.raw for c in store.chunks("run-1", 2)] == [{}, {}]
    assert [c.codes.tolist() for c in store.chunks("run-1", 2)] == [[2, 0], [2, 0]], "predictions kept"


def test_the_database_and_its_folder_are_private_whatever_the_umask(tmp_path: Path, umask_022: None) -> None:
    home = tmp_path / "home"
    store = Store(home / "finsent.db")
    store.insert_job(a_job("job-1"))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    with store.db.read() as conn:  # while a connection is open, the -wal and -shm files exist
        conn.execute("SELECT COUNT(*) FROM jobs").fetchone()
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.iterdir()}
    assert modes == {"finsent.db": 0o600, "finsent.db-wal": 0o600, "finsent.db-shm": 0o600}


def test_an_older_world_readable_home_is_made_private(tmp_path: Path, umask_022: None) -> None:
    home = tmp_path / "home"
    Store(home / "finsent.db").insert_job(a_job("job-1"))
    os.chmod(home, 0o755)
    for path in home.iterdir():
        os.chmod(path, 0o644)
    Store(home / "finsent.db")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in home.iterdir()} == {0o600}

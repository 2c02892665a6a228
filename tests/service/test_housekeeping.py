# ruff: noqa: F811  (pytest fixtures imported from core_fixtures)
"""Housekeeping of FINSENT_HOME: leftovers of killed writes and long-stopped bulk runs freed at start, and
`collect` freeing bulk runs and old jobs, never what a running job, a running bulk run or a model needs.

Everything is real: writes killed with SIGKILL in a subprocess, worker folders with a live process, the
scripted backend's jobs and bulk runs through the service, SQLite in a home under tmp_path, copies of the
home made with shutil.copytree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from core_fixtures import prepared_dir, service, train_to_end  # noqa: F401  (fixtures)

from finsent.service import (
    BulkRequest,
    BulkStatus,
    FinsentService,
    InputError,
    JobStatus,
    ModelRecord,
    Settings,
    StorageKind,
)
from finsent.service.housekeeping import (
    CLEAN_EVERY_SECONDS,
    RUN_KEEP_SECONDS,
    TEMP_GRACE_SECONDS,
    Housekeeping,
)

DAY = 86400.0

# A write killed at the worst moment: between writing the temporary file (or folder) and renaming it, or
# (a whole folder) after the previous output was set aside and before the new one took its place.
KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
from finsent.support import atomic

target, how = Path(sys.argv[1]), sys.argv[2]
real_replace, replaced = os.replace, []

def replace(src, dst):
    replaced.append(dst)
    if how == "file" or (how == "swap" and len(replaced) == 2):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)

os.replace = replace
if how == "file":
    atomic.atomic_write_bytes(target, b"new" * 1000)
with atomic.atomic_directory(target, replace_if_contains="manifest.json") as work:
    (work / "manifest.json").write_text('{"new": true}')
    if how == "folder":
        os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_write(target: Path, how: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITE, str(target), how], capture_output=True, timeout=60
    )
    assert done.returncode == -9, done.stderr.decode()


def _names(home: Path) -> set[str]:
    return {p.relative_to(home).as_posix() for p in home.rglob("*")}


def _model(svc: FinsentService, prepared: Path) -> str:
    dataset = svc.register_dataset(prepared)
    return str(svc.job(train_to_end(svc, dataset.id)).fine_tuned_model)


def _bulk(svc: FinsentService, model: str, name: str, rows: int = 30) -> str:
    frame = pd.DataFrame({"text": [f"{name} 주가 상승 {i}" for i in range(rows)], "n": range(rows)})
    return svc.run_bulk(BulkRequest("scripted", model, frame, "text", name)).id


def test_leftovers_of_killed_writes_go_on_a_start_after_the_grace_period(service: FinsentService) -> None:
    home = service.settings.home
    model_file = home / "models" / "m" / "weights.bin"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"old")
    for name, content in (("ds-1", '{"v": 1}'), ("ds-2", '{"old": true}')):
        (home / "datasets" / name).mkdir(parents=True)
        (home / "datasets" / name / "manifest.json").write_text(content)
    _killed_write(model_file, "file")
    _killed_write(home / "datasets" / "ds-1", "folder")
    _killed_write(home / "datasets" / "ds-2", "swap")
    leftovers = {n for n in _names(home) if n.endswith((".tmp", ".old")) and "/." not in n.rsplit("/", 1)[0]}
    assert sorted(n.rsplit(".", 1)[-1] for n in leftovers) == ["old", "tmp", "tmp", "tmp"], leftovers
    assert not (home / "datasets" / "ds-2").exists()  # the swap was cut in the middle

    housekeeping = Housekeeping(service.settings, service.store)
    soon = time.time() + CLEAN_EVERY_SECONDS + 1  # the next start, an hour later: still within the grace
    assert housekeeping.clean_on_start(now=soon).freed == ()
    assert leftovers <= _names(home)

    later = time.time() + TEMP_GRACE_SECONDS + CLEAN_EVERY_SECONDS + 60
    freed = housekeeping.clean_on_start(now=later)
    assert {item.kind for item in freed.freed} == {StorageKind.TEMP} and len(freed.freed) == 4
    assert not [n for n in _names(home) if n.endswith((".tmp", ".old"))]
    assert model_file.read_bytes() == b"old"  # the write never happened, the file is whole
    assert (home / "datasets" / "ds-1" / "manifest.json").read_text() == '{"v": 1}'
    assert (home / "datasets" / "ds-2" / "manifest.json").read_text() == '{"old": true}'  # put back
    assert housekeeping.clean_on_start(now=later + 1).freed == ()  # at most once an hour


def test_bulk_runs_stopped_long_ago_go_at_start_and_a_running_one_stays(
    service: FinsentService, prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(service, prepared_dir)
    done, failed = _bulk(service, model, "done.csv"), _bulk(service, model, "failed.csv")
    service.store.set_bulk_status(failed, BulkStatus.FAILED, "the provider said no")
    monkeypatch.setenv("FINSENT_SCRIPTED_DELAY", "0.3")
    frame = pd.DataFrame({"text": [f"running 주가 하락 {i}" for i in range(60)]})
    running = service.start_bulk_run(BulkRequest("scripted", model, frame, "text", "running.csv"))
    assert running.status.is_active
    housekeeping = Housekeeping(service.settings, service.store)
    bulk = service.settings.bulk_dir

    assert housekeeping.clean_on_start(now=time.time() + CLEAN_EVERY_SECONDS + 1).freed == ()  # recent: kept
    a_month_on = time.time() + RUN_KEEP_SECONDS + CLEAN_EVERY_SECONDS + 60
    freed = housekeeping.clean_on_start(now=a_month_on)
    assert sorted(i.ref or "" for i in freed.freed) == sorted([done, failed])
    assert {r.id for r in service.bulk_runs()} == {running.id}  # gone as a whole: row, chunks and input
    assert service.store.chunks(done, 3) == [] and not (bulk / done).exists() and not (bulk / failed).exists()
    assert (bulk / running.id / "input.parquet").is_file()
    finished = service.wait_bulk_run(running.id, timeout=60)
    assert finished.status == BulkStatus.SUCCEEDED and service.bulk_results(running.id).rows_done == 60
    # the same file again is a new run, classified in full (the freed one is not found again)
    monkeypatch.delenv("FINSENT_SCRIPTED_DELAY")
    again = _bulk(service, model, "done.csv")
    assert again != done and service.bulk_results(again).rows_done == 30


def test_collect_frees_old_jobs_and_keeps_what_is_still_needed(
    service: FinsentService, prepared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = service.register_dataset(prepared_dir)
    succeeded = train_to_end(service, dataset.id)
    cancelled = service.cancel_job(service.start_training("scripted", dataset.id, {}).id).id
    interrupted = service.start_training("scripted", dataset.id, {}).id
    service.store.update_job(interrupted, status=JobStatus.INTERRUPTED)
    running = service.start_training("scripted", dataset.id, {}).id
    monkeypatch.setenv("FINSENT_SCRIPTED_FAIL_STEP", "1")
    failed, busy, holds_model = (train_to_end(service, dataset.id) for _ in range(3))
    monkeypatch.delenv("FINSENT_SCRIPTED_FAIL_STEP")
    jobs = service.settings.jobs_dir
    # a failed job whose worker still runs (it has not noticed the failure yet), through its job folder
    worker_folder = (
        service.settings.home / "backends" / "scripted" / "jobs" / str(service.job(busy).external_id)
    )
    worker_folder.mkdir(parents=True)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(worker_folder)])
    (worker_folder / "worker.pid").write_text(str(worker.pid))
    # a model recorded with its file inside a failed job's folder
    (jobs / holds_model / "model.bin").write_bytes(b"weights")
    service.store.add_model(
        ModelRecord(id="kept", backend="scripted", job_id=None, base_model="kw-1", labels=("positive",),
                    input_format={}, created_at=time.time(), path=str(jobs / holds_model / "model.bin"))
    )  # fmt: skip
    try:
        usage = service.housekeeping.usage()
        listed = {item.ref: item for item in usage.freeable if item.kind == StorageKind.JOB}
        assert set(listed) == {succeeded, cancelled, failed}
        assert all(item.size > 0 and (jobs / str(item.ref)).is_dir() for item in listed.values())
        freed = service.housekeeping.collect()
        assert {item.ref for item in freed.freed} == {succeeded, cancelled, failed} and freed.kept == ()
        assert not any((jobs / job).exists() for job in (succeeded, cancelled, failed))
        for job in (interrupted, running, busy, holds_model):
            assert (jobs / job).is_dir(), job
        assert worker_folder.is_dir() and (jobs / holds_model / "model.bin").is_file()
        # the jobs themselves stay: history, curve and scores
        assert service.job(succeeded).status == JobStatus.SUCCEEDED
        assert service.job_events(succeeded) and len(service.job_metrics(succeeded)) > 0
        assert service.evaluation(succeeded) is not None
        assert service.job(failed).error and service.job_events(failed)
    finally:
        worker.kill()
        worker.wait()
    # once its worker is gone, the busy job's folders can go too
    assert {item.ref for item in service.housekeeping.usage().freeable} == {busy}
    assert [item.ref for item in service.housekeeping.collect().freed] == [busy]
    assert not worker_folder.exists() and not (jobs / busy).exists()


def test_collect_keeps_what_changed_after_it_was_listed(service: FinsentService, prepared_dir: Path) -> None:
    model = _model(service, prepared_dir)
    stopped = _bulk(service, model, "a.csv")
    service.store.set_bulk_status(stopped, BulkStatus.CANCELLED)
    listed = [item for item in service.housekeeping.usage().freeable if item.ref == stopped]
    assert [item.status for item in listed] == [BulkStatus.CANCELLED]
    time.sleep(0.01)
    service.resume_bulk_run(stopped, foreground=True)  # someone resumed it meanwhile, in another tab
    result = service.housekeeping.collect(listed)
    assert result.freed == () and result.kept == tuple(listed)
    assert service.bulk_results(stopped).rows_done == 30


def test_a_folder_no_run_owns_goes_after_the_grace_period(service: FinsentService) -> None:
    orphan = service.settings.bulk_dir / "run-20250101-deadbeef"
    orphan.mkdir(parents=True)
    (orphan / "input.parquet").write_bytes(b"x" * 2048)
    assert [i for i in service.housekeeping.usage().freeable if i.kind == StorageKind.BULK_ORPHAN] == []
    later = time.time() + TEMP_GRACE_SECONDS + 60
    [item] = [i for i in service.housekeeping.usage(now=later).freeable if i.kind == StorageKind.BULK_ORPHAN]
    assert item.size == 2048 and item.title == "bulk/run-20250101-deadbeef"
    assert service.housekeeping.collect([item], now=later).freed == (item,) and not orphan.exists()


def test_a_copied_home_frees_only_its_own_files(
    service: FinsentService, prepared_dir: Path, tmp_path: Path
) -> None:
    model = _model(service, prepared_dir)
    run = _bulk(service, model, "news.csv")
    home = service.settings.home
    service.close()
    copy = tmp_path / "copied-home"
    shutil.copytree(home, copy)
    copied = FinsentService(Settings.from_env(copy))
    freed = copied.housekeeping.collect()
    assert run in {item.ref for item in freed.freed}
    assert all(p.is_relative_to(copy) for item in freed.freed for p in item.paths)
    assert not (copy / "bulk" / run).exists() and copied.bulk_runs() == []
    assert (home / "bulk" / run / "input.parquet").is_file()  # the original home is untouched
    assert [r.id for r in FinsentService(Settings.from_env(home)).bulk_runs()] == [run]
    copied.close()


def test_usage_adds_up_and_a_bad_age_is_refused_in_both_languages(
    service: FinsentService, prepared_dir: Path
) -> None:
    model = _model(service, prepared_dir)
    _bulk(service, model, "news.csv")
    usage = service.housekeeping.usage()
    home = service.settings.home
    on_disk = sum(p.lstat().st_size for p in home.rglob("*") if not p.is_dir())
    assert usage.total == on_disk and usage.parts["bulk"] > 0 and usage.parts["database"] > 0
    assert usage.freeable_size == sum(item.size for item in usage.freeable)
    assert [i.kind for i in service.housekeeping.usage(older_than=DAY).freeable] == []  # all of it is new
    with pytest.raises(InputError) as caught:
        service.housekeeping.usage(older_than=-DAY)
    assert "0 or more days" in str(caught.value) and "0일 이상" in caught.value.text("ko")


def test_the_next_start_frees_an_old_leftover_and_a_clean_up_problem_never_stops_a_start(
    service: FinsentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = service.settings.home
    leftover = home / "models" / ".weights.bin.abc123.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"x")
    two_days_ago = time.time() - 2 * DAY
    os.utime(leftover, (two_days_ago, two_days_ago))
    os.utime(home / ".last-clean-up", (two_days_ago, two_days_ago))
    again = FinsentService(Settings.from_env(home))  # the next start frees it by itself
    assert not leftover.exists()
    again.close()

    def broken(self: Housekeeping, now: float) -> list[object]:
        raise OSError("disk on fire")

    monkeypatch.setattr(Housekeeping, "_leftovers", broken)
    os.utime(home / ".last-clean-up", (two_days_ago, two_days_ago))
    started = FinsentService(Settings.from_env(home))  # logged, and finsent starts anyway
    assert started.models() == []
    started.close()

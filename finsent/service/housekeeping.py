"""What finsent's leftovers take under FINSENT_HOME, and freeing it (`finsent gc`, the dashboard's storage
panel, and a clean-up when the service starts).

What can go, and why:
- leftovers of a killed write untouched for TEMP_GRACE_SECONDS: `.NAME.XXXX.tmp` files and folders
  (atomic writes never leave one behind otherwise), and the `.NAME.XXXX.old` folder of a replace of a
  whole folder (when NAME is missing, the previous output inside it is put back first);
- bulk runs that are not running (succeeded, failed, cancelled, interrupted): the stored input, the kept
  predictions and the run itself. Without its input a run can neither be resumed nor rebuilt into a results
  table, so it leaves the run list as a whole (classifying the file again starts a new run). At start:
  runs untouched for RUN_KEEP_SECONDS; `finsent gc` and the panel: any stopped run the user confirms;
- bulk folders no run owns (a start that died between storing the input and recording the run);
- old jobs (gc and the panel only): the folders of failed and cancelled jobs, and of succeeded jobs whose
  model is recorded and whose evaluation has ended: copies of the training files, checkpoints, worker
  logs. The job itself stays, with its events, curve and evaluation: Monitor and Evaluate still show it.
  An interrupted job keeps its folder (resuming continues from its checkpoint).

Never freed: models, datasets, the database, anything outside FINSENT_HOME, a job whose worker still runs,
a run someone executes, a folder that holds a recorded model's file. Every item is checked again right
before it is freed, so something that came back into use after it was listed is kept (`FreedSpace.kept`).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import os
import re
import shutil
import stat
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from finsent.contract.backend import JobStatus
from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.settings import Settings
from finsent.store import Store
from finsent.store.records import BulkStatus, JobRecord
from finsent.support.jobfolder import JobFolder, process_alive

log = logging.getLogger("finsent.housekeeping")

#: a temporary file or folder nobody has written for this long belongs to a write that was killed
TEMP_GRACE_SECONDS = 24 * 3600.0
#: a bulk run nobody has touched for this long is freed when the service starts
RUN_KEEP_SECONDS = 30 * 24 * 3600.0
#: the clean-up at start runs at most this often per home (every CLI command starts a service)
CLEAN_EVERY_SECONDS = 3600.0
#: its mark: the file's modification time is the last clean-up
CLEAN_STAMP = ".last-clean-up"

_TEMP = re.compile(r"^\..+\.tmp$")
_OLD = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]+\.old$")  # mkdtemp's random part has no dot
_STOPPED = tuple(s.value for s in BulkStatus if not s.is_active)


class StorageKind(str, enum.Enum):
    """What a freeable item is."""

    TEMP = "temp"  # the leftover of a killed write
    BULK_RUN = "bulk_run"  # a bulk run that is not running: its input and kept predictions
    BULK_ORPHAN = "bulk_orphan"  # a bulk folder no run owns
    JOB = "job"  # the folders of a finished job


class StoragePart(str, enum.Enum):
    """Where the space under FINSENT_HOME goes."""

    DATABASE = "database"
    MODELS = "models"
    DATASETS = "datasets"
    BULK = "bulk"
    JOBS = "jobs"  # jobs/ and backends/: training folders and what backends keep
    OTHER = "other"


_PARTS = {"models": StoragePart.MODELS, "datasets": StoragePart.DATASETS, "bulk": StoragePart.BULK,
          "jobs": StoragePart.JOBS, "backends": StoragePart.JOBS}  # fmt: skip


@dataclass(frozen=True)
class StorageItem:
    """One thing that can be freed, as it was when listed."""

    kind: StorageKind
    #: the run's or job's name, or the path under FINSENT_HOME of a leftover
    title: str
    size: int  # bytes
    #: when it last changed (a run's or job's update time, a file's modification time)
    stamp: float
    paths: tuple[Path, ...]
    #: the run id or job id
    ref: str | None = None
    status: BulkStatus | JobStatus | None = None


@dataclass(frozen=True)
class StorageUsage:
    home: Path
    parts: Mapping[StoragePart, int]  # bytes
    freeable: tuple[StorageItem, ...]

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    @property
    def freeable_size(self) -> int:
        return sum(item.size for item in self.freeable)


@dataclass(frozen=True)
class FreedSpace:
    freed: tuple[StorageItem, ...]
    #: listed, but in use again (or changed) when its turn came: left as it is
    kept: tuple[StorageItem, ...] = ()

    @property
    def size(self) -> int:
        return sum(item.size for item in self.freed)


def size_text(size: int) -> str:
    """Bytes as people read them, the same in both languages: "812 B", "35.2 MB", "1.4 GB"."""
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def _tree(path: Path) -> tuple[int, float]:
    """Bytes under `path` and the newest modification time in it (symlinks are not followed)."""
    try:
        info = path.lstat()
    except OSError:
        return 0, 0.0
    if not stat.S_ISDIR(info.st_mode):
        return info.st_size, info.st_mtime
    size, newest = 0, info.st_mtime
    with contextlib.suppress(OSError), os.scandir(path) as entries:
        for entry in entries:
            part, mtime = _tree(Path(entry.path))
            size, newest = size + part, max(newest, mtime)
    return size, newest


def _is_name(text: str | None) -> bool:
    """A single path component (ids become folder names: "../x" must never reach rmtree)."""
    return bool(text) and text not in (".", "..") and "/" not in str(text) and "\\" not in str(text)


class Housekeeping:
    """Listing and freeing what finsent's leftovers take under one FINSENT_HOME."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.home = settings.home

    # -- the three questions of the shells ---------------------------------------------------------
    def clean_on_start(self, now: float | None = None) -> FreedSpace:
        """Free killed writes' leftovers, ownerless bulk folders and bulk runs untouched for RUN_KEEP_SECONDS;
        at most once every CLEAN_EVERY_SECONDS. Never raises: a clean-up must not stop finsent starting."""
        now = time.time() if now is None else now
        stamp = self.home / CLEAN_STAMP
        try:
            if now - stamp.stat().st_mtime < CLEAN_EVERY_SECONDS:
                return FreedSpace(())
        except OSError:
            pass
        try:
            stamp.touch(mode=0o600)
            items = [*self._leftovers(now), *self._stopped_runs(now - RUN_KEEP_SECONDS)]
            freed = self.collect(items, now)
        except Exception:  # a bug here is logged; finsent starts anyway
            log.exception("the clean-up of %s failed", self.home)
            return FreedSpace(())
        if freed.freed:
            log.info("clean-up freed %d bytes in %d items under %s", freed.size, len(freed.freed), self.home)
        return freed

    def usage(self, older_than: float = 0.0, now: float | None = None) -> StorageUsage:
        """Where the space under FINSENT_HOME goes, and what `collect` may free: leftovers, bulk runs and
        old jobs that have not changed for `older_than` seconds (0: any that is not in use)."""
        if not (math.isfinite(older_than) and older_than >= 0):
            raise InputError(
                Text(
                    f"The age of what to free must be 0 or more days (got {older_than / 86400:g}).",
                    f"비울 항목의 기간은 0일 이상이어야 합니다 ({older_than / 86400:g}).",
                ),
                hint=Text(
                    "Give a number of days such as 7, or leave it out to list everything not in use.",
                    "7처럼 일 수를 쓰거나, 비워 두면 쓰지 않는 항목을 모두 보여 줍니다.",
                ),
            )
        now = time.time() if now is None else now
        parts = dict.fromkeys(StoragePart, 0)
        with contextlib.suppress(OSError), os.scandir(self.home) as entries:
            for entry in entries:
                part = StoragePart.DATABASE if entry.name.startswith("finsent.db") else _PARTS.get(entry.name)
                parts[part or StoragePart.OTHER] += _tree(Path(entry.path))[0]
        items = [
            *self._leftovers(now),
            *self._stopped_runs(now - older_than),
            *self._old_jobs(now - older_than),
        ]
        return StorageUsage(self.home, parts, tuple(items))

    def collect(self, items: Sequence[StorageItem] | None = None, now: float | None = None) -> FreedSpace:
        """Free `items` (by default everything `usage()` lists), each checked again first."""
        now = time.time() if now is None else now
        chosen = self.usage(now=now).freeable if items is None else tuple(items)
        freed: list[StorageItem] = []
        kept: list[StorageItem] = []
        for item in chosen:
            (freed if self._free(item, now) else kept).append(item)
        return FreedSpace(tuple(freed), tuple(kept))

    # -- finding what can go ---------------------------------------------------------------------
    def _leftovers(self, now: float) -> Iterator[StorageItem]:
        yield from self._temp_leftovers(now)
        yield from self._bulk_orphans(now)

    def _temp_leftovers(self, now: float) -> Iterator[StorageItem]:
        for folder, dirs, files in os.walk(self.home):
            base = Path(folder)
            for name in [*dirs, *files]:
                path = base / name
                if self._temp_due(path, now):
                    size, newest = _tree(path)
                    yield StorageItem(
                        StorageKind.TEMP, path.relative_to(self.home).as_posix(), size, newest, (path,)
                    )
            dirs[:] = [d for d in dirs if not (_TEMP.match(d) or _OLD.match(d))]  # a leftover goes whole

    @staticmethod
    def _temp_due(path: Path, now: float) -> bool:
        if _OLD.match(path.name) and not path.is_dir():
            return False
        return (
            bool(_TEMP.match(path.name) or _OLD.match(path.name))
            and now - _tree(path)[1] >= TEMP_GRACE_SECONDS
        )

    def _bulk_orphans(self, now: float) -> Iterator[StorageItem]:
        if not self.settings.bulk_dir.is_dir():
            return
        known = {s.record.id for s in self.store.list_bulk_runs()}
        for path in sorted(self.settings.bulk_dir.iterdir()):
            if path.name in known or _TEMP.match(path.name):
                continue
            size, newest = _tree(path)
            if now - newest >= TEMP_GRACE_SECONDS:  # a run being started has its folder before its row
                yield StorageItem(
                    StorageKind.BULK_ORPHAN, f"bulk/{path.name}", size, newest, (path,), path.name
                )

    def _stopped_runs(self, not_after: float) -> Iterator[StorageItem]:
        for state in self.store.list_bulk_runs():
            run = state.record
            if run.status.is_active or run.updated_at > not_after:
                continue
            folder = self.settings.bulk_dir / run.id
            paths = (folder,) if _is_name(run.id) and folder.exists() else ()
            size = sum(_tree(p)[0] for p in paths)
            yield StorageItem(
                StorageKind.BULK_RUN, run.title, size, run.updated_at, paths, run.id, run.status
            )

    def _old_jobs(self, not_after: float) -> Iterator[StorageItem]:
        states = self.store.list_job_states()
        saved = {m.job_id for m in self.store.list_models() if m.job_id and self._model_saved(m.path)}
        for state in states:
            job = state.record
            if job.updated_at > not_after or not self._job_done_with(job, state.evaluation_state, saved):
                continue
            paths = tuple(self._job_folders(job))
            # a live worker or a model file in one folder keeps the job's folders together
            if paths and all(self._folder_unused(p) for p in paths):
                size = sum(_tree(p)[0] for p in paths)
                yield StorageItem(StorageKind.JOB, job.title, size, job.updated_at, paths, job.id, job.status)

    @staticmethod
    def _job_done_with(job: JobRecord, evaluation_state: str | None, saved: set[str]) -> bool:
        """Failed and cancelled jobs; succeeded ones once their model is saved and evaluated."""
        if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            return True
        evaluated = evaluation_state is not None and not evaluation_state.startswith("running")
        return job.status == JobStatus.SUCCEEDED and evaluated and job.id in saved

    @staticmethod
    def _model_saved(path: str | None) -> bool:
        """A model with a file has it on disk; one without (a provider's) is saved where it lives."""
        return not path or Path(path).exists()

    def _job_folders(self, job: JobRecord) -> list[Path]:
        """The job's work folder, and the folder its worker reported through (FINSENT_HOME/backends/<backend>
        /jobs/<external id>, see finsent.support.jobfolder), where they exist."""
        found = [self.settings.jobs_dir / job.id] if _is_name(job.id) else []
        if _is_name(job.external_id) and _is_name(job.backend):
            found.append(self.home / "backends" / job.backend / "jobs" / str(job.external_id))
        return [p for p in found if p.is_dir()]

    def _folder_unused(self, folder: Path) -> bool:
        """No live worker reports through it and no recorded model's file lies in it."""
        pid = JobFolder(folder).read_pid()
        if pid is not None and process_alive(pid, folder.name):
            return False
        root = folder.resolve()
        return not any(p.resolve().is_relative_to(root) for p in self._model_paths())

    def _model_paths(self) -> Iterable[Path]:
        for model in self.store.list_models():
            for path in (model.path, model.details.get("path")):
                if isinstance(path, str) and Path(path).is_absolute():
                    yield Path(path)

    # -- freeing ---------------------------------------------------------------------------------
    def _free(self, item: StorageItem, now: float) -> bool:
        """Free one item if it still may go; False when it is kept."""
        if not all(self._inside_home(p) for p in item.paths):
            return False
        if item.kind == StorageKind.TEMP:
            if not all(self._temp_due(p, now) for p in item.paths):
                return False
        elif item.kind == StorageKind.BULK_ORPHAN:
            known = {s.record.id for s in self.store.list_bulk_runs()}
            if item.ref in known or any(now - _tree(p)[1] < TEMP_GRACE_SECONDS for p in item.paths):
                return False
        elif item.kind == StorageKind.BULK_RUN:
            # The row goes first, in one transaction that checks the run is still stopped and unchanged: a
            # resume that claimed it in between wins. A folder left by a crash here is an orphan, freed later.
            if not item.ref or not _forget_stopped_run(self.store, item.ref, item.stamp):
                return False
        elif item.kind == StorageKind.JOB and not self._job_still_done_with(item):
            return False
        for path in item.paths:
            _put_back_previous(path)
            _remove(path)
        return not any(p.exists() or p.is_symlink() for p in item.paths)  # e.g. a file without permission

    def _job_still_done_with(self, item: StorageItem) -> bool:
        state = next((s for s in self.store.list_job_states() if s.record.id == item.ref), None)
        if state is None or state.record.status != item.status or state.record.updated_at > item.stamp:
            return False
        return all(self._folder_unused(p) for p in item.paths)

    def _inside_home(self, path: Path) -> bool:
        """Only what lies under this FINSENT_HOME is ever removed (a copied home's rows may name the old one)."""
        home = self.home.resolve()
        resolved = path.parent.resolve() / path.name  # the entry itself, not what a symlink points to
        return resolved != home and resolved.is_relative_to(home)


def _put_back_previous(path: Path) -> None:
    """A replace killed after it set the previous output aside (`.NAME.XXXX.old/previous`) and before the new
    one took its place: NAME is missing, so the previous output goes back, as if the write never began
    (its unfinished replacement is a `.tmp` leftover)."""
    old = _OLD.match(path.name)
    target = path.parent / old["target"] if old else None
    if target is not None and not target.exists() and (path / "previous").exists():
        os.replace(path / "previous", target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _forget_stopped_run(store: Store, run_id: str, not_after: float) -> bool:
    """Delete a bulk run and its chunks if it is stopped and unchanged since `not_after`.

    Belongs in BulkRepository (finsent/store/bulk.py, owned elsewhere) as `forget_stopped_run`; kept here
    until it moves, with the same statements, in one BEGIN IMMEDIATE transaction like every store write."""
    marks = ", ".join("?" for _ in _STOPPED)
    with store.db.write() as conn:
        deleted = conn.execute(
            f"DELETE FROM bulk_runs WHERE id = ? AND status IN ({marks}) AND updated_at <= ?",
            (run_id, *_STOPPED, not_after),
        ).rowcount
        if deleted:
            conn.execute("DELETE FROM bulk_chunks WHERE run_id = ?", (run_id,))
    return bool(deleted)


__all__ = [
    "FreedSpace",
    "Housekeeping",
    "StorageItem",
    "StorageKind",
    "StoragePart",
    "StorageUsage",
    "size_text",
]

"""Backends whose jobs run in a worker process of their own (local, transformers): the parts they share.

The backend side starts workers (`WorkerProcesses`) and follows their job folders (`WorkerJobs`: the
status with the worker's liveness, a poll from a byte offset, a cancel that signals the worker's process
group); the worker side runs its training under `worker_main`, which turns SIGTERM into a recorded
cancel and any exception into a failed job with its reason, so no job is ever left "running".
Each backend brings only what is its own: the module to run, the details worth keeping, what to do
after a worker died.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import TypeVar

from finsent.contract import FinsentError, JobStatus, JobUpdate, ModelInfo, NotFoundError, Text
from finsent.support.jobfolder import CANCELLED, LOG, JobFolder, process_alive, worker_died

Folder = TypeVar("Folder", bound=JobFolder)

#: seconds a worker has to record its own cancel before it is killed
CANCEL_GRACE_SECONDS = 5.0


class WorkerProcesses:
    """Workers this process started: started in their own session (signals reach their children) and
    reaped once they end, so none lingers as a zombie."""

    def __init__(self) -> None:
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, folder: JobFolder, module: str, env: Mapping[str, str] | None = None) -> int:
        """Run `python -m MODULE JOB_DIR` in the job folder (which holds no Python files, so `-m` cannot
        pick up a stray module from a caller's directory); its pid, also written to the folder."""
        with open(folder.path / LOG, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", module, str(folder.path)],
                cwd=folder.path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=dict(env) if env is not None else None,
                start_new_session=True,
            )
        folder.write_pid(process.pid)
        self._children[folder.path.name] = process
        return process.pid

    def reap(self) -> None:
        for job_id, child in list(self._children.items()):
            if child.poll() is not None:
                self._children.pop(job_id, None)

    def alive(self, folder: JobFolder) -> bool:
        self.reap()
        pid = folder.read_pid()
        return pid is not None and process_alive(pid, str(folder.path))

    def wait(self, folder: JobFolder, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the worker to end; whether it did. A worker of ours is
        waited for (and so reaped); one another process started is watched through /proc."""
        child = self._children.get(folder.path.name)
        if child is not None:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            self._children.pop(folder.path.name, None)
            return True
        deadline = time.monotonic() + timeout
        while self.alive(folder):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


def signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # the worker leads its own session, so its group id is its pid


class WorkerJobs:
    """Following the job folders of one backend's workers."""

    def __init__(
        self,
        jobs_dir: Path,
        prefix: str,
        label: Text,
        processes: WorkerProcesses,
        detail_keys: Iterable[str] = (),
        after_death: Callable[[JobFolder], Text | None] = lambda folder: None,
        extra_details: Callable[[JobFolder], dict[str, object]] = lambda folder: {},
        folder_class: type[JobFolder] = JobFolder,
    ) -> None:
        self.jobs_dir, self.prefix, self.label = jobs_dir, prefix, label
        self.processes = processes
        self.detail_keys = tuple(detail_keys)
        self.after_death, self.extra_details = after_death, extra_details
        self.folder_class = folder_class

    def folder(self, external_id: str) -> JobFolder:
        # Job ids become folder names: accept only the shape we create, so "../x" can never escape.
        token = external_id.removeprefix(self.prefix)
        folder = self.folder_class(self.jobs_dir / external_id)
        if token == external_id or not token.isalnum() or not (folder.path / "status.json").is_file():
            raise NotFoundError(
                Text(
                    f"Unknown {self.label.en} job {external_id!r}.",
                    f"알 수 없는 {self.label.get('ko')} 작업입니다: {external_id!r}.",
                ),
                hint=Text(
                    "Check the job id (`finsent jobs` lists them).",
                    "작업 ID를 확인하세요 (`finsent jobs` 로 목록을 볼 수 있습니다).",
                ),
                dashboard_hint=Text(
                    "Check the job id: the provider's console or the job list above shows it.",
                    "작업 ID를 확인하세요. 제공자의 콘솔이나 위의 작업 목록에 있습니다.",
                ),
            )
        return folder

    def settle(self, folder: JobFolder) -> dict[str, object]:
        """The status, turning a non-final status whose worker is gone into cancelled or interrupted."""
        self.processes.reap()  # a worker that ended after writing its final status is not left a zombie
        status = folder.read_status()
        if JobStatus(status["status"]).is_terminal or self.processes.alive(folder):
            return status
        status = folder.read_status()  # the worker may have finished between the two reads
        if JobStatus(status["status"]).is_terminal:
            return status
        if folder.cancel_requested:
            folder.add_event(CANCELLED, "warning")
            return folder.write_status(status=JobStatus.CANCELLED.value)
        message = worker_died(folder.read_pid(), self.after_death(folder))
        folder.add_event(message, "error")
        return folder.write_status(status=JobStatus.INTERRUPTED.value, error=message.en, error_ko=message.ko)

    def status(self, external_id: str) -> JobStatus:
        return JobStatus(self.settle(self.folder(external_id))["status"])

    def poll(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        folder = self.folder(external_id)
        status = self.settle(folder)
        try:
            offset = max(0, int(cursor or 0))
        except ValueError:
            offset = 0
        events, metrics, offset = folder.read_progress(offset)
        details: dict[str, object] = {}
        if isinstance(status.get("model_file"), dict):
            details["model_file"] = status["model_file"]
        details.update({key: status[key] for key in self.detail_keys if key in status})
        details.update(self.extra_details(folder))
        progress, model = status.get("progress"), status.get("fine_tuned_model")
        return JobUpdate(
            status=JobStatus(status["status"]),
            events=events,
            metrics=metrics,
            cursor=str(offset),
            fine_tuned_model=str(model) if model else None,
            error=_error(status),
            progress=float(progress) if isinstance(progress, (int, float)) else None,
            details=details,
        )

    def cancel(self, external_id: str) -> JobStatus:
        folder = self.folder(external_id)
        if JobStatus(self.settle(folder)["status"]).is_terminal:
            return JobStatus(folder.read_status()["status"])  # nothing to cancel: it already ended
        folder.request_cancel()
        pid = folder.read_pid()
        if pid is not None and self.processes.alive(folder):
            signal_group(pid, signal.SIGTERM)  # the worker records "cancelled" itself
            if not self.processes.wait(folder, CANCEL_GRACE_SECONDS):
                signal_group(pid, signal.SIGKILL)
                self.processes.wait(folder, CANCEL_GRACE_SECONDS)  # reap it, so no zombie stays behind
        return JobStatus(self.settle(folder)["status"])

    def models(self, base_model_of: Callable[[Mapping[str, object]], str]) -> list[ModelInfo]:
        """The models the jobs in the folder made (those that succeeded), for `list_models`."""
        models: list[ModelInfo] = []
        for status_file in sorted(self.jobs_dir.glob(f"{self.prefix}*/status.json")):
            folder = self.folder_class(status_file.parent)
            try:
                status, job = folder.read_status(), folder.read_job()
            except (OSError, ValueError):
                continue
            if status.get("status") == JobStatus.SUCCEEDED.value and status.get("fine_tuned_model"):
                created = status.get("updated_at", 0.0)
                models.append(
                    ModelInfo(
                        str(status["fine_tuned_model"]),
                        base_model=base_model_of(job),
                        created_at=float(created) if isinstance(created, int | float) else 0.0,
                    )
                )
        return models


def _error(status: Mapping[str, object]) -> str | Text | None:
    """The status file's error, with its Korean when the worker wrote one."""
    error, korean = status.get("error"), status.get("error_ko")
    if not error:
        return None
    return Text(str(error), str(korean)) if korean else str(error)


# -- the worker side --------------------------------------------------------------------------------
class _Stop(Exception):
    """SIGTERM: the backend asked the worker to stop (cancel)."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def fail(folder: JobFolder, message: str) -> None:
    folder.add_event(message, "error")
    folder.write_status(status=JobStatus.FAILED.value, error=message)


def worker_main(
    argv: list[str] | None,
    module: str,
    run: Callable[[Folder], None],
    folder_class: type[Folder] = JobFolder,  # type: ignore[assignment]
) -> int:
    """`python -m MODULE JOB_DIR`: run the training, recording a cancel (SIGTERM) or a failure (the user's
    FinsentError said plainly, anything else with its traceback in the worker log) in the folder."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {module} JOB_DIR", file=sys.stderr)
        return 2
    folder = folder_class(Path(args[0]))
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        run(folder)
    except _Stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut the record short
        folder.add_event(CANCELLED, "warning")
        folder.write_status(status=JobStatus.CANCELLED.value)
    except FinsentError as exc:  # the user's to fix (a model folder, a download): said plainly
        fail(folder, f"model_error: {exc}")
        return 1
    except Exception as exc:  # a bug or a resource problem: the job fails with the reason, never hangs
        traceback.print_exc()
        fail(folder, f"training_error: {type(exc).__name__}: {exc}")
        return 1
    return 0

"""A training job's folder: the only channel between a backend and the worker process it starts (the local
and transformers backends share it; a backend adds its own files, e.g. checkpoints).

FINSENT_HOME/backends/<backend>/jobs/<job id>/
    job.json          what to train (written once by the backend before the worker starts)
    status.json       status, error, model; replaced atomically, so a reader never sees half of it
    progress.jsonl    append-only: one event or metric point per line; a poll reads from a byte offset
    worker.pid        the worker's process id (written by the backend that started it)
    cancel.requested  present once someone asked to cancel
    worker.log        the worker's stdout and stderr, for debugging
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from finsent.contract import JobEvent, MetricPoint, Text
from finsent.support.atomic import atomic_write_text
from finsent.support.private import PRIVATE_FILE_MODE

JOB = "job.json"
STATUS = "status.json"
PROGRESS = "progress.jsonl"
PID = "worker.pid"
CANCEL = "cancel.requested"
LOG = "worker.log"

# What every worker says at the same moments, in both languages.
STARTING = Text(
    "Job created; starting the training process", "작업을 만들었습니다. 학습 프로세스를 시작합니다"
)
CANCELLED = Text("The job was cancelled", "작업이 취소되었습니다")
SUCCEEDED = Text("The job has successfully completed", "작업이 성공적으로 끝났습니다")


def worker_died(pid: int | None, then: Text | None = None) -> Text:
    """The error of a job whose worker is gone; `then` says what to do (default: train again)."""
    then = then or Text("Start the training again.", "학습을 다시 시작하세요.")
    return Text(
        f"worker_died: the training process (pid {pid}) stopped without finishing "
        f"(killed, out of memory or the computer restarted). {then.en}",
        f"worker_died: 학습 프로세스(pid {pid})가 끝나지 않고 멈췄습니다(강제 종료, 메모리 부족 또는 컴퓨터 재시작). "
        f"{then.get('ko')}",
    )


class JobFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    # -- job spec and status ------------------------------------------------------------------
    def read_job(self) -> dict[str, Any]:
        return json.loads((self.path / JOB).read_text(encoding="utf-8"))

    def write_job(self, job: dict[str, Any]) -> None:
        atomic_write_text(self.path / JOB, json.dumps(job, ensure_ascii=False, indent=1))

    def read_status(self) -> dict[str, Any]:
        return json.loads((self.path / STATUS).read_text(encoding="utf-8"))

    def write_status(self, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into the status file (read, update, atomic replace)."""
        try:
            status = self.read_status()
        except FileNotFoundError:
            status = {}
        status.update(fields, updated_at=time.time())
        atomic_write_text(self.path / STATUS, json.dumps(status, ensure_ascii=False, indent=1))
        return status

    # -- progress -----------------------------------------------------------------------------
    def _append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        # One write() on an O_APPEND descriptor: lines from two writers never interleave.
        # 0600 whatever the umask of whoever writes first (a worker started by a third-party shell, say)
        fd = os.open(self.path / PROGRESS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def add_event(self, message: str | Text, level: str = "info") -> None:
        text = Text.of(message)
        line = {"kind": "event", "created_at": time.time(), "level": level, "message": text.en}
        if text.ko:
            line["message_ko"] = text.ko
        self._append(line)

    def add_metric(self, point: MetricPoint) -> None:
        self._append({"kind": "metric", **asdict(point)})

    def read_progress(self, offset: int) -> tuple[list[JobEvent], list[MetricPoint], int]:
        """Events and metric points in complete lines after byte `offset`, and the offset after them."""
        try:
            with open(self.path / PROGRESS, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return [], [], offset
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
        events: list[JobEvent] = []
        metrics: list[MetricPoint] = []
        position = offset
        for raw in data[:end].splitlines(keepends=True):
            record = json.loads(raw)
            kind = record.pop("kind")
            if kind == "event":
                message = Text(record.pop("message"), record.pop("message_ko", None))
                events.append(JobEvent(id=f"{self.path.name}@{position}", message=message, **record))
            elif kind == "metric":
                metrics.append(MetricPoint(**record))
            position += len(raw)
        return events, metrics, offset + end

    # -- worker process -----------------------------------------------------------------------
    def write_pid(self, pid: int) -> None:
        atomic_write_text(self.path / PID, str(pid))

    def read_pid(self) -> int | None:
        try:
            return int((self.path / PID).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def request_cancel(self) -> None:
        atomic_write_text(self.path / CANCEL, str(time.time()))

    @property
    def cancel_requested(self) -> bool:
        return (self.path / CANCEL).exists()


def process_alive(pid: int, marker: str) -> bool:
    """Whether `pid` runs and is our worker (its command line names `marker`), not a zombie or a reused pid."""
    proc = Path("/proc") / str(pid)
    if proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            state = stat.rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().decode("utf-8", "replace")
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and marker in cmdline
    try:  # no /proc (macOS): signal 0 only says whether the pid exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not Path("/proc").is_dir()

"""Starting and stopping worker processes; the worker leads its own session, so signals reach its children."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from finsent_transformers.jobfiles import LOG, JobFolder

#: Popen handles of workers this process started, so finished ones are reaped (no zombies)
_children: dict[str, subprocess.Popen[bytes]] = {}


def start_worker(folder: JobFolder, offline: bool) -> int:
    """Start `python -m finsent_transformers.worker JOB_DIR`; its pid, also written to the job folder."""
    env = dict(os.environ)
    plugins_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (plugins_root, env.get("PYTHONPATH", "")) if p)
    env["TOKENIZERS_PARALLELISM"] = "false"  # the worker never forks; silences the tokenizers warning
    if offline:
        env["HF_HUB_OFFLINE"] = "1"  # the model is on disk: no library may reach for the network
    with open(folder.path / LOG, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "finsent_transformers.worker", str(folder.path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )
    folder.write_pid(process.pid)
    _children[folder.path.name] = process
    return process.pid


def reap_children() -> None:
    """Collect the exit status of finished workers this process started, so none lingers as a zombie."""
    for job_id, child in list(_children.items()):
        if child.poll() is not None:
            _children.pop(job_id, None)


def signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # the worker leads its own session, so its group id is its pid

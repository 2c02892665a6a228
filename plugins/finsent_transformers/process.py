"""Starting and stopping worker processes; the worker leads its own session, so signals reach its children."""

from __future__ import annotations

import os

from finsent.support.workers import WorkerProcesses
from finsent_transformers.jobfiles import JobFolder

#: workers this process started (reaped once they end)
PROCESSES = WorkerProcesses()


def start_worker(folder: JobFolder, offline: bool) -> int:
    """Start `python -m finsent_transformers.worker JOB_DIR`; its pid, also written to the job folder."""
    env = dict(os.environ)  # finsent_transformers is installed with finsent: `-m` finds it without PYTHONPATH
    env["TOKENIZERS_PARALLELISM"] = "false"  # the worker never forks; silences the tokenizers warning
    if offline:
        env["HF_HUB_OFFLINE"] = "1"  # the model is on disk: no library may reach for the network
    return PROCESSES.start(folder, "finsent_transformers.worker", env)


def reap_children() -> None:
    PROCESSES.reap()

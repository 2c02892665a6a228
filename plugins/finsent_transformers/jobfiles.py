"""A transformers training job's folder: the shared job folder (finsent.support.jobfolder) plus the
checkpoints this backend keeps.

    checkpoint/       the last epoch's checkpoint, best/ the best epoch's weights (see `checkpoints`)
"""

from __future__ import annotations

import json

from finsent.support.jobfolder import CANCELLED, LOG, PROGRESS, SUCCEEDED, process_alive, worker_died
from finsent.support.jobfolder import JobFolder as SharedJobFolder

CHECKPOINT = "checkpoint"
BEST = "best"
STATE = "trainer_state.json"


class JobFolder(SharedJobFolder):
    def checkpoint_summary(self) -> dict[str, int] | None:
        """{"epoch", "step"} of the last checkpoint, from its JSON alone (no torch needed), or None."""
        try:
            state = json.loads((self.path / CHECKPOINT / STATE).read_text(encoding="utf-8"))["state"]
            return {"epoch": int(state["epoch"]), "step": int(state["global_step"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None


__all__ = [
    "BEST",
    "CANCELLED",
    "CHECKPOINT",
    "LOG",
    "PROGRESS",
    "STATE",
    "SUCCEEDED",
    "JobFolder",
    "process_alive",
    "worker_died",
]

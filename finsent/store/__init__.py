"""The SQLite store under FINSENT_HOME: datasets, jobs, events, metrics, models, evaluations, bulk runs.

Short-lived connections, WAL and explicit write transactions (see `finsent.store.db`); schema migrations in
`finsent.store.schema`. One `Store` per process is enough, but any number may be open at once.
"""

from __future__ import annotations

from pathlib import Path

from finsent.store.bulk import BulkRepository, BulkRunState, ChunkPredictions
from finsent.store.db import Database
from finsent.store.jobs import JobsRepository, JobState
from finsent.store.models import ModelsRepository
from finsent.store.schema import LATEST_VERSION, MIGRATIONS


class Store(JobsRepository, ModelsRepository, BulkRepository):
    def __init__(self, path: Path | str) -> None:
        self.db = Database(Path(path))

    @property
    def path(self) -> Path:
        return self.db.path


__all__ = ["LATEST_VERSION", "MIGRATIONS", "BulkRunState", "ChunkPredictions", "JobState", "Store"]

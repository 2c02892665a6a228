"""FinsentService: the only API the UI and the CLI call. (INTERFACE DRAFT: bodies to be implemented.)

Thread-safe, cheap to keep for the life of a process (the UI keeps one in st.cache_resource and shares it
between browser sessions), so nothing per-user lives in it: API keys are passed per call and never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finsent.backend import Backend, Prediction
from finsent.records import (
    BulkRunRecord,
    DatasetRecord,
    EvaluationRecord,
    EventRecord,
    JobRecord,
    ModelRecord,
)
from finsent.settings import Settings


class BackendInfo:  # noqa: B903 - replaced by a dataclass in the implementation
    """name, label, description, needs_key, key_env_var, capabilities, available, reason, options_schema."""


class FinsentService:
    def __init__(self, settings: Settings | None = None) -> None:
        raise NotImplementedError

    # -- backends -------------------------------------------------------------------------------
    def backends(self, api_keys: dict[str, str] | None = None) -> list[BackendInfo]:
        """Every registered backend with availability; plugin load problems in `plugin_problems()`."""
        raise NotImplementedError

    def plugin_problems(self) -> list[str]:
        raise NotImplementedError

    def backend(self, name: str, api_key: str | None = None) -> Backend:
        raise NotImplementedError

    # -- data -----------------------------------------------------------------------------------
    def prepare(self, source: Path | bytes, name: str, options: Any, sheet: str | None = None) -> tuple[
        DatasetRecord, Any
    ]:
        """Read, check, split and write under FINSENT_HOME/datasets/<id>; returns the record and report."""
        raise NotImplementedError

    def datasets(self) -> list[DatasetRecord]:
        raise NotImplementedError

    def dataset(self, dataset_id: str) -> DatasetRecord:
        raise NotImplementedError

    # -- training and monitoring ----------------------------------------------------------------
    def start_training(
        self, backend: str, dataset_id: str, options: dict[str, Any], api_key: str | None = None
    ) -> JobRecord:
        raise NotImplementedError

    def attach_job(
        self, backend: str, external_id: str, dataset_id: str | None = None, api_key: str | None = None
    ) -> JobRecord:
        raise NotImplementedError

    def jobs(self) -> list[JobRecord]:
        """Newest first, every backend."""
        raise NotImplementedError

    def job(self, job_id: str) -> JobRecord:
        raise NotImplementedError

    def refresh_job(self, job_id: str, api_key: str | None = None) -> JobRecord:
        """Poll the backend once, store new events/metrics/status; evaluate when it has just succeeded."""
        raise NotImplementedError

    def follow_job(
        self, job_id: str, on_update: Callable[[JobRecord], None], interval: float = 2.0, api_key: str | None = None
    ) -> JobRecord:
        raise NotImplementedError

    def cancel_job(self, job_id: str, api_key: str | None = None) -> JobRecord:
        raise NotImplementedError

    def job_events(self, job_id: str, after_seq: int = 0) -> list[EventRecord]:
        raise NotImplementedError

    def job_metrics(self, job_id: str) -> pd.DataFrame:
        """Columns: step, epoch, train_loss, train_accuracy, valid_loss, valid_accuracy."""
        raise NotImplementedError

    # -- models and evaluation ------------------------------------------------------------------
    def models(self, backend: str | None = None) -> list[ModelRecord]:
        raise NotImplementedError

    def evaluation(self, job_id: str) -> EvaluationRecord | None:
        raise NotImplementedError

    def evaluate(self, backend: str, model_id: str, dataset_id: str, api_key: str | None = None) -> EvaluationRecord:
        raise NotImplementedError

    def misclassified(self, evaluation_id: str) -> pd.DataFrame:
        """Columns: row, text, label, predicted, confidence."""
        raise NotImplementedError

    # -- classification -------------------------------------------------------------------------
    def classify(
        self, backend: str, model_id: str, texts: Sequence[str], api_key: str | None = None
    ) -> list[Prediction]:
        raise NotImplementedError

    def start_bulk_run(
        self,
        backend: str,
        model_id: str,
        frame: pd.DataFrame,
        text_column: str,
        source_name: str,
        api_key: str | None = None,
    ) -> BulkRunRecord:
        """Store the input, then classify it chunk by chunk in a background thread (resumable)."""
        raise NotImplementedError

    def bulk_runs(self) -> list[BulkRunRecord]:
        raise NotImplementedError

    def bulk_run(self, run_id: str) -> BulkRunRecord:
        raise NotImplementedError

    def cancel_bulk_run(self, run_id: str) -> BulkRunRecord:
        raise NotImplementedError

    def bulk_results(self, run_id: str) -> pd.DataFrame:
        """Every input column, then label, confidence and score_<label> per label; finished chunks only."""
        raise NotImplementedError

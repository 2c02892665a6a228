"""What the store keeps, as the service hands it to the UI and the CLI. Plain frozen dataclasses."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from finsent.contract.backend import JobStatus
from finsent.contract.texts import Text

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    name: str  # the input's file name
    directory: str  # the prepared directory
    input_sha256: str
    rows: int
    created_at: float
    manifest: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobRecord:
    id: str  # finsent's own id, e.g. "job-20261125-ab12cd"
    backend: str
    external_id: str | None
    dataset_id: str | None
    base_model: str
    options: Mapping[str, Any]  # never contains a key
    status: JobStatus
    created_at: float
    updated_at: float
    finished_at: float | None = None
    fine_tuned_model: str | None = None
    error: str | None = None
    progress: float | None = None
    #: the human name shown in pickers and lists, editable ("로컬 · tfidf-logreg · news.xlsx · 12-02 16:52")
    name: str = ""
    error_ko: str | None = None

    @property
    def error_text(self) -> Text | None:
        return Text(self.error, self.error_ko) if self.error else None

    @property
    def title(self) -> str:
        """The name, or the id for a job stored before jobs had names."""
        return self.name or self.id


@dataclass(frozen=True)
class EventRecord:
    job_id: str
    seq: int
    created_at: float
    level: str
    message: str
    message_ko: str | None = None

    @property
    def text(self) -> Text:
        return Text(self.message, self.message_ko)


@dataclass(frozen=True)
class ModelRecord:
    id: str  # the id the backend classifies with
    backend: str
    job_id: str | None
    base_model: str
    labels: tuple[str, ...]
    input_format: Mapping[str, Any]
    created_at: float
    path: str | None = None  # model file for local backends
    sha256: str | None = None  # of the model file; finsent loads only files whose hash it recorded
    details: Mapping[str, Any] = field(default_factory=dict)
    #: the human name shown in pickers and lists, editable; a trained model takes its job's name
    name: str = ""

    @property
    def title(self) -> str:
        """The name, or the id for a model stored before models had names."""
        return self.name or self.id


@dataclass(frozen=True)
class EvaluationRecord:
    id: str
    job_id: str | None
    model_id: str
    backend: str
    dataset_id: str | None
    split: str
    accuracy: float
    macro_f1: float
    #: label -> {"precision", "recall", "f1", "support"}
    per_class: Mapping[str, Mapping[str, float]]
    labels: tuple[str, ...]
    #: confusion[i][j]: true labels[i] predicted labels[j] (an extra last column counts "unknown")
    confusion: tuple[tuple[int, ...], ...]
    created_at: float
    n: int = 0


class BulkStatus(str, enum.Enum):
    """A bulk run's statuses: one state machine, used from the store down to the UI."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    def __str__(self) -> str:  # the value in messages ("failed"), as for a plain string
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def is_active(self) -> bool:
        """Someone is (or is about to be) classifying its rows."""
        return self in (BulkStatus.QUEUED, BulkStatus.RUNNING)

    @property
    def is_resumable(self) -> bool:
        """Stopped with rows left: resuming classifies only those."""
        return self in (BulkStatus.CANCELLED, BulkStatus.INTERRUPTED, BulkStatus.FAILED)


@dataclass(frozen=True)
class BulkRunRecord:
    id: str
    backend: str
    model_id: str
    source_name: str
    text_column: str
    status: BulkStatus
    rows_total: int
    rows_done: int
    created_at: float
    updated_at: float
    error: str | None = None
    #: rows per second measured over the run so far
    rate: float | None = None
    #: seconds left at the current rate
    eta_seconds: float | None = None
    #: classified through the backend's batch API (Capability.BATCH) rather than live requests
    batch_api: bool = False
    #: the provider's batch id once submitted, its status and requests finished / in all
    batch_id: str | None = None
    batch_status: str | None = None
    batch_done: int = 0
    batch_total: int = 0
    #: the human name shown in run lists, editable (default: the input file and the day)
    name: str = ""
    error_ko: str | None = None

    @property
    def title(self) -> str:
        return self.name or self.source_name

    @property
    def error_text(self) -> Text | None:
        return Text(self.error, self.error_ko) if self.error else None


@dataclass(frozen=True)
class BulkResults:
    """A bulk run's results as one read: the input's columns, then the columns finsent added, named."""

    frame: pd.DataFrame
    labels: tuple[str, ...]
    label_column: str
    confidence_column: str
    #: label -> its score column
    score_columns: Mapping[str, str]
    #: the model id on every row, so a sheet pasted elsewhere still says where its labels came from
    model_column: str
    #: rows with a prediction in this read (the figure to show beside it)
    rows_done: int
    rows_total: int
    #: rows whose text cell was empty or blank: done, but without label, confidence or scores
    rows_blank: int = 0

    @property
    def partial(self) -> bool:
        return self.rows_done < self.rows_total

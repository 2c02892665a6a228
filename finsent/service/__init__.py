"""The service: the one API the UI and the CLI call, and the records, enums and errors they need.

`finsent.ui` and `finsent.cli` import from finsent only this package (tests/test_architecture.py checks
it). Names load on first use, so a command that only parses its flags stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finsent.support.lazy import lazy_exports

if TYPE_CHECKING:
    from finsent.bulk.batch import CANCELLED_BATCH
    from finsent.contract.backend import BATCH_DONE_STATUSES, SHOT_MODES, BatchStatus, JobStatus
    from finsent.contract.costs import CostEstimate
    from finsent.contract.dataset import MANIFEST
    from finsent.contract.errors import FinsentError, InputError, NotFoundError
    from finsent.contract.labels import DEFAULT_LABELS, KOREAN_NAMES, LabelSet
    from finsent.contract.texts import Text
    from finsent.ingest.corpus import CORPUS_URL, LICENCE, SAMPLE_NOTE
    from finsent.ingest.reading import LoadedTable
    from finsent.output import charts
    from finsent.plugins import BackendRegistry, load_backends
    from finsent.prep.pipeline import PreparationError, PrepareOptions
    from finsent.prep.report import Report
    from finsent.service.bulk_runs import BulkRequest
    from finsent.service.facade import BackendInfo, FinsentService, parse_label_map
    from finsent.service.files import DataFiles
    from finsent.service.housekeeping import (
        FreedSpace,
        Housekeeping,
        StorageItem,
        StorageKind,
        StoragePart,
        StorageUsage,
        size_text,
    )
    from finsent.settings import Settings
    from finsent.store.records import (
        BulkResults,
        BulkRunRecord,
        BulkStatus,
        DatasetRecord,
        EvaluationRecord,
        EventRecord,
        JobRecord,
        ModelRecord,
    )
    from finsent.support.gcpause import collector_paused

_WHERE: dict[str, str] = {
    "BATCH_DONE_STATUSES": "finsent.contract.backend",
    "SHOT_MODES": "finsent.contract.backend",
    "BackendInfo": "finsent.service.facade",
    "BackendRegistry": "finsent.plugins",
    "BulkResults": "finsent.store.records",
    "BatchStatus": "finsent.contract.backend",
    "BulkRequest": "finsent.service.bulk_runs",
    "BulkRunRecord": "finsent.store.records",
    "BulkStatus": "finsent.store.records",
    "CANCELLED_BATCH": "finsent.bulk.batch",
    "CORPUS_URL": "finsent.ingest.corpus",
    "CostEstimate": "finsent.contract.costs",
    "collector_paused": "finsent.support.gcpause",
    "DEFAULT_LABELS": "finsent.contract.labels",
    "DataFiles": "finsent.service.files",
    "DatasetRecord": "finsent.store.records",
    "EvaluationRecord": "finsent.store.records",
    "EventRecord": "finsent.store.records",
    "FinsentError": "finsent.contract.errors",
    "FinsentService": "finsent.service.facade",
    "parse_label_map": "finsent.service.facade",
    "InputError": "finsent.contract.errors",
    "JobRecord": "finsent.store.records",
    "JobStatus": "finsent.contract.backend",
    "KOREAN_NAMES": "finsent.contract.labels",
    "LICENCE": "finsent.ingest.corpus",
    "LabelSet": "finsent.contract.labels",
    "LoadedTable": "finsent.ingest.reading",
    "MANIFEST": "finsent.contract.dataset",
    "ModelRecord": "finsent.store.records",
    "NotFoundError": "finsent.contract.errors",
    "PreparationError": "finsent.prep.pipeline",
    "PrepareOptions": "finsent.prep.pipeline",
    "Report": "finsent.prep.report",
    "SAMPLE_NOTE": "finsent.ingest.corpus",
    "Settings": "finsent.settings",
    "Text": "finsent.contract.texts",
    "charts": "finsent.output.charts:",
    "FreedSpace": "finsent.service.housekeeping",
    "Housekeeping": "finsent.service.housekeeping",
    "StorageItem": "finsent.service.housekeeping",
    "StorageKind": "finsent.service.housekeeping",
    "StoragePart": "finsent.service.housekeeping",
    "StorageUsage": "finsent.service.housekeeping",
    "size_text": "finsent.service.housekeeping",
    "load_backends": "finsent.plugins",
}

__getattr__ = lazy_exports(__name__, _WHERE, globals())

__all__ = [
    "BATCH_DONE_STATUSES",
    "CANCELLED_BATCH",
    "CORPUS_URL",
    "DEFAULT_LABELS",
    "KOREAN_NAMES",
    "LICENCE",
    "MANIFEST",
    "SAMPLE_NOTE",
    "SHOT_MODES",
    "BackendInfo",
    "BackendRegistry",
    "BatchStatus",
    "BulkRequest",
    "BulkResults",
    "BulkRunRecord",
    "BulkStatus",
    "CostEstimate",
    "DataFiles",
    "DatasetRecord",
    "EvaluationRecord",
    "EventRecord",
    "FinsentError",
    "FinsentService",
    "FreedSpace",
    "Housekeeping",
    "InputError",
    "JobRecord",
    "JobStatus",
    "LabelSet",
    "LoadedTable",
    "ModelRecord",
    "NotFoundError",
    "PreparationError",
    "PrepareOptions",
    "Report",
    "Settings",
    "StorageItem",
    "StorageKind",
    "StoragePart",
    "StorageUsage",
    "Text",
    "charts",
    "collector_paused",
    "load_backends",
    "parse_label_map",
    "size_text",
]

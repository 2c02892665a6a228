"""The contract: everything a backend plugin may import from finsent, and nothing else.

Built-in backends (plugins/finsent_*) and third-party ones depend on this package (and on the small helpers
in `finsent.support`) only; the rest of finsent may change shape without breaking a plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finsent.support.lazy import lazy_exports

if TYPE_CHECKING:
    from finsent import hookimpl
    from finsent.contract.backend import (
        BATCH_DONE_STATUSES,
        FEW_SHOT,
        SHOT_MODES,
        TERMINAL_STATUSES,
        UNKNOWN_LABEL,
        ZERO_SHOT,
        Availability,
        Backend,
        BackendContext,
        BackendOptions,
        BaseModelInfo,
        BatchProgress,
        BatchStatus,
        Capability,
        JobEvent,
        JobStatus,
        JobUpdate,
        MetricPoint,
        ModelInfo,
        ModelRef,
        Prediction,
        StartedJob,
        TrainingData,
        UnsupportedOperation,
    )
    from finsent.contract.costs import CostEstimate, estimate_tokens
    from finsent.contract.dataset import MANIFEST, SPLITS, PreparedDataset
    from finsent.contract.errors import (
        AuthenticationError,
        BackendUnavailableError,
        CancelledError,
        DataError,
        FinsentError,
        InputError,
        JobFailedError,
        NetworkError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
    )
    from finsent.contract.labels import DEFAULT_LABELS, KOREAN_NAMES, LabelSet, korean_name
    from finsent.contract.modelinput import (
        COMPLETION_SEPARATOR,
        InputFormat,
        build_model_input,
        normalise_text,
        system_message,
    )
    from finsent.contract.texts import Text
    from finsent.settings import Settings

# Loaded on first use: a plugin (or the CLI) that needs an error class does not pay for pydantic.
_WHERE: dict[str, str] = {
    "CostEstimate": "finsent.contract.costs",
    "estimate_tokens": "finsent.contract.costs",
    "AuthenticationError": "finsent.contract.errors",
    "Availability": "finsent.contract.backend",
    "BATCH_DONE_STATUSES": "finsent.contract.backend",
    "Backend": "finsent.contract.backend",
    "BackendContext": "finsent.contract.backend",
    "BackendOptions": "finsent.contract.backend",
    "BackendUnavailableError": "finsent.contract.errors",
    "BaseModelInfo": "finsent.contract.backend",
    "BatchProgress": "finsent.contract.backend",
    "BatchStatus": "finsent.contract.backend",
    "COMPLETION_SEPARATOR": "finsent.contract.modelinput",
    "CancelledError": "finsent.contract.errors",
    "Capability": "finsent.contract.backend",
    "DEFAULT_LABELS": "finsent.contract.labels",
    "DataError": "finsent.contract.errors",
    "FEW_SHOT": "finsent.contract.backend",
    "FinsentError": "finsent.contract.errors",
    "InputError": "finsent.contract.errors",
    "InputFormat": "finsent.contract.modelinput",
    "JobEvent": "finsent.contract.backend",
    "JobFailedError": "finsent.contract.errors",
    "JobStatus": "finsent.contract.backend",
    "JobUpdate": "finsent.contract.backend",
    "KOREAN_NAMES": "finsent.contract.labels",
    "LabelSet": "finsent.contract.labels",
    "MANIFEST": "finsent.contract.dataset",
    "MetricPoint": "finsent.contract.backend",
    "ModelInfo": "finsent.contract.backend",
    "ModelRef": "finsent.contract.backend",
    "NetworkError": "finsent.contract.errors",
    "NotFoundError": "finsent.contract.errors",
    "PermissionDeniedError": "finsent.contract.errors",
    "Prediction": "finsent.contract.backend",
    "PreparedDataset": "finsent.contract.dataset",
    "RateLimitError": "finsent.contract.errors",
    "SHOT_MODES": "finsent.contract.backend",
    "SPLITS": "finsent.contract.dataset",
    "Settings": "finsent.settings",
    "StartedJob": "finsent.contract.backend",
    "TERMINAL_STATUSES": "finsent.contract.backend",
    "Text": "finsent.contract.texts",
    "TrainingData": "finsent.contract.backend",
    "UNKNOWN_LABEL": "finsent.contract.backend",
    "UnsupportedOperation": "finsent.contract.backend",
    "ZERO_SHOT": "finsent.contract.backend",
    "build_model_input": "finsent.contract.modelinput",
    "hookimpl": "finsent",
    "korean_name": "finsent.contract.labels",
    "normalise_text": "finsent.contract.modelinput",
    "system_message": "finsent.contract.modelinput",
}


__getattr__ = lazy_exports(__name__, _WHERE, globals())

__all__ = [
    "BATCH_DONE_STATUSES",
    "COMPLETION_SEPARATOR",
    "DEFAULT_LABELS",
    "FEW_SHOT",
    "KOREAN_NAMES",
    "MANIFEST",
    "SHOT_MODES",
    "SPLITS",
    "TERMINAL_STATUSES",
    "UNKNOWN_LABEL",
    "ZERO_SHOT",
    "AuthenticationError",
    "Availability",
    "Backend",
    "BackendContext",
    "BackendOptions",
    "BackendUnavailableError",
    "BaseModelInfo",
    "BatchProgress",
    "BatchStatus",
    "CancelledError",
    "Capability",
    "CostEstimate",
    "DataError",
    "FinsentError",
    "InputError",
    "InputFormat",
    "JobEvent",
    "JobFailedError",
    "JobStatus",
    "JobUpdate",
    "LabelSet",
    "MetricPoint",
    "ModelInfo",
    "ModelRef",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "Prediction",
    "PreparedDataset",
    "RateLimitError",
    "Settings",
    "StartedJob",
    "Text",
    "TrainingData",
    "UnsupportedOperation",
    "build_model_input",
    "estimate_tokens",
    "hookimpl",
    "korean_name",
    "normalise_text",
    "system_message",
]

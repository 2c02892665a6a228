"""The contract: everything a backend plugin may import from finsent, and nothing else.

Built-in backends (plugins/finsent_*) and third-party ones depend on this package (and on the small helpers
in `finsent.support`) only; the rest of finsent may change shape without breaking a plugin.
"""

from __future__ import annotations

from finsent import hookimpl
from finsent.backend import (
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
from finsent.dataset import MANIFEST, SPLITS, PreparedDataset
from finsent.errors import (
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
from finsent.labels import DEFAULT_LABELS, KOREAN_NAMES, LabelSet, korean_name
from finsent.settings import Settings
from finsent.textnorm import COMPLETION_SEPARATOR, InputFormat, build_model_input, normalise_text

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
    "CancelledError",
    "Capability",
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
    "TrainingData",
    "UnsupportedOperation",
    "build_model_input",
    "hookimpl",
    "korean_name",
    "normalise_text",
]

"""The backend contract. Every model backend (built-in or third-party) is a subclass of `Backend`.

A backend covers the four stages of the workflow and nothing else:
  1. data preparation  `prepare_training_data`: the core's checked, split data -> what it trains on
  2. training          `start_training`
  3. monitoring        `poll_job`, `cancel_job` (and `pause_job`/`resume_job` where it can)
  4. classification    `classify`
The core (finsent.service) owns job records, events, metric history, evaluation, bulk runs and exports.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from finsent.contract.costs import CostEstimate
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import FinsentError
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat
from finsent.contract.texts import Text
from finsent.settings import Settings

UNKNOWN_LABEL = "unknown"


class JobStatus(str, enum.Enum):
    """The statuses of the common fine-tuning APIs, plus `interrupted` for a local worker that died."""

    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED}
)


class Capability(str, enum.Enum):
    TRAIN = "train"
    CANCEL = "cancel"
    PAUSE = "pause"
    CLASSIFY = "classify"
    BATCH = "batch"  # a provider-side batch API for large bulk runs (submit_batch & co.)
    ATTACH = "attach"  # follow a job created elsewhere, by its external id
    SHOTS = "shots"  # classify with an untrained model, zero- or few-shot (shot_model)
    RESUME = "resume"  # continue an interrupted job from its last checkpoint (resume_interrupted)
    READY = "ready"  # use a model that already is a sentiment classifier, untrained (ready_model_ref)


#: modes of `Backend.shot_model`: no examples, or examples drawn from the training split
ZERO_SHOT = "zero_shot"
FEW_SHOT = "few_shot"
SHOT_MODES = (ZERO_SHOT, FEW_SHOT)


class BackendOptions(BaseModel):
    """Training options. Subclass per backend with typed, described and bounded fields.

    The UI builds its form and the CLI its flags from the fields (title, description, ge/le, Literal choices).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_model: str = Field("", description="Base model to train from.")
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Random seed, for reproducible training.")


@dataclass(frozen=True)
class BaseModelInfo:
    """A model a backend can train from (or classify with, for zero-shot)."""

    id: str
    #: a Text for a label with its Korean, a plain string for English only
    label: str | Text
    #: "completion" (prompt/completion files, " ->" separator), "chat" (messages) or "local"
    kind: str = "local"
    can_train: bool = True
    description: str | Text = ""


@dataclass(frozen=True)
class Availability:
    ok: bool
    #: why not, as a Text (with its Korean) or a plain English string
    reason: str | Text | None = None


class BatchStatus(str, enum.Enum):
    """A provider batch's statuses (Capability.BATCH), as the common batch APIs name them; a backend whose
    provider names them otherwise maps them to these."""

    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    def __str__(self) -> str:  # the value in messages ("failed"), as for a plain string
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def is_done(self) -> bool:
        """Changes no more ("completed" is the only one with results)."""
        return self in BATCH_DONE_STATUSES

    @property
    def is_cancelled(self) -> bool:
        return self in (BatchStatus.CANCELLING, BatchStatus.CANCELLED)


#: batch statuses after which a batch changes no more ("completed" is the only one with results)
BATCH_DONE_STATUSES = frozenset(
    {
        BatchStatus.COMPLETED,
        BatchStatus.FAILED,
        BatchStatus.EXPIRED,
        BatchStatus.CANCELLED,
        BatchStatus.CANCELLING,
    }
)


@dataclass(frozen=True)
class BatchProgress:
    """Where a provider-side batch (Capability.BATCH) stands; counts are requests, not necessarily rows."""

    batch_id: str
    #: a BatchStatus value (a provider's new status stays a string rather than failing the run)
    status: BatchStatus | str
    total: int
    completed: int
    failed: int

    @property
    def done(self) -> bool:
        return self.status in BATCH_DONE_STATUSES

    @property
    def fraction(self) -> float:
        return (self.completed + self.failed) / self.total if self.total else 0.0


@dataclass
class TrainingData:
    """What a backend made of the prepared dataset in stage 1 (files written, uploads made...)."""

    dataset: PreparedDataset
    files: dict[str, Path] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    #: the model input format this backend trains on; classification uses the same one
    input_format: InputFormat = field(default_factory=InputFormat)


@dataclass(frozen=True)
class StartedJob:
    external_id: str
    status: JobStatus
    base_model: str = ""


@dataclass(frozen=True)
class JobEvent:
    created_at: float  # unix seconds
    #: English, or a Text with the Korean too (Monitor shows the reader's language where it was written)
    message: str | Text
    level: str = "info"  # info | warning | error
    id: str | None = None

    @property
    def text(self) -> Text:
        return Text.of(self.message)


@dataclass(frozen=True)
class MetricPoint:
    """One point of the training curve. Any metric may be missing for a given backend or step."""

    step: int
    epoch: float | None = None
    train_loss: float | None = None
    train_accuracy: float | None = None
    valid_loss: float | None = None
    valid_accuracy: float | None = None


@dataclass
class JobUpdate:
    """What changed since `cursor`: the core appends events and metrics and stores the new cursor."""

    status: JobStatus
    events: list[JobEvent] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)
    cursor: str | None = None
    fine_tuned_model: str | None = None
    #: English, or a Text with the Korean too
    error: str | Text | None = None
    #: 0..1 when the backend knows it
    progress: float | None = None
    #: extra facts worth keeping (trained tokens, checkpoints...)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelInfo:
    id: str
    base_model: str = ""
    created_at: float | None = None
    description: str = ""


@dataclass(frozen=True)
class ModelRef:
    """Everything a backend needs to classify with a model: its id, input format and label set."""

    id: str
    labels: LabelSet
    input_format: InputFormat = field(default_factory=InputFormat)
    #: backend-specific facts recorded at training time (e.g. completion vs chat)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    label: str  # a label of the set, or UNKNOWN_LABEL (raw answer kept in `raw`)
    confidence: float  # 0..1
    scores: Mapping[str, float] = field(default_factory=dict)  # one per label, 0..1
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for answers kept on disk (paid-for answers of a provider's unfinished calls and batches)."""
        return {
            "label": self.label,
            "confidence": self.confidence,
            "scores": dict(self.scores),
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prediction:
        """The inverse of to_dict; raises KeyError/TypeError/ValueError on a damaged entry."""
        return cls(
            label=str(data["label"]),
            confidence=float(data["confidence"]),
            scores={str(k): float(v) for k, v in data["scores"].items()},
            raw=None if data.get("raw") is None else str(data["raw"]),
        )


@dataclass(frozen=True)
class BackendContext:
    """Handed to a backend when it is built: settings, the resolved key (never stored) and config."""

    settings: Settings
    api_key: str | None = None
    config: Mapping[str, str] = field(default_factory=dict)

    def workdir(self, backend_name: str) -> Path:
        path = self.settings.home / "backends" / backend_name
        path.mkdir(parents=True, exist_ok=True)
        return path


class UnsupportedOperation(FinsentError):
    code = "unsupported"


class Backend(ABC):
    """Base class of every backend. Class attributes describe it; methods do the four stages."""

    name: ClassVar[str]
    #: shown in the dashboard and `finsent backends`: a Text with the Korean, or a plain English string
    label: ClassVar[str | Text]
    description: ClassVar[str | Text] = ""
    needs_key: ClassVar[bool] = False
    key_env_var: ClassVar[str | None] = None
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TRAIN, Capability.CLASSIFY})
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    #: how many texts the core sends per `classify` call in bulk runs (one chunk = one stored unit)
    classify_batch_size: ClassVar[int] = 1000

    def __init__(self, context: BackendContext) -> None:
        self.context = context

    # -- description --------------------------------------------------------------------------
    @classmethod
    def label_text(cls) -> Text:
        """The label in both languages (a plain string is English only)."""
        return Text.of(cls.label)

    def availability(self) -> Availability:
        """Whether this backend can be used now, and why not (e.g. "PROVIDER_API_KEY is not set")."""
        if self.needs_key and not self.context.api_key:
            env = self.key_env_var or "key"
            return Availability(
                False, Text(f"needs an API key ({env} is not set)", f"API 키가 필요합니다 ({env} 설정 안 됨)")
            )
        return Availability(True)

    @abstractmethod
    def base_models(self) -> list[BaseModelInfo]:
        """Models this backend trains from."""

    def training_notice(self) -> Text | None:
        """What a user should know before training with this backend (e.g. the provider's end of new
        fine-tuning jobs and where to go instead), shown on the Train page and by `finsent train`."""
        return None

    # -- 1. data preparation ------------------------------------------------------------------
    @abstractmethod
    def prepare_training_data(
        self, dataset: PreparedDataset, options: BackendOptions, workdir: Path
    ) -> TrainingData:
        """Turn the prepared dataset into what this backend trains on (files in `workdir`, uploads)."""

    # -- 2. training --------------------------------------------------------------------------
    @abstractmethod
    def start_training(self, data: TrainingData, options: BackendOptions) -> StartedJob:
        """Start a job and return at once; the job runs elsewhere (process, thread, service)."""

    # -- 3. monitoring ------------------------------------------------------------------------
    @abstractmethod
    def poll_job(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        """Status plus the events and metric points that are new since `cursor`."""

    def cancel_job(self, external_id: str) -> JobStatus:
        raise UnsupportedOperation(f"The {self.label} backend cannot cancel jobs.")

    def pause_job(self, external_id: str) -> JobStatus:
        raise UnsupportedOperation(f"The {self.label} backend cannot pause jobs.")

    def resume_job(self, external_id: str) -> JobStatus:
        raise UnsupportedOperation(f"The {self.label} backend cannot resume jobs.")

    def resume_interrupted(self, external_id: str) -> JobStatus:
        """Continue a job whose worker died (status `interrupted`) from its last checkpoint, under the same
        external id; the core then polls it as before (Capability.RESUME). Returns the new status."""
        raise UnsupportedOperation(
            Text(
                f"The {self.label} backend cannot resume interrupted jobs.",
                f"{self.label_text().get('ko')} 백엔드는 중단된 작업을 이어서 학습할 수 없습니다.",
            ),
            hint=Text("Start a new training job.", "새 학습 작업을 시작하세요."),
        )

    def list_models(self) -> list[ModelInfo]:
        """Models this backend can classify with that it knows of outside finsent's store."""
        return []

    # -- 4. classification --------------------------------------------------------------------
    @abstractmethod
    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order. `texts` are raw; apply `model.input_format` yourself."""

    # -- without training (Capability.SHOTS) ---------------------------------------------------
    def shot_model(
        self,
        model_id: str,
        labels: LabelSet,
        mode: str,
        dataset: PreparedDataset | None = None,
        per_label: int = 2,
    ) -> ModelRef:
        """A ModelRef to classify with `model_id` untrained: `mode` is ZERO_SHOT or FEW_SHOT (then
        `per_label` examples of each label from `dataset`'s training split). No network call needed:
        the core records the ref's id, labels, input format and details like a trained model's."""
        raise UnsupportedOperation(
            Text(
                f"The {self.label} backend cannot classify without training.",
                f"{self.label} 백엔드는 학습 없이 분류할 수 없습니다.",
            )
        )

    # -- a ready classifier used as it is (Capability.READY) -----------------------------------
    def ready_model_ref(
        self,
        source: str,
        labels: LabelSet | None = None,
        label_map: Mapping[str, str] | None = None,
    ) -> ModelRef:
        """A ModelRef for a model that already is a sentiment classifier (a hub id or a folder), with a
        map from its label names to ours; the core records it like a trained model, with no training."""
        raise UnsupportedOperation(
            Text(
                f"The {self.label} backend cannot use a ready model as it is.",
                f"{self.label_text().get('ko')} 백엔드는 준비된 모델을 그대로 쓸 수 없습니다.",
            ),
            hint=Text("Train a model with it instead.", "이 백엔드로 모델을 학습하세요."),
        )

    # -- provider-side batches (Capability.BATCH) -----------------------------------------------
    def no_batch_api(self) -> UnsupportedOperation:
        """The error for a batch call to a backend without Capability.BATCH (the service raises it too)."""
        return UnsupportedOperation(
            Text(
                f"The {self.label} backend has no batch API.",
                f"{self.label_text().get('ko')} 백엔드는 배치 API가 없습니다.",
            ),
            hint=Text("Run without the batch API option.", "배치 API 옵션 없이 실행하세요."),
        )

    def submit_batch(self, model: ModelRef, texts: Sequence[str]) -> str:
        """Start a batch over `texts` (or find again the live one for the same model and texts);
        returns its id. The core records the id with the bulk run and never submits twice for it."""
        raise self.no_batch_api()

    def batch_progress(self, batch_id: str) -> BatchProgress:
        raise self.no_batch_api()

    def batch_results(self, batch_id: str, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order, once the batch has completed."""
        raise self.no_batch_api()

    def batch_partial_results(
        self, batch_id: str, model: ModelRef, texts: Sequence[str]
    ) -> list[Prediction | None]:
        """The answers a cancelled or expired batch finished before it stopped, by position in `texts` (the
        texts it was submitted with); None where it has none. Raise a FinsentError when they cannot be read.
        The default reads nothing: a resumed run then sends every row again."""
        return [None] * len(texts)

    def cancel_batch(self, batch_id: str) -> BatchProgress:
        raise self.no_batch_api()

    # -- what it costs (paid backends; the core names no price) ---------------------------------
    def training_cost_estimates(self, dataset: PreparedDataset, epochs: int) -> list[CostEstimate]:
        """Training cost of `dataset` with each priced base model, cheapest first; [] when it costs nothing."""
        return []

    def training_cost(self, dataset: PreparedDataset, base_model: str, epochs: int) -> CostEstimate | None:
        """Training cost with `base_model`, shown before a paid job starts; None when it costs nothing."""
        return None

    def input_cost(self, base_model: str, texts: Sequence[str]) -> CostEstimate | None:
        """Input tokens of classifying `texts` with a model trained from (or being) `base_model`, priced
        where the price is known (`usd` None otherwise); None when it costs nothing."""
        return None

    def example_token_limit(self) -> tuple[int, str] | None:
        """(tokens, base model) of the smallest per-example limit among the models it trains: the data
        checks warn about longer examples. None: no such limit. A limit under `MIN_EXAMPLE_TOKEN_LIMIT`
        (512) is taken as 512: `finsent prepare` asks the backends only when a text is that long."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients, processes or files; called when the service drops the backend."""

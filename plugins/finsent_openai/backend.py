"""The OpenAI backend: fine-tune, follow, classify (fine-tuned, zero- or few-shot) through the openai SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK is imported on first use: it costs ~1 s at start-up
    import openai

    from .batch import BatchRunner
    from .classify import Classifier, ClassifyTuning

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from finsent.contract import (
    COMPLETION_SEPARATOR,
    Availability,
    Backend,
    BackendContext,
    BackendOptions,
    BaseModelInfo,
    BatchProgress,
    Capability,
    CostEstimate,
    FinsentError,
    InputFormat,
    JobEvent,
    JobStatus,
    JobUpdate,
    LabelSet,
    MetricPoint,
    ModelInfo,
    ModelRef,
    Prediction,
    PreparedDataset,
    StartedJob,
    Text,
    TrainingData,
    errors,
)

from . import costs
from . import data as openai_data
from .client import ClientConfig, build_client, effective_config, expect_object, openai_errors
from .notices import fine_tuning_notice
from .prompts import shot_details
from .results import merge_points, parse_results, point_from_metrics

_STATUSES = {status.value: status for status in JobStatus}
_LEVELS = {"warn": "warning", "warning": "warning", "error": "error"}


class OpenAIOptions(BackendOptions):
    """Fine-tuning options; each hyperparameter is "auto" (OpenAI picks) or a number within OpenAI's bounds."""

    base_model: str = Field(
        "gpt-4o-mini-2024-07-18",
        description="Base model to fine-tune: a chat model (gpt-4o-mini, gpt-4.1-mini...) or a completion "
        "model (babbage-002, davinci-002).",
    )
    n_epochs: Literal["auto"] | Annotated[int, Field(ge=1, le=50)] = Field(
        "auto", description="Passes over the training file; 'auto' lets OpenAI choose from its size."
    )
    batch_size: Literal["auto"] | Annotated[int, Field(ge=1, le=256)] = Field(
        "auto", description="Examples per training step; 'auto' lets OpenAI choose."
    )
    learning_rate_multiplier: Literal["auto"] | Annotated[float, Field(gt=0, le=10)] = Field(
        "auto",
        description="Scales OpenAI's learning rate; smaller values overfit less. 'auto' lets OpenAI choose.",
    )
    suffix: str = Field(
        "",
        max_length=64,
        pattern=r"^[A-Za-z0-9_.\-]*$",
        description="Up to 64 letters, digits, '-', '_' or '.', added to the fine-tuned model's name.",
    )


class _Cursor:
    """What poll_job has already reported: the newest event id, the highest metric step, results read."""

    def __init__(self, raw: str | None) -> None:
        data: dict[str, Any] = {}
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"e": raw}  # a bare event id from an older cursor
        self.event: str | None = data.get("e")
        self.step: int = int(data.get("s") or 0)
        self.results_read: bool = bool(data.get("r"))

    def dump(self) -> str:
        return json.dumps({"e": self.event, "s": self.step, "r": self.results_read}, sort_keys=True)


class OpenAIBackend(Backend):
    name = "openai"
    label = Text("OpenAI", "OpenAI")
    description = Text(
        "Fine-tune OpenAI models and classify with them, or classify with any chat model in zero/few-shot mode. "
        "Works with OpenAI, Azure OpenAI and OpenAI-compatible servers (base_url).",
        "OpenAI 모델을 파인튜닝해 분류하거나, 학습 없이 채팅 모델로 제로샷/퓨샷 분류합니다. "
        "OpenAI, Azure OpenAI, OpenAI 호환 서버(base_url)에서 동작합니다 (유료, API 키 필요).",
    )
    needs_key = True
    key_env_var = "OPENAI_API_KEY"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.TRAIN,
            Capability.CANCEL,
            Capability.PAUSE,
            Capability.CLASSIFY,
            Capability.ATTACH,
            Capability.BATCH,
            Capability.SHOTS,
        }
    )
    Options = OpenAIOptions
    classify_batch_size = 500

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.config = ClientConfig.from_context(context)
        self._client: openai.OpenAI | None = None
        self._classifier: Classifier | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                self._client = build_client(self.config)
            return self._client

    @property
    def tuning(self) -> ClassifyTuning:
        from .classify import ClassifyTuning

        return ClassifyTuning.from_config(effective_config(self.context))

    @property
    def classifier(self) -> Classifier:
        from .classify import Classifier

        client = self.client
        with self._lock:
            if self._classifier is None:
                # Answers of a call that failed half-way are kept here, so a resumed chunk pays only
                # for the texts still without an answer (see ledger.py).
                ledger_dir = self.context.workdir(self.name) / "answers"
                self._classifier = Classifier(client, self.config, self.tuning, ledger_dir=ledger_dir)
            return self._classifier

    # -- description -------------------------------------------------------------------------------
    def availability(self) -> Availability:
        if not self.config.api_key and (self.config.is_openai or self.config.is_azure):
            return Availability(
                False,
                Text(
                    "needs an API key: set OPENAI_API_KEY, add it to .streamlit/secrets.toml, or type it in",
                    "API 키가 필요합니다: OPENAI_API_KEY를 설정하거나, .streamlit/secrets.toml에 넣거나, 직접 입력하세요",
                ),
            )
        return Availability(True)

    def base_models(self) -> list[BaseModelInfo]:
        return openai_data.base_models()

    def training_notice(self) -> Text:
        return fine_tuning_notice()

    # -- costs: OpenAI's price list and tokenizers live here, not in the core ----------------------
    def training_cost_estimates(self, dataset: PreparedDataset, epochs: int) -> list[CostEstimate]:
        return costs.estimate_all(dataset, epochs)

    def training_cost(self, dataset: PreparedDataset, base_model: str, epochs: int) -> CostEstimate | None:
        return costs.estimate_training_cost(dataset, base_model, epochs)

    def input_cost(self, base_model: str, texts: Sequence[str]) -> CostEstimate | None:
        counts, exact = costs.count_tokens(list(texts))
        tokens = sum(counts)
        try:
            price: float | None = float(costs.base_model(base_model)["input_per_1m"])
        except FinsentError:  # a base model missing from the price list: the tokens only
            price = None
        return CostEstimate(
            base_model=base_model, tokens_per_epoch=tokens, epochs=1, total_tokens=tokens,
            usd=None if price is None else round(tokens / 1_000_000 * price, 4), exact=exact,
            prices_as_of=costs.prices_as_of(), kind="input", examples=len(texts),
        )  # fmt: skip

    def example_token_limit(self) -> tuple[int, str] | None:
        return costs.smallest_context()

    def list_models(self) -> list[ModelInfo]:
        """Fine-tuned models of the account (all models on an OpenAI-compatible server)."""
        with openai_errors(self.config, "list-models"):
            models = list(self.client.models.list())
        keep = [m for m in models if m.id.startswith("ft:") or not self.config.is_openai]
        return [
            ModelInfo(id=m.id, base_model=openai_data.base_of(m.id), created_at=float(m.created or 0) or None)
            for m in keep
        ]

    def shot_model(
        self,
        model_id: str,
        labels: LabelSet,
        mode: str,
        dataset: PreparedDataset | None = None,
        per_label: int = 2,
    ) -> ModelRef:
        """A ModelRef for zero/few-shot classification with any chat model (no fine-tuning)."""
        details = shot_details(dataset, mode, per_label=per_label)
        fmt = dataset.input_format.with_separator("") if dataset is not None else InputFormat()
        return ModelRef(id=model_id, labels=labels, input_format=fmt, details=details)

    # -- 1. data -----------------------------------------------------------------------------------
    def prepare_training_data(
        self, dataset: PreparedDataset, options: BackendOptions, workdir: Path
    ) -> TrainingData:
        opts = self._options(options)
        known = self.base_models()
        info = next((m for m in known if m.id == opts.base_model), None)
        if info is not None and not info.can_train:
            raise errors.InputError(
                Text(
                    f"{opts.base_model} cannot be fine-tuned.",
                    f"{opts.base_model}은(는) 파인튜닝할 수 없습니다.",
                ),
                hint=Text(
                    "Pick a base model marked as trainable, or use it in zero/few-shot mode.",
                    "학습 가능한 기본 모델을 고르거나, 제로샷/퓨샷 모드로 쓰세요.",
                ),
            )
        uploader = openai_data.Uploader(self.client, self.config, self.context.workdir(self.name))
        return openai_data.prepare_for_openai(dataset, opts.base_model, uploader, known)

    # -- 2. training -------------------------------------------------------------------------------
    def start_training(self, data: TrainingData, options: BackendOptions) -> StartedJob:
        opts = self._options(options)
        hyper = {
            "n_epochs": opts.n_epochs,
            "batch_size": opts.batch_size,
            "learning_rate_multiplier": opts.learning_rate_multiplier,
        }
        extra: dict[str, Any] = {}
        if data.details.get("validation_file"):
            extra["validation_file"] = data.details["validation_file"]
        if opts.suffix:
            extra["suffix"] = opts.suffix
        base_model = str(data.details.get("base_model") or opts.base_model)
        with openai_errors(self.config, "fine-tune", subject=f"model '{base_model}'"):
            job = self.client.fine_tuning.jobs.create(
                model=base_model,
                training_file=str(data.details["training_file"]),
                method={"type": "supervised", "supervised": {"hyperparameters": hyper}},  # type: ignore[arg-type]
                seed=opts.seed,
                **extra,
            )
        job = expect_object(job, "fine_tuning.job", self.config, "fine-tune")
        return StartedJob(external_id=job.id, status=_status(job.status), base_model=job.model)

    # -- 3. monitoring -----------------------------------------------------------------------------
    def poll_job(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        state = _Cursor(cursor)
        subject = f"fine-tuning job '{external_id}'"
        with openai_errors(self.config, "follow", subject=subject):
            job = expect_object(
                self.client.fine_tuning.jobs.retrieve(external_id), "fine_tuning.job", self.config, "follow"
            )
            # Checkpoints before events: every step a checkpoint names then has its event in this poll,
            # so no step is reported ahead of an earlier one.
            checkpoints = []
            if job.status not in ("validating_files", "queued"):
                checkpoints = list(self.client.fine_tuning.jobs.checkpoints.list(external_id, limit=100))
            fresh = []
            for event in self.client.fine_tuning.jobs.list_events(external_id, limit=100):
                if event.id == state.event:
                    break
                fresh.append(event)
            fresh.reverse()  # the API lists newest first
        status = _status(job.status)
        n_epochs = _number(job.hyperparameters.n_epochs if job.hyperparameters else None)
        total_steps, points = None, []
        for event in fresh:
            data = dict(event.data or {}) if isinstance(event.data, dict) else {}
            if data.get("total_steps"):
                total_steps = float(data["total_steps"])
            if getattr(event, "type", None) == "metrics" or "step" in data:
                point = point_from_metrics(data, n_epochs=n_epochs)
                if point is not None:
                    points.append(point)
        for ckpt in checkpoints:
            metrics = ckpt.metrics.model_dump() if ckpt.metrics is not None else {}
            metrics.setdefault("step", ckpt.step_number)
            point = point_from_metrics(metrics, n_epochs=n_epochs, total_steps=total_steps)
            if point is not None:
                points.append(point)
        details: dict[str, Any] = self._job_details(job, checkpoints)
        if status.is_terminal and job.result_files and not state.results_read:
            points.extend(self._results_points(job.result_files, n_epochs, details))
            state.results_read = True
        new_points = [p for p in merge_points(points) if p.step > state.step]
        if new_points:
            state.step = new_points[-1].step
        if fresh:
            state.event = fresh[-1].id
        progress = 1.0 if status is JobStatus.SUCCEEDED else None
        if progress is None and total_steps and state.step:
            progress = min(1.0, state.step / total_steps)
        error = None
        if job.error is not None and (job.error.code or job.error.message):
            error = self.config.scrub(f"{job.error.code}: {job.error.message}".strip(": "))
        return JobUpdate(
            status=status,
            events=[_event(e, self.config) for e in fresh],
            metrics=new_points,
            cursor=state.dump(),
            fine_tuned_model=job.fine_tuned_model,
            error=error,
            progress=progress,
            details=details,
        )

    def _job_details(self, job: Any, checkpoints: list[Any]) -> dict[str, Any]:
        kind = openai_data.model_kind(job.model)
        details: dict[str, Any] = {
            "kind": kind,
            "base_model": job.model,
            "input_format": {"separator": COMPLETION_SEPARATOR if kind == openai_data.COMPLETION else ""},
        }
        if job.hyperparameters is not None:
            details["hyperparameters"] = job.hyperparameters.model_dump(exclude_none=True)
        if job.trained_tokens:
            details["trained_tokens"] = job.trained_tokens
        if job.result_files:
            details["result_files"] = list(job.result_files)
        if checkpoints:
            details["checkpoints"] = [
                {"step": c.step_number, "model": c.fine_tuned_model_checkpoint} for c in checkpoints
            ]
        if job.error is not None and job.error.code:
            details["error_code"] = self.config.scrub(str(job.error.code), 100)
        return details

    def _results_points(
        self, file_ids: Sequence[str], n_epochs: float | None, details: dict[str, Any]
    ) -> list[MetricPoint]:
        points: list[MetricPoint] = []
        for file_id in file_ids:
            with openai_errors(self.config, "follow", subject=f"results file '{file_id}'"):
                content = self.client.files.content(file_id).content
            try:
                points.extend(parse_results(content, n_epochs))
            except errors.FinsentError as exc:  # a curve we cannot read must not hide the finished job
                details["results_problem"] = exc.message
        return points

    def cancel_job(self, external_id: str) -> JobStatus:
        return self._job_action("cancel", external_id)

    def pause_job(self, external_id: str) -> JobStatus:
        return self._job_action("pause", external_id)

    def resume_job(self, external_id: str) -> JobStatus:
        return self._job_action("resume", external_id)

    def _job_action(self, action: str, external_id: str) -> JobStatus:
        with openai_errors(self.config, action, subject=f"fine-tuning job '{external_id}'"):
            job = getattr(self.client.fine_tuning.jobs, action)(external_id)
        return _status(expect_object(job, "fine_tuning.job", self.config, action).status)

    # -- 4. classification -------------------------------------------------------------------------
    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        return self.classifier.classify(model, texts)

    # -- Batch API (Capability.BATCH): large runs at half price, resumable by re-submitting ------------
    @property
    def batches(self) -> BatchRunner:
        from .batch import BatchRunner

        return BatchRunner(self.client, self.config, self.classifier, self.context.workdir(self.name))

    def submit_batch(self, model: ModelRef, texts: Sequence[str]) -> str:
        """Start (or find again, for the same model and texts) a Batch API run; returns the batch id."""
        return self.batches.submit(model, texts)

    def batch_progress(self, batch_id: str) -> BatchProgress:
        return self.batches.progress(batch_id)

    def batch_results(self, batch_id: str, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text once the batch has completed (failed rows are classified live)."""
        return self.batches.results(batch_id, model, texts)

    def batch_partial_results(
        self, batch_id: str, model: ModelRef, texts: Sequence[str]
    ) -> list[Prediction | None]:
        """What a cancelled or expired batch answered before it stopped (its output file), by position."""
        return self.batches.partial_results(batch_id, model, texts)

    def cancel_batch(self, batch_id: str) -> BatchProgress:
        return self.batches.cancel(batch_id)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client, self._classifier = None, None

    # -- helpers -----------------------------------------------------------------------------------
    def _options(self, options: BackendOptions) -> OpenAIOptions:
        if isinstance(options, OpenAIOptions):
            return options
        return OpenAIOptions.model_validate(options.model_dump())


def _status(raw: str) -> JobStatus:
    # Unknown future statuses read as running: the job is alive and will be polled again.
    return _STATUSES.get(str(raw), JobStatus.RUNNING)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _event(event: Any, config: ClientConfig) -> JobEvent:
    return JobEvent(
        created_at=float(event.created_at),
        message=config.scrub(str(event.message)),
        level=_LEVELS.get(str(event.level), "info"),
        id=event.id,
    )

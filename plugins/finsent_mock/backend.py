"""The mock backend: the whole fine-tuning lifecycle, offline, deterministic, with faults on request.

Jobs are JSON files under the backend's workdir (`FINSENT_HOME/backends/mock/jobs/<id>.json`); their
progress is derived from the wall clock (see `timeline`), so another process or a restarted app can poll
the same job and no process has to stay alive. Classification is a keyword rule (see `keywords`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from finsent.contract import (
    Backend,
    BackendContext,
    BackendOptions,
    BaseModelInfo,
    Capability,
    DataError,
    FinsentError,
    InputError,
    JobStatus,
    JobUpdate,
    ModelInfo,
    ModelRef,
    NotFoundError,
    Prediction,
    PreparedDataset,
    StartedJob,
    Text,
    TrainingData,
)
from finsent.support import atomic_write_text
from finsent_mock.keywords import classify_by_keywords
from finsent_mock.timeline import MockJobSpec, job_state

BUILTIN_MODEL: Literal["mock-keywords"] = "mock-keywords"


class ClassificationRefused(FinsentError):
    """The mock refused a classification call (fault injection `refuse_classify`)."""

    code = "refused"


class MockOptions(BackendOptions):
    """Options of the mock backend. The fault-injection ones exist for tests and demos of failure paths."""

    base_model: Literal["mock-keywords"] = Field(
        BUILTIN_MODEL, description="Base model (only the keyword rule)."
    )
    epochs: int = Field(
        3,
        ge=1,
        le=50,
        description="Number of simulated epochs.",
        json_schema_extra={"description_ko": "흉내 내는 에포크 수입니다."},
    )
    steps_per_epoch: int = Field(
        10,
        ge=1,
        le=1000,
        description="Simulated training steps per epoch.",
        json_schema_extra={
            "title_ko": "에포크당 스텝 수",
            "description_ko": "에포크마다 흉내 내는 학습 스텝 수입니다.",
        },
    )
    duration_seconds: float = Field(
        0.0,
        ge=0.0,
        le=3600.0,
        description="Wall-clock length of the simulated job: 0 is instant, ~60 for demos.",
        json_schema_extra={
            "title_ko": "모의 학습 시간(초)",
            "description_ko": "흉내 내는 학습이 걸리는 시간입니다. 0은 즉시, 시연에는 60초 정도가 좋습니다.",
        },
    )
    reject_file: bool = Field(
        False,
        description="Fault: fail while validating the training file.",
        json_schema_extra={
            "title_ko": "장애 주입: 학습 파일 거부",
            "description_ko": "학습 파일 검사 중에 실패합니다.",
            "advanced": True,
        },
    )
    fail_at_step: int | None = Field(
        None,
        ge=1,
        le=50_000,
        description="Fault: fail when this step is reached.",
        json_schema_extra={
            "title_ko": "장애 주입: 이 스텝에서 실패",
            "description_ko": "이 스텝에 이르면 실패합니다.",
            "advanced": True,
        },
    )
    classify_delay_ms: int = Field(
        0,
        ge=0,
        le=60_000,
        description="Fault: wait this long in every classification call of the trained model.",
        json_schema_extra={
            "title_ko": "장애 주입: 분류 호출마다 지연(ms)",
            "description_ko": "학습된 모델의 분류 호출마다 이만큼 기다립니다.",
            "advanced": True,
        },
    )
    refuse_classify: bool = Field(
        False,
        description="Fault: the trained model refuses every classification call.",
        json_schema_extra={
            "title_ko": "장애 주입: 분류 거부",
            "description_ko": "학습된 모델이 모든 분류 호출을 거부합니다.",
            "advanced": True,
        },
    )


class MockBackend(Backend):
    name = "mock"
    label = Text("Mock (offline demo)", "모의 (오프라인 데모)")
    description = Text(
        "Simulates fine-tuning offline (events, loss and accuracy curves) and classifies with a keyword rule. "
        "For demos and tests; it learns nothing.",
        "오프라인으로 파인튜닝을 흉내 내고(이벤트, 손실·정확도 곡선) 키워드 규칙으로 분류합니다. "
        "데모와 테스트용이며 실제로 학습하지는 않습니다.",
    )
    capabilities = frozenset({Capability.TRAIN, Capability.CANCEL, Capability.CLASSIFY, Capability.ATTACH})
    Options = MockOptions

    def __init__(self, context: BackendContext, clock: Callable[[], float] = time.time) -> None:
        super().__init__(context)
        #: the time source of every job's progress; tests pass a fake one to look at a job mid-way
        self.clock = clock

    @property
    def jobs_dir(self) -> Path:
        path = self.context.workdir(self.name) / "jobs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def base_models(self) -> list[BaseModelInfo]:
        return [
            BaseModelInfo(
                BUILTIN_MODEL,
                Text("Keyword rule (Korean + English)", "키워드 규칙 (한국어 + 영어)"),
                kind="local",
                description="Counts finance words such as 상승/하락, profit/loss; no learning.",
            )
        ]

    # -- 1. data preparation ------------------------------------------------------------------
    def prepare_training_data(
        self, dataset: PreparedDataset, options: BackendOptions, workdir: Path
    ) -> TrainingData:
        frames = {split: dataset.frame(split) for split in ("train", "valid")}
        if frames["train"].empty:
            raise DataError(
                Text("The prepared dataset has no training rows.", "준비된 데이터셋에 학습용 행이 없습니다."),
                hint=Text(
                    "Prepare a file with labelled rows first.",
                    "라벨이 있는 행이 담긴 파일을 먼저 준비하세요.",
                ),
            )
        workdir.mkdir(parents=True, exist_ok=True)
        files: dict[str, Path] = {}
        for split, frame in frames.items():
            lines = (
                json.dumps({"text": t, "label": lab}, ensure_ascii=False)
                for t, lab in zip(frame["text"], frame["label"], strict=True)
            )
            files[split] = atomic_write_text(
                workdir / f"mock-{split}.jsonl", "".join(line + "\n" for line in lines)
            )
        return TrainingData(
            dataset=dataset,
            files=files,
            details={"n_train": len(frames["train"]), "n_valid": len(frames["valid"])},
            input_format=dataset.input_format,
        )

    # -- 2. training --------------------------------------------------------------------------
    def start_training(self, data: TrainingData, options: BackendOptions) -> StartedJob:
        opts = self._options(options)
        spec = MockJobSpec(
            id=f"mockjob-{uuid.uuid4().hex[:12]}",
            started_at=self.clock(),
            seed=opts.seed,
            epochs=opts.epochs,
            steps_per_epoch=opts.steps_per_epoch,
            duration_seconds=opts.duration_seconds,
            labels=list(data.dataset.labels.names),
            n_train=int(data.details.get("n_train", 0)),
            n_valid=int(data.details.get("n_valid", 0)),
            base_model=opts.base_model,
            reject_file=opts.reject_file,
            fail_at_step=opts.fail_at_step,
            classify_delay_ms=opts.classify_delay_ms,
            refuse_classify=opts.refuse_classify,
            options=opts.model_dump(),
        )
        self._save(spec)
        return StartedJob(spec.id, JobStatus.VALIDATING_FILES, spec.base_model)

    def _options(self, options: BackendOptions) -> MockOptions:
        if isinstance(options, MockOptions):
            return options
        try:
            return MockOptions.model_validate(options.model_dump())
        except ValueError as exc:
            raise InputError(f"Invalid options for the mock backend: {exc}") from exc

    # -- 3. monitoring ------------------------------------------------------------------------
    def poll_job(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        spec = self._load(external_id)
        state = job_state(spec, self.clock())
        seen_events, seen_metrics = _parse_cursor(cursor)
        return JobUpdate(
            status=state.status,
            events=state.events[seen_events:],
            metrics=state.metrics[seen_metrics:],
            cursor=f"{len(state.events)}:{len(state.metrics)}",
            fine_tuned_model=state.fine_tuned_model,
            error=state.error,
            progress=state.progress,
            details={"trained_examples": spec.n_train * spec.epochs} if state.fine_tuned_model else {},
        )

    def cancel_job(self, external_id: str) -> JobStatus:
        spec = self._load(external_id)
        now = self.clock()
        state = job_state(spec, now)
        if state.status.is_terminal:
            return state.status  # nothing to cancel: it already ended
        spec.cancelled_at = now
        self._save(spec)
        return job_state(spec, now).status

    def list_models(self) -> list[ModelInfo]:
        models = [ModelInfo(BUILTIN_MODEL, description="Keyword rule (Korean + English), built in")]
        now = self.clock()
        for path in sorted(self.jobs_dir.glob("mockjob-*.json")):
            spec = self._load(path.stem)
            if job_state(spec, now).status is JobStatus.SUCCEEDED:
                models.append(
                    ModelInfo(
                        spec.model_id,
                        base_model=spec.base_model,
                        created_at=spec.started_at + spec.duration_seconds,
                    )
                )
        return models

    # -- 4. classification --------------------------------------------------------------------
    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        if model.id != BUILTIN_MODEL:
            spec = self._trained_model(model.id)
            if spec.refuse_classify:
                raise ClassificationRefused(
                    Text(
                        f"The mock model {model.id} refused to classify (fault injection refuse_classify).",
                        f"모의 모델 {model.id} 이(가) 분류를 거부했습니다 (refuse_classify 설정).",
                    ),
                    hint=Text(
                        "Train a mock model without refuse_classify.",
                        "refuse_classify 없이 모의 모델을 학습하세요.",
                    ),
                )
            if spec.classify_delay_ms and texts:
                time.sleep(spec.classify_delay_ms / 1000.0)
        inputs = [model.input_format.apply(text) for text in texts]
        return classify_by_keywords(inputs, model.labels)

    def _trained_model(self, model_id: str) -> MockJobSpec:
        job_id = model_id.removeprefix("mock-")
        try:
            spec = self._load(job_id) if job_id != model_id else None
        except NotFoundError:
            spec = None
        if spec is None or job_state(spec, self.clock()).status is not JobStatus.SUCCEEDED:
            raise NotFoundError(
                Text(
                    f"The mock backend has no model {model_id!r}.",
                    f"모의 백엔드에 {model_id!r} 모델이 없습니다.",
                ),
                hint=Text(
                    f"Use {BUILTIN_MODEL!r} or the model of a succeeded mock job.",
                    f"{BUILTIN_MODEL!r} 또는 완료된 모의 작업의 모델을 사용하세요.",
                ),
            )
        return spec

    # -- job files ----------------------------------------------------------------------------
    def _path(self, job_id: str) -> Path:
        # Job ids become file names: accept only the shape we create, so "../x" can never escape.
        if not job_id.startswith("mockjob-") or not job_id[8:].isalnum():
            raise NotFoundError(
                Text(f"Unknown mock job {job_id!r}.", f"알 수 없는 모의 작업입니다: {job_id!r}."),
                hint=Text(
                    "Check the job id (`finsent jobs` lists them).",
                    "작업 ID를 확인하세요 (`finsent jobs` 로 목록을 볼 수 있습니다).",
                ),
                dashboard_hint=Text(
                    "Check the job id: the provider's console or the job list above shows it.",
                    "작업 ID를 확인하세요. 제공자의 콘솔이나 위의 작업 목록에 있습니다.",
                ),
            )
        return self.jobs_dir / f"{job_id}.json"

    def _load(self, job_id: str) -> MockJobSpec:
        path = self._path(job_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(
                Text(f"Unknown mock job {job_id!r}.", f"알 수 없는 모의 작업입니다: {job_id!r}."),
                hint=Text(
                    "Check the job id (`finsent jobs` lists them).",
                    "작업 ID를 확인하세요 (`finsent jobs` 로 목록을 볼 수 있습니다).",
                ),
                dashboard_hint=Text(
                    "Check the job id: the provider's console or the job list above shows it.",
                    "작업 ID를 확인하세요. 제공자의 콘솔이나 위의 작업 목록에 있습니다.",
                ),
            ) from None
        return MockJobSpec.from_dict(data)

    def _save(self, spec: MockJobSpec) -> None:
        atomic_write_text(self._path(spec.id), json.dumps(spec.to_dict(), ensure_ascii=False, indent=1))


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    """The cursor is "<events seen>:<metric points seen>"; anything else starts from the beginning."""
    if not cursor:
        return 0, 0
    try:
        events, metrics = (int(part) for part in cursor.split(":", 1))
    except ValueError:
        return 0, 0
    return max(0, events), max(0, metrics)

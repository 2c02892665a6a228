"""The local backend: real learning on the CPU with scikit-learn, offline, the default.

Training runs in a worker process (`finsent_local.worker`) that reports through its job folder, so any
process can poll the job and a worker that died is noticed (status `interrupted`). The trained model is
one `.npz` file of plain arrays under FINSENT_HOME/models/<model id>/, loaded only after its checksum
matches the one recorded at training time.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from finsent.contract import (
    Backend,
    BackendOptions,
    BaseModelInfo,
    Capability,
    DataError,
    InputError,
    JobStatus,
    JobUpdate,
    ModelInfo,
    ModelRef,
    Prediction,
    PreparedDataset,
    StartedJob,
    Text,
    TrainingData,
)
from finsent.support.jobfolder import STARTING, JobFolder
from finsent.support.workers import WorkerJobs, WorkerProcesses

# model_file and training import scikit-learn and scipy (~1.5 s): they load on first use, so registering
# the plugin (every CLI command, the dashboard's first page) stays fast.

#: workers this process started (reaped once they end)
_processes = WorkerProcesses()


class LocalOptions(BackendOptions):
    """Options of the local backend."""

    base_model: Literal["tfidf-logreg", "tfidf-kiwi-logreg"] = Field(
        "tfidf-logreg",
        description="Features: character n-grams (fast), or character n-grams + Korean morphemes (kiwipiepy).",
        json_schema_extra={
            "description_ko": "특징: 문자 n-gram(빠름), 또는 문자 n-gram + 한국어 형태소(kiwipiepy)."
        },
    )
    epochs: int = Field(
        60,
        ge=1,
        le=100,
        description="Most passes of the optimiser (L-BFGS) over the training split; it stops earlier once converged.",
        json_schema_extra={
            "description_ko": "최적화(L-BFGS)가 학습 데이터를 도는 최대 횟수입니다. 수렴하면 더 일찍 멈춥니다."
        },
    )
    alpha: float = Field(
        1e-4,
        gt=0.0,
        le=0.1,
        description="L2 regularisation strength (smaller fits the training data more closely).",
        json_schema_extra={
            "title_ko": "규제 강도 (alpha)",
            "description_ko": "L2 규제의 세기입니다. 작을수록 학습 데이터에 더 가깝게 맞춥니다.",
            "advanced": True,
        },
    )
    class_weight: Literal["balanced", "none"] = Field(
        "balanced",
        description="Weigh rare labels up so each label counts equally, or not at all.",
        json_schema_extra={
            "title_ko": "라벨 가중치",
            "description_ko": "드문 라벨에 가중치를 더 주어 모든 라벨이 똑같이 중요하게 학습되게 하거나, 주지 않습니다.",
            "choices_ko": {"balanced": "균형 (드문 라벨에 가중치)", "none": "없음"},
        },
    )
    char_ngram_max: int | None = Field(
        None,
        ge=2,
        le=6,
        description="Longest character n-gram (default: 4, or 5 with morphemes).",
        json_schema_extra={
            "title_ko": "최대 문자 n-gram 길이",
            "description_ko": "가장 긴 문자 n-gram입니다 (기본: 4, 형태소를 쓰면 5).",
            "advanced": True,
        },
    )
    epoch_delay_seconds: float = Field(
        0.0,
        ge=0.0,
        le=60.0,
        description="Pause after each epoch, to watch (or test) a slow job.",
        json_schema_extra={
            "title_ko": "에포크마다 쉬는 시간(초)",
            "description_ko": "에포크마다 잠시 멈춥니다. 느린 학습을 지켜보거나 시험할 때 씁니다.",
            "advanced": True,
        },
    )


class LocalBackend(Backend):
    name = "local"
    label = Text("Local (scikit-learn, CPU)", "로컬 (scikit-learn, CPU)")
    description = Text(
        "Trains a calibrated linear classifier on character n-grams on this computer. "
        "Offline, no key, a few seconds per thousand rows.",
        "이 컴퓨터에서 문자 n-그램으로 보정된 선형 분류기를 학습합니다. 오프라인, 키 불필요, 천 행당 몇 초.",
    )
    capabilities = frozenset({Capability.TRAIN, Capability.CANCEL, Capability.CLASSIFY, Capability.ATTACH})
    Options = LocalOptions
    classify_batch_size = 5000

    @property
    def jobs_dir(self) -> Path:
        # Absolute: the worker runs in its job folder, and its command line must name the folder the same
        # way for every process that checks it is alive (`process_alive`).
        path = (self.context.workdir(self.name) / "jobs").resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def base_models(self) -> list[BaseModelInfo]:
        return [
            BaseModelInfo(
                "tfidf-logreg",
                Text(
                    "TF-IDF character + word n-grams, NB-weighted logistic model",
                    "TF-IDF 문자·단어 n-gram + NB 가중 로지스틱 회귀",
                ),
            ),
            BaseModelInfo(
                "tfidf-kiwi-logreg",
                Text(
                    "TF-IDF character n-grams + Korean morphemes (kiwipiepy), NB-weighted logistic model",
                    "TF-IDF 문자 n-gram + 한국어 형태소(kiwipiepy) + NB 가중 로지스틱 회귀",
                ),
                description="Slower to classify: every text goes through the morphological analyser.",
            ),
        ]

    # -- 1. data preparation ------------------------------------------------------------------
    def prepare_training_data(
        self, dataset: PreparedDataset, options: BackendOptions, workdir: Path
    ) -> TrainingData:
        self._options(options)
        train = dataset.path("train")
        if not train.is_file():
            raise DataError(
                Text(
                    f"The prepared dataset {dataset.directory} has no train.csv.",
                    f"준비된 데이터셋 {dataset.directory} 에 train.csv 가 없습니다.",
                ),
                hint=Text(
                    "Prepare the data again with `finsent prepare`.",
                    "`finsent prepare` 로 데이터를 다시 준비하세요.",
                ),
                dashboard_hint=Text(
                    "Prepare the data again on the Data page.", "데이터 페이지에서 데이터를 다시 준비하세요."
                ),
            )
        # Read in place: the prepared files already are this backend's training files, and the job
        # takes its own copy in `start_training` (one copy, where the worker reads it).
        files = {"train": train}
        if dataset.path("valid").is_file():
            files["valid"] = dataset.path("valid")
        # The texts in train.csv are already model input (without separator) for this format.
        return TrainingData(
            dataset=dataset, files=files, input_format=dataset.input_format.with_separator("")
        )

    # -- 2. training --------------------------------------------------------------------------
    def start_training(self, data: TrainingData, options: BackendOptions) -> StartedJob:
        opts = self._options(options)
        token = uuid.uuid4().hex[:12]
        job_id, model_id = f"localjob-{token}", f"local-{token}"
        folder = JobFolder(self.jobs_dir / job_id)
        folder.path.mkdir(parents=True)
        # The job's own copy: a dataset deleted or prepared again never changes what a job trains on.
        files = {
            split: Path(shutil.copyfile(path, folder.path / f"{split}.csv"))
            for split, path in data.files.items()
        }
        from finsent_local.training import TrainingPlan

        plan = TrainingPlan(
            base_model=opts.base_model,
            epochs=opts.epochs,
            alpha=opts.alpha,
            balanced=opts.class_weight == "balanced",
            seed=opts.seed,
            char_ngram_max=opts.char_ngram_max,
        )
        folder.write_job(
            {
                "id": job_id,
                "model_id": model_id,
                "created_at": time.time(),
                "train_csv": str(files["train"]),
                "valid_csv": str(files["valid"]) if "valid" in files else None,
                "labels": list(data.dataset.labels.names),
                "input_format": data.input_format.to_dict(),
                "plan": plan.__dict__,
                "options": opts.model_dump(),
                "models_dir": str(self.context.settings.models_dir.resolve()),
                "epoch_delay_seconds": opts.epoch_delay_seconds,
            }
        )
        folder.write_status(status=JobStatus.VALIDATING_FILES.value, progress=0.0)
        folder.add_event(STARTING)
        # finsent_local is importable wherever finsent is installed (the package finder includes plugins/).
        _processes.start(folder, "finsent_local.worker")
        return StartedJob(job_id, JobStatus.VALIDATING_FILES, opts.base_model)

    def _options(self, options: BackendOptions) -> LocalOptions:
        if isinstance(options, LocalOptions):
            return options
        try:
            return LocalOptions.model_validate(options.model_dump())
        except ValueError as exc:
            raise InputError(f"Invalid options for the local backend: {exc}") from exc

    # -- 3. monitoring: the job folder its worker writes (finsent.support.workers) ---------------------
    @property
    def _jobs(self) -> WorkerJobs:
        return WorkerJobs(
            self.jobs_dir, "localjob-", Text("local", "로컬"), _processes,
            detail_keys=("training_seconds", "n_features", "peak_memory_mb"),
        )  # fmt: skip

    def poll_job(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        return self._jobs.poll(external_id, cursor)

    def cancel_job(self, external_id: str) -> JobStatus:
        return self._jobs.cancel(external_id)

    def list_models(self) -> list[ModelInfo]:
        return self._jobs.models(_plan_base_model)

    # -- 4. classification --------------------------------------------------------------------
    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        from finsent_local.model_file import ModelFileError, load_model

        path = model.details.get("path")
        if not path:
            raise ModelFileError(
                Text(
                    f"The model {model.id!r} has no model file recorded.",
                    f"{model.id!r} 모델에 기록된 모델 파일이 없습니다.",
                ),
                hint=Text(
                    "Use a model trained with the local backend (`finsent models`).",
                    "로컬 백엔드로 학습한 모델을 사용하세요.",
                ),
            )
        linear = load_model(str(path), model.details.get("sha256"), self.context.settings.models_dir)
        chosen, probabilities = linear.predict([model.input_format.apply(text) for text in texts])
        labels = linear.labels
        # The label is chosen with the decision biases (macro-F1); the confidence stays the calibrated
        # probability of that label, which is not always the largest one.
        return [
            Prediction(
                label=labels[i],
                confidence=float(row[i]),
                scores={name: float(p) for name, p in zip(labels, row, strict=True)},
            )
            for i, row in zip(chosen.tolist(), probabilities, strict=True)
        ]


def _plan_base_model(job: Mapping[str, object]) -> str:
    plan = job.get("plan")
    return str(plan.get("base_model", "")) if isinstance(plan, dict) else ""


__all__ = ["LocalBackend", "LocalOptions"]

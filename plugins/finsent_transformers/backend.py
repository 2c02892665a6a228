"""The transformers backend: fine-tunes open Hugging Face encoders (klue/bert-base and friends) locally.

Training runs in a worker process (`finsent_transformers.worker`) that reports through its job folder,
so any process can poll it and a worker that died is noticed (status `interrupted`), then resumed from
its last epoch checkpoint. The model is a save_pretrained folder under FINSENT_HOME/models/<model id>/,
loaded only after its digest matches the one recorded at training time. This module imports neither
torch nor transformers: registering the plugin stays instant and works without the extra installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from finsent.contract import (
    Availability,
    Backend,
    BackendOptions,
    BaseModelInfo,
    Capability,
    DataError,
    InputError,
    JobStatus,
    JobUpdate,
    LabelSet,
    ModelInfo,
    ModelRef,
    Prediction,
    PreparedDataset,
    StartedJob,
    Text,
    TrainingData,
)
from finsent.support.workers import WorkerJobs
from finsent_transformers.errors import INSTALL_COMMAND, INSTALL_SHORT, ModelFolderError, missing_extra
from finsent_transformers.jobfiles import JobFolder
from finsent_transformers.options import TransformersOptions
from finsent_transformers.process import PROCESSES, start_worker

#: what the extra installs; each is checked without importing it (torch alone takes seconds)
REQUIRED_PACKAGES = ("torch", "transformers", "safetensors", "tokenizers", "huggingface_hub")
JOB_PREFIX = "tfjob-"

BASE_MODELS = [
    BaseModelInfo("klue/bert-base", "KLUE BERT base (Korean, 110M parameters)", description="The default."),
    BaseModelInfo(
        "snunlp/KR-FinBert-SC",
        "KR-FinBERT-SC (Korean finance, already a sentiment classifier)",
        description="Also usable as-is without training (a ready model).",
    ),
    BaseModelInfo("klue/roberta-base", "KLUE RoBERTa base (Korean)"),
    BaseModelInfo("monologg/koelectra-base-v3-discriminator", "KoELECTRA base v3 (Korean)"),
    BaseModelInfo("intfloat/multilingual-e5-base", "multilingual E5 base (278M parameters, slower)"),
]


def missing_packages() -> list[str]:
    missing = []
    for name in REQUIRED_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules, a broken package
            found = False
        if not found:
            missing.append(name)
    return missing


class TransformersBackend(Backend):
    name = "transformers"
    label = Text("Transformers (Hugging Face encoders, local)", "트랜스포머 (Hugging Face 인코더, 로컬)")
    description = Text(
        "Fine-tunes an open encoder such as klue/bert-base on this computer (CPU or GPU). "
        "Offline once the model is downloaded; minutes per epoch on a CPU, seconds on a GPU.",
        "klue/bert-base 같은 공개 인코더를 이 컴퓨터(CPU 또는 GPU)에서 미세 조정합니다. "
        "모델을 한 번 내려받으면 오프라인으로 동작하며, CPU 에서는 에폭당 몇 분, GPU 에서는 몇 초가 걸립니다.",
    )
    capabilities = frozenset(
        {
            Capability.TRAIN,
            Capability.CANCEL,
            Capability.CLASSIFY,
            Capability.ATTACH,
            Capability.RESUME,
            Capability.READY,
        }
    )
    Options = TransformersOptions
    classify_batch_size = 256

    @property
    def jobs_dir(self) -> Path:
        path = self.context.workdir(self.name) / "jobs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def availability(self) -> Availability:
        missing = missing_packages()
        if not missing:
            return Availability(True)
        names = ", ".join(missing)
        return Availability(
            False,
            Text(
                f"needs the transformers extra ({names} missing): {INSTALL_SHORT}; CPU-only torch first: {INSTALL_COMMAND}",
                f"transformers 추가 패키지가 필요합니다 ({names} 없음): {INSTALL_SHORT}; CPU 전용 torch 를 먼저: {INSTALL_COMMAND}",
            ),
        )

    def setting(self, name: str) -> str:
        """A classification setting: the backend config, else FINSENT_TRANSFORMERS_<NAME> ("" when unset)."""
        value = self.context.config.get(name) or os.environ.get(f"FINSENT_TRANSFORMERS_{name.upper()}", "")
        return str(value).strip()

    def _require_extra(self) -> None:
        missing = missing_packages()
        if missing:
            raise missing_extra(", ".join(missing))

    def base_models(self) -> list[BaseModelInfo]:
        return list(BASE_MODELS)

    # -- 1. data preparation ------------------------------------------------------------------
    def prepare_training_data(
        self, dataset: PreparedDataset, options: BackendOptions, workdir: Path
    ) -> TrainingData:
        opts = self._options(options)
        self._require_extra()
        from finsent_transformers import sources

        located = sources.locate(opts.base_model)  # a hub id that cannot be had fails here, in seconds
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
        return TrainingData(
            dataset=dataset,
            files=files,
            input_format=dataset.input_format.with_separator(""),  # texts in train.csv are model input
            details={"base_folder": str(located.folder) if located.folder else None},
        )

    # -- 2. training --------------------------------------------------------------------------
    def start_training(self, data: TrainingData, options: BackendOptions) -> StartedJob:
        opts = self._options(options)
        self._require_extra()
        base_folder = data.details.get("base_folder")
        if not base_folder:
            from finsent_transformers import sources

            located = sources.locate(opts.base_model)
            base_folder = str(located.folder) if located.folder else None
        token = uuid.uuid4().hex[:12]
        job_id, model_id = f"{JOB_PREFIX}{token}", f"transformers-{token}"
        folder = JobFolder(self.jobs_dir / job_id)
        folder.path.mkdir(parents=True)
        files = {
            split: Path(shutil.copyfile(path, folder.path / f"{split}.csv"))
            for split, path in data.files.items()
        }
        folder.write_job(
            {
                "id": job_id,
                "model_id": model_id,
                "created_at": time.time(),
                "train_csv": str(files["train"]),
                "valid_csv": str(files["valid"]) if "valid" in files else None,
                "labels": list(data.dataset.labels.names),
                "input_format": data.input_format.to_dict(),
                "base_model": opts.base_model,
                "base_folder": base_folder,
                "options": opts.model_dump(),
                "models_dir": str(self.context.settings.models_dir),
            }
        )
        folder.write_status(status=JobStatus.VALIDATING_FILES.value, progress=0.0)
        folder.add_event(
            Text(
                f"Job created for {opts.base_model}; starting the training process",
                f"{opts.base_model} 작업을 만들었습니다. 학습 프로세스를 시작합니다",
            )
        )
        start_worker(folder, offline=base_folder is not None)
        return StartedJob(job_id, JobStatus.VALIDATING_FILES, opts.base_model)

    def _options(self, options: BackendOptions) -> TransformersOptions:
        if isinstance(options, TransformersOptions):
            return options
        try:
            return TransformersOptions.model_validate(options.model_dump())
        except ValueError as exc:
            raise InputError(
                Text(
                    f"Invalid options for the transformers backend: {exc}",
                    f"transformers 백엔드의 옵션이 올바르지 않습니다: {exc}",
                )
            ) from exc

    # -- 3. monitoring: the job folder its worker writes (finsent.support.workers) ---------------------
    @property
    def _jobs(self) -> WorkerJobs:
        return WorkerJobs(
            self.jobs_dir, JOB_PREFIX, Text("transformers", "transformers"), PROCESSES,
            detail_keys=("training_seconds", "peak_memory_mb", "best", "max_length", "device", "precision",
                         "int8", "epochs_trained", "resumed"),
            after_death=_after_death, extra_details=_checkpoint_details, folder_class=JobFolder,
        )  # fmt: skip

    def _folder(self, external_id: str) -> JobFolder:
        folder = self._jobs.folder(external_id)
        assert isinstance(folder, JobFolder)
        return folder

    def _settle(self, folder: JobFolder) -> dict[str, object]:
        return self._jobs.settle(folder)

    def poll_job(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        return self._jobs.poll(external_id, cursor)

    def cancel_job(self, external_id: str) -> JobStatus:
        return self._jobs.cancel(external_id)

    def resume_interrupted(self, external_id: str) -> JobStatus:
        """Start a new worker on an interrupted job; it continues from the last epoch checkpoint."""
        folder = self._folder(external_id)
        status = JobStatus(self._settle(folder)["status"])
        if not status.is_terminal:
            return status  # already running again
        if status is not JobStatus.INTERRUPTED:
            raise InputError(
                Text(
                    f"The job {external_id} is {status.value}; only an interrupted job can be resumed.",
                    f"{external_id} 작업은 {status.value} 상태입니다. 중단된(interrupted) 작업만 이어서 학습할 수 있습니다.",
                ),
                hint=Text("Start a new training job instead.", "새 학습 작업을 시작하세요."),
            )
        self._require_extra()
        checkpoint = _checkpoint_summary(folder)
        job = folder.read_job()
        # The new worker's pid is written before the status changes, so a poll in between never sees
        # a running job without a live worker (which it would mark interrupted again).
        start_worker(folder, offline=bool(job.get("base_folder")))
        resumed = int(folder.read_status().get("resumed", 0) or 0) + 1
        folder.write_status(
            status=JobStatus.VALIDATING_FILES.value, error=None, error_ko=None, resumed=resumed
        )
        folder.add_event(
            Text(
                f"Resuming from the checkpoint of epoch {checkpoint['epoch']} (step {checkpoint['step']})",
                f"에포크 {checkpoint['epoch']}(스텝 {checkpoint['step']})의 체크포인트부터 재개합니다",
            )
            if checkpoint
            else Text(
                "Resuming: no epoch was completed before the interruption, so training starts over",
                "재개: 중단 전에 끝난 에포크가 없어 처음부터 다시 학습합니다",
            )
        )
        return JobStatus.VALIDATING_FILES

    def list_models(self) -> list[ModelInfo]:
        return self._jobs.models(lambda job: str(job.get("base_model", "")))

    # -- 4. classification --------------------------------------------------------------------
    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        path = model.details.get("path")
        if not path:
            raise ModelFolderError(
                Text(
                    f"The model {model.id!r} has no model folder recorded.",
                    f"{model.id!r} 모델에 기록된 모델 폴더가 없습니다.",
                ),
                hint=Text(
                    "Use a model trained with the transformers backend, or add a ready model.",
                    "transformers 백엔드로 학습한 모델을 쓰거나 준비된 모델을 추가하세요.",
                ),
            )
        self._require_extra()
        from finsent_transformers import inference, sources
        from finsent_transformers.model_folder import read_meta

        folder = sources.folder_of(sources.locate(str(path)))
        meta = read_meta(folder)
        int8 = model.details.get("int8")
        if not isinstance(int8, bool):
            int8 = bool(meta.get("int8", {}).get("validated", False))
        if self.setting("int8").lower() in ("off", "0", "false", "no"):
            int8 = False
        device = inference.pick_inference_device(self.setting("device") or "auto")
        threads = self.setting("threads")
        if threads.isdigit() and int(threads) > 0:
            inference.torch.set_num_threads(int(threads))
        max_length = model.details.get("max_length")
        classifier = inference.load(
            folder, model.details.get("sha256"), device, int8, int(max_length) if max_length else None
        )
        label_map = _label_map(model, classifier.model_labels)
        probabilities = classifier.probabilities([model.input_format.apply(text) for text in texts]).tolist()
        ours = list(model.labels.names)
        predictions = []
        for row in probabilities:
            scores = dict.fromkeys(ours, 0.0)
            for model_label, p in zip(classifier.model_labels, row, strict=True):
                scores[label_map[model_label]] += p
            scores = {k: min(1.0, max(0.0, v)) for k, v in scores.items()}
            best = max(ours, key=lambda name: scores[name])
            predictions.append(Prediction(label=best, confidence=scores[best], scores=scores))
        return predictions

    # -- without training: ready models -----------------------------------------------------------
    def ready_model_ref(
        self,
        source: str,
        labels: LabelSet | Sequence[str] | None = None,
        label_map: Mapping[str, str] | None = None,
        model_id: str | None = None,
        int8: bool = False,
    ) -> ModelRef:
        """A ModelRef for a model that already is a sentiment classifier (see finsent_transformers.ready)."""
        self._require_extra()
        from finsent_transformers.ready import ready_model_ref

        return ready_model_ref(source, labels, label_map, model_id, int8)


def _label_map(model: ModelRef, model_labels: Sequence[str]) -> dict[str, str]:
    """The recorded map, or the identity for a model trained here (its labels are ours)."""
    recorded = model.details.get("label_map")
    ours = set(model.labels.names)
    mapping = dict(recorded) if isinstance(recorded, Mapping) else {name: name for name in model_labels}
    missing = [m for m in model_labels if mapping.get(m) not in ours]
    if missing:
        raise ModelFolderError(
            Text(
                f"The model {model.id!r} has labels {missing} that map to none of {sorted(ours)}.",
                f"{model.id!r} 모델의 라벨 {missing} 이(가) {sorted(ours)} 중 어느 것에도 대응되지 않습니다.",
            ),
            hint=Text(
                "Add the model again with a label map covering all its labels.",
                "모든 라벨을 포함하는 라벨 매핑으로 모델을 다시 추가하세요.",
            ),
        )
    return mapping


def _checkpoint_summary(folder: JobFolder) -> dict[str, int] | None:
    return folder.checkpoint_summary()


def _checkpoint_details(folder: object) -> dict[str, object]:
    checkpoint = folder.checkpoint_summary() if isinstance(folder, JobFolder) else None
    return {"checkpoint": checkpoint} if checkpoint else {}


def _after_death(folder: object) -> Text:
    """What to do about a job whose worker died: resume it, from its last checkpoint if it has one."""
    checkpoint = folder.checkpoint_summary() if isinstance(folder, JobFolder) else None
    if checkpoint:
        return Text(
            f"Resume it to continue from the checkpoint of epoch {checkpoint['epoch']}.",
            f"재개하면 에포크 {checkpoint['epoch']}의 체크포인트부터 이어서 학습합니다.",
        )
    return Text(
        "Resume it to start it again (no epoch was completed).",
        "재개하면 처음부터 다시 학습합니다(끝난 에포크가 없습니다).",
    )


__all__ = ["TransformersBackend"]

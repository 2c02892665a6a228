"""The local training worker: `python -m finsent_local.worker JOB_DIR`, started by the local backend.

It runs in its own process (and session), so training survives Streamlit reruns and page switches and
can be cancelled with a signal. It reports only through the job folder (see `jobfiles`): status in
status.json, events and per-epoch metrics in progress.jsonl.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import pandas as pd

from finsent.contract import JobStatus, MetricPoint, Text
from finsent.support.jobfolder import SUCCEEDED, JobFolder
from finsent.support.workers import worker_main
from finsent_local.training import TrainingPlan, train_model


class InvalidTrainingData(Exception):
    """The training files cannot be trained on; the job fails in validating_files."""


def _read_split(path: str, labels: list[str], split: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"text": str, "label": str}, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InvalidTrainingData(f"cannot read the {split} file {path}: {exc}") from exc
    missing = {"text", "label"} - set(frame.columns)
    if missing:
        raise InvalidTrainingData(f"the {split} file {path} lacks the column(s) {sorted(missing)}")
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise InvalidTrainingData(f"the {split} file has labels outside the label set: {unknown[:5]}")
    return frame


def run(folder: JobFolder) -> None:
    job = folder.read_job()
    labels: list[str] = list(job["labels"])
    folder.write_status(status=JobStatus.VALIDATING_FILES.value)
    folder.add_event(
        Text("Validating the training and validation files", "학습 파일과 검증 파일을 확인하는 중입니다")
    )
    try:
        train = _read_split(job["train_csv"], labels, "training")
        valid = _read_split(job["valid_csv"], labels, "validation") if job.get("valid_csv") else None
        if train["label"].nunique() < 2:
            raise InvalidTrainingData("the training split needs at least two different labels")
    except InvalidTrainingData as exc:
        message = f"invalid_training_file: {exc}"
        folder.add_event(message, "error")
        folder.write_status(status=JobStatus.FAILED.value, error=message)
        return

    plan = TrainingPlan(**job["plan"])
    delay = float(job.get("epoch_delay_seconds", 0.0))
    n_valid = 0 if valid is None else len(valid)
    folder.write_status(status=JobStatus.RUNNING.value, progress=0.0)
    folder.add_event(
        Text(
            f"Training {plan.base_model} on {len(train):,} texts ({n_valid:,} for validation), {plan.epochs} epochs",
            f"{plan.base_model} 학습: 문장 {len(train):,}개(검증 {n_valid:,}개), 에포크 {plan.epochs}회",
        )
    )
    started = time.monotonic()

    def on_epoch(point: MetricPoint) -> None:
        folder.add_metric(point)
        has_valid = point.valid_loss is not None
        folder.add_event(
            Text(
                f"Epoch {point.step}/{plan.epochs}: train loss {point.train_loss:.4f}, "
                f"train accuracy {point.train_accuracy:.4f}"
                + (
                    f", valid loss {point.valid_loss:.4f}, valid accuracy {point.valid_accuracy:.4f}"
                    if has_valid
                    else ""
                ),
                f"에포크 {point.step}/{plan.epochs}: 학습 손실 {point.train_loss:.4f}, "
                f"학습 정확도 {point.train_accuracy:.4f}"
                + (
                    f", 검증 손실 {point.valid_loss:.4f}, 검증 정확도 {point.valid_accuracy:.4f}"
                    if has_valid
                    else ""
                ),
            )
        )
        folder.write_status(progress=round(point.step / plan.epochs * 0.9, 4))
        if delay:
            time.sleep(delay)  # demos and tests: a job slow enough to watch, cancel or kill

    model = train_model(
        train["text"].tolist(),
        train["label"].tolist(),
        [] if valid is None else valid["text"].tolist(),
        [] if valid is None else valid["label"].tolist(),
        labels,
        plan,
        on_epoch,
        folder.add_event,
    )
    model.meta["input_format"] = job.get("input_format", {})
    model.meta["job_id"] = job["id"]
    path = Path(job["models_dir"]) / job["model_id"] / "model.npz"
    sha256 = model.save(path)
    seconds = time.monotonic() - started
    size_mb = path.stat().st_size / 1e6
    folder.add_event(
        Text(
            f"Model saved: {job['model_id']} ({size_mb:.1f} MB) after {seconds:.1f} s",
            f"모델 저장: {job['model_id']} ({size_mb:.1f} MB), {seconds:.1f}초 걸림",
        )
    )
    # the last event before the status: a poll reads the status first, so one that sees the job end
    # has every event of it, and polling again brings nothing new
    folder.add_event(SUCCEEDED)
    folder.write_status(
        status=JobStatus.SUCCEEDED.value,
        progress=1.0,
        fine_tuned_model=job["model_id"],
        model_file={"path": str(path), "sha256": sha256},
        training_seconds=round(seconds, 3),
        n_features=model.featurizer.n_features,
        peak_memory_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


def main(argv: list[str] | None = None) -> int:
    return worker_main(argv, "finsent_local.worker", run)


if __name__ == "__main__":
    sys.exit(main())

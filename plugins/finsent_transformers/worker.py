"""The training worker: `python -m finsent_transformers.worker JOB_DIR`, started by the backend.

It runs in its own process and session, so training survives Streamlit reruns and can be cancelled with a
signal; it reports only through the job folder (see `jobfiles`). Started again on a job whose worker died,
it continues from the last epoch checkpoint: metric points of steps already reported by the dead worker
are not reported twice, so the job's curve keeps strictly increasing steps.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import sys
import time
from pathlib import Path

from finsent.contract import JobStatus, MetricPoint, Text
from finsent.support.workers import worker_main
from finsent_transformers.jobfiles import PROGRESS, SUCCEEDED, JobFolder
from finsent_transformers.options import TransformersOptions


class InvalidTrainingData(Exception):
    """The training files cannot be trained on; the job fails in validating_files."""


def read_split(path: str, labels: list[str], split: str) -> tuple[list[str], list[int]]:
    index = {name: i for i, name in enumerate(labels)}
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidTrainingData(f"cannot read the {split} file {path}: {exc}") from exc
    if rows and not {"text", "label"} <= set(rows[0]):
        raise InvalidTrainingData(f"the {split} file {path} needs the columns text and label")
    unknown = sorted({row["label"] for row in rows} - set(index))
    if unknown:
        raise InvalidTrainingData(f"the {split} file has labels outside the label set: {unknown[:5]}")
    return [row["text"] or "" for row in rows], [index[row["label"]] for row in rows]


def last_reported_step(folder: JobFolder) -> int:
    """The highest metric step already in the job's progress file (0 for a new job)."""
    last = 0
    try:
        with open(folder.path / PROGRESS, encoding="utf-8") as handle:
            for line in handle:
                if line.endswith("\n") and '"kind": "metric"' in line:
                    last = max(last, int(json.loads(line)["step"]))
    except FileNotFoundError:
        pass
    return last


class FolderReporter:
    """Training progress into the job folder; steps up to `skip_through` were reported by a dead worker."""

    def __init__(self, folder: JobFolder, skip_through: int) -> None:
        self.folder, self.skip_through = folder, skip_through
        self._progress_at = 0.0

    def event(self, message: str | Text, level: str = "info") -> None:
        self.folder.add_event(message, level)

    def metric(self, point: MetricPoint) -> None:
        if point.step > self.skip_through:
            self.folder.add_metric(point)

    def progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._progress_at >= 1.0 or fraction >= 1.0:  # status.json at most once a second
            self._progress_at = now
            self.folder.write_status(progress=round(0.05 + 0.9 * fraction, 4))


def run(folder: JobFolder) -> None:
    job = folder.read_job()
    labels: list[str] = list(job["labels"])
    opts = TransformersOptions.model_validate(job["options"])
    folder.write_status(status=JobStatus.VALIDATING_FILES.value)
    try:
        train = read_split(job["train_csv"], labels, "training")
        valid = read_split(job["valid_csv"], labels, "validation") if job.get("valid_csv") else None
        if len(set(train[1])) < 2:
            raise InvalidTrainingData("the training split needs at least two different labels")
    except InvalidTrainingData as exc:
        message = f"invalid_training_file: {exc}"
        folder.add_event(message, "error")
        folder.write_status(status=JobStatus.FAILED.value, error=message)
        return

    from finsent_transformers import sources

    base = sources.ModelSource(
        job["base_model"], Path(job["base_folder"]) if job.get("base_folder") else None
    )
    if base.folder is None:
        folder.add_event(
            Text(
                f"Downloading {base.name} from the Hugging Face hub (safetensors, config, tokenizer)",
                f"Hugging Face 허브에서 {base.name} 내려받는 중(safetensors, 설정, 토크나이저)",
            )
        )
    base_folder = sources.folder_of(base)
    os.environ["HF_HUB_OFFLINE"] = "1"  # from here on every file is local: nothing may reach the network
    folder.write_status(status=JobStatus.RUNNING.value, progress=0.02)
    folder.add_event(Text(f"Loading {base.name} ({base_folder})", f"{base.name} 불러오는 중({base_folder})"))

    from finsent_transformers import finalize
    from finsent_transformers.training import Split, fine_tune

    started = time.monotonic()
    reporter = FolderReporter(folder, last_reported_step(folder))
    trained = fine_tune(
        folder.path,
        base_folder,
        labels,
        Split(*train),
        Split(*valid) if valid and valid[0] else None,
        opts,
        reporter,
    )
    result = finalize.save_model(job, trained, Split(*valid) if valid and valid[0] else None, opts, reporter)
    seconds = time.monotonic() - started
    folder.add_event(
        Text(
            f"Model saved: {job['model_id']} ({result['size_mb']:.1f} MB) after {seconds:.1f} s",
            f"모델 저장: {job['model_id']} ({result['size_mb']:.1f} MB), {seconds:.1f}초 걸림",
        )
    )
    # the last event before the status: a poll reads the status first, so one that sees the job end
    # has every event of it, and polling again brings nothing new
    folder.add_event(SUCCEEDED)
    folder.write_status(
        status=JobStatus.SUCCEEDED.value,
        progress=1.0,
        fine_tuned_model=job["model_id"],
        model_file={"path": result["path"], "sha256": result["sha256"]},
        training_seconds=round(seconds, 3),
        peak_memory_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **{
            key: result[key]
            for key in ("best", "max_length", "device", "precision", "int8", "epochs_trained")
        },
    )


def main(argv: list[str] | None = None) -> int:
    return worker_main(argv, "finsent_transformers.worker", run, folder_class=JobFolder)


if __name__ == "__main__":
    sys.exit(main())

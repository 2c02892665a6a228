"""The hello backend: for every label, the words most specific to it; a text goes to the label whose
words it contains most (weighted by how specific they are). Trains in well under a second, offline."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from finsent.contract import (
    Backend,
    BackendOptions,
    BaseModelInfo,
    Capability,
    InputError,
    JobEvent,
    JobStatus,
    JobUpdate,
    MetricPoint,
    ModelRef,
    NotFoundError,
    Prediction,
    PreparedDataset,
    StartedJob,
    TrainingData,
)
from finsent.support import atomic_write_bytes, atomic_write_text

_WORD = re.compile(r"\w+", re.UNICODE)


class HelloOptions(BackendOptions):
    base_model: str = Field("keywords", description="The only model kind: keyword counting.")
    words_per_label: int = Field(50, ge=1, le=1000, description="How many specific words to keep per label.")
    min_count: int = Field(2, ge=1, le=100, description="Ignore words seen fewer times than this.")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def learn_keywords(
    texts: Sequence[str], labels: Sequence[str], names: Sequence[str], top: int, min_count: int
) -> dict[str, dict[str, float]]:
    """label -> {word: weight}: weight = log of how much likelier the word is in that label than elsewhere."""
    per_label: dict[str, Counter[str]] = {name: Counter() for name in names}
    for text, label in zip(texts, labels, strict=True):
        if label in per_label:
            per_label[label].update(set(words(text)))
    overall = sum(per_label.values(), Counter())
    docs = Counter(labels)
    keywords: dict[str, dict[str, float]] = {}
    for name in names:
        inside, outside = max(docs[name], 1), max(sum(docs.values()) - docs[name], 1)
        scored = []
        for word, count in per_label[name].items():
            if overall[word] < min_count:
                continue
            ratio = ((count + 0.5) / inside) / ((overall[word] - count + 0.5) / outside)
            if ratio > 1:
                scored.append((math.log(ratio), word))
        scored.sort(reverse=True)
        keywords[name] = {word: round(weight, 6) for weight, word in scored[:top]}
    return keywords


def predict(model: dict[str, Any], text: str) -> Prediction:
    names = model["labels"]
    tokens = words(text)
    totals = [
        sum(model["keywords"][name].get(t, 0.0) for t in tokens) + model["prior"][name] for name in names
    ]
    peak = max(totals)
    exps = [math.exp(v - peak) for v in totals]
    scores = {name: e / sum(exps) for name, e in zip(names, exps, strict=True)}
    label = max(names, key=lambda n: scores[n])
    return Prediction(label=label, confidence=scores[label], scores=scores)


class HelloBackend(Backend):
    name = "hello"
    label = "Hello keywords (example plugin)"
    description = "Counts the words most specific to each label. An example of a third-party backend."
    capabilities = frozenset({Capability.TRAIN, Capability.CLASSIFY})
    Options = HelloOptions
    classify_batch_size = 2000

    def base_models(self) -> list[BaseModelInfo]:
        return [BaseModelInfo(id="keywords", label="Keyword counting")]

    def _job_file(self, external_id: str) -> Path:
        return self.context.workdir(self.name) / f"{external_id}.json"

    def prepare_training_data(
        self, dataset: PreparedDataset, options: BackendOptions, workdir: Path
    ) -> TrainingData:
        if dataset.frame("train").empty:
            raise InputError("The training split is empty.", hint="Prepare more labelled rows.")
        return TrainingData(
            dataset=dataset, files={"train": dataset.path("train")}, input_format=dataset.input_format
        )

    def start_training(self, data: TrainingData, options: BackendOptions) -> StartedJob:
        assert isinstance(options, HelloOptions)
        names = list(data.dataset.labels.names)
        train, valid = data.dataset.frame("train"), data.dataset.frame("valid")
        fmt = data.input_format
        texts = [fmt.apply(t) for t in train["text"]]
        counts = Counter(train["label"])
        model = {
            "labels": names,
            "keywords": learn_keywords(
                texts, list(train["label"]), names, options.words_per_label, options.min_count
            ),
            "prior": {n: math.log((counts[n] + 1) / (len(train) + len(names))) for n in names},
        }
        external_id = f"hello-{uuid.uuid4().hex[:12]}"
        # finsent only loads model files under FINSENT_HOME/models whose sha256 it recorded.
        model_dir = self.context.settings.models_dir / self.name
        body = json.dumps(model, ensure_ascii=False, sort_keys=True).encode("utf-8")
        path = model_dir / f"{external_id}.json"
        atomic_write_bytes(path, body)  # a crash never leaves a half-written model file

        def accuracy(frame: Any) -> float | None:
            if frame.empty:
                return None
            hits = sum(
                predict(model, fmt.apply(t)).label == y
                for t, y in zip(frame["text"], frame["label"], strict=True)
            )
            return hits / len(frame)

        state = {
            "model": f"{external_id}-model",
            "path": str(path),
            "sha256": hashlib.sha256(body).hexdigest(),
            "train_accuracy": accuracy(train),
            "valid_accuracy": accuracy(valid),
            "finished_at": time.time(),
        }
        atomic_write_text(self._job_file(external_id), json.dumps(state))
        return StartedJob(external_id=external_id, status=JobStatus.QUEUED, base_model="keywords")

    def poll_job(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        path = self._job_file(external_id)
        if not path.is_file():
            raise NotFoundError(f"The hello backend has no job {external_id!r}.")
        state = json.loads(path.read_text())
        if cursor == "done":
            return JobUpdate(status=JobStatus.SUCCEEDED, cursor="done", fine_tuned_model=state["model"])
        return JobUpdate(
            status=JobStatus.SUCCEEDED,
            events=[JobEvent(state["finished_at"], "Learned the most label-specific words.")],
            metrics=[
                MetricPoint(
                    step=1,
                    epoch=1,
                    train_accuracy=state["train_accuracy"],
                    valid_accuracy=state["valid_accuracy"],
                )
            ],
            cursor="done",
            fine_tuned_model=state["model"],
            progress=1.0,
            details={"model_file": {"path": state["path"], "sha256": state["sha256"]}},
        )

    def _load(self, model: ModelRef) -> dict[str, Any]:
        path = Path(str(model.details.get("path", "")))
        root = self.context.settings.models_dir.resolve()
        if not path.is_file() or root not in path.resolve().parents:
            raise NotFoundError(f"The model file of {model.id} is missing.", hint="Train the model again.")
        body = path.read_bytes()
        if hashlib.sha256(body).hexdigest() != model.details.get("sha256"):
            raise InputError(
                f"The model file of {model.id} was changed after training; finsent will not load it."
            )
        return json.loads(body)

    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        loaded = self._load(model)
        return [predict(loaded, model.input_format.apply(t)) for t in texts]

"""A scripted backend for the core's tests, loaded as a real plugins-dir file (FINSENT_PLUGINS_DIR).

Training: each poll advances the job one stage (validating_files, queued, running steps 1..N, succeeded),
with events and metric points; state lives in a JSON file so another process or a new service sees it.
Classification: a transparent keyword rule. Behaviour for tests comes from environment variables so that a
subprocess behaves the same:
  FINSENT_SCRIPTED_DELAY       seconds to sleep in every classify call
  FINSENT_SCRIPTED_FAIL_CALL   the n-th classify call (1-based, per process) raises a FinsentError
  FINSENT_SCRIPTED_LOG         file where every classify call appends one JSON line with its texts
  FINSENT_SCRIPTED_FAIL_STEP   training fails at this step
  FINSENT_SCRIPTED_POLL_ERROR  every poll raises this message
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from finsent import hookimpl
from finsent.contract.backend import (
    Backend,
    BackendOptions,
    BaseModelInfo,
    Capability,
    JobEvent,
    JobStatus,
    JobUpdate,
    MetricPoint,
    ModelRef,
    Prediction,
    StartedJob,
    TrainingData,
)
from finsent.contract.dataset import PreparedDataset
from finsent.contract.errors import FinsentError, InputError, NotFoundError

KEYWORDS = {"positive": ("up", "gain", "상승", "호조"), "negative": ("down", "loss", "하락", "부진")}


class ScriptedOptions(BackendOptions):
    base_model: str = Field("kw-1", description="Base model.")
    epochs: int = Field(2, ge=1, le=10, description="Training epochs.")
    steps_per_epoch: int = Field(2, ge=1, le=100, description="Steps per epoch.")
    reject_file: bool = Field(False, description="Fail in data preparation.")


class ScriptedBackend(Backend):
    name = "scripted"
    label = "Scripted"
    description = "Scripted backend for core tests."
    capabilities = frozenset({Capability.TRAIN, Capability.CLASSIFY, Capability.CANCEL})
    Options = ScriptedOptions
    classify_batch_size = 10

    _calls = 0
    _calls_lock = threading.Lock()

    def base_models(self) -> list[BaseModelInfo]:
        return [BaseModelInfo(id="kw-1", label="Keyword rule")]

    def _state_path(self, external_id: str) -> Path:
        return self.context.workdir(self.name) / f"{external_id}.json"

    def prepare_training_data(
        self, dataset: PreparedDataset, options: BackendOptions, workdir: Path
    ) -> TrainingData:
        assert isinstance(options, ScriptedOptions)
        if options.reject_file:
            raise InputError("The scripted backend rejected the training file.")
        path = workdir / "train.txt"
        path.write_text("\n".join(dataset.frame("train")["text"]), encoding="utf-8")
        return TrainingData(
            dataset=dataset, files={"train": path}, details={"rows": len(dataset.frame("train"))}
        )

    def start_training(self, data: TrainingData, options: BackendOptions) -> StartedJob:
        assert isinstance(options, ScriptedOptions)
        external_id = f"scr-{time.time_ns()}"
        state = {
            "polls": 0,
            "epochs": options.epochs,
            "steps_per_epoch": options.steps_per_epoch,
            "cancelled": False,
        }
        self._state_path(external_id).write_text(json.dumps(state))
        return StartedJob(
            external_id=external_id, status=JobStatus.VALIDATING_FILES, base_model=options.base_model
        )

    def _load(self, external_id: str) -> dict:
        path = self._state_path(external_id)
        if not path.exists():
            raise NotFoundError(f"Unknown scripted job {external_id!r}.")
        return json.loads(path.read_text())

    def poll_job(self, external_id: str, cursor: str | None = None) -> JobUpdate:
        if os.environ.get("FINSENT_SCRIPTED_POLL_ERROR"):
            raise FinsentError(os.environ["FINSENT_SCRIPTED_POLL_ERROR"])
        state = self._load(external_id)
        seen = int(cursor or 0)
        if state["cancelled"]:
            return JobUpdate(status=JobStatus.CANCELLED, cursor=str(seen))
        state["polls"] += 1
        self._state_path(external_id).write_text(json.dumps(state))
        total = state["epochs"] * state["steps_per_epoch"]
        fail_step = int(os.environ.get("FINSENT_SCRIPTED_FAIL_STEP") or 0)
        polls = state["polls"]
        events, metrics = [], []
        # stage per poll: 1 validating, 2 queued, 3.. running steps, then succeeded
        for poll in range(seen + 1, polls + 1):
            step = poll - 2
            if poll == 1:
                events.append(JobEvent(time.time(), "Validating files.", id=f"{external_id}-v"))
            elif poll == 2:
                events.append(JobEvent(time.time(), "Queued.", id=f"{external_id}-q"))
            elif 1 <= step <= total:
                loss = 1.0 / step
                metrics.append(
                    MetricPoint(step=step, epoch=(step - 1) // state["steps_per_epoch"] + 1, train_loss=loss,
                                train_accuracy=1 - loss / 2, valid_loss=loss * 1.1, valid_accuracy=1 - loss / 1.8)
                )  # fmt: skip
                events.append(JobEvent(time.time(), f"Step {step}/{total}.", id=f"{external_id}-s{step}"))
        step = polls - 2
        if fail_step and step >= fail_step:
            return JobUpdate(
                JobStatus.FAILED, events, metrics, str(polls), error=f"failed at step {fail_step}"
            )
        if polls == 1:
            return JobUpdate(JobStatus.VALIDATING_FILES, events, metrics, str(polls), progress=0.0)
        if polls == 2:
            return JobUpdate(JobStatus.QUEUED, events, metrics, str(polls), progress=0.0)
        if step <= total:
            return JobUpdate(JobStatus.RUNNING, events, metrics, str(polls), progress=step / total)
        return JobUpdate(
            JobStatus.SUCCEEDED, events, metrics, str(polls), fine_tuned_model=f"{external_id}-model",
            progress=1.0, details={"rule": "keywords"},
        )  # fmt: skip

    def cancel_job(self, external_id: str) -> JobStatus:
        state = self._load(external_id)
        state["cancelled"] = True
        self._state_path(external_id).write_text(json.dumps(state))
        return JobStatus.CANCELLED

    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        with ScriptedBackend._calls_lock:
            ScriptedBackend._calls += 1
            call = ScriptedBackend._calls
        log = os.environ.get("FINSENT_SCRIPTED_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(list(texts), ensure_ascii=False) + "\n")
        if int(os.environ.get("FINSENT_SCRIPTED_FAIL_CALL") or 0) == call:
            raise FinsentError(f"Scripted failure on classify call {call}.")
        delay = float(os.environ.get("FINSENT_SCRIPTED_DELAY") or 0)
        if delay:
            time.sleep(delay)
        names = list(model.labels.names)
        out = []
        for text in texts:
            value = model.input_format.apply(text)
            if "???" in value:  # an answer outside the label set
                out.append(
                    Prediction(label="unknown", confidence=0.0, scores=dict.fromkeys(names, 0.0), raw="maybe")
                )
                continue
            label = next(
                (lab for lab, words in KEYWORDS.items() if lab in names and any(w in value for w in words)),
                None,
            )
            label = label or ("neutral" if "neutral" in names else names[0])
            scores = {n: (0.8 if n == label else 0.2 / (len(names) - 1)) for n in names}
            out.append(Prediction(label=label, confidence=0.8, scores=scores))
        return out


@hookimpl
def register_backends(register):
    register(ScriptedBackend)

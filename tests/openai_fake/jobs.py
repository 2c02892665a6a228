"""Fine-tuning jobs and batches of the fake server: a realistic lifecycle, driven by the clock.

A job goes validating_files -> queued -> running (metric events step by step, a checkpoint at each epoch
end) -> succeeded (results file written, model registered) or failed (error code and message). Timings
are short by default (well under a second) and set per server. Pause stops the clock; cancel stops the job.
"""

from __future__ import annotations

import base64
import io
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class JobTiming:
    validating: float = 0.05
    queued: float = 0.05
    running: float = 0.3
    steps: int = 12
    epochs: int = 3

    @property
    def total(self) -> float:
        return self.validating + self.queued + self.running


def _metrics(step: int, steps: int, epochs: int) -> dict[str, float]:
    """A plausible falling loss and rising accuracy (deterministic)."""
    x = step / steps
    wiggle = 0.03 * math.sin(step * 1.7)
    metrics = {
        "step": float(step),
        "train_loss": round(1.6 * math.exp(-3 * x) + 0.05 + wiggle, 4),
        "train_mean_token_accuracy": round(min(1.0, 0.45 + 0.5 * x - wiggle), 4),
        "valid_loss": round(1.7 * math.exp(-2.6 * x) + 0.12 - wiggle, 4),
        "valid_mean_token_accuracy": round(min(1.0, 0.42 + 0.45 * x + wiggle), 4),
    }
    if step % max(1, steps // epochs) == 0:  # epoch end: the full validation set
        metrics["full_valid_loss"] = round(1.7 * math.exp(-2.6 * x) + 0.1, 4)
        metrics["full_valid_mean_token_accuracy"] = round(min(1.0, 0.45 + 0.45 * x), 4)
    return metrics


def results_csv(steps: int, epochs: int) -> str:
    """The results file OpenAI writes at the end of a job (columns as in the real step_metrics.csv)."""
    out = io.StringIO()
    out.write(
        "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy,full_valid_loss,"
        "full_valid_mean_token_accuracy\n"
    )
    for step in range(1, steps + 1):
        m = _metrics(step, steps, epochs)
        cells = [
            m["train_loss"],
            m["train_mean_token_accuracy"],
            m["valid_loss"],
            m["valid_mean_token_accuracy"],
            m.get("full_valid_loss", ""),
            m.get("full_valid_mean_token_accuracy", ""),
        ]
        out.write(f"{step}," + ",".join(str(c) for c in cells) + "\n")
    return out.getvalue()


@dataclass
class FakeJob:
    id: str
    model: str
    training_file: str
    validation_file: str | None
    hyperparameters: dict[str, Any]
    method: dict[str, Any]
    seed: int
    suffix: str | None
    timing: JobTiming
    fail_with: tuple[str, str] | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "validating_files"
    started: float = field(default_factory=time.monotonic)
    paused_at: float | None = None
    paused_total: float = 0.0
    step: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    checkpoints: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    fine_tuned_model: str | None = None
    error: dict[str, Any] | None = None
    finished_at: int | None = None
    result_files: list[str] = field(default_factory=list)
    trained_tokens: int | None = None

    def event(self, message: str, level: str = "info", data: dict[str, Any] | None = None) -> None:
        self.events.append(
            {
                "object": "fine_tuning.job.event",
                "id": f"ftevent-{uuid.uuid4().hex[:20]}",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "type": "metrics" if data else "message",
                "data": data or {},
            }
        )

    def elapsed(self, now: float) -> float:
        end = self.paused_at if self.paused_at is not None else now
        return end - self.started - self.paused_total

    def advance(self, now: float, finish: Any) -> None:
        """Apply everything that has happened by `now`; `finish(job)` writes the results file on success."""
        if self.status in TERMINAL or self.status == "paused":
            return
        t, timing = self.elapsed(now), self.timing
        if self.status == "validating_files" and t >= timing.validating:
            self.status = "queued"
            self.event(f"Validating training file: {self.training_file}")
            self.event("Files validated, moving job to queued state")
        if self.status == "queued" and t >= timing.validating + timing.queued:
            self.status = "running"
            self.event(f"Fine-tuning job started ({self.model})")
        if self.status != "running":
            return
        run_t = t - timing.validating - timing.queued
        reached = min(timing.steps, int(timing.steps * run_t / timing.running))
        fail_step = timing.steps // 2 if self.fail_with else None
        per_epoch = max(1, timing.steps // timing.epochs)
        while self.step < reached:
            self.step += 1
            data = _metrics(self.step, timing.steps, timing.epochs) | {"total_steps": timing.steps}
            self.event(f"Step {self.step}/{timing.steps}: training loss={data['train_loss']}", data=data)
            if self.step % per_epoch == 0:
                self.checkpoint(data)
            if fail_step is not None and self.step >= fail_step and self.fail_with:
                code, message = self.fail_with
                self.status, self.finished_at = "failed", int(time.time())
                self.error = {"code": code, "message": message, "param": None}
                self.event(f"Fine-tuning job failed: {message}", level="error")
                return
        if self.step >= timing.steps:
            self.fine_tuned_model = f"ft:{self.model}:finsent-test:{self.suffix or ''}:{self.id[-8:]}"
            self.trained_tokens = 1234 * timing.epochs
            self.event(f"New fine-tuned model created: {self.fine_tuned_model}")
            finish(self)
            self.status, self.finished_at = "succeeded", int(time.time())
            self.event("The job has successfully completed")

    def checkpoint(self, data: dict[str, Any]) -> None:
        metrics = {k: v for k, v in data.items() if k != "total_steps"}
        self.checkpoints.append(
            {
                "object": "fine_tuning.job.checkpoint",
                "id": f"ftckpt_{uuid.uuid4().hex[:20]}",
                "created_at": int(time.time()),
                "fine_tuned_model_checkpoint": f"ft:{self.model}:finsent-test:{self.suffix or ''}:{self.id[-8:]}"
                f":ckpt-step-{self.step}",
                "step_number": self.step,
                "metrics": metrics,
                "fine_tuning_job_id": self.id,
            }
        )

    def to_json(self) -> dict[str, Any]:
        hyper = dict(self.hyperparameters)
        if self.status not in ("validating_files", "queued"):  # resolved once the job runs, as OpenAI does
            hyper = {"n_epochs": self.timing.epochs, "batch_size": 4, "learning_rate_multiplier": 1.8} | {
                k: v for k, v in hyper.items() if v != "auto"
            }
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "model": self.model,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "fine_tuned_model": self.fine_tuned_model,
            "organization_id": "org-finsenttest",
            "result_files": list(self.result_files),
            "status": self.status,
            "validation_file": self.validation_file,
            "training_file": self.training_file,
            "hyperparameters": hyper,
            "method": self.method,
            "trained_tokens": self.trained_tokens,
            "error": self.error,
            "seed": self.seed,
            "estimated_finish": None,
            "integrations": [],
            "metadata": None,
            "user_provided_suffix": self.suffix,
        }


def encode_results(csv_text: str, as_base64: bool) -> bytes:
    data = csv_text.encode("utf-8")
    return base64.b64encode(data) if as_base64 else data


@dataclass
class FakeBatch:
    id: str
    endpoint: str
    input_file_id: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.monotonic)
    status: str = "validating"
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    stamps: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.15
    #: monotonic time a cancelled batch turns from `cancelling` to `cancelled` (OpenAI: up to 10 minutes)
    cancelled_at: float | None = None
    #: how many of its request lines the batch has run when a cancel or expiry stops it (OpenAI keeps
    #: their answers in the stopped batch's output file); 0: none, so it has no output file
    done_before_stop: int = 0

    def cancel(self, now: float, cancelling_seconds: float = 0.1) -> None:
        self.status, self.cancelled_at = "cancelling", now + cancelling_seconds
        self.stamps["cancelling_at"] = int(time.time())

    def expire(self, process: Any) -> None:
        """The 24-hour window ran out: the requests done so far (`done_before_stop`) are in its output."""
        self.status = "expired"
        self.stamps["expired_at"] = int(time.time())
        process(self, self.done_before_stop)

    def advance(self, now: float, process: Any) -> None:
        """validating -> in_progress -> finalizing -> completed; `process(batch)` runs the requests.
        A cancelled batch: cancelling -> cancelled, with the answers of its first `done_before_stop`
        requests in its output file (none: no output file)."""
        if self.status == "cancelling" and self.cancelled_at is not None and now >= self.cancelled_at:
            self.status = "cancelled"
            self.stamps["cancelled_at"] = int(time.time())
            process(self, self.done_before_stop)
        order = ["validating", "in_progress", "finalizing", "completed"]
        if self.status not in order:
            return
        target = order[min(3, int((now - self.started) / (self.seconds / 3)))]
        while order.index(self.status) < order.index(target):
            self.status = order[order.index(self.status) + 1]
            if self.status == "finalizing":
                process(self)
            self.stamps[f"{self.status}_at"] = int(time.time())

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.created_at + 86400,
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "metadata": None,
            "errors": {"object": "list", "data": []},
        }
        if self.output_file_id:
            body["output_file_id"] = self.output_file_id
        if self.error_file_id:
            body["error_file_id"] = self.error_file_id
        body.update(self.stamps)
        return body

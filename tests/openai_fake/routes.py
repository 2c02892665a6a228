"""The endpoints of the fake OpenAI API. Each handler returns (status, JSON payload or bytes)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .echo import echo_forms, echo_payload
from .jobs import TERMINAL, FakeBatch, FakeJob, JobTiming
from .model import SEPARATOR

if TYPE_CHECKING:
    from .server import FakeOpenAI

Result = tuple[int, Any]
FAULT_RESPONSES: dict[str, Result] = {}  # filled by server.py (it owns the fault catalogue)


def _route(method: str, template: str, handler: str) -> tuple[str, re.Pattern[str], str, str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return method, re.compile(pattern), template, handler


ROUTES = [
    _route("POST", "/files", "create_file"),
    _route("GET", "/files", "list_files"),
    _route("GET", "/files/{file_id}", "retrieve_file"),
    _route("DELETE", "/files/{file_id}", "delete_file"),
    _route("GET", "/files/{file_id}/content", "file_content"),
    _route("POST", "/fine_tuning/jobs", "create_job"),
    _route("GET", "/fine_tuning/jobs", "list_jobs"),
    _route("GET", "/fine_tuning/jobs/{fine_tuning_job_id}", "retrieve_job"),
    _route("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel", "cancel_job"),
    _route("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause", "pause_job"),
    _route("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume", "resume_job"),
    _route("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events", "list_events"),
    _route("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", "list_checkpoints"),
    _route("POST", "/completions", "completions"),
    _route("POST", "/chat/completions", "chat_completions"),
    _route("POST", "/batches", "create_batch"),
    _route("GET", "/batches", "list_batches"),
    _route("GET", "/batches/{batch_id}", "retrieve_batch"),
    _route("POST", "/batches/{batch_id}/cancel", "cancel_batch"),
    _route("GET", "/models", "list_models"),
    _route("GET", "/models/{model}", "retrieve_model"),
]


def _err(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> Result:
    return status, {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _page(items: list[dict[str, Any]], query: dict[str, str], default_limit: int = 20) -> tuple[list, bool]:
    """Newest-first cursor pagination as OpenAI does it: `after` = the last id of the previous page."""
    after, limit = query.get("after"), int(query.get("limit") or default_limit)
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items[:limit], len(items) > limit


def _public(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if not k.startswith("_")}


def _check_jsonl(content: bytes) -> str | None:
    """Why a fine-tuning file is invalid, or None: every line a prompt/completion pair or a messages list."""
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            return f"Line {number} is not valid JSON."
        if not (("prompt" in row and "completion" in row) or isinstance(row.get("messages"), list)):
            return f"Line {number} has neither prompt/completion nor messages."
    return None


class Handlers:
    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake

    # -- files -------------------------------------------------------------------------------------
    def create_file(self, body: Any, query: dict[str, str]) -> Result:
        if not isinstance(body, dict) or "file" not in body or "purpose" not in body:
            return _err(400, "Send multipart form data with 'file' and 'purpose'.", param="file")
        filename, content = body["file"]
        problem = _check_jsonl(content) if body["purpose"] == "fine-tune" else None
        info = self.fake.add_file(filename, body["purpose"], content, status="uploaded")
        if problem:
            info["status"], info["status_details"] = "error", problem
        return 200, _public(info)

    def list_files(self, body: Any, query: dict[str, str]) -> Result:
        items = [_public(f) for f in reversed(self.fake.files.values())]
        page, more = _page(items, query, 10000)
        first, last = (page[0]["id"], page[-1]["id"]) if page else ("", "")
        return 200, {"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": more}

    def retrieve_file(self, body: Any, query: dict[str, str], file_id: str) -> Result:
        info = self.fake.files.get(file_id)
        if info is None:
            return _err(404, f"No such File object: {file_id}", param="id")
        if info["status"] == "uploaded" and time.monotonic() >= info["_ready_at"]:
            info["status"] = "processed"
        return 200, _public(info)

    def delete_file(self, body: Any, query: dict[str, str], file_id: str) -> Result:
        if self.fake.files.pop(file_id, None) is None:
            return _err(404, f"No such File object: {file_id}", param="id")
        return 200, {"id": file_id, "object": "file", "deleted": True}

    def file_content(self, body: Any, query: dict[str, str], file_id: str) -> Result:
        if file_id not in self.fake.contents:
            return _err(404, f"No such File object: {file_id}", param="id")
        return 200, self.fake.contents[file_id]

    # -- fine-tuning jobs --------------------------------------------------------------------------
    def create_job(self, body: Any, query: dict[str, str]) -> Result:
        fake = self.fake
        if fake.faults.forbid_fine_tuning:
            return _err(
                403, "Fine-tuning is not available for your organization.", code="fine_tuning_not_allowed"
            )
        model = body.get("model", "")
        if model not in fake.trainable:
            return _err(
                400,
                f"Model {model} is not available for fine-tuning or does not exist.",
                param="model",
                code="model_not_available",
            )
        for key in ("training_file", "validation_file"):
            file_id = body.get(key)
            if key == "training_file" or file_id:
                info = fake.files.get(file_id or "")
                if info is None or info["purpose"] != "fine-tune":
                    return _err(400, f"Invalid file format or purpose for {key}: {file_id}", param=key)
                if info["status"] == "uploaded" and time.monotonic() >= info["_ready_at"]:
                    info["status"] = "processed"
                if info["status"] != "processed":
                    return _err(
                        400, f"File {file_id} is still being processed.", param=key, code="file_not_ready"
                    )
                chat = b'"messages"' in fake.contents[info["id"]][:2000]
                if chat == model.startswith(("babbage", "davinci")):
                    return _err(
                        400,
                        f"{key} has the wrong format for {model}.",
                        param=key,
                        code="invalid_training_file",
                    )
        method = body.get("method") or {"type": "supervised", "supervised": {"hyperparameters": {}}}
        hyper = dict(
            (method.get("supervised") or {}).get("hyperparameters") or body.get("hyperparameters") or {}
        )
        for name in ("n_epochs", "batch_size", "learning_rate_multiplier"):
            hyper.setdefault(name, "auto")
        suffix = body.get("suffix")
        job = FakeJob(
            id=fake.new_id("ftjob-"),
            model=model,
            training_file=body["training_file"],
            validation_file=body.get("validation_file"),
            hyperparameters=hyper,
            method=method,
            seed=int(body.get("seed") if body.get("seed") is not None else 42),
            suffix=suffix,
            # test hook: a suffix starting with "slow" makes a job that runs for minutes (to cancel it)
            timing=JobTiming(running=300.0) if str(suffix or "").startswith("slow") else fake.timing,
            fail_with=fake.faults.fail_jobs,
        )
        job.event(f"Created fine-tuning job: {job.id}")
        with fake.lock:
            fake.jobs[job.id] = job
        return 200, job.to_json()

    def list_jobs(self, body: Any, query: dict[str, str]) -> Result:
        page, more = _page([j.to_json() for j in reversed(self.fake.jobs.values())], query)
        return 200, {"object": "list", "data": page, "has_more": more}

    def _job(self, job_id: str) -> FakeJob | None:
        return self.fake.jobs.get(job_id)

    def retrieve_job(self, body: Any, query: dict[str, str], fine_tuning_job_id: str) -> Result:
        job = self._job(fine_tuning_job_id)
        if job is None:
            return _err(404, f"Could not find fine tune: {fine_tuning_job_id}", param="fine_tune_id")
        return 200, job.to_json()

    def cancel_job(self, body: Any, query: dict[str, str], fine_tuning_job_id: str) -> Result:
        job = self._job(fine_tuning_job_id)
        if job is None:
            return _err(404, f"Could not find fine tune: {fine_tuning_job_id}", param="fine_tune_id")
        if job.status in TERMINAL:
            return _err(400, f"Job has already {job.status}.", code="invalid_state")
        job.status, job.finished_at = "cancelled", int(time.time())
        job.event("Fine-tuning job cancelled by user")
        return 200, job.to_json()

    def pause_job(self, body: Any, query: dict[str, str], fine_tuning_job_id: str) -> Result:
        job = self._job(fine_tuning_job_id)
        if job is None:
            return _err(404, f"Could not find fine tune: {fine_tuning_job_id}", param="fine_tune_id")
        if job.status != "running":
            return _err(
                400, f"Only running jobs can be paused; this one is {job.status}.", code="invalid_state"
            )
        job.status, job.paused_at = "paused", time.monotonic()
        job.event("Fine-tuning job paused")
        return 200, job.to_json()

    def resume_job(self, body: Any, query: dict[str, str], fine_tuning_job_id: str) -> Result:
        job = self._job(fine_tuning_job_id)
        if job is None:
            return _err(404, f"Could not find fine tune: {fine_tuning_job_id}", param="fine_tune_id")
        if job.status != "paused" or job.paused_at is None:
            return _err(
                400, f"Only paused jobs can be resumed; this one is {job.status}.", code="invalid_state"
            )
        job.paused_total += time.monotonic() - job.paused_at
        job.status, job.paused_at = "running", None
        job.event("Fine-tuning job resumed")
        return 200, job.to_json()

    def list_events(self, body: Any, query: dict[str, str], fine_tuning_job_id: str) -> Result:
        job = self._job(fine_tuning_job_id)
        if job is None:
            return _err(404, f"Could not find fine tune: {fine_tuning_job_id}", param="fine_tune_id")
        page, more = _page(list(reversed(job.events)), query)
        return 200, {"object": "list", "data": page, "has_more": more}

    def list_checkpoints(self, body: Any, query: dict[str, str], fine_tuning_job_id: str) -> Result:
        job = self._job(fine_tuning_job_id)
        if job is None:
            return _err(404, f"Could not find fine tune: {fine_tuning_job_id}", param="fine_tune_id")
        page, more = _page(list(reversed(job.checkpoints)), query, 10)
        return 200, {
            "object": "list",
            "data": page,
            "has_more": more,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        }

    # -- inference ---------------------------------------------------------------------------------
    def count_received(self, template: str, body: Any) -> None:
        texts = self._texts(template, body)
        with self.fake.lock:
            self.fake.received.update(texts)

    def _texts(self, template: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return []
        if template == "/completions":
            prompts = body.get("prompt")
            prompts = [prompts] if isinstance(prompts, str) else list(prompts or [])
            return [p[: -len(SEPARATOR)] if p.endswith(SEPARATOR) else p for p in prompts]
        users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
        return [str(users[-1].get("content", ""))] if users else []

    def _unknown_model(self, model: str) -> Result | None:
        if model in self.fake.models:
            return None
        return _err(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    def _answer(self, template: str, body: Any, answer: Callable[[Any], tuple[Any, list[str]]]) -> Result:
        self.count_received(template, body)
        problem = self._unknown_model(body.get("model", ""))
        if problem:
            return problem
        response, texts = answer(body)
        with self.fake.lock:
            self.fake.answered.update(texts)
        return 200, response

    def completions(self, body: Any, query: dict[str, str]) -> Result:
        return self._answer("/completions", body, self.fake.model.complete)

    def chat_completions(self, body: Any, query: dict[str, str]) -> Result:
        return self._answer("/chat/completions", body, self.fake.model.chat)

    # -- batches -----------------------------------------------------------------------------------
    def create_batch(self, body: Any, query: dict[str, str]) -> Result:
        info = self.fake.files.get(body.get("input_file_id", ""))
        if info is None or info["purpose"] != "batch":
            return _err(
                400, "input_file_id must be a file uploaded with purpose 'batch'.", param="input_file_id"
            )
        lines = [ln for ln in self.fake.contents[info["id"]].decode("utf-8").splitlines() if ln.strip()]
        batch = FakeBatch(
            id=self.fake.new_id("batch_"),
            endpoint=body["endpoint"],
            input_file_id=info["id"],
            total=len(lines),
            seconds=self.fake.batch_seconds,
        )
        with self.fake.lock:
            self.fake.batches[batch.id] = batch
        return 200, batch.to_json()

    def run_batch(self, batch: FakeBatch, limit: int | None = None) -> None:
        """Answer every request line of the batch (or its first `limit`, for a batch stopped early) into
        an output file, and an error file for failures."""
        fake = self.fake
        outputs: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        lines = [ln for ln in fake.contents[batch.input_file_id].decode("utf-8").splitlines() if ln.strip()]
        if limit is not None:
            lines = lines[:limit]
            if not lines:
                return  # a batch stopped before any request ran has no output file
        for line in lines:
            request = json.loads(line)
            body = request.get("body", {})
            template = (
                "/chat/completions" if request.get("url", "").endswith("chat/completions") else "/completions"
            )
            kind = fake.pick_fault(template)  # injected faults fail single lines of a batch
            if kind is not None and kind != "drop":
                status, payload = FAULT_RESPONSES[kind]
            else:
                handler = self.chat_completions if template == "/chat/completions" else self.completions
                status, payload = handler(body, {})
            if fake.faults.echo:  # a batch answers with the key that created it
                payload = echo_payload(payload, echo_forms(fake.api_key or ""))
            item = {
                "id": fake.new_id("batch_req_"),
                "custom_id": request.get("custom_id"),
                "response": {"status_code": status, "request_id": fake.new_id("req_"), "body": payload},
                "error": None,
            }
            (outputs if status == 200 else failures).append(item)
        batch.completed, batch.failed = len(outputs), len(failures)
        out = fake.add_file(
            f"{batch.id}_output.jsonl",
            "batch_output",
            "".join(json.dumps(o) + "\n" for o in outputs).encode("utf-8"),
        )
        batch.output_file_id = out["id"]
        if failures:
            err = fake.add_file(
                f"{batch.id}_error.jsonl",
                "batch_output",
                "".join(json.dumps(o) + "\n" for o in failures).encode("utf-8"),
            )
            batch.error_file_id = err["id"]

    def list_batches(self, body: Any, query: dict[str, str]) -> Result:
        page, more = _page([b.to_json() for b in reversed(self.fake.batches.values())], query)
        return 200, {
            "object": "list",
            "data": page,
            "has_more": more,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        }

    def retrieve_batch(self, body: Any, query: dict[str, str], batch_id: str) -> Result:
        batch = self.fake.batches.get(batch_id)
        if batch is None:
            return _err(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return 200, batch.to_json()

    def cancel_batch(self, body: Any, query: dict[str, str], batch_id: str) -> Result:
        batch = self.fake.batches.get(batch_id)
        if batch is None:
            return _err(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        if batch.status in ("validating", "in_progress"):
            batch.cancel(time.monotonic())
        elif batch.status not in ("cancelling", "cancelled"):  # finalizing, completed, failed, expired
            return _err(400, f"Cannot cancel a batch with status '{batch.status}'.", code="invalid_state")
        with self.fake.lock:
            self.fake.cancelled_batches.append(batch_id)
        return 200, batch.to_json()

    # -- models ------------------------------------------------------------------------------------
    def list_models(self, body: Any, query: dict[str, str]) -> Result:
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": owner}
            for m, owner in self.fake.models.items()
        ]
        return 200, {"object": "list", "data": data}

    def retrieve_model(self, body: Any, query: dict[str, str], model: str) -> Result:
        if model not in self.fake.models:
            return _err(404, f"The model '{model}' does not exist", code="model_not_found", param="model")
        return 200, {
            "id": model,
            "object": "model",
            "created": 1700000000,
            "owned_by": self.fake.models[model],
        }

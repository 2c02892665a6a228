"""A fake OpenAI API on 127.0.0.1 (real HTTP, ThreadingHTTPServer in a thread), with fault injection.

It implements what finsent's OpenAI backend uses: files, fine_tuning.jobs (+ events, checkpoints, cancel,
pause, resume), completions, chat completions, batches and models. `FakeOpenAI.record` keeps every
request/response pair so that tests/test_openai_schema.py can check them against OpenAI's OpenAPI document.

Faults (see `Faults`): latency on every response, scripted failures for the next matching requests,
an outage after a number of requests, a random failure rate with a seed, 401 for a wrong key, 403 on job
creation, failed jobs, base64 results.

Hostile servers (test behaviours, outside the API description; see `echo.py`): a server that echoes the
key it received into every text it writes and into its response headers, answers 200 with a body that is
not JSON, or answers the Batch API with another object. Echoing keeps every answer valid against the
document; the other two are not recorded for the schema check (they are not the API by design).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import routes
from .echo import echo_forms, echo_payload
from .jobs import FakeBatch, FakeJob, JobTiming, encode_results, results_csv
from .model import ScriptedModel
from .routes import ROUTES, Handlers

TEST_KEY = "sk-test-finsent-0123456789abcdefWXYZ"


@dataclass
class Faults:
    """What goes wrong, per test. Change fields at any time; they are read on every request."""

    latency: float = 0.0  # seconds added to every response
    fail_rate: float = 0.0  # share of inference requests that fail
    fail_kinds: tuple[str, ...] = ("429", "500", "drop")
    fail_endpoints: tuple[str, ...] = ("/completions", "/chat/completions")
    seed: int = 0
    retry_after: str = "0.05"  # Retry-After header of injected 429s (seconds)
    retry_after_5xx: str | None = None  # also on injected 5xx (keeps fault tests fast); None: no header
    #: the next requests to an endpoint fail with these kinds, in order: [("/completions", "429"), ...]
    script: list[tuple[str, str]] = field(default_factory=list)
    #: an outage: let this many more inference requests through, then fail every one with fail_kinds[0]
    outage_after: int | None = None
    forbid_fine_tuning: bool = False
    fail_jobs: tuple[str, str] | None = None  # (error code, message) for jobs created from now on
    base64_results: bool = False
    # -- hostile servers ---------------------------------------------------------------------------
    #: every text the server writes (error messages, answers, job events and errors, file details,
    #: batch output lines) starts with the key it received, in the forms echoing servers use
    echo: bool = False
    #: the key it received comes back in response headers (x-request-id, x-echo-authorization)
    echo_headers: bool = False
    #: endpoint templates answered 200 with a body that is not JSON (it quotes the key, echoed)
    invalid_json: tuple[str, ...] = ()
    #: the object the /batches endpoints answer with (200) instead of a batch, e.g. a chat completion
    non_batch_answer: dict[str, Any] | None = None


@dataclass
class Exchange:
    method: str
    template: str  # the OpenAPI path, e.g. /fine_tuning/jobs/{fine_tuning_job_id}
    status: int
    request: Any
    response: Any
    query: dict[str, str] = field(default_factory=dict)


class FakeOpenAI:
    """State and behaviour of the fake API. Start with `start()`; `base_url` is what the SDK needs."""

    def __init__(self, api_key: str | None = TEST_KEY, timing: JobTiming | None = None, record: bool = False):
        self.api_key = api_key
        self.timing = timing or JobTiming()
        self.faults = Faults()
        self.model = ScriptedModel()
        self.record = record
        self.exchanges: list[Exchange] = []
        self.lock = threading.RLock()
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.batches: dict[str, FakeBatch] = {}
        #: seconds a new batch takes from validating to completed
        self.batch_seconds = 0.15
        self.models: dict[str, str] = {
            m: "openai"
            for m in (
                "babbage-002",
                "davinci-002",
                "gpt-4o-mini",
                "gpt-4o-mini-2024-07-18",
                "gpt-4.1-mini",
                "gpt-4.1-mini-2025-04-14",
                "gpt-4.1-2025-04-14",
                "gpt-4.1-nano-2025-04-14",
            )
        }
        self.trainable = {
            "babbage-002",
            "davinci-002",
            "gpt-4o-mini-2024-07-18",
            "gpt-4.1-mini-2025-04-14",
            "gpt-4.1-2025-04-14",
            "gpt-4.1-nano-2025-04-14",
        }
        self.answered: Counter[str] = Counter()  # texts in successful classification answers
        self.received: Counter[str] = Counter()  # texts in every classification request, failed or not
        self.requests: Counter[str] = Counter()  # requests per endpoint template
        self.cancelled_batches: list[str] = []  # batch ids, in the order cancel requests arrived
        self._rng = random.Random(0)
        self._rng_seed = 0
        self.handlers = Handlers(self)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        app = self

        class Handler(_Handler):
            fake = app

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    # -- helpers used by the handlers --------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:24]}"

    def add_file(
        self, filename: str, purpose: str, content: bytes, status: str = "processed"
    ) -> dict[str, Any]:
        with self.lock:
            file_id = self.new_id("file-")
            info = {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": status,
                "_ready_at": time.monotonic() + 0.05,
            }
            self.files[file_id] = info
            self.contents[file_id] = content
            return info

    def finish_job(self, job: FakeJob) -> None:
        """Called once when a job succeeds: write the results file and register the model."""
        data = encode_results(results_csv(self.timing.steps, self.timing.epochs), self.faults.base64_results)
        info = self.add_file("step_metrics.csv", "fine-tune-results", data)
        job.result_files = [info["id"]]
        assert job.fine_tuned_model is not None
        self.models[job.fine_tuned_model] = "finsent-test"

    def advance_all(self) -> None:
        now = time.monotonic()
        with self.lock:
            for job in self.jobs.values():
                job.advance(now, self.finish_job)
            for batch in self.batches.values():
                batch.advance(now, self.handlers.run_batch)

    def expire_batch(self, batch_id: str) -> None:
        """OpenAI's 24-hour window ran out for this batch (its first `done_before_stop` requests ran)."""
        with self.lock:
            self.batches[batch_id].expire(self.handlers.run_batch)

    def pick_fault(self, template: str) -> str | None:
        with self.lock:
            for i, (endpoint, kind) in enumerate(self.faults.script):
                if template == endpoint:
                    del self.faults.script[i]
                    return kind
            if self.faults.outage_after is not None and template in self.faults.fail_endpoints:
                if self.faults.outage_after <= 0:
                    return self.faults.fail_kinds[0]
                self.faults.outage_after -= 1
            if self.faults.fail_rate > 0 and template in self.faults.fail_endpoints:
                if self._rng_seed != self.faults.seed:
                    self._rng, self._rng_seed = random.Random(self.faults.seed), self.faults.seed
                if self._rng.random() < self.faults.fail_rate:
                    return self._rng.choice(self.faults.fail_kinds)
        return None


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


FAULT_RESPONSES: dict[str, tuple[int, dict[str, Any]]] = {
    "429": (
        429,
        error_body(
            "Rate limit reached for requests. Please try again shortly.", "requests", "rate_limit_exceeded"
        ),
    ),
    "quota": (
        429,
        error_body(
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            "insufficient_quota",
        ),
    ),
    "500": (
        500,
        error_body(
            "The server had an error while processing your request. Sorry about that!", "server_error"
        ),
    ),
    "503": (503, error_body("The engine is currently overloaded, please try again later.", "server_error")),
    "401": (401, error_body("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")),
    "403": (403, error_body("You are not allowed to do this.", "invalid_request_error", "permission_denied")),
}


routes.FAULT_RESPONSES.update(FAULT_RESPONSES)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout, Ctrl-C) closes the connection before the answer is written:
        # the normal end of a slow-server test, not a traceback on the test's stderr.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to each.
    disable_nagle_algorithm = True
    fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the recorded exchanges
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> tuple[Any, bytes]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + raw
            )
            form: dict[str, Any] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                if part.get_filename():
                    form[str(name)] = (part.get_filename(), payload)
                else:
                    form[str(name)] = payload.decode("utf-8") if isinstance(payload, bytes) else payload
            return form, raw
        if raw and "json" in ctype:
            return json.loads(raw), raw
        return None, raw

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = parts.path[3:] if parts.path.startswith("/v1/") else parts.path
        # Azure OpenAI: /openai/deployments/<deployment>/chat/completions?api-version=... -> the same endpoints
        azure = re.fullmatch(r"/openai(?:/deployments/[^/]+)?(/.*)", path)
        path = azure.group(1) if azure else path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items() if k != "api-version"}
        body, _raw = self._read_body()
        route = next(
            ((tpl, fn, m) for (verb, rx, tpl, fn) in ROUTES if verb == method and (m := rx.fullmatch(path))),
            None,
        )
        template = route[0] if route else path
        with fake.lock:
            fake.requests[template] += 1
        if fake.faults.latency:
            time.sleep(fake.faults.latency)
        if route is None:
            return self._send(
                404,
                error_body(f"Invalid URL ({method} {parts.path})", "invalid_request_error"),
                template,
                method,
                body,
                query=query,
            )
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ") or self.headers.get(
            "api-key", ""
        )
        self._sent_key = sent
        if fake.api_key and sent != fake.api_key:
            # Worst case on purpose: the whole key echoed back (OpenAI masks most of it); finsent must hide it.
            payload = error_body(
                f"Incorrect API key provided: {sent}.", "invalid_request_error", "invalid_api_key"
            )
            return self._send(401, payload, template, method, body, query=query)
        kind = fake.pick_fault(template)
        if kind is not None:
            fake.handlers.count_received(template, body)
            if kind == "drop":  # close the connection without an answer, as a dropped network would
                self.close_connection = True
                return None
            status, payload = FAULT_RESPONSES[kind]
            headers = {"retry-after": fake.faults.retry_after} if status == 429 and kind == "429" else {}
            if status >= 500 and fake.faults.retry_after_5xx is not None:
                headers["retry-after"] = fake.faults.retry_after_5xx
            if kind == "quota":
                headers["x-should-retry"] = "false"
            return self._send(status, payload, template, method, body, headers, query=query)
        if template in fake.faults.invalid_json:
            body_text = f'{{"id": "x", "echo": {echo_forms(sent)}'  # cut short: not JSON
            return self._send(200, body_text.encode("utf-8"), template, method, body, record=False)
        if fake.faults.non_batch_answer is not None and template.startswith("/batches"):
            return self._send(200, fake.faults.non_batch_answer, template, method, body, record=False)
        fake.advance_all()
        handler: Callable[..., tuple[int, Any]] = getattr(fake.handlers, route[1])
        status, payload = handler(body, query, **route[2].groupdict())
        return self._send(status, payload, template, method, body, query=query)

    def _send(
        self,
        status: int,
        payload: Any,
        template: str,
        method: str,
        request: Any,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        record: bool = True,
    ) -> None:
        fake = self.fake
        sent = getattr(self, "_sent_key", "")
        if fake.faults.echo and not isinstance(payload, bytes):
            payload = echo_payload(payload, echo_forms(sent))
        headers = dict(headers or {})
        if fake.faults.echo_headers:
            headers["x-echo-authorization"] = self.headers.get("Authorization", "")
        if isinstance(payload, bytes):
            # a body that is not JSON (invalid_json) still says it is, as a broken server does
            data = payload
            ctype = "application/json" if template in fake.faults.invalid_json else "application/octet-stream"
        else:
            data, ctype = json.dumps(payload).encode("utf-8"), "application/json"
        if fake.record and record:
            recorded = (
                {k: ("<binary>" if isinstance(v, tuple) else v) for k, v in request.items()}
                if isinstance(request, dict)
                else request
            )
            with fake.lock:
                fake.exchanges.append(
                    Exchange(
                        method,
                        template,
                        status,
                        recorded,
                        payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload,
                        dict(query or {}),
                    )
                )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        request_id = f"req_{uuid.uuid4().hex[:16]}"
        if fake.faults.echo_headers:  # the SDK logs this header at debug level and keeps it on its errors
            request_id += " " + echo_forms(sent)
        self.send_header("x-request-id", request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


__all__ = ["TEST_KEY", "Exchange", "FakeOpenAI", "Faults", "JobTiming"]

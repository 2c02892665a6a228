"""Keeps the fake OpenAI server honest: every request the backend sends and every response the server
returns is validated against OpenAI's official OpenAPI document (../shared/openai-openapi/openapi.json).

The document uses OpenAPI's `nullable: true`, which JSON Schema validators do not know: it is rewritten to
`anyOf: [<schema>, {"type": "null"}]` first (and 3.0-style boolean `exclusiveMinimum` to the numeric form). One documented gap is patched: the API returns status
"paused" after /pause, which the document's FineTuningJob.status enum does not list yet.
"""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
from finsent_openai import OpenAIOptions
from openai_fake.dataset import write_prepared
from openai_fake.fixtures import make_backend, openai_server  # noqa: F401
from openai_fake.jobs import JobTiming
from openai_fake.routes import ROUTES
from openai_fake.schema import SpecChecker, batch_file_problems, spec  # noqa: F401
from openai_fake.server import FakeOpenAI

from finsent.contract import errors
from finsent.contract.backend import ModelRef
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat


def _drive_everything(server: FakeOpenAI, home: Path) -> None:
    """Use every endpoint the backend uses, through the real SDK, including failures."""
    backend = make_backend(server, home, max_retries="3")
    dataset = write_prepared(home / "ds")
    for base_model in ("gpt-4o-mini-2024-07-18", "babbage-002"):
        options = OpenAIOptions(
            base_model=base_model, n_epochs=2, batch_size=4, learning_rate_multiplier=0.5, suffix="schema"
        )
        started = backend.start_training(backend.prepare_training_data(dataset, options, home), options)
        cursor, update = None, None
        for _ in range(200):
            update = backend.poll_job(started.external_id, cursor)
            cursor = update.cursor
            if update.status.is_terminal:
                break
            time.sleep(0.02)
        assert update is not None and update.fine_tuned_model
        fmt = InputFormat(separator=" ->" if base_model == "babbage-002" else "")
        backend.classify(
            ModelRef(update.fine_tuned_model, LabelSet(), fmt), ["매출 상승", "주가 하락", "공시"]
        )
    server.timing = JobTiming(running=30.0)
    options = OpenAIOptions(base_model="gpt-4o-mini-2024-07-18")
    started = backend.start_training(backend.prepare_training_data(dataset, options, home), options)
    while backend.poll_job(started.external_id).status.value != "running":
        time.sleep(0.02)
    backend.pause_job(started.external_id)
    backend.resume_job(started.external_id)
    backend.cancel_job(started.external_id)
    backend.list_models()
    for model in (
        ModelRef("gpt-4o-mini", LabelSet()),
        ModelRef("babbage-002", LabelSet(), InputFormat(separator=" ->")),
    ):
        batch_id = backend.submit_batch(model, ["매출 상승", "주가 하락", "공시"])
        while not backend.batch_progress(batch_id).done:
            time.sleep(0.02)
        backend.batch_results(batch_id, model, ["매출 상승", "주가 하락", "공시"])
    doomed, doomed_texts = ModelRef("gpt-4o-mini", LabelSet()), ["취소될 배치", "반쯤 끝난 배치"]
    doomed_id = backend.submit_batch(doomed, doomed_texts)
    server.batches[doomed_id].seconds = 3600
    server.batches[doomed_id].done_before_stop = 1  # its output file holds the one request that ran
    cancelled = backend.cancel_batch(doomed_id)
    assert cancelled.status == "cancelling"
    while backend.batch_progress(cancelled.batch_id).status != "cancelled":  # cancelling -> cancelled
        time.sleep(0.02)
    partial = backend.batch_partial_results(doomed_id, doomed, doomed_texts)
    assert partial[0] is not None and partial[1] is None
    with pytest.raises(errors.InputError, match="Cannot cancel a batch with status 'completed'"):
        backend.cancel_batch(batch_id)  # the completion batch above
    server.faults.script = [("/chat/completions", "429"), ("/chat/completions", "500")]
    backend.classify(ModelRef("gpt-4o-mini", LabelSet()), ["흑자 전환"])
    with pytest.raises(errors.NotFoundError):
        backend.classify(ModelRef("ft:gpt-4o-mini-2024-07-18:nobody::nothing", LabelSet()), ["x"])
    with pytest.raises(errors.AuthenticationError):
        make_backend(server, home, api_key="sk-wrong-key-000000000000").classify(
            ModelRef("gpt-4o-mini", LabelSet()), ["x"]
        )
    backend.close()


def test_every_exchange_matches_the_openapi_document(
    spec: dict[str, Any],
    openai_server: FakeOpenAI,
    finsent_home: Path,
) -> None:
    _drive_everything(openai_server, finsent_home)
    checker = SpecChecker(spec)
    exchanges = list(openai_server.exchanges)
    problems = [p for exchange in exchanges for p in checker.check(exchange)]
    batch_files = [f for f in openai_server.files.values() if f["purpose"] in ("batch", "batch_output")]
    assert len(batch_files) >= 4
    problems += batch_file_problems(checker, openai_server)
    assert not problems, "\n".join(problems[:20])
    used = {(e.method, e.template) for e in exchanges}
    expected = {
        ("POST", "/files"),
        ("GET", "/files/{file_id}"),
        ("GET", "/files/{file_id}/content"),
        ("POST", "/fine_tuning/jobs"),
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}"),
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/events"),
        ("GET", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
        ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/pause"),
        ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/resume"),
        ("POST", "/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
        ("POST", "/batches"),
        ("GET", "/batches/{batch_id}"),
        ("POST", "/batches/{batch_id}/cancel"),
        ("POST", "/completions"),
        ("POST", "/chat/completions"),
        ("GET", "/models"),
    }
    assert expected <= used, f"not exercised: {sorted(expected - used)}"
    assert {e.status for e in exchanges} >= {200, 401, 404, 429, 500}


def test_every_route_of_the_fake_server_is_in_the_document(spec: dict[str, Any]) -> None:
    for method, _pattern, template, _handler in ROUTES:
        assert method.lower() in spec["paths"].get(template, {}), (
            f"{method} {template} is not an OpenAI endpoint"
        )


def test_the_checker_catches_a_wrong_response(spec: dict[str, Any]) -> None:
    """The validation can fail: a job without its required fields and with a made-up status is refused."""
    checker = SpecChecker(spec)
    bad = {"object": "fine_tuning.job", "id": "ftjob-x", "status": "almost-done"}
    assert checker.problems(bad, "components", "schemas", "FineTuningJob")
    good = copy.deepcopy(bad) | {"status": "queued"}
    assert len(checker.problems(good, "components", "schemas", "FineTuningJob")) < len(
        checker.problems(bad, "components", "schemas", "FineTuningJob")
    )

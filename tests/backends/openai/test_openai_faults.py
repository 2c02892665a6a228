"""What goes wrong with a remote API, injected by our fake server: each fault either heals through a retry
or ends in the typed finsent error with a message that says what to do. And the key never leaks."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from finsent_openai import OpenAIBackend, OpenAIOptions
from openai_fake.dataset import sentences, write_prepared
from openai_fake.fixtures import make_backend, openai_backend, openai_server  # noqa: F401
from openai_fake.model import rule_label
from openai_fake.server import TEST_KEY

from finsent.contract import errors
from finsent.contract.backend import BackendContext, JobStatus, ModelRef
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat
from finsent.settings import Settings

CHAT = ModelRef("gpt-4o-mini", LabelSet())
COMPLETION = ModelRef("babbage-002", LabelSet(), InputFormat(separator=" ->"))
TEXTS = [text for text, _ in sentences(40)]


@pytest.mark.parametrize("kind", ["429", "500", "503", "drop"])
@pytest.mark.parametrize("model", [CHAT, COMPLETION], ids=["chat", "completion"])
def test_transient_faults_heal_through_retries(openai_server, finsent_home, kind, model) -> None:
    openai_server.faults.retry_after_5xx = "0.01"
    endpoint = "/chat/completions" if model is CHAT else "/completions"
    openai_server.faults.script = [(endpoint, kind), (endpoint, kind)]
    backend = make_backend(openai_server, finsent_home)
    predictions = backend.classify(model, TEXTS)
    assert [p.label for p in predictions] == [rule_label(t) for t in TEXTS]
    assert all(openai_server.answered[t] == 1 for t in TEXTS), "every text answered exactly once"
    assert not openai_server.faults.script, "both faults were hit"


def test_retry_after_is_honoured(openai_server, finsent_home) -> None:
    openai_server.faults.retry_after = "0.4"
    openai_server.faults.script = [("/chat/completions", "429")]
    backend = make_backend(openai_server, finsent_home)
    started = time.monotonic()
    backend.classify(CHAT, ["매출 상승"])
    assert time.monotonic() - started >= 0.38  # waited as told before the retry (a lower bound, never flaky)
    assert openai_server.requests["/chat/completions"] == 2


def test_persistent_rate_limit_is_a_typed_error_and_no_partial_results(openai_server, finsent_home) -> None:
    openai_server.faults.fail_rate, openai_server.faults.fail_kinds = 1.0, ("429",)
    backend = make_backend(openai_server, finsent_home, max_retries="1")
    with pytest.raises(errors.RateLimitError) as caught:
        backend.classify(COMPLETION, TEXTS)
    assert "retry" in caught.value.text("en").lower() and caught.value.ko


def test_quota_exhausted_is_not_retried_and_says_so(openai_server, finsent_home) -> None:
    openai_server.faults.script = [("/chat/completions", "quota")]
    backend = make_backend(openai_server, finsent_home)
    with pytest.raises(errors.RateLimitError, match="quota") as caught:
        backend.classify(CHAT, ["x"])
    assert openai_server.requests["/chat/completions"] == 1 and "Billing" in caught.value.text("en")


def test_server_errors_that_persist_raise_for_the_whole_call(openai_server, finsent_home) -> None:
    openai_server.faults.fail_rate, openai_server.faults.fail_kinds = 1.0, ("500",)
    openai_server.faults.retry_after_5xx = "0.01"
    backend = make_backend(openai_server, finsent_home, max_retries="2")
    with pytest.raises(errors.FinsentError, match="HTTP 500"):
        backend.classify(CHAT, TEXTS[:5])


def test_wrong_key_is_refused_and_only_its_last_four_characters_shown(openai_server, finsent_home) -> None:
    wrong = "sk-proj-Wrong0Key0Never0Shown0abcd9876"
    backend = make_backend(openai_server, finsent_home, api_key=wrong)
    with pytest.raises(errors.AuthenticationError) as caught:
        backend.classify(CHAT, ["x"])
    for lang in ("en", "ko"):
        assert wrong not in caught.value.text(lang) and "9876" in caught.value.text(lang)
    assert (caught.value.__cause__ is None and caught.value.__context__ is None) or wrong not in repr(
        caught.value
    )


def test_fine_tuning_refused_explains_the_cutoff_and_the_alternatives(
    openai_backend, openai_server, finsent_home
) -> None:
    openai_server.faults.forbid_fine_tuning = True
    options = OpenAIOptions()
    data = openai_backend.prepare_training_data(write_prepared(finsent_home / "ds"), options, finsent_home)
    with pytest.raises(errors.PermissionDeniedError) as caught:
        openai_backend.start_training(data, options)
    english, korean = caught.value.text("en"), caught.value.text("ko")
    for needle in ("2027-01-06", "zero- or few-shot", "base_url", "local backend"):
        assert needle in english
    assert "2027-01-06" in korean and "제로샷" in korean and "로컬" in korean


def test_unknown_model_is_not_found(openai_backend) -> None:
    with pytest.raises(errors.NotFoundError, match="ft:gpt-4o-mini-2024-07-18:acme::gone"):
        openai_backend.classify(ModelRef("ft:gpt-4o-mini-2024-07-18:acme::gone", LabelSet()), ["x"])


def test_unknown_base_model_for_training_is_an_input_error(openai_backend, finsent_home) -> None:
    options = OpenAIOptions(base_model="gpt-9-imaginary")
    data = openai_backend.prepare_training_data(write_prepared(finsent_home / "ds"), options, finsent_home)
    with pytest.raises(errors.InputError, match="not available for fine-tuning"):
        openai_backend.start_training(data, options)


def test_a_failed_job_reports_its_error_code_and_message(openai_backend, openai_server, finsent_home) -> None:
    openai_server.faults.fail_jobs = ("invalid_training_file", "The training file has too few examples.")
    options = OpenAIOptions()
    started = openai_backend.start_training(
        openai_backend.prepare_training_data(write_prepared(finsent_home / "ds"), options, finsent_home),
        options,
    )
    cursor, events = None, []
    for _ in range(300):
        update = openai_backend.poll_job(started.external_id, cursor)
        cursor, events = update.cursor, events + update.events
        if update.status.is_terminal:
            break
        time.sleep(0.02)
    assert update.status is JobStatus.FAILED
    assert update.error == "invalid_training_file: The training file has too few examples."
    assert update.details["error_code"] == "invalid_training_file"
    assert any(e.level == "error" and "too few examples" in e.message for e in events)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_network_is_a_network_error(finsent_home) -> None:
    config = {"base_url": f"http://127.0.0.1:{_closed_port()}/v1", "max_retries": "0"}
    backend = OpenAIBackend(BackendContext(Settings.from_env(finsent_home), api_key=TEST_KEY, config=config))
    with pytest.raises(errors.NetworkError) as caught:
        backend.classify(CHAT, ["x"])
    assert "127.0.0.1" in caught.value.text("en") and caught.value.ko


def test_slow_answers_time_out_as_a_network_error(openai_server, finsent_home) -> None:
    openai_server.faults.latency = 1.0
    backend = make_backend(openai_server, finsent_home, timeout="0.3", max_retries="0")
    with pytest.raises(errors.NetworkError):
        backend.classify(CHAT, ["x"])


def test_bulk_with_five_percent_failures_classifies_every_row_exactly_once(
    openai_server, finsent_home
) -> None:
    openai_server.faults.fail_rate, openai_server.faults.seed = 0.05, 7
    openai_server.faults.retry_after_5xx = "0.01"
    texts = [text for text, _ in sentences(3000, offset=1000)]
    backend = make_backend(openai_server, finsent_home)
    predictions = backend.classify(COMPLETION, texts)
    assert [p.label for p in predictions] == [rule_label(t) for t in texts]
    assert set(openai_server.answered.values()) == {1} and len(openai_server.answered) == len(texts)
    assert sum(openai_server.received.values()) > len(texts), "some requests really failed and were retried"
    chat_texts = texts[:600]
    openai_server.answered.clear()
    chat = backend.classify(CHAT, chat_texts)
    assert [p.label for p in chat] == [rule_label(t) for t in chat_texts]
    assert set(openai_server.answered.values()) == {1} and len(openai_server.answered) == len(chat_texts)


def test_the_key_never_leaks(openai_server, finsent_home, caplog, capfd) -> None:
    """Run a whole workflow with faults, debug logging on, and grep everything it produced for the key."""
    caplog.set_level(logging.DEBUG)
    openai_server.faults.retry_after_5xx = "0.01"
    openai_server.faults.script = [
        ("/chat/completions", "429"),
        ("/completions", "500"),
        ("/chat/completions", "drop"),
    ]
    backend = make_backend(openai_server, finsent_home)
    texts: list[str] = []
    options = OpenAIOptions()
    data = backend.prepare_training_data(write_prepared(finsent_home / "ds"), options, finsent_home)
    started = backend.start_training(data, options)
    cursor, update = None, None
    for _ in range(300):
        update = backend.poll_job(started.external_id, cursor)
        cursor = update.cursor
        texts += [repr(update)]
        if update.status.is_terminal:
            break
        time.sleep(0.02)
    texts += [repr(backend.classify(CHAT, ["a", "b"])), repr(backend.classify(COMPLETION, ["c"]))]
    texts += [repr(backend.config), repr(backend.availability()), repr(data)]
    bad_key = make_backend(openai_server, finsent_home, api_key=TEST_KEY[:-4] + "0000")
    for call in (lambda: bad_key.classify(CHAT, ["x"]), lambda: backend.poll_job("ftjob-missing")):
        with pytest.raises(errors.FinsentError) as caught:
            call()
        texts += [caught.value.text("en"), caught.value.text("ko"), repr(caught.value)]
    out, err = capfd.readouterr()
    texts += [out, err, caplog.text]
    texts += [p.read_text(errors="replace") for p in Path(finsent_home).rglob("*") if p.is_file()]
    for key in (TEST_KEY, TEST_KEY[:-4] + "0000"):
        leaks = [t[:200] for t in texts if key in t or key[3:-4] in t]
        assert not leaks, f"the key leaked into: {leaks}"
    assert any("429" in t or "Retrying" in t for t in [caplog.text]), "debug logging was really on"

"""Servers that answer, but not as the OpenAI API does: a 200 whose body is not JSON, the Batch API answered
with another object, a server that echoes the key. Each ends in a clear, translated finsent error (one
`error:` line and exit 2 in the CLI), never a JSONDecodeError traceback or a batch followed forever."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from app_helpers import app_env, button, new_app, page, service  # noqa: F401  (app_env: a fixture)
from finsent_openai import OpenAIOptions
from finsent_openai.answers import RAW_LIMIT
from finsent_openai.client import ServerAnswerError
from openai_fake.dataset import sentences, write_prepared
from openai_fake.echo import key_forms
from openai_fake.fixtures import make_backend, openai_server  # noqa: F401
from openai_fake.schema import SpecChecker, spec  # noqa: F401
from openai_fake.server import TEST_KEY, FakeOpenAI

from finsent.cli import main
from finsent.contract import errors
from finsent.contract.backend import UNKNOWN_LABEL, ModelRef
from finsent.contract.labels import LabelSet
from finsent.support.secrets import REDACTED

CHAT = ModelRef("gpt-4o-mini", LabelSet())
NOT_A_BATCH: dict[str, Any] = {"object": "chat.completion", "id": "chatcmpl-1", "choices": []}


def _no_key_in(text: str) -> bool:
    folded = text.casefold()
    return not any(
        (form in text) if name.startswith("base64") else (form.casefold() in folded)
        for name, form in key_forms(TEST_KEY).items()
    )


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    _out, err = capsys.readouterr()
    return code, err


def _one_error_line(err: str) -> str:
    """The one `error:` line of a failed command (notes may come before it), and no traceback."""
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def cli_env(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_openai")
    monkeypatch.setenv("FINSENT_OPENAI_MAX_RETRIES", "0")
    write_prepared(tmp_path / "prepared")
    texts = [text for text, _ in sentences(6, offset=900)]
    pd.DataFrame({"문장": texts}).to_csv(tmp_path / "news.csv", index=False)
    assert main(["add-model", "--backend", "openai", "--model", CHAT.id, "--mode", "zero-shot"]) == 0
    return tmp_path


# -- 200 with a body that is not JSON ---------------------------------------------------------------
def test_invalid_json_on_upload_and_classify_is_a_server_answer_error(
    openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    openai_server.faults.invalid_json = ("/files", "/chat/completions")
    backend = make_backend(openai_server, finsent_home)
    options = OpenAIOptions()
    with pytest.raises(ServerAnswerError) as caught:
        backend.prepare_training_data(write_prepared(finsent_home / "ds"), options, finsent_home)
    assert "not JSON" in caught.value.text("en") and "base_url" in caught.value.text("en")
    assert "JSON이 아닌 내용" in caught.value.text("ko")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # the body stays out of sight
    with pytest.raises(ServerAnswerError, match="classify texts with something that is not JSON"):
        backend.classify(CHAT, ["매출 상승"])


def test_invalid_json_ends_train_and_classify_in_one_error_line(
    cli_env: Path, openai_server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.faults.invalid_json = ("/files", "/chat/completions")
    for argv in (
        ["train", "--backend", "openai", "--data", str(cli_env / "prepared")],
        ["classify", "--backend", "openai", "--model", CHAT.id, "매출 상승"],
    ):
        code, err = _cli(argv, capsys)
        assert code == 2, err
        assert "not JSON" in _one_error_line(err) and _no_key_in(err)


# -- the Batch API answered with something else --------------------------------------------------
@pytest.mark.parametrize(
    "answer", [NOT_A_BATCH, {"id": "batch_abc"}, {"object": "list", "data": [], "has_more": False}]
)
def test_a_non_batch_answer_to_the_batch_api_is_a_clear_error(
    openai_server: FakeOpenAI, finsent_home: Path, answer: dict[str, Any]
) -> None:
    backend = make_backend(openai_server, finsent_home)
    openai_server.faults.non_batch_answer = answer
    with pytest.raises(ServerAnswerError, match="not what the OpenAI API answers") as caught:
        backend.submit_batch(CHAT, ["매출 상승", "주가 하락"])
    assert "batch" in caught.value.text("en") and caught.value.ko
    openai_server.faults.non_batch_answer = None
    batch_id = backend.submit_batch(CHAT, ["흑자 전환"])
    openai_server.faults.non_batch_answer = answer  # a batch that turns into something else while followed
    with pytest.raises(ServerAnswerError):
        backend.batch_progress(batch_id)


def test_batch_api_against_a_non_batch_server_stops_instead_of_polling_forever(
    cli_env: Path, openai_server: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_server.faults.non_batch_answer = NOT_A_BATCH
    argv = ["classify", "--backend", "openai", "--model", CHAT.id, "--input", str(cli_env / "news.csv")]
    argv += [
        "--text-col",
        "문장",
        "--output",
        str(cli_env / "out.csv"),
        "--batch-api",
        "--poll-interval",
        "0.05",
    ]
    started = time.monotonic()
    code, err = _cli(argv, capsys)
    assert code == 2 and time.monotonic() - started < 30
    line = _one_error_line(err)
    assert "'chat.completion' object instead of a batch" in line
    assert not (cli_env / "out.csv").exists(), "nothing half-written"


def test_a_fine_tuning_job_answer_that_is_not_a_job_is_a_clear_error(
    openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    backend = make_backend(openai_server, finsent_home)
    options = OpenAIOptions()
    data = backend.prepare_training_data(write_prepared(finsent_home / "ds"), options, finsent_home)
    started = backend.start_training(data, options)
    original = openai_server.handlers.retrieve_job
    openai_server.handlers.retrieve_job = lambda *a, **k: (200, {"object": "list", "data": []})  # type: ignore[method-assign]
    try:
        with pytest.raises(ServerAnswerError, match="instead of a fine-tuning job"):
            backend.poll_job(started.external_id)
    finally:
        openai_server.handlers.retrieve_job = original  # type: ignore[method-assign]


# -- a server that echoes the key ---------------------------------------------------------------
def test_echoed_answers_are_kept_scrubbed_and_short(openai_server: FakeOpenAI, finsent_home: Path) -> None:
    openai_server.faults.echo = True
    backend = make_backend(openai_server, finsent_home)
    [prediction] = backend.classify(CHAT, ["매출 상승 " * 100])
    assert prediction.label == UNKNOWN_LABEL and prediction.raw is not None
    assert REDACTED in prediction.raw and _no_key_in(prediction.raw) and len(prediction.raw) <= RAW_LIMIT


@pytest.mark.parametrize("kind", ["401", "403", "429", "500"])
def test_echoed_error_messages_are_scrubbed_and_one_line(
    openai_server: FakeOpenAI, finsent_home: Path, kind: str
) -> None:
    openai_server.faults.echo = True
    openai_server.faults.retry_after, openai_server.faults.retry_after_5xx = "0.01", "0.01"
    openai_server.faults.fail_rate, openai_server.faults.fail_kinds = 1.0, (kind,)
    backend = make_backend(openai_server, finsent_home, max_retries="0")
    with pytest.raises(errors.FinsentError) as caught:
        backend.classify(CHAT, ["x"])
    for lang in ("en", "ko"):
        text = caught.value.text(lang)
        assert _no_key_in(text) and "\n" not in text
    assert _no_key_in(repr(caught.value))


def test_echo_modes_still_follow_the_openapi_document(
    spec: dict[str, Any], openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    """Echoing is hostile but well-formed: every echoed answer still matches OpenAI's document."""
    openai_server.faults.echo = openai_server.faults.echo_headers = True
    backend = make_backend(openai_server, finsent_home)
    backend.classify(CHAT, ["매출 상승"])
    backend.classify(ModelRef("babbage-002", LabelSet()), ["매출 상승"])
    openai_server.faults.script = [("/chat/completions", "429")]
    backend.classify(CHAT, ["주가 하락"])
    checker = SpecChecker(spec)
    problems = [p for exchange in openai_server.exchanges for p in checker.check(exchange)]
    assert not problems, "\n".join(problems[:10])
    assert any(e.status == 429 for e in openai_server.exchanges)


# -- the dashboard -------------------------------------------------------------------------------
@pytest.mark.usefixtures("app_env")
def test_the_dashboard_shows_a_hostile_answer_as_one_error_box(
    openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_OPENAI_MAX_RETRIES", "0")
    openai_server.faults.invalid_json = ("/chat/completions",)
    openai_server.faults.echo = True
    at = new_app()
    service().add_shot_model("openai", CHAT.id, "zero-shot")
    at.sidebar.selectbox(key="backend").set_value("openai").run()
    at.switch_page(page("classify")).run()
    at.text_area(key="cls_text").input("매출 상승")
    button(at, "분석하기").click().run()
    assert [e.value for e in at.exception] == []
    [box] = [e.value for e in at.error]
    assert "JSON이 아닌 내용" in box and _no_key_in(box)

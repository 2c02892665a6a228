"""A bulk chunk that fails half-way is resumed without paying twice: the OpenAI backend keeps the answers
of an unfinished classify call in a ledger under its workdir, and a resumed chunk sends only the texts that
got no answer. Real SDK against our fake API, which counts per text what it received and answered."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import _thread
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from finsent_openai import OpenAIBackend
from openai_fake.dataset import sentences
from openai_fake.fixtures import make_backend, openai_server  # noqa: F401
from openai_fake.model import rule_label
from openai_fake.server import TEST_KEY, FakeOpenAI

from finsent.cli import main
from finsent.contract import errors
from finsent.contract.backend import ModelRef
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat
from finsent.service import FinsentService

LABELS = ["positive", "negative", "neutral"]
CHAT = ModelRef("gpt-4o-mini", LabelSet.from_names(LABELS))


def answers_dir(home: Path) -> Path:
    return home / "backends" / "openai" / "answers"


@pytest.fixture
def svc(
    openai_server: FakeOpenAI, finsent_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FinsentService]:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_openai")
    monkeypatch.setenv("FINSENT_OPENAI_MAX_RETRIES", "0")  # an outage fails at once (no backoff waits)
    monkeypatch.setattr(OpenAIBackend, "classify_batch_size", 100)  # 3 chunks from 250 rows
    service = FinsentService()
    service.add_model("openai", "gpt-4o-mini", labels=LABELS)
    service.add_model("openai", "babbage-002", labels=LABELS, input_format=InputFormat(separator=" ->"))
    yield service
    service.close()


@pytest.mark.parametrize(
    ("model", "let_through"),
    # chunk 0 (100 rows) and 40 rows of chunk 1: 140 chat requests, or 7 requests of 20 prompts
    [("gpt-4o-mini", 140), ("babbage-002", 7)],
    ids=["chat", "completion"],
)
def test_a_chunk_failing_half_way_is_resumed_sending_each_text_once(
    svc: FinsentService,
    openai_server: FakeOpenAI,
    finsent_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    let_through: int,
) -> None:
    texts = [text for text, _ in sentences(250, offset=300)]
    assert len(set(texts)) == len(texts)
    pd.DataFrame({"id": range(len(texts)), "문장": texts}).to_csv(tmp_path / "news.csv", index=False)
    out = tmp_path / "scored.csv"
    openai_server.faults.retry_after_5xx = "0.01"
    openai_server.faults.fail_kinds, openai_server.faults.outage_after = ("500",), let_through

    argv = ["classify", "--backend", "openai", "--model", model, "--input", str(tmp_path / "news.csv")]
    assert main([*argv, "--text-col", "문장", "--output", str(out)]) == 2
    [run] = svc.bulk_runs()
    assert (run.status, run.rows_done) == ("failed", 100), "chunk 0 committed, chunk 1 failed half-way"
    answered_before = dict(openai_server.answered)
    assert len(answered_before) == 140 and set(answered_before.values()) == {1}
    [ledger] = answers_dir(finsent_home).glob("*.json")  # the 40 answers of the failed chunk are kept
    assert ledger.stat().st_size > 0
    capsys.readouterr()

    openai_server.faults.outage_after = None  # the API is back
    assert main(["classify", "--resume", run.id, "--output", str(out)]) == 0, capsys.readouterr().err
    assert svc.bulk_run(run.id).status == "succeeded"
    # server-counted: every text answered (paid) once, and no text answered before the outage sent again
    assert len(openai_server.answered) == len(texts) and set(openai_server.answered.values()) == {1}
    assert all(openai_server.received[t] == 1 for t in answered_before), "a paid answer was asked again"
    result = pd.read_csv(out, encoding="utf-8-sig")
    assert list(result["id"]) == list(range(len(texts))) and list(result["문장"]) == texts
    assert list(result["label"]) == [rule_label(t) for t in texts]
    assert not list(answers_dir(finsent_home).glob("*.json")), "the ledger goes once the chunk is stored"


def test_kept_answers_are_only_used_for_the_same_texts_and_model(
    openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    texts = [text for text, _ in sentences(60, offset=900)]
    backend = make_backend(openai_server, finsent_home, max_retries="0")
    openai_server.faults.retry_after_5xx = "0.01"
    openai_server.faults.fail_kinds, openai_server.faults.outage_after = ("500",), 20
    with pytest.raises(errors.FinsentError, match="HTTP 500"):
        backend.classify(CHAT, texts)
    assert sum(openai_server.answered.values()) == 20
    openai_server.faults.outage_after = None

    def sent(model: ModelRef, batch: list[str]) -> int:
        before = sum(openai_server.answered.values())
        predictions = backend.classify(model, batch)
        assert [p.label for p in predictions] == [rule_label(t) for t in batch]
        return sum(openai_server.answered.values()) - before

    other_model = ModelRef("gpt-4.1-mini", CHAT.labels)
    assert sent(other_model, texts) == 60, "another model's answers are not this model's"
    assert sent(CHAT, [*texts[:-1], "대성건설 주가가 하락했다"]) == 60, "another input is another call"
    reordered = LabelSet.from_names(["neutral", "positive", "negative"])
    assert sent(ModelRef(CHAT.id, reordered), texts) == 60, "another label set too"
    assert sent(CHAT, texts) == 40, "the same call again sends only the texts without an answer"
    assert not list(answers_dir(finsent_home).glob("*.json"))


def test_a_damaged_ledger_costs_a_resend_never_a_wrong_answer(
    openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    texts = [text for text, _ in sentences(30, offset=1200)]
    backend = make_backend(openai_server, finsent_home, max_retries="0")
    openai_server.faults.retry_after_5xx = "0.01"
    openai_server.faults.fail_kinds, openai_server.faults.outage_after = ("500",), 10
    with pytest.raises(errors.FinsentError):
        backend.classify(CHAT, texts)
    [ledger] = answers_dir(finsent_home).glob("*.json")
    ledger.write_text(ledger.read_text(encoding="utf-8")[:-40], encoding="utf-8")  # torn by hand
    openai_server.faults.outage_after = None
    predictions = backend.classify(CHAT, texts)
    assert [p.label for p in predictions] == [rule_label(t) for t in texts]
    assert sum(openai_server.answered.values()) == 10 + 30
    assert not ledger.exists()


def test_ctrl_c_in_the_middle_of_a_call_keeps_every_answer_received(
    openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    texts = [text for text, _ in sentences(80, offset=1400)]
    backend = make_backend(openai_server, finsent_home, chat_in_flight="4")
    openai_server.faults.latency = 0.05  # 20 rounds of 4 requests: about a second
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            backend.classify(CHAT, texts)
    finally:
        timer.cancel()
    paid = sum(openai_server.answered.values())
    assert 0 < paid < len(texts), "interrupted half-way"
    # the requests in flight were finished and recorded, the ones not started were never sent
    assert sum(openai_server.received.values()) == paid
    openai_server.faults.latency = 0.0
    predictions = backend.classify(CHAT, texts)
    assert [p.label for p in predictions] == [rule_label(t) for t in texts]
    assert len(openai_server.answered) == len(texts) and set(openai_server.answered.values()) == {1}

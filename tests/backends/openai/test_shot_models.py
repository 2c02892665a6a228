"""Zero- and few-shot models end to end: recorded through the service and the CLI, then classified and
evaluated like trained models, through the real openai SDK against our fake API."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_fake.dataset import write_prepared
from openai_fake.fixtures import openai_server  # noqa: F401
from openai_fake.model import rule_label
from openai_fake.server import TEST_KEY, FakeOpenAI

from finsent.cli import main
from finsent.contract.backend import Capability, UnsupportedOperation
from finsent.contract.errors import InputError
from finsent.service import FinsentService


@pytest.fixture
def svc(openai_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FinsentService]:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_openai")
    service = FinsentService()
    yield service
    service.close()


def test_a_few_shot_model_classifies_and_is_evaluated_like_a_trained_one(
    svc: FinsentService, openai_server: FakeOpenAI, finsent_home: Path
) -> None:
    prepared = write_prepared(finsent_home / "prepared", n_train=30, n_valid=12)
    dataset = svc.register_dataset(prepared.directory)
    record = svc.add_shot_model("openai", "gpt-4.1-mini", "few-shot", dataset_id=dataset.id, per_label=2)
    assert record.id == "gpt-4.1-mini" and record.job_id is None and record.details["mode"] == "few_shot"
    examples = record.details["examples"]
    train_texts, valid_texts = set(prepared.frame("train")["text"]), set(prepared.frame("valid")["text"])
    assert len(examples) == 6 and all(e["text"] in train_texts for e in examples)
    assert not {e["text"] for e in examples} & valid_texts, "no validation text leaks into the prompt"
    assert [m.id for m in svc.models("openai")] == ["gpt-4.1-mini"]

    openai_server.exchanges.clear()
    evaluation = svc.evaluate("openai", "gpt-4.1-mini", dataset.id)
    assert evaluation.n == 12 and evaluation.job_id is None and evaluation.model_id == "gpt-4.1-mini"
    valid = prepared.frame("valid")
    expected = sum(rule_label(t) == lb for t, lb in zip(valid["text"], valid["label"], strict=True)) / 12
    assert evaluation.accuracy == pytest.approx(expected)
    assert set(evaluation.per_class) == {"positive", "negative", "neutral"}
    assert sum(map(sum, evaluation.confusion)) == 12
    sent = openai_server.exchanges[0].request["messages"]
    assert len(sent) == 2 + 2 * len(examples), "system, the examples as turns, then the text"
    assert svc.evaluations("openai", "gpt-4.1-mini")[0].id == evaluation.id

    [one] = svc.classify("openai", "gpt-4.1-mini", ["영업이익이 크게 증가했다"])
    assert one.label == "positive" and 0 < one.confidence <= 1


def test_zero_shot_needs_no_dataset_and_adding_again_replaces_the_mode(svc: FinsentService) -> None:
    record = svc.add_shot_model(
        "openai", "gpt-4o-mini", "zero_shot", labels=["positive", "negative", "neutral"]
    )
    assert record.details["mode"] == "zero_shot" and "examples" not in record.details
    [prediction] = svc.classify("openai", "gpt-4o-mini", ["순손실이 확대되었다"])
    assert prediction.label == "negative"
    with pytest.raises(InputError, match="Few-shot mode needs a prepared dataset"):
        svc.add_shot_model("openai", "gpt-4o-mini", "few-shot")  # examples need a dataset
    with pytest.raises(InputError, match="Unknown mode"):
        svc.add_shot_model("openai", "gpt-4o-mini", "many-shot")
    with pytest.raises(InputError):
        svc.add_shot_model("openai", "gpt-4o-mini", "zero-shot", per_label=0)


def test_a_backend_without_the_capability_refuses_in_both_languages(svc: FinsentService) -> None:
    assert Capability.SHOTS not in svc.backend("mock").capabilities
    with pytest.raises(UnsupportedOperation) as caught:
        svc.add_shot_model("mock", "anything", "zero-shot")
    assert "without training" in caught.value.text("en") and "학습 없이" in caught.value.text("ko")
    assert "shots" in next(b for b in svc.backends() if b.name == "openai").capabilities


def test_cli_add_model_in_few_shot_mode_then_evaluate_and_classify(
    svc: FinsentService, finsent_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepared = write_prepared(finsent_home / "prepared", n_train=30, n_valid=9)
    argv = ["add-model", "--backend", "openai", "--model", "gpt-4.1-mini", "--mode", "few-shot"]
    assert main(argv) == 2, "few-shot without --data is refused"
    assert "--data" in capsys.readouterr().err
    assert main([*argv, "--data", str(prepared.directory), "--per-label", "1"]) == 0
    out = capsys.readouterr().out
    assert "few-shot mode with 3 examples" in out and "finsent classify --backend openai" in out
    assert (
        main(
            ["evaluate", "--backend", "openai", "--model", "gpt-4.1-mini", "--data", str(prepared.directory)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "accuracy" in out and "macro-F1" in out and "confusion matrix" in out
    assert (
        main(["classify", "--backend", "openai", "--model", "gpt-4.1-mini", "--json", "주가가 하락했다"]) == 0
    )
    assert '"label": "negative"' in capsys.readouterr().out
    assert main(["add-model", "--backend", "mock", "--model", "x", "--mode", "zero-shot"]) == 2
    assert "cannot classify without training" in capsys.readouterr().err

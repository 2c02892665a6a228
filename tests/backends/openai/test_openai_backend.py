"""The OpenAI backend through the real openai SDK against our fake API on 127.0.0.1."""

# ruff: noqa: F811 - pytest fixtures imported from openai_fake.fixtures are parameters of the tests

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import openai
import pytest
from finsent_openai import OpenAIBackend, OpenAIOptions, register_backends
from finsent_openai.classify import Classifier, ClassifyTuning
from finsent_openai.results import parse_results
from openai_fake.dataset import sentences, write_prepared
from openai_fake.fixtures import make_backend, openai_backend, openai_server  # noqa: F401
from openai_fake.jobs import JobTiming, results_csv
from openai_fake.model import rule_label
from openai_fake.server import TEST_KEY
from pydantic import ValidationError

from finsent.contract import errors
from finsent.contract.backend import UNKNOWN_LABEL, JobStatus, JobUpdate, ModelRef
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat

COMPLETION_FMT = InputFormat(separator=" ->")
TEXTS = [text for text, _ in sentences(45)]


def follow(
    backend: OpenAIBackend, job_id: str, cursor: str | None = None, limit: int = 400
) -> list[JobUpdate]:
    updates = []
    for _ in range(limit):
        update = backend.poll_job(job_id, cursor)
        updates.append(update)
        cursor = update.cursor
        if update.status.is_terminal:
            return updates
        time.sleep(0.02)
    raise AssertionError("the job never finished")


def test_plugin_registers_the_backend() -> None:
    seen = []
    register_backends(register=seen.append)
    assert seen == [OpenAIBackend] and OpenAIBackend.name == "openai"


def test_completion_model_answers_many_prompts_per_request(openai_backend, openai_server) -> None:
    predictions = openai_backend.classify(ModelRef("babbage-002", LabelSet(), COMPLETION_FMT), TEXTS)
    assert [p.label for p in predictions] == [rule_label(t) for t in TEXTS]
    assert openai_server.requests["/completions"] == math.ceil(len(TEXTS) / 20)
    assert all(openai_server.answered[t] == 1 for t in TEXTS)
    for p in predictions:
        assert 0.5 < p.confidence <= 1 and p.scores[p.label] == p.confidence
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-4)
    sent = next(e.request for e in openai_server.exchanges if e.template == "/completions")
    assert sent["max_tokens"] == 1 and sent["temperature"] == 0 and sent["logprobs"] >= 3
    assert all(prompt.endswith(" ->") for prompt in sent["prompt"])


def test_chat_model_answers_with_logprobs(openai_backend, openai_server) -> None:
    predictions = openai_backend.classify(ModelRef("gpt-4o-mini", LabelSet()), TEXTS[:12])
    assert [p.label for p in predictions] == [rule_label(t) for t in TEXTS[:12]]
    sent = next(e.request for e in openai_server.exchanges if e.template == "/chat/completions")
    assert sent["logprobs"] is True and sent["top_logprobs"] >= 3 and sent["temperature"] == 0
    assert (
        sent["messages"][0]["role"] == "system"
        and "positive, negative, neutral" in sent["messages"][0]["content"]
    )
    assert all(0 < p.confidence <= 1 for p in predictions)


def test_answers_outside_the_label_set_become_unknown_with_the_raw_text(
    openai_backend, openai_server
) -> None:
    openai_server.model.answers["흥미로운 소식"] = "I cannot tell"
    chat = openai_backend.classify(ModelRef("gpt-4o-mini", LabelSet()), ["흥미로운 소식", "매출 상승"])
    assert chat[0].label == UNKNOWN_LABEL and chat[0].raw == "I cannot tell" and chat[1].label == "positive"
    completion = openai_backend.classify(
        ModelRef("babbage-002", LabelSet(), COMPLETION_FMT), ["흥미로운 소식"]
    )
    assert completion[0].label == UNKNOWN_LABEL and completion[0].raw == " I"
    # The wrong input format (no " ->") makes a fine-tuned completion model answer nonsense: unknown, no crash.
    wrong = openai_backend.classify(ModelRef("babbage-002", LabelSet(), InputFormat()), ["매출 상승"])
    assert wrong[0].label == UNKNOWN_LABEL and wrong[0].raw == "\n"


def test_synonym_answers_map_onto_the_label_set(openai_backend, openai_server) -> None:
    openai_server.model.answers["a"] = "Positive."
    openai_server.model.answers["b"] = "부정"
    assert [p.label for p in openai_backend.classify(ModelRef("gpt-4o-mini", LabelSet()), ["a", "b"])] == [
        "positive",
        "negative",
    ]


class _Encoding:
    """A tokenizer double: the first token id of " <label>" is a fixed number per label."""

    def encode(self, text: str) -> list[int]:
        return [1000 + ["positive", "negative", "neutral"].index(text.strip()), 7]


def test_logit_bias_limits_the_answer_to_the_first_token_of_each_label(openai_server, finsent_home) -> None:
    backend = make_backend(openai_server, finsent_home)
    classifier = Classifier(
        backend.client, backend.config, ClassifyTuning(), encoding_for=lambda _m: _Encoding()
    )
    classifier.classify(ModelRef("babbage-002", LabelSet(), COMPLETION_FMT), TEXTS[:3])
    sent = next(e.request for e in openai_server.exchanges if e.template == "/completions")
    assert sent["logit_bias"] == {"1000": 100, "1001": 100, "1002": 100}
    # Without a locally cached tokenizer the bias is left out, and answers are still mapped.
    openai_server.exchanges.clear()
    backend.classify(ModelRef("babbage-002", LabelSet(), COMPLETION_FMT), TEXTS[:3])
    assert "logit_bias" not in next(
        e.request for e in openai_server.exchanges if e.template == "/completions"
    )


def test_empty_input_sends_nothing(openai_backend, openai_server) -> None:
    assert openai_backend.classify(ModelRef("gpt-4o-mini", LabelSet()), []) == []
    assert sum(openai_server.requests.values()) == 0


@pytest.mark.parametrize("base_model", ["gpt-4o-mini-2024-07-18", "babbage-002"])
def test_train_and_follow_to_the_end(openai_backend, openai_server, finsent_home, base_model) -> None:
    dataset = write_prepared(finsent_home / "ds")
    options = OpenAIOptions(base_model=base_model, n_epochs=3, suffix="finsent-ko")
    data = openai_backend.prepare_training_data(dataset, options, finsent_home)
    assert data.input_format.separator == (" ->" if base_model == "babbage-002" else "")
    started = openai_backend.start_training(data, options)
    assert started.status is JobStatus.VALIDATING_FILES
    created = next(e.request for e in openai_server.exchanges if e.template == "/fine_tuning/jobs")
    assert created["method"] == {
        "type": "supervised",
        "supervised": {
            "hyperparameters": {"n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": "auto"}
        },
    }
    assert created["suffix"] == "finsent-ko" and created["seed"] == 42 and created["validation_file"]
    updates = follow(openai_backend, started.external_id)
    final = updates[-1]
    assert final.status is JobStatus.SUCCEEDED and final.progress == 1.0
    assert final.fine_tuned_model and final.fine_tuned_model.startswith(f"ft:{base_model}:")
    steps = [p.step for u in updates for p in u.metrics]
    assert steps == list(range(1, openai_server.timing.steps + 1)), "every step exactly once, in order"
    messages = [e.message for u in updates for e in u.events]
    assert len(messages) == len(set(e.id for u in updates for e in u.events)), "no event reported twice"
    assert any("successfully completed" in m for m in messages)
    assert final.details["kind"] == ("completion" if base_model == "babbage-002" else "chat")
    assert len(final.details["checkpoints"]) == 3
    # and the model it produced classifies, with the input format recorded for it
    fmt = InputFormat(separator=final.details["input_format"]["separator"])
    predictions = openai_backend.classify(ModelRef(final.fine_tuned_model, dataset.labels, fmt), TEXTS[:6])
    assert [p.label for p in predictions] == [rule_label(t) for t in TEXTS[:6]]


@pytest.mark.parametrize("as_base64", [False, True])
def test_metric_points_come_from_the_results_file(
    openai_backend, openai_server, finsent_home, as_base64
) -> None:
    openai_server.faults.base64_results = as_base64
    dataset = write_prepared(finsent_home / "ds")
    options = OpenAIOptions(base_model="gpt-4o-mini-2024-07-18")
    started = openai_backend.start_training(
        openai_backend.prepare_training_data(dataset, options, finsent_home), options
    )
    while openai_server.jobs[started.external_id].status != "succeeded":
        time.sleep(0.05)
        openai_server.advance_all()
    job = openai_server.jobs[started.external_id]
    job.events = [e for e in job.events if e["type"] != "metrics"]  # only the results file can give the curve
    job.checkpoints = []
    update = openai_backend.poll_job(started.external_id)
    rows = list(
        csv.DictReader(results_csv(openai_server.timing.steps, openai_server.timing.epochs).splitlines())
    )
    assert [p.step for p in update.metrics] == [int(r["step"]) for r in rows]
    assert [p.train_loss for p in update.metrics] == [float(r["train_loss"]) for r in rows]
    assert [p.valid_accuracy for p in update.metrics] == [float(r["valid_mean_token_accuracy"]) for r in rows]
    assert update.metrics[-1].epoch == pytest.approx(3.0)
    again = openai_backend.poll_job(started.external_id, update.cursor)
    assert again.metrics == [] and again.events == [], "nothing reported twice"


def test_results_file_parser_reads_plain_and_base64_alike() -> None:
    import base64

    text = results_csv(12, 3)
    plain, encoded = parse_results(text.encode()), parse_results(base64.b64encode(text.encode()))
    assert plain == encoded and len(plain) == 12
    with pytest.raises(errors.FinsentError):
        parse_results(b"not a results file")


def test_attach_a_job_created_elsewhere(openai_backend, openai_server, finsent_home) -> None:
    dataset = write_prepared(finsent_home / "ds")
    other = openai.OpenAI(api_key=TEST_KEY, base_url=openai_server.base_url)
    with dataset.path("train", "chat").open("rb") as handle:
        uploaded = other.files.create(file=handle, purpose="fine-tune")
    time.sleep(0.06)
    job = other.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=uploaded.id)
    updates = follow(openai_backend, job.id)
    assert updates[-1].status is JobStatus.SUCCEEDED and updates[-1].fine_tuned_model
    assert [p.step for u in updates for p in u.metrics] == list(range(1, 13))
    with pytest.raises(errors.NotFoundError, match="ftjob-nope"):
        openai_backend.poll_job("ftjob-nope")


def test_cancel_pause_and_resume(openai_backend, openai_server, finsent_home) -> None:
    openai_server.timing = JobTiming(running=30.0)
    dataset = write_prepared(finsent_home / "ds")
    options = OpenAIOptions()
    started = openai_backend.start_training(
        openai_backend.prepare_training_data(dataset, options, finsent_home), options
    )
    while openai_backend.poll_job(started.external_id).status is not JobStatus.RUNNING:
        time.sleep(0.02)
    assert openai_backend.pause_job(started.external_id) is JobStatus.PAUSED
    assert openai_backend.poll_job(started.external_id).status is JobStatus.PAUSED
    assert openai_backend.resume_job(started.external_id) is JobStatus.RUNNING
    assert openai_backend.cancel_job(started.external_id) is JobStatus.CANCELLED
    update = openai_backend.poll_job(started.external_id)
    assert update.status is JobStatus.CANCELLED and update.status.is_terminal
    with pytest.raises(errors.InputError, match="already"):
        openai_backend.cancel_job(started.external_id)


def test_uploads_are_sent_once_per_account(openai_backend, openai_server, finsent_home) -> None:
    dataset = write_prepared(finsent_home / "ds")
    options = OpenAIOptions()
    first = openai_backend.prepare_training_data(dataset, options, finsent_home)
    second = openai_backend.prepare_training_data(dataset, options, finsent_home)
    assert first.details["training_file"] == second.details["training_file"]
    assert openai_server.requests["/files"] == 2  # train + valid, once
    assert "system_prompt" in first.details


def test_options_are_validated_with_openai_bounds() -> None:
    assert OpenAIOptions(n_epochs="auto", batch_size=8, learning_rate_multiplier=0.3).batch_size == 8
    for bad in (
        {"n_epochs": 0},
        {"batch_size": 512},
        {"learning_rate_multiplier": 0},
        {"suffix": "no spaces!"},
    ):
        with pytest.raises(ValidationError):
            OpenAIOptions(**bad)
    schema = OpenAIOptions.model_json_schema()["properties"]
    assert all(schema[name]["description"] for name in ("n_epochs", "batch_size", "learning_rate_multiplier"))


def test_zero_and_few_shot_classify_with_any_chat_model(openai_backend, openai_server, finsent_home) -> None:
    dataset = write_prepared(finsent_home / "ds")
    zero = openai_backend.shot_model("gpt-4.1-mini", dataset.labels, "zero_shot")
    assert [p.label for p in openai_backend.classify(zero, TEXTS[:6])] == [rule_label(t) for t in TEXTS[:6]]
    few = openai_backend.shot_model("gpt-4.1-mini", dataset.labels, "few_shot", dataset, per_label=2)
    train_texts = set(dataset.frame("train")["text"])
    valid_texts = set(dataset.frame("valid")["text"])
    examples = few.details["examples"]
    assert len(examples) == 6 and {e["label"] for e in examples} == set(dataset.labels.names)
    assert all(e["text"] in train_texts and e["text"] not in valid_texts for e in examples)
    openai_server.exchanges.clear()
    predictions = openai_backend.classify(few, list(valid_texts))
    assert [p.label for p in predictions] == [rule_label(t) for t in valid_texts]
    sent = openai_server.exchanges[0].request["messages"]
    assert len(sent) == 2 + 2 * len(examples) and sent[2]["content"] == examples[0]["label"]
    with pytest.raises(errors.InputError):
        openai_backend.classify(ModelRef("babbage-002", LabelSet(), details={"mode": "zero_shot"}), ["x"])


def test_list_models_shows_fine_tuned_models(openai_backend, openai_server, finsent_home) -> None:
    openai_server.models["ft:gpt-4o-mini-2024-07-18:acme::abc123"] = "acme"
    ids = [m.id for m in openai_backend.list_models()]
    assert "ft:gpt-4o-mini-2024-07-18:acme::abc123" in ids and "babbage-002" in ids  # compatible server: all


def test_azure_is_a_configuration_of_the_same_backend(openai_server, finsent_home) -> None:
    root = openai_server.base_url.removesuffix("/v1")
    backend = make_backend(
        openai_server, finsent_home, base_url="", azure_endpoint=root, azure_api_version="2024-10-21"
    )
    assert isinstance(backend.client, openai.AzureOpenAI)
    predictions = backend.classify(ModelRef("gpt-4o-mini", LabelSet()), TEXTS[:3])
    assert [p.label for p in predictions] == [rule_label(t) for t in TEXTS[:3]]


def test_missing_key_is_explained(finsent_home: Path) -> None:
    from finsent.contract.backend import BackendContext
    from finsent.settings import Settings

    backend = OpenAIBackend(BackendContext(settings=Settings.from_env(finsent_home)))
    assert not backend.availability().ok and "OPENAI_API_KEY" in str(backend.availability().reason or "")
    with pytest.raises(errors.BackendUnavailableError) as caught:
        backend.classify(ModelRef("gpt-4o-mini", LabelSet()), ["x"])
    assert "OPENAI_API_KEY" in caught.value.text("en") and caught.value.text("ko") != caught.value.text("en")


@pytest.mark.parametrize(
    "model", [ModelRef("gpt-4o-mini", LabelSet()), ModelRef("babbage-002", LabelSet(), COMPLETION_FMT)]
)
def test_batch_api_runs_resume_and_fill_failed_rows(openai_backend, openai_server, model) -> None:
    texts = [text for text, _ in sentences(60, offset=500)]
    endpoint = "/completions" if model.id == "babbage-002" else "/chat/completions"
    openai_server.faults.script = [(endpoint, "500")]  # one line of the batch fails
    batch_id = openai_backend.submit_batch(model, texts)
    assert openai_backend.submit_batch(model, texts) == batch_id, "the same run resumes its batch"
    for _ in range(200):
        progress = openai_backend.batch_progress(batch_id)
        if progress.done:
            break
        time.sleep(0.02)
    assert progress.status == "completed" and progress.failed == 1 and progress.fraction == 1.0
    predictions = openai_backend.batch_results(batch_id, model, texts)
    assert [p.label for p in predictions] == [rule_label(t) for t in texts]
    assert set(openai_server.answered.values()) == {1} and len(openai_server.answered) == len(texts)
    assert openai_server.requests["/batches"] == 1


def test_settings_come_from_the_environment_as_the_core_builds_backends(
    openai_server, finsent_home, monkeypatch
) -> None:
    from finsent.contract.backend import BackendContext
    from finsent.settings import Settings

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("FINSENT_OPENAI_CHAT_IN_FLIGHT", "3")
    backend = OpenAIBackend(BackendContext(Settings.from_env(finsent_home)))
    assert backend.availability().ok and backend.tuning.chat_in_flight == 3
    assert TEST_KEY not in repr(backend.config) and TEST_KEY[-4:] in repr(backend.config)
    assert [p.label for p in backend.classify(ModelRef("gpt-4o-mini", LabelSet()), TEXTS[:4])] == [
        rule_label(t) for t in TEXTS[:4]
    ]

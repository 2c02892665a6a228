"""The transformers backend, on a tiny BERT built here: training in a worker, live curves, checkpoints,
resume after a kill, classification, reload in a fresh process, ready models, and the offline and
no-torch paths. Nothing is downloaded: hub ids point at a closed port on 127.0.0.1 or at offline mode."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, require
from contract_setups import prepared_sample
from transformers_fixtures import FAST_OPTIONS, shared_tiny_bert, torch_available

from finsent.contract import (
    BackendContext,
    BackendUnavailableError,
    FinsentError,
    InputError,
    JobEvent,
    JobStatus,
    JobUpdate,
    LabelSet,
    MetricPoint,
    ModelRef,
    PreparedDataset,
    Settings,
    TrainingData,
)

PLUGINS = ROOT / "plugins"
TEXTS = [
    "영업이익이 전년 대비 크게 증가했다.",
    "회사는 적자 전환과 함께 대규모 감원을 발표했다.",
    "이사회는 다음 주 화요일에 열린다.",
    "",
    "Operating profit rose to EUR 13.1 mn.",
    "매출이 늘었다 " * 300,
]


def _needs_torch() -> None:
    require(torch_available(), "torch/transformers are not installed (the transformers extra)")


@dataclass
class Run:
    backend: Any
    data: TrainingData
    job_id: str
    update: JobUpdate
    events: list[JobEvent]
    metrics: list[MetricPoint]

    @property
    def ref(self) -> ModelRef:
        details = dict(self.update.details["model_file"])
        return ModelRef(
            str(self.update.fine_tuned_model), self.data.dataset.labels, self.data.input_format, details
        )


def _backend(home: Path, config: dict[str, str] | None = None) -> Any:
    from finsent_transformers import TransformersBackend

    return TransformersBackend(BackendContext(Settings.from_env(home=home), config=config or {}))


def _start(backend: Any, dataset_dir: Path, work: Path, **options: Any) -> tuple[str, TrainingData]:
    opts = backend.Options(**options)
    data = backend.prepare_training_data(PreparedDataset.open(dataset_dir), opts, work)
    return backend.start_training(data, opts).external_id, data


def _follow(backend: Any, job_id: str, cursor: str | None = None, until: Any = None, deadline: float = 90.0):
    """Poll until the job ends (or `until(update)` holds); the last update, events, metrics and cursor."""
    end = time.monotonic() + deadline
    events: list[JobEvent] = []
    metrics: list[MetricPoint] = []
    while True:
        update = backend.poll_job(job_id, cursor)
        cursor = update.cursor
        events += update.events
        metrics += update.metrics
        if update.status.is_terminal or (until is not None and until(update)):
            return update, events, metrics, cursor
        assert time.monotonic() < end, f"job {job_id} still {update.status.value} after {deadline} s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _needs_torch()
    return shared_tiny_bert(tmp_path_factory.getbasetemp() / "transformers-models")


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepared_sample(tmp_path_factory.mktemp("tf-prepared") / "prepared")


@pytest.fixture(scope="module")
def run(tiny_model: Path, dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One short training job, shared by the tests that look at its result (it takes ~15 s). It makes the
    int8 check as users' jobs do (the contract suite's options leave it out)."""
    home = tmp_path_factory.mktemp("tf-home")
    backend = _backend(home)
    options = {**FAST_OPTIONS, "int8_inference": True}
    job_id, data = _start(backend, dataset_dir, home / "work", **options, base_model=str(tiny_model))
    update, events, metrics, _ = _follow(backend, job_id)
    return Run(backend, data, job_id, update, events, metrics)


# -- training ---------------------------------------------------------------------------------------
def test_a_job_succeeds_with_live_curves_and_a_safetensors_model(run: Run) -> None:
    assert run.update.status is JobStatus.SUCCEEDED, run.update.error
    steps = [m.step for m in run.metrics]
    assert steps == list(range(1, len(steps) + 1)), "one point per optimiser step, increasing"
    assert all(m.train_loss is not None for m in run.metrics)
    epoch_ends = [m for m in run.metrics if m.valid_loss is not None]
    assert [m.epoch for m in epoch_ends] == [1.0, 2.0], "validation at the end of each epoch"
    assert all(m.valid_accuracy is not None for m in epoch_ends)
    messages = " | ".join(e.text.en for e in run.events)
    assert "macro-F1" in messages and "checkpoint saved" in messages and "max_length auto" in messages
    details = run.update.details
    assert details["best"]["epoch"] in (1, 2) and details["best"]["valid_macro_f1"] is not None
    assert details["epochs_trained"] == 2 and details["checkpoint"] == {"epoch": 2, "step": steps[-1]}
    folder = Path(details["model_file"]["path"])
    assert folder.parent == run.backend.context.settings.models_dir
    names = {p.name for p in folder.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "finsent.json"} <= names
    job_dir = run.backend.jobs_dir / run.job_id
    pickles = [
        p for p in [*folder.rglob("*"), *job_dir.rglob("*")] if p.suffix in (".bin", ".pt", ".pkl", ".pth")
    ]
    assert pickles == [], "no pickle anywhere: weights and optimizer state are safetensors + JSON"
    assert (job_dir / "checkpoint" / "optimizer.safetensors").is_file()
    from finsent_transformers.model_folder import folder_digest

    assert details["model_file"]["sha256"] == folder_digest(folder)
    assert run.backend.list_models()[0].id == run.update.fine_tuned_model
    # Polling again from the last cursor brings nothing new.
    again = run.backend.poll_job(run.job_id, run.update.cursor)
    assert again.status is JobStatus.SUCCEEDED and again.events == [] and again.metrics == []


def test_classify_returns_softmax_scores_in_input_order(run: Run) -> None:
    predictions = run.backend.classify(run.ref, TEXTS)
    assert len(predictions) == len(TEXTS)
    names = set(run.ref.labels.names)
    for prediction in predictions:
        assert prediction.label in names
        assert set(prediction.scores) == names
        assert abs(sum(prediction.scores.values()) - 1.0) < 1e-4
        assert prediction.confidence == max(prediction.scores.values())
    reversed_predictions = run.backend.classify(run.ref, TEXTS[::-1])
    for a, b in zip(predictions, reversed_predictions[::-1], strict=True):
        assert a.label == b.label
        assert all(abs(a.scores[k] - b.scores[k]) < 1e-4 for k in names)
    assert run.backend.classify(run.ref, []) == []


def test_the_saved_model_gives_the_same_predictions_in_a_fresh_process(run: Run, tmp_path: Path) -> None:
    here = [p.scores for p in run.backend.classify(run.ref, TEXTS)]
    script = f"""
import json, sys
sys.path.insert(0, {str(PLUGINS)!r})
from finsent.contract import BackendContext, InputFormat, LabelSet, ModelRef, Settings
from finsent_transformers import TransformersBackend
spec = json.loads(sys.stdin.read())
backend = TransformersBackend(BackendContext(Settings.from_env(home=spec["home"])))
ref = ModelRef(spec["id"], LabelSet.from_names(spec["labels"]), InputFormat.from_dict(spec["format"]), spec["details"])
print(json.dumps([dict(p.scores) for p in backend.classify(ref, spec["texts"])]))
"""
    spec = {
        "home": str(run.backend.context.settings.home),
        "id": run.ref.id,
        "labels": list(run.ref.labels.names),
        "format": run.ref.input_format.to_dict(),
        "details": dict(run.ref.details),
        "texts": TEXTS,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(spec), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    for a, b in zip(here, there, strict=True):
        assert all(abs(a[k] - b[k]) < 1e-5 for k in a)


def test_a_changed_model_folder_is_refused(run: Run, tmp_path: Path) -> None:
    from finsent_transformers.errors import ModelFolderError

    copy = Path(shutil.copytree(run.ref.details["path"], tmp_path / "copy"))
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.2}))
    tampered = ModelRef(
        run.ref.id, run.ref.labels, run.ref.input_format, {**run.ref.details, "path": str(copy)}
    )
    with pytest.raises(ModelFolderError, match="changed"):
        run.backend.classify(tampered, ["매출 증가"])
    no_hash = ModelRef(run.ref.id, run.ref.labels, run.ref.input_format, {"path": str(copy)})
    with pytest.raises(ModelFolderError) as info:
        run.backend.classify(no_hash, ["매출 증가"])
    assert info.value.ko


def test_the_job_checks_int8_and_classification_uses_what_it_decided(run: Run) -> None:
    from finsent_transformers import inference, onnx_int8

    record = run.update.details["int8"]
    folder = Path(run.ref.details["path"])
    assert record["engine"] == "onnxruntime" and isinstance(record["validated"], bool)
    assert (folder / onnx_int8.ONNX_FILE).is_file() == record["validated"], (
        "the file exists only if it passed"
    )
    assert any("int8 check (onnxruntime)" in e.text.en for e in run.events)
    predictions = run.backend.classify(run.ref, TEXTS)
    assert len(predictions) == len(TEXTS)
    assert all(abs(sum(p.scores.values()) - 1.0) < 1e-3 for p in predictions)
    used = {c.engine for c in inference._cache.values() if c.model_labels}
    assert ("onnxruntime-int8" if record["validated"] else "fp32") in used
    # the `int8` setting off: fp32 whatever the job decided
    off = _backend(run.backend.context.settings.home, {"int8": "off"})
    assert [p.label for p in off.classify(run.ref, TEXTS[:3])]
    assert any(c.engine == "fp32" for c in inference._cache.values())


# -- cancel, kill, resume -----------------------------------------------------------------------------
def test_cancel_stops_a_running_job(tiny_model: Path, dataset_dir: Path, tmp_path: Path) -> None:
    backend = _backend(tmp_path / "home")
    options = {**FAST_OPTIONS, "epochs": 20, "step_delay_seconds": 1.0}
    job_id, _ = _start(backend, dataset_dir, tmp_path / "work", **options, base_model=str(tiny_model))
    # Cancel mid-training (after the first step), so the worker itself records the cancellation.
    running, _events, _metrics, cursor = _follow(backend, job_id, until=lambda u: u.metrics != [])
    assert running.status is JobStatus.RUNNING
    started = time.monotonic()
    assert backend.cancel_job(job_id) is JobStatus.CANCELLED
    assert time.monotonic() - started < 5, "the worker stops at once, without waiting for the kill"
    update, events, _metrics, _ = _follow(backend, job_id, cursor)
    assert update.status is JobStatus.CANCELLED and update.fine_tuned_model is None
    assert [e.text.en for e in events] == ["The job was cancelled"]
    assert not any(backend.context.settings.models_dir.glob("*")), "no model from a cancelled job"
    with pytest.raises(InputError, match="only an interrupted job"):
        backend.resume_interrupted(job_id)


def test_a_killed_worker_is_interrupted_and_resumes_from_its_last_checkpoint(
    tiny_model: Path, dataset_dir: Path, tmp_path: Path
) -> None:
    backend = _backend(tmp_path / "home")
    options = {**FAST_OPTIONS, "epochs": 3, "step_delay_seconds": 0.1}
    job_id, _ = _start(backend, dataset_dir, tmp_path / "work", **options, base_model=str(tiny_model))

    def past_first_checkpoint(update: JobUpdate) -> bool:
        return bool(update.details.get("checkpoint")) and update.metrics != []

    update, _events, before, cursor = _follow(backend, job_id, until=past_first_checkpoint)
    assert update.status is JobStatus.RUNNING, update.error
    pid = int((backend.jobs_dir / job_id / "worker.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    killed, _more_events, more, cursor = _follow(backend, job_id, cursor, deadline=10)
    before += more
    assert killed.status is JobStatus.INTERRUPTED
    assert "worker_died" in str(killed.error) and "Resume" in str(killed.error)
    checkpoint = killed.details["checkpoint"]
    assert checkpoint["epoch"] >= 1

    assert backend.resume_interrupted(job_id) is JobStatus.VALIDATING_FILES
    assert backend.resume_interrupted(job_id) is not JobStatus.INTERRUPTED  # a second call changes nothing
    final, after_events, after, _ = _follow(backend, job_id, cursor)
    assert final.status is JobStatus.SUCCEEDED, final.error
    messages = [e.text.en for e in after_events]
    assert any(m.startswith(f"Resuming from the checkpoint of epoch {checkpoint['epoch']}") for m in messages)
    steps = [m.step for m in before + after]
    assert steps == sorted(set(steps)), "steps continue after the resume, none repeated"
    assert after and after[0].step == max(m.step for m in before) + 1
    assert after[0].epoch is not None and after[0].epoch > checkpoint["epoch"], "the epoch count goes on"
    assert steps[-1] == before[-1].step + len(after) and final.details["epochs_trained"] == 3
    assert max(m.epoch or 0 for m in after) == 3.0
    assert final.details["resumed"] == 1
    assert len(backend.classify(_ref(final, job_id, backend), TEXTS[:2])) == 2


def _ref(update: JobUpdate, job_id: str, backend: Any) -> ModelRef:
    labels = json.loads((backend.jobs_dir / job_id / "job.json").read_text())["labels"]
    return ModelRef(
        str(update.fine_tuned_model), LabelSet.from_names(labels), details=update.details["model_file"]
    )


# -- ready models -------------------------------------------------------------------------------------
@pytest.fixture
def ready_folder(run: Run, tmp_path: Path) -> Path:
    """The trained model under other label names, as a finance classifier from the hub would be."""
    folder = Path(shutil.copytree(run.ref.details["path"], tmp_path / "kr-finbert-like"))
    (folder / "finsent.json").unlink()
    (folder / "model.int8.onnx").unlink(missing_ok=True)  # finsent's own file: a hub folder has none
    config = json.loads((folder / "config.json").read_text())
    names = list(run.ref.labels.names)
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(len(names))}
    config["label2id"] = {f"LABEL_{i}": i for i in range(len(names))}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_ready_model_classifies_without_training_through_the_service(
    run: Run, ready_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from finsent.cli import main
    from finsent.service import FinsentService

    names = list(run.ref.labels.names)
    label_map = ",".join(f"LABEL_{i}={name}" for i, name in enumerate(names))
    # the user's way: finsent add-model --backend transformers --model FOLDER --label-map ...
    code = main(["add-model", "--backend", "transformers", "--model", str(ready_folder), "--label-map", label_map,
                 "--labels", ",".join(names)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "used as it is" in out
    service = FinsentService(Settings.from_env())
    try:
        [record] = service.models("transformers")
        assert set(record.details) >= {"path", "sha256", "label_map", "model_labels"}
        assert record.job_id is None and record.name  # a readable name, no training job
        predictions = service.classify("transformers", record.id, TEXTS)
    finally:
        service.close()
    # The same weights give the same scores; the last, very long text is cut at another length (the trained
    # model keeps its training max_length in finsent.json, a ready model takes the model's limit). Both
    # in fp32: the trained model's own classification may run int8, which its job validated.
    fp32 = _backend(run.backend.context.settings.home, {"int8": "off"})
    expected = fp32.classify(run.ref, TEXTS)
    assert len(predictions) == len(TEXTS)
    for a, b in zip(predictions[:-1], expected[:-1], strict=True):
        assert a.label == b.label
        assert all(abs(a.scores[k] - b.scores[k]) < 1e-5 for k in names)


def test_a_label_map_that_does_not_fit_is_a_clear_error(run: Run, ready_folder: Path) -> None:
    names = list(run.ref.labels.names)
    with pytest.raises(InputError, match="not mapped") as info:
        run.backend.ready_model_ref(str(ready_folder), names, {"LABEL_0": names[0]})
    assert "--label-map" in str(info.value) and info.value.ko
    with pytest.raises(InputError, match="not in the label set"):
        run.backend.ready_model_ref(str(ready_folder), names, {f"LABEL_{i}": "bullish" for i in range(3)})
    with pytest.raises(InputError):  # LABEL_0... match none of our names without a map
        run.backend.ready_model_ref(str(ready_folder), names)
    # A model whose labels are already ours needs no map.
    assert run.backend.ready_model_ref(run.ref.details["path"], names).details["label_map"] == {
        n: n for n in names
    }


# -- no network, no torch -----------------------------------------------------------------------------
@pytest.mark.parametrize("offline", [False, True], ids=["hub-unreachable", "hf-hub-offline"])
def test_a_hub_id_without_network_fails_fast_with_download_instructions(
    offline: bool, dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_torch()
    from finsent_transformers.errors import ModelNotDownloadedError

    # A closed port on loopback stands for the hub: nothing leaves this machine.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    backend = _backend(tmp_path / "home")
    hub_id = "finsent-tests/no-such-bert"
    started = time.monotonic()
    with pytest.raises(ModelNotDownloadedError) as info:
        _start(backend, dataset_dir, tmp_path / "work", base_model=hub_id)
    assert time.monotonic() - started < 10
    assert f"hf download {hub_id} --local-dir" in str(info.value)
    assert "huggingface-cli download" in str(info.value) and "save_pretrained" in str(info.value)
    assert info.value.ko and info.value.hint_ko and "hf download" in info.value.text("ko")
    ref = ModelRef("ready", PreparedDataset.open(dataset_dir).labels, details={"path": hub_id, "sha256": "x"})
    with pytest.raises(ModelNotDownloadedError):
        backend.classify(ref, ["매출 증가"])
    assert time.monotonic() - started < 10


def test_a_missing_folder_is_a_clear_error(tmp_path: Path, dataset_dir: Path) -> None:
    _needs_torch()
    backend = _backend(tmp_path / "home")
    with pytest.raises(FinsentError, match="does not exist"):
        _start(backend, dataset_dir, tmp_path / "work", base_model=str(tmp_path / "nothing-here"))
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "config.json").write_text("{}")
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(FinsentError, match="pickled") as info:
        _start(backend, dataset_dir, tmp_path / "work", base_model=str(tmp_path / "pickled"))
    assert info.value.ko


def test_without_torch_the_backend_is_unavailable_with_the_install_command(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["torch"] = None  # as if torch were not installed
sys.path.insert(0, {str(PLUGINS)!r})
from finsent.contract import BackendContext, Settings
from finsent.plugins import load_backends
registry = load_backends(Settings.from_env())
backend = registry.get("transformers")(BackendContext(Settings.from_env()))
availability = backend.availability()
print(repr(availability.ok))
print(availability.reason.en)
print(availability.reason.ko)
print(registry.providers["transformers"], "transformers" in sys.modules)
try:
    backend.ready_model_ref("klue/bert-base")
except Exception as exc:
    print(type(exc).__name__, exc.ko)
"""
    env = {**os.environ, "FINSENT_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    ok, reason, reason_ko, provider, last = done.stdout.strip().splitlines()[-5:]
    assert ok == "False"
    assert 'pip install "finsent[transformers]"' in reason and "torch" in reason
    assert 'pip install "finsent[transformers]"' in reason_ko and "필요" in reason_ko
    assert provider == "finsent_transformers False", (
        "registered as a built-in, without importing transformers"
    )
    assert last.startswith(BackendUnavailableError.__name__) and "torch" in last


# -- options and small parts --------------------------------------------------------------------------
def test_options_are_typed_bounded_and_described() -> None:
    from finsent_transformers import TransformersOptions
    from pydantic import ValidationError

    options = TransformersOptions()
    assert options.base_model == "klue/bert-base" and options.max_length == "auto"
    assert TransformersOptions(max_length=128, device="cpu", mixed_precision="bf16").max_length == 128
    for bad in (
        {"max_length": 4},
        {"max_length": 1024},
        {"epochs": 0},
        {"device": "tpu"},
        {"warmup_ratio": 0.9},
    ):
        with pytest.raises(ValidationError):
            TransformersOptions(**bad)
    assert all(field.description for field in TransformersOptions.model_fields.values())


def test_base_models_offer_the_korean_encoders() -> None:
    from finsent_transformers.backend import BASE_MODELS

    ids = [m.id for m in BASE_MODELS]
    assert ids[0] == "klue/bert-base"
    assert {"snunlp/KR-FinBert-SC", "klue/roberta-base", "monologg/koelectra-base-v3-discriminator",
            "intfloat/multilingual-e5-base"} <= set(ids)  # fmt: skip


def test_batches_cover_every_row_once_and_keep_lengths_close() -> None:
    from finsent_transformers.batching import auto_max_length, sorted_batches, training_batches

    lengths = [(i * 37) % 101 + 3 for i in range(1000)]
    for batches in (training_batches(lengths, 16, seed=1), sorted_batches(lengths, 16)):
        flat = [i for batch in batches for i in batch]
        assert sorted(flat) == list(range(1000))
    assert training_batches(lengths, 16, seed=1) == training_batches(lengths, 16, seed=1)
    assert training_batches(lengths, 16, seed=1) != training_batches(lengths, 16, seed=2)
    spread = [
        max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in training_batches(lengths, 16, 1)
    ]
    assert sum(spread) / len(spread) < 10, "little padding: batches hold texts of similar length"
    assert auto_max_length(list(range(1, 101)), cap=512) == 104  # 99th percentile 100 -> multiple of 8
    assert auto_max_length([900] * 10, cap=512) == 512


def test_folder_digest_sees_every_model_file_but_not_hidden_ones(tmp_path: Path) -> None:
    from finsent_transformers.model_folder import folder_digest

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    first = folder_digest(tmp_path)
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "meta").write_text("download bookkeeping")
    assert folder_digest(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"weight5")
    assert folder_digest(tmp_path) != first


@pytest.fixture(autouse=True)
def _no_stray_workers() -> Iterator[None]:
    yield
    from finsent_transformers.process import reap_children

    reap_children()

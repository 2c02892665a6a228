"""int8 CPU classification of the transformers backend: ONNX Runtime's int8 model made and validated when a
job ends, kept in the model folder under its digest, used only where it was validated, and torch's int8 or
fp32 where it cannot be. On the tiny BERT of transformers_fixtures, built here (nothing is downloaded)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import require
from transformers_fixtures import sample_texts, shared_tiny_bert, torch_available

from finsent.contract import Text


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require(torch_available(), "torch/transformers are not installed (the transformers extra)")
    return shared_tiny_bert(tmp_path_factory.getbasetemp() / "transformers-models")


@pytest.fixture(autouse=True)
def _needs_onnxruntime() -> None:
    from finsent_transformers import onnx_int8

    require(onnx_int8.export_available(), "onnxruntime/onnx are not installed (the transformers extra)")


class Events:
    def __init__(self) -> None:
        self.texts: list[Text] = []

    def event(self, message: Any, level: str = "info") -> None:
        self.texts.append(message)

    def metric(self, point: Any) -> None: ...

    def progress(self, fraction: float) -> None: ...


def _trained(folder: Path) -> Any:
    import torch
    from finsent_transformers.training import SAFE_LOAD, Trained
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder, **SAFE_LOAD)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return Trained(model, tokenizer, None, 64, torch.device("cpu"), "fp32")  # type: ignore[arg-type]


def _validation() -> Any:
    from finsent_transformers.training import Split

    texts = sample_texts()[:120]
    return Split(texts, [i % 3 for i in range(len(texts))])


def _checked(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tolerance: float):
    """A copy of the tiny model with an int8 check made at `tolerance`; (folder, int8 record, events)."""
    from finsent_transformers import finalize
    from finsent_transformers.options import TransformersOptions

    folder = Path(shutil.copytree(tiny_model, tmp_path / "model"))
    monkeypatch.setattr(finalize, "INT8_TOLERANCE", tolerance)
    events = Events()
    opts = TransformersOptions(base_model=str(tiny_model), int8_inference=True)
    record = finalize.int8_check(_trained(folder), _validation(), opts, events, folder)
    meta = {"format": "finsent-transformers/1", "labels": ["negative", "neutral", "positive"], "int8": record}
    (folder / "finsent.json").write_text(json.dumps(meta))
    return folder, record, events


def test_a_validated_onnx_int8_model_is_kept_in_the_folder_and_classifies(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from finsent_transformers import inference, onnx_int8

    folder, record, events = _checked(tiny_model, tmp_path, monkeypatch, tolerance=1.0)
    assert record["validated"] is True and record["engine"] == "onnxruntime"
    assert 0.0 <= record["int8_accuracy"] <= 1.0 and 0.0 <= record["fp32_accuracy"] <= 1.0
    assert (folder / onnx_int8.ONNX_FILE).is_file()
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], "neither the fp32 export's scratch folder nor a half-written file is left"
    said = events.texts[-1]
    assert "onnxruntime" in said.en and "int8 is used" in said.en and "int8을 씁니다" in said.ko

    cpu = torch.device("cpu")
    int8 = inference.build(folder, cpu, int8=True)
    fp32 = inference.build(folder, cpu, int8=False)
    assert (int8.engine, fp32.engine) == ("onnxruntime-int8", "fp32")
    texts = sample_texts()[:64]
    p8, p32 = int8.probabilities(texts), fp32.probabilities(texts)
    assert p8.shape == p32.shape == (64, 3)
    assert torch.allclose(p8.sum(1), torch.ones(64), atol=1e-4)
    # int8 weights and activations: close to fp32, not equal (a random model is all near-ties, so the
    # labels are not compared; the probabilities are)
    assert 0 < float((p8 - p32).abs().max()) < 0.05
    assert int8.probabilities([]).shape == (0, 3)


def test_an_int8_model_that_loses_accuracy_is_removed_and_fp32_is_kept(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from finsent_transformers import inference, onnx_int8

    folder, record, events = _checked(tiny_model, tmp_path, monkeypatch, tolerance=-1.0)
    assert record["validated"] is False and record["engine"] == "onnxruntime"
    assert not (folder / onnx_int8.ONNX_FILE).exists()
    assert "fp32 is kept" in events.texts[-1].en
    # a ref that asks for int8 anyway (the job's record says no) does not get an unvalidated engine
    assert inference.int8_engine(folder, json.loads((folder / "finsent.json").read_text()),
                                 torch.device("cpu"), True) == "fp32"  # fmt: skip


def test_without_onnxruntime_a_model_validated_for_it_classifies_in_fp32(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from finsent_transformers import inference, onnx_int8

    folder, _, _ = _checked(tiny_model, tmp_path, monkeypatch, tolerance=1.0)
    meta = json.loads((folder / "finsent.json").read_text())
    cpu = torch.device("cpu")
    assert inference.int8_engine(folder, meta, cpu, True) == "onnxruntime-int8"
    assert inference.int8_engine(folder, meta, torch.device("cuda"), True) == "fp32", "int8 is for the CPU"
    monkeypatch.setattr(onnx_int8, "runtime_available", lambda: False)
    assert inference.int8_engine(folder, meta, cpu, True) == "fp32", (
        "never torch's int8, which nobody checked"
    )
    assert inference.build(folder, cpu, int8=True).engine == "fp32"
    # a model from before the ONNX engine (no `engine` recorded) keeps torch's int8, as it was validated
    older = {**meta, "int8": {"validated": True}}
    assert inference.int8_engine(folder, older, cpu, True) == "torch-int8"
    # a ready model (no finsent.json) whose user asked for int8: torch's, which needs no file of ours
    assert inference.int8_engine(folder, {}, cpu, True) == "torch-int8"


def test_an_export_that_fails_falls_back_to_torch_int8(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finsent_transformers import onnx_int8

    def broken(model: Any, target: Path) -> None:
        target.write_bytes(b"half")
        raise RuntimeError("Exporting the operator 'aten::exotic' to ONNX opset version 17 is not supported")

    monkeypatch.setattr(onnx_int8, "export_int8", broken)
    folder, record, events = _checked(tiny_model, tmp_path, monkeypatch, tolerance=1.0)
    assert record["engine"] == "torch" and record["validated"] is True
    assert not (folder / onnx_int8.ONNX_FILE).exists(), "the broken file is not left in the model"
    said = " | ".join(t.en for t in events.texts)
    assert "ONNX export failed (RuntimeError)" in said and "int8 check (torch)" in said
    assert all(t.ko for t in events.texts)


def test_the_quantised_file_is_under_the_folder_digest(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from finsent_transformers import inference, onnx_int8
    from finsent_transformers.errors import ModelFolderError
    from finsent_transformers.model_folder import folder_digest

    folder, _, _ = _checked(tiny_model, tmp_path, monkeypatch, tolerance=1.0)
    digest = folder_digest(folder)
    cpu = torch.device("cpu")
    assert inference.load(folder, digest, cpu, True).engine == "onnxruntime-int8"
    onnx = folder / onnx_int8.ONNX_FILE
    onnx.write_bytes(onnx.read_bytes()[:-16] + b"\0" * 16)
    with pytest.raises(ModelFolderError, match="changed"):
        inference.load(folder, digest, cpu, True)

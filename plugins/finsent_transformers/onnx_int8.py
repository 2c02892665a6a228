"""int8 CPU classification through ONNX Runtime: the fine-tuned model exported once to ONNX, its weights
quantised to int8, validated on the validation split and kept in the model folder as `model.int8.onnx`.

Why ONNX Runtime and not torch's own dynamic quantisation: on 2 cores, with klue/bert-base's shape at the
corpus' token lengths, torch's int8 Linear layers reached 49-73 rows/s and ONNX Runtime's int8 model
101-140 rows/s, in the same process (ONNX Runtime fuses attention and runs int8 matrix products end to
end instead of quantising around each layer). The file is written inside the model folder, so the
folder's digest covers it and a swapped file is refused like swapped weights.

Optional twice over: without `onnxruntime` and `onnx` the training job checks torch's int8 instead, and a
model validated for ONNX Runtime on a machine that lacks it classifies in fp32 (never with an int8 engine
nobody checked).
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

#: the quantised model's file name inside a model folder
ONNX_FILE = "model.int8.onnx"
#: the engine name recorded in finsent.json (`int8.engine`)
ENGINE = "onnxruntime"
#: opset 17 has LayerNormalization as one operator, which ONNX Runtime's transformer fusions expect
OPSET = 17


def runtime_available() -> bool:
    """Whether this machine can run a quantised model (onnxruntime is installed)."""
    return importlib.util.find_spec("onnxruntime") is not None


def export_available() -> bool:
    """Whether this machine can also make one (quantisation needs the onnx package)."""
    return runtime_available() and importlib.util.find_spec("onnx") is not None


def usable(folder: Path, meta: dict[str, Any]) -> bool:
    """Whether the folder holds an ONNX int8 model validated at training and this machine can run it."""
    int8 = meta.get("int8") or {}
    return (
        bool(int8.get("validated"))
        and int8.get("engine") == ENGINE
        and (folder / ONNX_FILE).is_file()
        and runtime_available()
    )


class _Logits(torch.nn.Module):
    """The classifier with plain tensors in and logits out: what the ONNX graph records."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_int8(model: Any, target: Path) -> None:
    """Export `model` (fp32, any device) to ONNX and write its int8 quantisation to `target`.

    The fp32 graph (as large as the weights) goes to a hidden scratch folder beside `target`, not to /tmp,
    which is small or in memory on many machines; hidden names are no part of a model folder's digest.
    Only the quantised file lands in `target`, and only once it is whole (quantize_dynamic writes straight
    to its output path, so it writes to a hidden name that is renamed).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cpu_model = _Logits(model).to("cpu").eval()
    example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    with tempfile.TemporaryDirectory(prefix=".onnx-export-", dir=target.parent) as scratch:
        fp32 = Path(scratch) / "model.onnx"
        with warnings.catch_warnings(), torch.inference_mode():
            # the TorchScript exporter is deprecated in favour of torch.export, which needs onnxscript
            # and, measured here, gives no faster int8 model; it still exports encoders exactly
            warnings.simplefilter("ignore")
            torch.onnx.export(
                cpu_model,
                example,
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["logits"],
                dynamic_axes={**axes, "logits": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        partial = target.with_name(f".{target.name}.partial")
        # the quantiser logs a hint about optional pre-processing to the root logger: noise in worker logs
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8)
        finally:
            logging.disable(previous)
        partial.replace(target)


class OnnxSequenceClassifier:
    """Stands in for the torch model where logits are computed (`logits_in_order`): called with the
    batch's input_ids and attention_mask, it answers an object whose `.logits` is a float32 tensor."""

    def __init__(self, path: Path, config: Any, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # as many threads as torch is told to use (the backend's `threads` setting), one pool only
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are noise for a user
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.config = config

    def eval(self) -> OnnxSequenceClassifier:
        return self

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        feed = {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()}
        (logits,) = self.session.run(["logits"], feed)
        return SimpleNamespace(logits=torch.from_numpy(logits))

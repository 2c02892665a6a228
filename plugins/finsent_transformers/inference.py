"""Classification with a model folder: verified, loaded once per process, batched by length, softmax scores.

Loaded on first use only (torch and transformers take seconds to import). On the CPU a model whose
training found that int8 keeps validation accuracy within half a point (finsent.json `int8.validated`)
runs quantised, several times faster: through ONNX Runtime when the check was made with it
(`int8.engine`, the file `model.int8.onnx`; see onnx_int8), else with torch's dynamic quantisation. A
ready model whose user asked for int8 gets torch's, the only one that needs no file made at training.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as transformers_logging

from finsent_transformers import onnx_int8
from finsent_transformers.batching import encode, length_cap
from finsent_transformers.model_folder import folder_signature, read_meta, verify
from finsent_transformers.training import SAFE_LOAD, logits_in_order

# Loading a model draws a progress bar on stderr: noise in `finsent classify` output and in server logs.
transformers_logging.disable_progress_bar()

#: models kept in memory per process (a BERT-base is about 0.5 GB in fp32)
CACHE_SIZE = 2
#: texts per forward pass, per engine. Measured on 2 cores at the corpus' lengths (klue/bert-base shape,
#: random weights, 400 rows): torch int8 43-47 rows/s at 8-16 texts, 37-41 at 32-64, 19 at 400; ONNX
#: Runtime int8 101-140 at 16, 112-127 at 32; fp32 is flat from 16 to 128
CLASSIFY_BATCH = {"fp32": 32, "torch-int8": 16, "onnxruntime-int8": 16}


@dataclass
class Classifier:
    model: Any
    tokenizer: Any
    #: the model's own label names, in the order of its logits
    model_labels: list[str]
    max_length: int
    device: torch.device
    #: "fp32" (on any device), "torch-int8" or "onnxruntime-int8" (CPU)
    engine: str

    def probabilities(self, texts: Sequence[str], batch_size: int | None = None) -> torch.Tensor:
        """(len(texts), n model labels) softmax probabilities, in input order."""
        batch_size = batch_size or CLASSIFY_BATCH[self.engine]
        if not texts:
            return torch.zeros((0, len(self.model_labels)))
        ids = encode(self.tokenizer, list(texts), self.max_length)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        logits = logits_in_order(self.model, ids, batch_size, pad_id, self.device, None)
        return torch.softmax(logits, dim=1)


def quantize(model: Any) -> Any:
    """Dynamic int8 quantisation of every nn.Linear (weights int8, activations quantised on the fly)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch announces the API's move to torchao; it still works
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.to("cpu").eval(), {torch.nn.Linear}, dtype=torch.qint8)


def pick_inference_device(choice: str = "auto") -> torch.device:
    if choice in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def int8_engine(folder: Path, meta: dict[str, Any], device: torch.device, int8: bool) -> str:
    """The engine that classifies: int8 only on the CPU, and ONNX Runtime's only where it was validated."""
    if not int8 or device.type != "cpu":
        return "fp32"
    if (meta.get("int8") or {}).get("engine") == onnx_int8.ENGINE:
        # validated with ONNX Runtime: without it (or its file) fp32, not an int8 nobody measured
        return "onnxruntime-int8" if onnx_int8.usable(folder, meta) else "fp32"
    return "torch-int8"


def build(folder: Path, device: torch.device, int8: bool, max_length: int | None = None) -> Classifier:
    """Load the folder's tokenizer and model (safetensors only, no remote code)."""
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    meta = read_meta(folder)
    engine = int8_engine(folder, meta, device, int8)
    model: Any
    if engine == "onnxruntime-int8":
        # the fp32 weights are not loaded at all: the ONNX file holds the whole network
        config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        model = onnx_int8.OnnxSequenceClassifier(folder / onnx_int8.ONNX_FILE, config)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(folder, **SAFE_LOAD).eval()
        model = quantize(model) if engine == "torch-int8" else model.to(device)
    id2label = model.config.id2label
    labels = [str(id2label[i]) for i in range(model.config.num_labels)]
    length = max_length or int(meta.get("max_length") or 0) or length_cap(tokenizer, model.config)
    return Classifier(model, tokenizer, labels, length, device, engine)


_cache: dict[tuple[Any, ...], Classifier] = {}
_verified: dict[tuple[str, str], tuple[Any, ...]] = {}
_lock = threading.Lock()


def load(
    folder: Path, sha256: str | None, device: torch.device, int8: bool, max_length: int | None = None
) -> Classifier:
    """The classifier in `folder`, once its digest matched `sha256` (checked again if a file changed)."""
    signature = folder_signature(folder)
    key = (str(folder), sha256 or "")
    with _lock:
        trusted = _verified.get(key) == signature
    if not trusted:
        verify(folder, sha256)
        with _lock:
            _verified[key] = signature
    cache_key = (*key, device.type, int8, max_length)
    with _lock:
        cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    classifier = build(folder, device, int8, max_length)
    with _lock:
        while len(_cache) >= CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[cache_key] = classifier
    return classifier

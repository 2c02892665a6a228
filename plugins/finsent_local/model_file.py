"""The local model on disk: one `.npz` file of plain arrays, loaded with `allow_pickle=False`.

finsent never unpickles a model. A model file holds the featurizer (settings, vocabularies, idf weights),
one linear scorer per label, a small calibrator that turns the scores into probabilities and one
decision bias per label (see `decision`; files written before biases existed load with zero biases). Loading
checks that the file lies under FINSENT_HOME/models and that its sha256 is the one recorded when it was
trained, so a file someone swapped or edited is refused before a single byte of it is used. A file that
passes its checksum can still be unusable (written by a finsent that crashed half-way, or recorded with the
checksum of a damaged copy): it is read whole and every array checked against the others before the model
is used, so a damaged file is a ModelFileError that says so, never a crash half-way through classifying.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from finsent.contract import FinsentError, NotFoundError, Text
from finsent.support import atomic_write_bytes
from finsent_local.decision import decide
from finsent_local.features import Featurizer

MODEL_FILE_NAME = "model.npz"
FORMAT = "finsent-local-linear/1"


class ModelFileError(FinsentError):
    """A model file that finsent will not load: outside its models folder, altered, or unreadable."""

    code = "model_file"


@dataclass
class LinearModel:
    """Scores = X @ weights.T + bias (one column per label); probabilities = softmax(scores @ calib.T + calib_bias);
    chosen label = argmax(log-probabilities + decision_bias)."""

    labels: list[str]
    featurizer: Featurizer
    weights: np.ndarray  # (n_labels, n_features), float32
    bias: np.ndarray  # (n_labels,)
    calib: np.ndarray  # (n_labels, n_labels)
    calib_bias: np.ndarray  # (n_labels,)
    meta: dict[str, Any] = field(default_factory=dict)
    #: (n_labels,); left empty it becomes zeros: the plain argmax of the probabilities
    decision_bias: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n_labels = len(self.labels)
        biases = np.asarray(self.decision_bias, dtype=np.float64)
        if biases.size == 0:
            biases = np.zeros(n_labels)
        if biases.shape != (n_labels,):
            raise ValueError(f"decision_bias has shape {biases.shape}, expected ({n_labels},)")
        self.decision_bias = biases

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        features = self.featurizer.transform(texts)
        return np.asarray(features @ self.weights.T) + self.bias

    def log_probabilities_from_scores(self, scores: np.ndarray) -> np.ndarray:
        logits = scores @ self.calib.T + self.calib_bias
        logits -= logits.max(axis=1, keepdims=True)
        return np.asarray(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))

    def probabilities_from_scores(self, scores: np.ndarray) -> np.ndarray:
        return np.exp(self.log_probabilities_from_scores(scores))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        return self.probabilities_from_scores(self.scores(texts))

    def predict(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(index of the chosen label, calibrated probabilities) per text, the decision biases applied."""
        if not texts:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(self.labels)))
        log_probabilities = self.log_probabilities_from_scores(self.scores(texts))
        return decide(log_probabilities, self.decision_bias), np.exp(log_probabilities)

    # -- file ---------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        channels, arrays = self.featurizer.to_arrays()
        header = {"format": FORMAT, "labels": self.labels, "channels": channels, "meta": self.meta}
        buffer = io.BytesIO()
        contents: dict[str, Any] = {
            "header": np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            "weights": self.weights.astype(np.float32),
            "bias": self.bias.astype(np.float64),
            "calib": self.calib.astype(np.float64),
            "calib_bias": self.calib_bias.astype(np.float64),
            "decision_bias": self.decision_bias,
            **arrays,
        }
        np.savez_compressed(buffer, **contents)
        return buffer.getvalue()

    def save(self, path: Path) -> str:
        """Write atomically; return the file's sha256."""
        data = self.to_bytes()
        atomic_write_bytes(path, data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        """The model in `data`; ValueError (or what numpy raises for a damaged archive) if it is not whole."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            header = json.loads(arrays["header"].tobytes().decode("utf-8"))
            if header.get("format") != FORMAT:
                raise ValueError(f"unknown model format {header.get('format')!r}")
            model = cls(
                labels=list(header["labels"]),
                featurizer=Featurizer.from_arrays(header["channels"], arrays),
                weights=arrays["weights"],
                bias=arrays["bias"],
                calib=arrays["calib"],
                calib_bias=arrays["calib_bias"],
                meta=dict(header.get("meta", {})),
                # absent from files written before decision biases existed: plain argmax, as then
                decision_bias=arrays["decision_bias"] if "decision_bias" in arrays.files else np.zeros(0),
            )
            vocabulary = [len(arrays[f"vocab_{i}"]) for i in range(len(model.featurizer.channels))]
            idf = [len(arrays[f"idf_{i}"]) for i in range(len(model.featurizer.channels))]
        model.check(vocabulary, idf)
        return model

    def check(self, vocabulary: Sequence[int], idf: Sequence[int]) -> None:
        """Every array fits the others (labels x features, labels x labels...) and holds finite numbers;
        ValueError naming the first that does not. `vocabulary` and `idf`: their lengths per channel."""
        n = len(self.labels)
        if n < 2 or len(set(self.labels)) != n or not all(isinstance(label, str) for label in self.labels):
            raise ValueError(f"the labels {self.labels!r} are not a set of two or more names")
        if list(vocabulary) != list(idf):
            raise ValueError(f"vocabulary sizes {list(vocabulary)} do not match idf sizes {list(idf)}")
        expected = {
            "weights": (n, sum(vocabulary)),
            "bias": (n,),
            "calib": (n, n),
            "calib_bias": (n,),
            "decision_bias": (n,),
        }
        for name, shape in expected.items():
            array = np.asarray(getattr(self, name))
            if array.shape != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
            if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
                raise ValueError(f"{name} holds values that are not finite numbers")
        for vectorizer, size in zip(self.featurizer._vectorizers, vocabulary, strict=True):
            if len(vectorizer.vocabulary) != size:  # a term twice: columns would shift
                raise ValueError("a vocabulary lists the same term twice")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: what reading a damaged or foreign .npz raises (a cut archive, a bad member, a header that is not JSON,
#: arrays of the wrong kind); ValueError covers UnicodeDecodeError and json's errors
_DAMAGED = (
    ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, EOFError, zipfile.BadZipFile,
    zlib.error,
)  # fmt: skip

_cache: dict[tuple[str, str], LinearModel] = {}
_cache_lock = threading.Lock()
#: models kept in memory per process (each is a few MB)
_CACHE_SIZE = 4


def load_model(path: Path | str, sha256: str | None, models_dir: Path) -> LinearModel:
    """The model at `path`, if it lies under `models_dir` and has the recorded `sha256` (cached)."""
    if not sha256:
        raise ModelFileError(
            Text(
                f"No checksum is recorded for the model file {path}; finsent loads only model files it wrote.",
                f"모델 파일 {path} 의 체크섬 기록이 없습니다. finsent 는 직접 만든 모델 파일만 불러옵니다.",
            ),
            hint=Text(
                "Train the model again with the local backend.", "로컬 백엔드로 모델을 다시 학습하세요."
            ),
        )
    resolved = Path(path).expanduser().resolve()
    root = models_dir.expanduser().resolve()
    if not resolved.is_relative_to(root):
        raise ModelFileError(
            Text(
                f"Refusing to load the model file {resolved}: it is outside finsent's models folder {root}.",
                f"모델 파일 {resolved} 은(는) finsent 모델 폴더({root}) 밖에 있어 불러오지 않습니다.",
            ),
            hint=Text(
                "finsent loads only model files it wrote under FINSENT_HOME/models.",
                "finsent 는 FINSENT_HOME/models 아래에 직접 만든 모델 파일만 불러옵니다.",
            ),
        )
    key = (str(resolved), sha256)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        data = resolved.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            Text(f"The model file {resolved} is missing.", f"모델 파일 {resolved} 이(가) 없습니다."),
            hint=Text(
                "Train the model again with the local backend.", "로컬 백엔드로 모델을 다시 학습하세요."
            ),
        ) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelFileError(
            Text(
                f"The model file {resolved} has changed since it was trained (checksum mismatch); it will not be loaded.",
                f"모델 파일 {resolved} 이(가) 학습 후 변경되었습니다 (체크섬 불일치). 불러오지 않습니다.",
            ),
            hint=Text(
                "Train the model again with the local backend.", "로컬 백엔드로 모델을 다시 학습하세요."
            ),
        )
    try:
        model = LinearModel.from_bytes(data)
    except _DAMAGED as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise ModelFileError(
            Text(
                f"The model file {resolved} is damaged or is not a finsent model file ({reason}); it will not be "
                "loaded.",
                f"모델 파일 {resolved} 이(가) 손상되었거나 finsent 모델 파일이 아닙니다({reason}). 불러오지 않습니다.",
            ),
            hint=Text(
                "Train the model again with the local backend.", "로컬 백엔드로 모델을 다시 학습하세요."
            ),
        ) from None
    with _cache_lock:
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = model
    return model

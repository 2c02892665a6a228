"""Text -> sparse TF-IDF features, in a form that can be saved without pickle.

A `Featurizer` is a list of channels (character n-grams inside word boundaries, word n-grams, and
optionally Korean morpheme n-grams from kiwipiepy), each a scikit-learn `TfidfVectorizer`. Saving keeps
only each channel's settings, its vocabulary (in column order) and its idf weights: plain arrays, so a
model file is data, never code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

#: kiwipiepy part-of-speech tags dropped from morpheme features (punctuation, symbols)
_DROPPED_TAGS = ("SF", "SP", "SS", "SE", "SO", "SW")


@dataclass(frozen=True)
class Channel:
    """One block of features. kind: "char" (char_wb n-grams), "word" or "morph" (kiwipiepy morphemes)."""

    kind: str
    ngram_min: int = 1
    ngram_max: int = 4
    min_df: int = 1
    max_features: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def _kiwi() -> Any:
    # Loading the analyser's dictionary takes about a second: once per process.
    from kiwipiepy import Kiwi

    return Kiwi()


def morphemes(texts: Sequence[str]) -> list[list[str]]:
    """Each text as its morphemes ("form/TAG" with a two-letter tag), punctuation dropped."""
    if not texts:
        return []
    analysed = _kiwi().tokenize(list(texts))
    return [
        [f"{t.form}/{t.tag[:2]}" for t in tokens if not t.tag.startswith(_DROPPED_TAGS)]
        for tokens in analysed
    ]


def _ngram_analyzer(low: int, high: int) -> Any:
    def analyse(tokens: list[str]) -> list[str]:
        grams: list[str] = []
        for n in range(low, high + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    return analyse


def _vectorizer(channel: Channel, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    common: dict[str, Any] = {"sublinear_tf": True, "dtype": np.float32, "vocabulary": vocabulary}
    if vocabulary is None:
        common.update(min_df=channel.min_df, max_features=channel.max_features)
    if channel.kind == "char":
        return TfidfVectorizer(
            analyzer="char_wb", ngram_range=(channel.ngram_min, channel.ngram_max), **common
        )
    if channel.kind == "word":
        # Words of one character carry meaning in Korean (e.g. 등, 억): keep them.
        return TfidfVectorizer(
            analyzer="word",
            token_pattern=r"(?u)\b\w+\b",
            ngram_range=(channel.ngram_min, channel.ngram_max),
            **common,
        )
    if channel.kind == "morph":
        return TfidfVectorizer(analyzer=_ngram_analyzer(channel.ngram_min, channel.ngram_max), **common)
    raise ValueError(f"unknown feature channel {channel.kind!r}")


class Featurizer:
    """Fit on training texts, then turn any texts into one CSR matrix (channels side by side)."""

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = list(channels)
        self._vectorizers: list[TfidfVectorizer] = []

    @property
    def needs_morphemes(self) -> bool:
        return any(c.kind == "morph" for c in self.channels)

    def _inputs(self, channel: Channel, texts: Sequence[str], morphs: list[list[str]] | None) -> Any:
        return morphs if channel.kind == "morph" else texts

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        morphs = morphemes(texts) if self.needs_morphemes else None
        self._vectorizers = [_vectorizer(c) for c in self.channels]
        blocks = [
            v.fit_transform(self._inputs(c, texts, morphs))
            for c, v in zip(self.channels, self._vectorizers, strict=True)
        ]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        if not self._vectorizers:
            raise RuntimeError("the featurizer is not fitted")
        morphs = morphemes(texts) if self.needs_morphemes else None
        blocks = [
            v.transform(self._inputs(c, texts, morphs))
            for c, v in zip(self.channels, self._vectorizers, strict=True)
        ]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    @property
    def n_features(self) -> int:
        return sum(len(v.vocabulary_) for v in self._vectorizers)

    # -- saving without pickle ----------------------------------------------------------------
    def to_arrays(self) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
        """(channel settings for the JSON header, arrays for the npz file)."""
        arrays: dict[str, np.ndarray] = {}
        for i, v in enumerate(self._vectorizers):
            terms = v.get_feature_names_out()
            arrays[f"vocab_{i}"] = np.asarray(terms.astype(str))
            arrays[f"idf_{i}"] = np.asarray(v.idf_, dtype=np.float64)
        return [c.to_dict() for c in self.channels], arrays

    @classmethod
    def from_arrays(cls, channels: list[dict[str, Any]], arrays: Any) -> Featurizer:
        featurizer = cls([Channel(**c) for c in channels])
        for i, channel in enumerate(featurizer.channels):
            terms = arrays[f"vocab_{i}"].tolist()
            vectorizer = _vectorizer(channel, vocabulary={term: j for j, term in enumerate(terms)})
            vectorizer.idf_ = arrays[f"idf_{i}"]
            featurizer._vectorizers.append(vectorizer)
        return featurizer

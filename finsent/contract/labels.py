"""The label set is configuration: names, their order, and the synonyms users write for them."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Synonyms seen in Korean and English spreadsheets; keys are already case-folded.
DEFAULT_SYNONYMS: Mapping[str, str] = {
    "positive": "positive",
    "pos": "positive",
    "긍정": "positive",
    "긍정적": "positive",
    "호재": "positive",
    "negative": "negative",
    "neg": "negative",
    "부정": "negative",
    "부정적": "negative",
    "악재": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "중립": "neutral",
    "중립적": "neutral",
}

DEFAULT_LABELS: tuple[str, ...] = ("positive", "negative", "neutral")

#: how Korean texts name the default labels (the dashboard's catalogue says the same)
KOREAN_NAMES: Mapping[str, str] = {"positive": "긍정", "negative": "부정", "neutral": "중립"}


def korean_name(label: str) -> str:
    """The Korean name of a default label ("positive" -> "긍정"); a label of the user's own as written."""
    return KOREAN_NAMES.get(label, label)


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().casefold()


@dataclass(frozen=True)
class LabelSet:
    """An ordered set of label names plus the synonyms that map onto them."""

    names: tuple[str, ...] = DEFAULT_LABELS
    # Left out of the hash (a dict is not hashable) so a LabelSet can key caches; still compared.
    synonyms: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SYNONYMS), hash=False)

    def __post_init__(self) -> None:
        if len(self.names) < 2:
            raise ValueError("a label set needs at least two labels")
        if len(set(self.names)) != len(self.names):
            raise ValueError("label names must be unique")

    @classmethod
    def from_names(cls, names: Iterable[str]) -> LabelSet:
        """Build from user-given names (e.g. `--labels positive,negative,neutral`), keeping known synonyms."""
        cleaned = tuple(_fold(n) for n in names if str(n).strip())
        syn = {k: v for k, v in DEFAULT_SYNONYMS.items() if v in cleaned}
        return cls(names=cleaned, synonyms=syn)

    def normalise(self, raw: object) -> str | None:
        """Map a raw label cell onto a label name, or None when it is not in the set."""
        if raw is None:
            return None
        folded = _fold(str(raw))
        if folded in self.names:
            return folded
        mapped = self.synonyms.get(folded)
        return mapped if mapped in self.names else None

    def __contains__(self, item: object) -> bool:
        return item in self.names

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict[str, object]:
        return {"names": list(self.names), "synonyms": dict(self.synonyms)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LabelSet:
        raw_names = data.get("names", DEFAULT_LABELS)
        names = tuple(str(n) for n in raw_names) if isinstance(raw_names, (list, tuple)) else DEFAULT_LABELS
        syn = data.get("synonyms")
        return cls(names=names, synonyms=dict(syn) if isinstance(syn, Mapping) else {})

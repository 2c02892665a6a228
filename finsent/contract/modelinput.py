"""The one function that turns raw text into model input, used for training files and classification alike.

The legacy `prepare_data` lower-cased Latin letters in training prompts while the tutorial classified raw
text, so the model saw one form in training and another in use. Everything in finsent goes through
`build_model_input` with the options recorded in the dataset's manifest, so that cannot happen again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

COMPLETION_SEPARATOR = " ->"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class InputFormat:
    """How raw text becomes model input; stored in the manifest and with every model."""

    lowercase: bool = False
    #: appended after the text: " ->" for completion models, "" otherwise
    separator: str = ""

    def apply(self, text: object) -> str:
        return build_model_input(text, lowercase=self.lowercase, separator=self.separator)

    def with_separator(self, separator: str) -> InputFormat:
        return InputFormat(lowercase=self.lowercase, separator=separator)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> InputFormat:
        data = data or {}
        return cls(lowercase=bool(data.get("lowercase", False)), separator=str(data.get("separator", "")))


def normalise_text(text: object) -> str:
    """NFC, every run of whitespace (newlines, tabs, NBSP, ideographic space) to one space, trimmed."""
    if text is None:
        return ""
    value = unicodedata.normalize("NFC", str(text))
    # Fast path for text that is already clean (most of it): a printable str holds no whitespace other
    # than ASCII spaces (every other whitespace character is in a non-printable category), so it only
    # needs work when it has a double or an outer space. Same result as the regex, about 10x faster.
    if value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " ":
        return value
    return _WHITESPACE.sub(" ", value).strip()


def build_model_input(text: object, *, lowercase: bool = False, separator: str = "") -> str:
    """Raw text -> the exact string a model is trained on and asked about."""
    value = normalise_text(text)
    if lowercase:
        value = value.casefold()
    return value + separator


def system_message(labels: Sequence[str]) -> str:
    """The system message of every chat example: it names the labels, and nothing else changes between
    runs. Training files and chat prompts use the same one, so a model sees at inference what it learnt."""
    return (
        "You classify the sentiment of a financial news text. "
        f"Answer with exactly one of: {', '.join(labels)}."
    )

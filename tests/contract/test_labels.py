"""The label set: configuration, not three hard-coded strings."""

from __future__ import annotations

import pytest

from finsent.contract.labels import DEFAULT_LABELS, LabelSet


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("positive", "positive"),
        (" Positive ", "positive"),
        ("NEGATIVE", "negative"),
        ("긍정", "positive"),
        ("부정 ", "negative"),
        ("중립", "neutral"),
        ("pos", "positive"),
        ("호재", "positive"),
        ("악재", "negative"),
        ("ｐｏｓｉｔｉｖｅ", "positive"),  # full-width letters from Korean input methods (NFKC)
        ("mixed", None),
        ("", None),
        (None, None),
    ],
)
def test_default_set_normalises(raw: object, expected: str | None) -> None:
    assert LabelSet().normalise(raw) == expected


def test_from_names_keeps_only_synonyms_of_its_labels() -> None:
    labels = LabelSet.from_names(["Positive", " negative"])
    assert labels.names == ("positive", "negative")
    assert labels.normalise("긍정") == "positive"
    assert labels.normalise("중립") is None
    assert "neutral" not in labels and "positive" in labels
    assert list(labels) == ["positive", "negative"] and len(labels) == 2


def test_custom_labels() -> None:
    labels = LabelSet.from_names(["up", "down", "flat"])
    assert labels.normalise(" UP ") == "up"
    assert labels.normalise("긍정") is None


def test_invalid_sets() -> None:
    with pytest.raises(ValueError):
        LabelSet(names=("only",))
    with pytest.raises(ValueError):
        LabelSet.from_names(["positive", "Positive"])


def test_round_trip() -> None:
    labels = LabelSet.from_names(["positive", "negative"])
    again = LabelSet.from_dict(labels.to_dict())
    assert again == labels
    assert LabelSet.from_dict({}).names == DEFAULT_LABELS

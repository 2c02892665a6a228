"""The options form is generated from a backend's pydantic model: kinds, bounds, choices, help."""

from __future__ import annotations

import enum
import re
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from finsent.ui.forms import describe_fields
from finsent.ui.i18n import current_lang, translate


class Colour(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class ExampleOptions(BaseModel):
    base_model: str = "m"
    epochs: int = Field(3, ge=1, le=50, description="Passes over the data.")
    rate: float = Field(0.5, gt=0, lt=1)
    n_epochs: Literal["auto"] | Annotated[int, Field(ge=1, le=9)] = "auto"
    mode: Literal["fast", "slow"] = "slow"
    colour: Colour = Colour.BLUE
    shuffle: bool = True
    suffix: str = ""
    limit: int | None = Field(None, ge=10)
    tags: list[str] = Field(default_factory=list)


def test_every_kind_of_field_becomes_the_right_input() -> None:
    specs = {s.name: s for s in describe_fields(ExampleOptions)}
    assert "base_model" not in specs  # picked separately, from the backend's base models
    assert (specs["epochs"].kind, specs["epochs"].minimum, specs["epochs"].maximum) == ("int", 1, 50)
    # label and help from the catalogue where it knows the option, else from the model's own field
    assert specs["epochs"].label == translate("opt.epochs", current_lang())
    assert specs["epochs"].help == translate("opt.epochs.help", current_lang()) != "Passes over the data."
    assert (specs["rate"].label, specs["rate"].help) == ("Rate", None)
    assert (specs["rate"].kind, specs["rate"].minimum, specs["rate"].maximum) == ("float", 0, 1)
    auto = specs["n_epochs"]
    assert (auto.kind, auto.optional, auto.empty, auto.default, auto.maximum) == (
        "int",
        True,
        "auto",
        None,
        9,
    )
    assert specs["mode"].kind == "choice" and specs["mode"].choices == ("fast", "slow")
    assert specs["colour"].kind == "choice" and Colour.RED in specs["colour"].choices
    assert specs["shuffle"].kind == "bool" and specs["shuffle"].default is True
    assert specs["suffix"].kind == "str"
    assert (specs["limit"].kind, specs["limit"].optional, specs["limit"].minimum) == ("int", True, 10)
    assert specs["tags"].kind == "unsupported"
    assert list(specs) == [
        "epochs",
        "rate",
        "n_epochs",
        "mode",
        "colour",
        "shuffle",
        "suffix",
        "limit",
        "tags",
    ]


def test_builtin_backend_options_are_all_drawable() -> None:
    from finsent_mock.backend import MockOptions

    specs = describe_fields(MockOptions)
    assert specs and all(s.kind != "unsupported" for s in specs)


HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_backend_options_speak_korean_and_technical_ones_fold_under_advanced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from finsent_local.backend import LocalOptions

    from finsent.ui import forms, i18n

    monkeypatch.setattr(i18n, "current_lang", lambda: "ko")
    monkeypatch.setattr(forms, "current_lang", lambda: "ko")
    specs = {s.name: s for s in forms.describe_fields(LocalOptions)}
    weight = specs["class_weight"]
    assert weight.label == "라벨 가중치" and weight.help and HANGUL.search(weight.help)
    assert forms._choice_text("balanced", weight.choices_ko) == "균형 (드문 라벨에 가중치)"
    assert forms._choice_text("none", weight.choices_ko) == "없음"
    assert {n for n, s in specs.items() if s.advanced} == {"alpha", "char_ngram_max", "epoch_delay_seconds"}
    assert all(HANGUL.search(s.help or "") for s in specs.values()), "every option explained in Korean"
    monkeypatch.setattr(forms, "current_lang", lambda: "en")
    assert forms._choice_text("balanced", weight.choices_ko) == "balanced"

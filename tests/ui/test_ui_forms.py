"""The options form is generated from a backend's pydantic model: kinds, bounds, choices, help."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

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

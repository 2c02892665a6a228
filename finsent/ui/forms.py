"""A Streamlit form generated from a backend's pydantic Options model.

ints/floats with bounds become number inputs, Literal and Enum fields select boxes, bools check boxes, strs
text inputs; field descriptions become help texts. On a Korean page a field's own Korean texts come first
(`json_schema_extra={"title_ko": ..., "description_ko": ..., "choices_ko": {value: text}}`: the backend
speaks for its options), then the catalogue's for options every backend shares (`opt.epochs`), then the
model's title and description. Fields marked `"advanced": True` fold under "Advanced"; the defaults work. Pure
description of the fields (`describe_fields`) is separated from drawing, so it is tested without a page.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

import annotated_types
import streamlit as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from finsent.ui.i18n import current_lang, has, t


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # int | float | bool | choice | str | unsupported
    label: str
    help: str | None
    default: Any
    optional: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    #: what an empty optional input means: None, or a literal such as "auto" for `Literal["auto"] | int`
    empty: Any = None
    #: value -> its text on a Korean page (from the field's `choices_ko`)
    choices_ko: tuple[tuple[Any, str], ...] = ()
    #: folded under "Advanced" (regularisation, n-gram lengths, fault switches)
    advanced: bool = False


def _unwrap_optional(annotation: Any) -> tuple[Any, bool, Any]:
    """(inner type, may be empty, what empty means) for `X | None` and `Literal["auto"] | X`."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True, None
        literals = [a for a in args if typing.get_origin(a) is Literal and len(typing.get_args(a)) == 1]
        others = [a for a in args if a not in literals]
        if len(literals) == 1 and len(others) == 1:
            return others[0], True, typing.get_args(literals[0])[0]
    return annotation, False, None


def _split_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    """`Annotated[int, Field(ge=1)]` -> (int, [Ge(1)]); anything else -> (annotation, [])."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        metadata: list[Any] = []
        for extra in extras:
            metadata.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
        return base, metadata
    return annotation, []


def _bounds(metadata: list[Any], integer: bool) -> tuple[float | None, float | None]:
    low: float | None = None
    high: float | None = None
    step = 1 if integer else 0.0
    for meta in metadata:
        if isinstance(meta, annotated_types.Ge):
            low = float(meta.ge)  # type: ignore[arg-type]
        elif isinstance(meta, annotated_types.Gt):
            low = float(meta.gt) + step  # type: ignore[arg-type]
        elif isinstance(meta, annotated_types.Le):
            high = float(meta.le)  # type: ignore[arg-type]
        elif isinstance(meta, annotated_types.Lt):
            high = float(meta.lt) - step  # type: ignore[arg-type]
    return low, high


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def _label(name: str, info: FieldInfo) -> str:
    own = _extra(info).get("title_ko") if current_lang() == "ko" else None
    if own:
        return str(own)
    key = f"opt.{name}"
    if has(key):
        return t(key)
    return info.title or name.replace("_", " ").capitalize()


def _help(name: str, info: FieldInfo) -> str | None:
    own = _extra(info).get("description_ko") if current_lang() == "ko" else None
    if own:
        return str(own)
    key = f"opt.{name}.help"
    return t(key) if has(key) else info.description


def describe_fields(model: type[BaseModel], exclude: tuple[str, ...] = ("base_model",)) -> list[FieldSpec]:
    """What the form shows for each field of `model`, in declaration order."""
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        annotation, optional, empty = _unwrap_optional(info.annotation)
        annotation, extra_metadata = _split_annotated(annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        extra = _extra(info)
        common: dict[str, Any] = {
            "name": name,
            "label": _label(name, info),
            "help": _help(name, info),
            "default": default,
            "advanced": bool(extra.get("advanced")),
            "choices_ko": tuple(dict(extra.get("choices_ko") or {}).items()),
        }
        if typing.get_origin(annotation) is Literal:
            specs.append(
                FieldSpec(kind="choice", choices=typing.get_args(annotation), optional=optional, **common)
            )
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            specs.append(FieldSpec(kind="choice", choices=tuple(annotation), optional=optional, **common))
        elif annotation is bool:
            specs.append(FieldSpec(kind="bool", **common))
        elif annotation in (int, float):
            low, high = _bounds([*info.metadata, *extra_metadata], integer=annotation is int)
            kind = "int" if annotation is int else "float"
            if optional and common["default"] == empty:
                common["default"] = None
            specs.append(
                FieldSpec(kind=kind, optional=optional, minimum=low, maximum=high, empty=empty, **common)
            )
        elif annotation is str:
            specs.append(FieldSpec(kind="str", optional=optional, **common))
        else:
            specs.append(FieldSpec(kind="unsupported", **common))
    return specs


def _choice_text(value: Any, korean: tuple[tuple[Any, str], ...] = ()) -> str:
    if current_lang() == "ko":
        for choice, text in korean:
            if choice == value:
                return text
    if value == "auto":
        return t("form.auto")
    if value is None:
        return t("form.none")
    return str(value.value if isinstance(value, enum.Enum) else value)


def draw_field(spec: FieldSpec, key_prefix: str) -> Any:
    """One input for `spec`; returns its value (None for an optional field left empty)."""
    key = f"{key_prefix}{spec.name}"
    if spec.kind == "choice":
        options = list(spec.choices)
        if spec.optional and None not in options:
            options = [None, *options]
        index = options.index(spec.default) if spec.default in options else 0
        return st.selectbox(
            spec.label,
            options,
            index=index,
            help=spec.help,
            key=key,
            format_func=lambda v: _choice_text(v, spec.choices_ko),
        )
    if spec.kind == "bool":
        return st.checkbox(spec.label, value=bool(spec.default), help=spec.help, key=key)
    if spec.kind in ("int", "float"):
        integer = spec.kind == "int"
        cast: Any = int if integer else float
        low: Any = cast(spec.minimum) if spec.minimum is not None else None
        high: Any = cast(spec.maximum) if spec.maximum is not None else None
        value: Any = (
            cast(spec.default) if spec.default is not None else (None if spec.optional else (low or 0))
        )
        number = st.number_input(  # type: ignore[call-overload]
            spec.label,
            min_value=low,
            max_value=high,
            value=value,
            step=1 if integer else None,
            format=None if integer else "%g",
            help=spec.help,
            placeholder=(t("form.auto") if spec.empty == "auto" else t("form.none"))
            if spec.optional
            else None,
            key=key,
        )
        return spec.empty if number is None else number
    if spec.kind == "str":
        text = st.text_input(spec.label, value=str(spec.default or ""), help=spec.help, key=key)
        return text if text or not spec.optional else None
    st.caption(t("form.unsupported", name=spec.label))
    return spec.default


def options_inputs(
    model: type[BaseModel], key_prefix: str, exclude: tuple[str, ...] = ("base_model",), columns: int = 2
) -> dict[str, Any]:
    """Draw inputs for every field of `model` (inside the caller's st.form) and return their values."""
    specs = describe_fields(model, exclude)
    values: dict[str, Any] = {}
    plain_specs = [s for s in specs if not s.advanced]
    advanced = [s for s in specs if s.advanced]
    _draw_columns(plain_specs, key_prefix, columns, values)
    if advanced:
        with st.expander(t("form.advanced"), icon=":material/tune:"):
            _draw_columns(advanced, key_prefix, columns, values)
    return values


def _draw_columns(specs: list[FieldSpec], key_prefix: str, columns: int, values: dict[str, Any]) -> None:
    cols = st.columns(columns) if specs else []
    for i, spec in enumerate(specs):
        with cols[i % columns]:
            value = draw_field(spec, key_prefix)
        if value is not None or spec.optional:
            values[spec.name] = value

"""Human names for models, jobs and bulk runs, and finding a record by its id or its name.

Ids stay the keys (`local-4fc9b6557da8`), but a person picks by name: "로컬 · tfidf-logreg · news.xlsx ·
12-02 16:52". Default names are made once, when the record is created, in the settings' language, and can
be changed by the user; every picker and list shows them, and the CLI takes a unique name wherever it takes
an id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TypeVar

from finsent.contract.errors import InputError, NotFoundError
from finsent.contract.texts import Text

SEPARATOR = " · "
MAX_NAME = 120

T = TypeVar("T")


def short_label(label: Text, language: str) -> str:
    """A backend's label for names, without its parenthesis: "로컬 (scikit-learn, CPU)" -> "로컬"."""
    return label.get(language).split(" (", 1)[0].strip() or label.en


def default_name(parts: Iterable[str | None], when: float) -> str:
    """The non-empty parts and the local time, "로컬 · tfidf-logreg · news.xlsx · 12-02 16:52"."""
    stamp = time.strftime("%m-%d %H:%M", time.localtime(when))
    return SEPARATOR.join([*(str(p).strip() for p in parts if p and str(p).strip()), stamp])


def unique_name(name: str, taken: Collection[str]) -> str:
    """`name`, or "name (2)", "name (3)"... when another record has it: a name must find one record."""
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def checked_name(name: str) -> str:
    """A name the user typed, trimmed; empty or overlong names are refused with a message."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise InputError(Text("A name cannot be empty.", "이름은 비워 둘 수 없습니다."))
    if len(cleaned) > MAX_NAME:
        raise InputError(
            Text(
                f"A name can have at most {MAX_NAME} characters (this one has {len(cleaned)}).",
                f"이름은 {MAX_NAME}자까지 쓸 수 있습니다 (입력: {len(cleaned)}자).",
            )
        )
    return cleaned


def find_one(
    wanted: str,
    records: Sequence[T],
    key: Callable[[T], str],
    name: Callable[[T], str],
    what: tuple[str, str],
    listing: str,
) -> T:
    """The record whose id is `wanted`, else the one whose name is `wanted` (exact, then ignoring case).

    Several with that name is an error that lists their ids; none is a NotFoundError. `what` is the kind
    of record in English and Korean ("model", "모델"), `listing` the command that lists them.
    """
    for record in records:
        if key(record) == wanted:
            return record
    for same in (lambda r: name(r) == wanted, lambda r: name(r).casefold() == wanted.casefold()):
        found = [r for r in records if name(r) and same(r)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ids = ", ".join(key(r) for r in found)
            raise InputError(
                Text(
                    f"{len(found)} {what[0]}s are named {wanted!r} ({ids}).",
                    f"이름이 {wanted!r}인 {what[1]}이(가) {len(found)}개 있습니다 ({ids}).",
                ),
                hint=Text(
                    f"Give the id instead, or rename one of them (`{listing}` lists them).",
                    f"id로 지정하거나 하나의 이름을 바꾸세요 (`{listing}`로 목록 확인).",
                ),
            )
    raise NotFoundError(
        Text(
            f"Unknown {what[0]} {wanted!r}: no {what[0]} has that id or name.",
            f"알 수 없는 {what[1]}입니다: id나 이름이 {wanted!r}인 {what[1]}이(가) 없습니다.",
        ),
        hint=Text(
            f"`{listing}` lists them with their ids and names.", f"`{listing}`로 id와 이름을 확인하세요."
        ),
    )

"""The bulk column normalisation must give exactly what the per-row functions give, on any column."""

from __future__ import annotations

import random
import sys
import unicodedata

import numpy as np
import pandas as pd
import pytest

from finsent.contract.modelinput import normalise_text
from finsent.prep.checks import first_appearance_codes
from finsent.prep.textscan import (
    _NOT_NFC,
    _SCAN_ROWS,
    CSV_QUOTED_CHARS,
    JSON_ESCAPED_CHARS,
    _char_table,
    normalise_column,
)


def _expected(values: list[object]) -> dict[str, list[object]]:
    texts = [normalise_text(v) for v in values]
    raws = ["" if v is None else str(v) for v in values]
    return {
        "texts": texts,
        "changed": [t != r for t, r in zip(texts, raws, strict=True)],
        "capital": [t != t.casefold() for t in texts],
        "lengths": [len(t) for t in texts],
        "first": [ord(t[0]) if t else -1 for t in texts],
        "last": [ord(t[-1]) if t else -1 for t in texts],
        "formula": [t[:1] in ("=", "+", "-", "@") for t in texts],
        "arrow": ["->" in t for t in texts],
        "json_escaped": [any(c in '"\\' or ord(c) < 0x20 for c in t) for t in texts],
        "csv_quoted": [any(c in ',"\r\n' for c in t) for t in texts],
    }


def _check(values: list[object]) -> None:
    column = normalise_column(values)
    expected = _expected(values)
    assert column.texts == expected["texts"], values
    for name in expected.keys() - {"texts"}:
        assert getattr(column, name).tolist() == expected[name], (name, values)


POOL = [
    " ", "  ", "\t", "\n", "\r", "\u3000", "\xa0", "\u200b", "\x00", "\x1f", "\x7f", "\u2028", "\ufeff",
    "\u0301", "\u0308", "e", "E", "A", "ß", "Σ", "ς", "ǅ", "İ", "Å", "\u212b", "가", "각", "\u1100",
    "\u1161", "\u11a8", "\u0b3e", "\u0b47", "한빛", "Basware", "->", "-", ">", "=", "+", "@", ",", '"',
    "\\", "🙂", "𐐀", "\U0001d165", "\ud800", "x", "1,2",
]  # fmt: skip


def test_random_columns_match_the_per_row_functions() -> None:
    rng = random.Random(11)
    for _ in range(1500):
        values: list[object] = [
            "".join(rng.choice(POOL) for _ in range(rng.randint(0, 7))) for _ in range(rng.randint(0, 9))
        ]
        if rng.random() < 0.05:
            values.append(None)
        if rng.random() < 0.05:
            values.append(3.5)
        _check(values)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [""],
        ["", ""],
        [" ", "a"],
        ["a ", " b"],
        ["가\u1161", "각"],  # a syllable followed by a vowel jamo composes under NFC
        ["e\u0301", "é"],
        ["\u212b"],  # Angstrom sign: NFC replaces it
        ["🙂 Basware", "plain"],  # a character beyond U+FFFF: the UTF-32 path
        ["\ud800 broken", "ok"],  # a lone surrogate cannot be encoded: every row the per-row way
        ["=SUM(A1)", "  +82", "-3%", "@user"],
        ["a->b", "a-> b", "a - > b"],
    ],
)
def test_awkward_columns(values: list[object]) -> None:
    _check(values)


def test_clean_korean_news_column_changes_nothing() -> None:
    texts = ["한빛전자, 3분기 영업이익 12% 증가", "Basware 수주 확대", '대표는 "신중"하다고 말했다']
    column = normalise_column(texts * 1000)
    assert column.texts == texts * 1000
    assert not column.changed.any()
    assert column.capital.tolist() == [False, True, False] * 1000


def test_a_column_longer_than_one_scan_part_equals_the_per_row_functions() -> None:
    # Parts of _SCAN_ROWS rows are scanned one by one: a text that needs the per-row way sits on each
    # side of a part's edge, and a lone surrogate (no bulk answers) in the last part only.
    values: list[object] = ["Basware 수주 확대"] * (2 * _SCAN_ROWS + 5)
    values[_SCAN_ROWS - 1], values[_SCAN_ROWS] = "  두 칸  공백 ", "e\u0301 NFD"
    values[-1], values[-2] = "\ud800 lone", None
    _check(values)


def test_nfc_table_flags_every_character_that_can_compose_with_the_one_before() -> None:
    """The quick-check rule behind _NOT_NFC: every second half of a canonical pair and every character NFC
    changes or reorders is flagged, so an unflagged text is NFC. Checked over all of Unicode."""
    table = _char_table()
    for code in range(0x10000):
        char = chr(code)
        if unicodedata.combining(char) or unicodedata.normalize("NFC", char) != char:
            assert table[code] & _NOT_NFC, hex(code)
    for code in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2 and int(parts[1], 16) < 0x10000:
                assert table[int(parts[1], 16)] & _NOT_NFC, (hex(code), decomposition)
    unflagged = [chr(c) for c in range(0x10000) if not table[c] & _NOT_NFC and not 0xD800 <= c < 0xE000]
    for before in ("a", "e", "가", "\u1100", "\u0b47", "\u0dd9"):
        assert unicodedata.is_normalized("NFC", before + "".join(unflagged[:5000]))
        assert all(unicodedata.is_normalized("NFC", before + c) for c in unflagged), before


def test_first_appearance_codes_equal_factorize() -> None:
    rng = random.Random(3)
    for _ in range(300):
        texts = [rng.choice(["a", "b", "가", "", "ab", "a "]) for _ in range(rng.randint(1, 30))]
        expected = pd.factorize(np.array(texts, dtype=object))[0]
        assert first_appearance_codes(texts).tolist() == expected.tolist()
    assert first_appearance_codes([]).tolist() == []


def test_first_appearance_codes_survive_a_hash_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two different texts with the same hash must still get different codes (the exact path)."""
    import builtins

    import finsent.prep.checks as checks_module

    real_hash = builtins.hash
    monkeypatch.setattr(
        checks_module, "hash", lambda t: 7 if t in ("x", "y") else real_hash(t), raising=False
    )
    assert checks_module.first_appearance_codes(["x", "y", "x", "z"]).tolist() == [0, 1, 0, 2]


def test_casefolding_never_adds_a_character_the_training_files_escape() -> None:
    """--lowercase writes casefolded texts with the flags of the texts before: checked over all of Unicode."""
    for chars in (JSON_ESCAPED_CHARS, CSV_QUOTED_CHARS):
        adds = [hex(code) for code in range(sys.maxunicode + 1) if chr(code) not in chars
                and not chars.isdisjoint(chr(code).casefold())]  # fmt: skip
        assert adds == []

from __future__ import annotations

import io
import itertools
import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from finsent.contract.errors import InputError
from finsent.output.export import (
    is_formula_like,
    neutralise_formulas,
    to_csv_bytes,
    to_jsonl_bytes,
    to_xlsx_bytes,
    write_table,
)


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "문장": [
                "삼성전자 영업이익 증가",
                '=HYPERLINK("http://x")',
                "+1+2",
                "@SUM(A1)",
                "-2+3",
                "\tcmd",
                "\rcmd",
            ],
            "amount": ["-3.5", "+7", "12", "-1,000", "1e5", "5%", "x"],
            "label": ["positive", "negative", "neutral", "positive", "neutral", "negative", "neutral"],
            "confidence": [0.91, 0.5, np.nan, 0.2, 0.3, 0.4, 1.0],
        }
    )


def test_neutralise_prefixes_formula_cells_only() -> None:
    out = neutralise_formulas(sample())
    assert out["문장"].tolist() == [
        "삼성전자 영업이익 증가", "'=HYPERLINK(\"http://x\")", "'+1+2", "'@SUM(A1)", "'-2+3", "'\tcmd", "'\rcmd",
    ]  # fmt: skip
    assert out["amount"].tolist() == ["-3.5", "+7", "12", "-1,000", "1e5", "5%", "x"]  # plain numbers stay
    assert out["confidence"].iloc[0] == 0.91 and np.isnan(out["confidence"].iloc[2])
    assert neutralise_formulas(pd.DataFrame({"=cmd": [1]})).columns.tolist() == ["'=cmd"]


def test_csv_has_a_bom_and_reads_back() -> None:
    data = to_csv_bytes(sample())
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False)
    assert back.columns.tolist() == ["문장", "amount", "label", "confidence"]
    assert back["문장"].iloc[0] == "삼성전자 영업이익 증가" and back["문장"].iloc[1].startswith("'=")


def test_xlsx_keeps_columns_and_never_holds_a_formula() -> None:
    frame = sample()
    frame.loc[0, "label"] = "bad\x01char"
    book = load_workbook(io.BytesIO(to_xlsx_bytes(frame)))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("문장", "amount", "label", "confidence")
    # a control character XML cannot hold becomes a space: the two words stay two words
    assert len(rows) == 8 and rows[1][0] == "삼성전자 영업이익 증가" and rows[1][2] == "bad char"
    assert rows[1][3] == 0.91 and rows[3][3] is None
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_jsonl_is_data_as_is() -> None:
    lines = to_jsonl_bytes(sample()).decode("utf-8").splitlines()
    assert len(lines) == 7 and json.loads(lines[1])["문장"].startswith("=HYPERLINK")
    assert "삼성전자" in lines[0]  # not \\u-escaped
    assert to_jsonl_bytes(sample().iloc[:0]) == b""


@pytest.mark.parametrize("name", ["out.csv", "out.xlsx", "out.jsonl", "out.tsv"])
def test_write_table_by_extension(tmp_path: Path, name: str) -> None:
    path = write_table(tmp_path / "sub" / name, sample())
    assert path.is_file() and path.stat().st_size > 0
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temp file left behind


def test_unknown_extension_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.csv, \.tsv, \.xlsx or \.jsonl"):
        write_table(tmp_path / "out.pdf", sample())
    assert list(tmp_path.iterdir()) == []


# -- cells that only look harmless ----------------------------------------------------------------------
# What a spreadsheet may drop before it reads a cell, and the ways of writing a formula's first character.
INVISIBLE_PREFIXES = ["\x01", "\x00", "\x1f", "\x7f", "\x85", "\n", "\u200b", "\u200d", "\u2060", "\ufeff",
                      "\u202e", "\u200e", "\u00ad", "\x01\u200b\ufeff"]  # fmt: skip
FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"]
BODIES = ["1+1", 'HYPERLINK("http://x","y")', "cmd|' /C calc'!A0"]
SPREADSHEET_DROPS = re.compile(
    "^[\x00-\x08\n\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]+"
)


def as_a_spreadsheet_reads_it(cell: str) -> str:
    """The invisible start dropped and the full-width forms folded, as a spreadsheet importing a CSV may."""
    return unicodedata.normalize("NFKC", SPREADSHEET_DROPS.sub("", cell))


def test_invisible_characters_and_full_width_forms_never_hide_a_formula() -> None:
    cells = [
        prefix + start + body
        for prefix, start, body in itertools.product(["", *INVISIBLE_PREFIXES], FORMULA_STARTS, BODIES)
    ]
    data = to_csv_bytes(pd.DataFrame({"text": cells}))
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False, dtype=str)["text"]
    # every cell comes back quoted and otherwise unchanged
    for original, written in zip(cells, back.tolist(), strict=True):
        assert written.startswith("'"), repr(original)
        assert written[1:] == original and as_a_spreadsheet_reads_it(original)[0] in "=+-@\t\r"
    assert all(is_formula_like(cell) for cell in cells)


@pytest.mark.parametrize(
    "cell",
    [
        "\ufeff+1", "\x01-3.5", "\uff0d\uff13", "\u200b-1,000", "5%", "삼성전자 =1+1", "a\x01=1", "plain text",
        "\x01삼성", "\u200b주가",
    ],
)  # fmt: skip
def test_plain_numbers_and_text_stay_as_they_are_however_they_start(cell: str) -> None:
    assert neutralise_formulas(pd.DataFrame({"c": [cell]}))["c"].tolist() == [cell]
    assert not is_formula_like(cell)


def test_the_guard_can_be_turned_off_for_programs(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["\x01=1+1", "\uff1dSUM(A1)"]})
    path = write_table(tmp_path / "raw.csv", frame, formula_guard=False)
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)["text"].tolist()
    assert back == ["\x01=1+1", "\uff1dSUM(A1)"]
    path = write_table(tmp_path / "guarded.tsv", frame)
    back = pd.read_csv(path, sep="\t", encoding="utf-8-sig", dtype=str)["text"].tolist()
    assert back == ["'\x01=1+1", "'\uff1dSUM(A1)"]


def test_xlsx_never_turns_a_harmless_cell_into_one_that_looks_like_a_formula(tmp_path: Path) -> None:
    """XML cannot hold most control characters; deleting one would make "\x01=1+1" read "=1+1"."""
    cells = [prefix + "=1+1" for prefix in ("\x01", "\x00\x1f", "\x0b")] + ["a\x0cb", "x\ufffey", "=1+1"]
    path = write_table(tmp_path / "out.xlsx", pd.DataFrame({"text": cells}))
    sheet = load_workbook(path).active
    written = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert written == [" =1+1", "  =1+1", " =1+1", "a b", "x y", "=1+1"]  # same length, nothing joined
    for original, cell in zip(cells, written, strict=True):
        assert cell[0] != "=" or original[0] == "=", repr(original)  # a formula look only where there was one
    assert all(c.data_type == "s" for row in sheet.iter_rows(min_row=2) for c in row)  # string cells


@pytest.mark.parametrize("dtype", ["str", "string"])
def test_string_dtype_columns_are_neutralised_like_object_columns(dtype: str) -> None:
    """Bulk results hold pandas' string dtype: the risky cells found without turning the column into Python
    strings must be exactly those of the object path, missing cells included."""
    cells = [
        "=1+1",
        "\u200b=HYPERLINK(1)",
        "＝SUM(A1)",
        "-3.5",
        "+82 10",
        "@user",
        "plain",
        None,
        "",
        "\x01=1",
    ]
    as_object = pd.DataFrame({"text": pd.Series(cells, dtype=object)})
    as_string = pd.DataFrame({"text": pd.Series(cells, dtype=dtype)})
    assert to_csv_bytes(as_string) == to_csv_bytes(as_object)
    assert b"'=1+1" in to_csv_bytes(as_string) and b"'@user" in to_csv_bytes(as_string)
    assert neutralise_formulas(as_string)["text"].dtype == as_string["text"].dtype  # stays a string column

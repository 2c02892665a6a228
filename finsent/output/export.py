"""Tables out: CSV (UTF-8 with BOM, so Excel shows Korean), XLSX and JSONL, written atomically.

CSV and TSV exports neutralise cells that a spreadsheet would run as a formula by prefixing a single quote
(`formula_guard=False` turns it off for programs that read the file). A cell is risky when it starts with
=, +, -, @, a tab or a carriage return, also when those are written full width (＝＋－＠, which a CJK
spreadsheet folds to ASCII) and when invisible characters come first: control characters, zero-width
spaces, a BOM, direction marks. Spreadsheets drop those on import, so "\x01=1+1" or "\ufeff=1+1" would
arrive as =1+1. Plain numbers such as "-3.5" are left alone, however they are written.

XLSX needs no such prefix: every text is written as a string cell, which Excel never runs. The only change
is forced by XML, which cannot hold most control characters: each of them becomes a space. A space and not
nothing: deleting it would join two words, or turn the harmless "\x01=1+1" into "=1+1", which becomes a
live formula as soon as someone edits the cell or saves the sheet as CSV.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.support.atomic import atomic_write_bytes, atomic_write_with

#: what a spreadsheet drops before reading a cell: control characters (tab and carriage return start a
#: formula themselves), and the invisible format characters (zero-width, BOM, direction marks, soft hyphen)
INVISIBLE = (
    "\x00-\x08\n\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb"
)
#: the characters that start a formula, ASCII and full width
FORMULA_CHARS = "=+\\-@\t\r\uff1d\uff0b\uff0d\uff20"
FORMULA_START = re.compile(f"^[{INVISIBLE}]*[{FORMULA_CHARS}]")
_INVISIBLE_PREFIX = re.compile(f"^[{INVISIBLE}]+")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)*|\.\d+)([eE][+-]?\d+)?%?$")
XLSX_MAX_ROWS = 1_048_575  # one row is the header
XLSX_MAX_CELL = 32_767
FORMATS = {".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".jsonl": "jsonl"}


def _plain_number(text: str) -> bool:
    """A number as a spreadsheet would read it once the invisible prefix is gone and the width folded."""
    visible = unicodedata.normalize("NFKC", _INVISIBLE_PREFIX.sub("", text))
    return PLAIN_NUMBER.match(visible) is not None


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could run `text` as a formula (see the module's docstring)."""
    return FORMULA_START.match(text) is not None and not _plain_number(text)


@functools.cache
def _start_chars() -> frozenset[str]:
    """Every character a risky cell can start with (an invisible one or a formula character)."""
    starts = re.compile(f"[{INVISIBLE}{FORMULA_CHARS}]")
    return frozenset(
        starts.findall("".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x10000))))
    )


def _neutralise_strings(series: pd.Series) -> pd.Series:
    """`_neutralise_series` for pandas' string dtype: only cells whose first character can start a formula
    become Python strings (turning a whole column of a large result into them took ~270 MB per 680,000
    rows); the rest stay in the column's own storage."""
    first = series.str.slice(0, 1).isin(_start_chars()).to_numpy(dtype=bool, na_value=False)
    if not first.any():
        return series
    rows = np.flatnonzero(first).tolist()
    picked = [
        (row, value)
        for row, value in zip(rows, series.iloc[rows].tolist(), strict=True)
        if is_formula_like(value)
    ]
    if not picked:
        return series
    result = series.copy()
    result.iloc[[row for row, _ in picked]] = ["'" + value for _, value in picked]
    return result


def _neutralise_series(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.StringDtype):
        return _neutralise_strings(series)
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return series
    text = series.astype("object")
    is_str = text.map(lambda v: isinstance(v, str))
    as_str = text.where(is_str, "").astype(str)
    risky = is_str & as_str.str.match(FORMULA_START)
    if not risky.any():
        return series
    # Only the few cells that start like a formula pay for the per-cell number check.
    risky[risky] = ~as_str[risky].map(_plain_number).astype(bool)
    if not risky.any():
        return series
    result = text.copy()
    result[risky] = "'" + as_str[risky]
    return result


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where every string cell a spreadsheet would evaluate is prefixed with a single quote.
    Column names are cells too."""
    out = frame.copy(deep=False)  # columns are replaced, never changed in place
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        neutralised = _neutralise_series(column)
        if neutralised is not column:
            out.isetitem(position, neutralised.array)
    out.columns = pd.Index(
        _neutralise_series(pd.Series([str(c) for c in frame.columns], dtype=object)).tolist()
    )
    return out


def to_csv_bytes(frame: pd.DataFrame, sep: str = ",", formula_guard: bool = True) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, frame, sep, formula_guard)
    return buffer.getvalue()


def write_csv(
    handle: BinaryIO, frame: pd.DataFrame, sep: str = ",", formula_guard: bool = True, header: bool = True
) -> None:
    """The CSV (UTF-8 with BOM, CRLF) streamed into `handle`; without `header`, rows that go on after
    what is written already (no BOM, no header line)."""
    (neutralise_formulas(frame) if formula_guard else frame).to_csv(
        handle,
        index=False,
        header=header,
        encoding="utf-8-sig" if header else "utf-8",
        sep=sep,
        lineterminator="\r\n",
    )


#: what XML 1.0 cannot hold (lone surrogates cannot even be encoded)
_ILLEGAL_XLSX = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xlsx_cell(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return None
    if isinstance(value, str):
        value = _ILLEGAL_XLSX.sub(" ", value)  # a space, never nothing: see the module's docstring
        return value[:XLSX_MAX_CELL]
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def to_xlsx_bytes(frame: pd.DataFrame, sheet_name: str = "finsent") -> bytes:
    """XLSX through XlsxWriter's constant-memory mode: rows stream to the file, and 100,000 result rows
    take well under half the time of openpyxl's write-only mode (which serialises every cell through a
    pure-Python XML tree). Strings stay strings (string cells: never run as formulas, no apostrophe added),
    and no guessing of numbers or links."""
    import xlsxwriter

    if len(frame) > XLSX_MAX_ROWS:
        raise InputError(
            Text(
                f"{len(frame):,} rows do not fit in one Excel sheet (at most {XLSX_MAX_ROWS:,}).",
                f"{len(frame):,}행은 엑셀 시트 하나에 들어가지 않습니다 (최대 {XLSX_MAX_ROWS:,}행).",
            ),
            hint=Text("Export as CSV or JSONL instead.", "CSV나 JSONL로 내보내세요."),
        )
    safe = frame
    buffer = io.BytesIO()
    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "nan_inf_to_errors": True,  # never reached: NaN cells are written empty
    }
    with xlsxwriter.Workbook(buffer, options) as workbook:
        sheet = workbook.add_worksheet(sheet_name[:31])
        sheet.write_row(0, 0, [_xlsx_cell(str(c)) for c in safe.columns])
        for number, row in enumerate(safe.itertuples(index=False, name=None), start=1):
            sheet.write_row(number, 0, [_xlsx_cell(v) for v in row])
    return buffer.getvalue()


def to_jsonl_bytes(frame: pd.DataFrame) -> bytes:
    """One JSON object per row, UTF-8, Korean kept readable. No formula neutralisation: this is data."""
    if frame.empty:
        return b""
    text = frame.to_json(orient="records", lines=True, force_ascii=False)
    return text.encode("utf-8") if text.endswith("\n") else (text + "\n").encode("utf-8")


def table_format(path: Path | str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            Text(
                f"Cannot write {Path(path).name}: use a .csv, .tsv, .xlsx or .jsonl file name.",
                f"{Path(path).name} 형식으로는 저장할 수 없습니다. .csv, .tsv, .xlsx, .jsonl 중 하나를 쓰세요.",
            )
        )
    return FORMATS[suffix]


def table_bytes(frame: pd.DataFrame, fmt: str, formula_guard: bool = True) -> bytes:
    if fmt == "csv":
        return to_csv_bytes(frame, formula_guard=formula_guard)
    if fmt == "tsv":
        return to_csv_bytes(frame, sep="\t", formula_guard=formula_guard)
    if fmt == "xlsx":
        return to_xlsx_bytes(frame)
    if fmt == "jsonl":
        return to_jsonl_bytes(frame)
    raise ValueError(f"unknown format {fmt!r}")


def write_table(path: Path | str, frame: pd.DataFrame, formula_guard: bool = True) -> Path:
    """Write `frame` in the format its extension names (.csv, .tsv, .xlsx, .jsonl); never half-written."""
    return write_table_parts(path, [frame], formula_guard)


def write_table_parts(path: Path | str, parts: Iterable[pd.DataFrame], formula_guard: bool = True) -> Path:
    """Write the rows of `parts` (frames of the same columns, at least one) as one table, like
    `write_table`. CSV and TSV are streamed a part at a time: a large result is never held whole; the
    other formats join the parts first."""
    target = Path(path).expanduser()
    fmt = table_format(target)
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"

        def write(handle: BinaryIO) -> None:
            for number, part in enumerate(parts):
                write_csv(handle, part, sep, formula_guard, header=number == 0)

        return atomic_write_with(target, write)
    frames = list(parts)
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    atomic_write_bytes(target, table_bytes(frame, fmt, formula_guard))
    return target

"""XLSX workbooks: list the sheets, read one as a table of strings, within `InputLimits`.

Cells read what Excel shows: a formula gives its last computed value; a formula Excel never computed (files
written by scripts) gives the formula text itself, so nothing silently becomes empty.

A workbook is a zip of XML parts, and openpyxl loads some of them whole (every shared string at open time),
so a 400 KB file can hold a 400 MB cell or a million rows. `workbook_checks` streams the parts with a
bounded parser before openpyxl sees them; the sheet is then read row by row from openpyxl's own parser, which
never pads rows to the sheet's declared dimension.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError

import pandas as pd

from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.ingest.columns import clean_header
from finsent.ingest.limits import InputLimits
from finsent.ingest.workbook_checks import (
    SheetPart,
    check_cells,
    check_container,
    check_whole_part,
    unreadable,
)

#: what openpyxl raises on a workbook whose parts are missing or malformed
_MALFORMED = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ValueError,
    OSError,
    EOFError,
    TypeError,
    IndexError,
    ParseError,
    NotImplementedError,
)


_DEFAULT_LIMITS = InputLimits()


@dataclass
class _Workbook:
    """A checked workbook: openpyxl's reader with the shared strings and formats loaded, no sheet read yet."""

    reader: Any
    parts: list[SheetPart]

    @property
    def names(self) -> list[str]:
        return [part.name for part in self.parts]

    def close(self) -> None:
        self.reader.archive.close()


def _package(data: bytes, label: str, limits: InputLimits) -> tuple[Any, list[SheetPart]]:
    """openpyxl's reader past the manifest and the workbook part, the zip checked, and the sheets in order.

    Only the zip directory is read before the checks; the sheets come from the workbook part and its
    relationships exactly as openpyxl finds them, so the parts checked are the parts read."""
    from openpyxl.reader import excel

    try:
        reader = excel.ExcelReader(io.BytesIO(data), read_only=True, keep_links=False)
    except _MALFORMED as exc:
        raise unreadable(label, str(exc)[:120] or type(exc).__name__) from None
    try:
        check_container(reader.archive, label, limits)
        reader.read_manifest()
        workbook = excel._find_workbook_part(reader.package).PartName[1:]  # type: ignore[attr-defined]
        check_whole_part(reader.archive, label, workbook)
        reader.read_workbook()
        parts = [
            SheetPart(str(sheet.name), str(rel.target), "chartsheet" in str(rel.Type))
            for sheet, rel in reader.parser.find_sheets()
            if rel.target in reader.valid_files
        ]
    except _MALFORMED as exc:
        reader.archive.close()
        raise unreadable(label, str(exc)[:120] or type(exc).__name__) from None
    except InputError:
        reader.archive.close()
        raise
    return reader, parts


def _load(data: bytes, label: str, limits: InputLimits, sheet: str | None) -> _Workbook:
    """The workbook with the cells of `sheet` (or of every sheet when None) checked, its shared strings
    and formats loaded."""
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.xml.constants import SHARED_STRINGS

    reader, parts = _package(data, label, limits)
    try:
        names = [part.name for part in parts]
        if not names:
            raise unreadable(label, "no sheets")
        if sheet is not None and sheet not in names:
            raise InputError(
                Text(
                    f"{label} has no sheet named {sheet!r}. Sheets: {', '.join(names)}.",
                    f"{label} 에 {sheet!r} 시트가 없습니다. 시트 목록: {', '.join(names)}.",
                ),
                hint=Text("Pick one of these sheets.", "목록에 있는 시트를 고르세요."),
            )
        strings = reader.package.find(SHARED_STRINGS)
        chosen = [part for part in parts if sheet is None or part.name == sheet]
        check_cells(
            reader.archive, label, limits, strings.PartName[1:] if strings is not None else None, chosen
        )
        reader.read_strings()
        apply_stylesheet(reader.archive, reader.wb)
    except _MALFORMED as exc:
        reader.archive.close()
        raise unreadable(label, str(exc)[:120] or type(exc).__name__) from None
    except InputError:
        reader.archive.close()
        raise
    return _Workbook(reader, parts)


def sheet_names(data: bytes, label: str, limits: InputLimits = _DEFAULT_LIMITS) -> list[str]:
    """The sheet names in workbook order; reads only the workbook's directory parts."""
    reader, parts = _package(data, label, limits)
    reader.archive.close()
    return [part.name for part in parts]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def read_xlsx(
    data: bytes, label: str, sheet: str | None, limits: InputLimits = _DEFAULT_LIMITS
) -> tuple[pd.DataFrame, str, list[str]]:
    """(frame of strings, the sheet read, all sheet names). `sheet`, or else the sheet with the most texts
    in a text column (a workbook often opens on a cover sheet or a summary; the earlier sheet wins a tie),
    else the first sheet with data."""
    chosen = None if sheet in (None, "") else str(sheet)
    book = _load(data, label, limits, chosen)
    try:
        return _choose_sheet(book, label, chosen)
    finally:
        book.close()


def _choose_sheet(book: _Workbook, label: str, sheet: str | None) -> tuple[pd.DataFrame, str, list[str]]:
    names = book.names
    if sheet is not None:
        return _read_sheet(book, label, names.index(sheet)), sheet, names
    if len(names) == 1:
        return _read_sheet(book, label, 0), names[0], names
    from finsent.ingest.columns import guess_columns

    best: tuple[int, pd.DataFrame, str] | None = None
    fallback: tuple[pd.DataFrame, str] | None = None
    for index, name in enumerate(names):
        try:
            frame = _read_sheet(book, label, index)
        except InputError:  # an empty sheet or a chart sheet: look further
            continue
        fallback = fallback or (frame, name)
        text = guess_columns(frame, look_at_cells=True).text
        if text is not None:
            texts = int(frame[text].astype(str).str.strip().ne("").sum())
            if best is None or texts > best[0]:
                best = (texts, frame, name)
    if best is not None:
        return best[1], best[2], names
    if fallback is None:
        return _read_sheet(book, label, 0), names[0], names  # says that it is empty
    return fallback[0], fallback[1], names


def _cells(
    book: _Workbook, part: SheetPart, *, data_only: bool
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """openpyxl's parse of one sheet: (row number, the cells the XML holds), never padded to the dimension
    the sheet declares (A1:XFD1048576 is common and would mean 17 billion cells)."""
    from openpyxl.worksheet._reader import WorkSheetParser

    wb = book.reader.wb
    with book.reader.archive.open(part.path) as src:
        parser = WorkSheetParser(
            src,
            book.reader.shared_strings,
            data_only=data_only,
            epoch=wb.epoch,
            date_formats=wb._date_formats,
            timedelta_formats=wb._timedelta_formats,
        )
        yield from parser.parse()


def _sheet_values(book: _Workbook, label: str, part: SheetPart) -> list[list[Any]]:
    """The rows of `part` that hold a value, each as long as its last value; formulas replaced by the
    values Excel computed, where it did."""
    rows: list[list[Any]] = []
    formulas: dict[
        tuple[int, int], tuple[int, int]
    ] = {}  # (row, column) in the sheet -> (row, column) in rows
    for number, cells in _cells(book, part, data_only=False):
        present = [cell for cell in cells if cell["value"] is not None]
        if not present:
            continue
        width = max(cell["column"] for cell in present)
        row: list[Any] = [None] * width
        for cell in present:
            row[cell["column"] - 1] = cell["value"]
            if cell["data_type"] == "f" and isinstance(cell["value"], str):
                formulas[(number, cell["column"])] = (len(rows), cell["column"] - 1)
        rows.append(row)
    if formulas:
        for number, cells in _cells(book, part, data_only=True):
            for cell in cells:
                at = formulas.get((number, cell["column"]))
                if at is not None and cell["value"] is not None:
                    rows[at[0]][at[1]] = cell["value"]
    return rows


def _read_sheet(book: _Workbook, label: str, index: int) -> pd.DataFrame:
    part = book.parts[index]
    names = book.names
    try:
        values = [] if part.chart else _sheet_values(book, label, part)
    except _MALFORMED as exc:
        raise unreadable(label, str(exc)[:120] or type(exc).__name__) from None
    rows = [[_text(v) for v in row] for row in values]
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(
            Text(
                f"Sheet {part.name!r} of {label} is empty.", f"{label} 의 {part.name!r} 시트가 비어 있습니다."
            ),
            hint=Text(
                "Choose the sheet that holds the data"
                + (f" ({', '.join(names)})." if len(names) > 1 else "."),
                "데이터가 있는 시트를 고르세요.",
            ),
        )
    width = max(len(row) for row in rows)
    header = rows[0] + [""] * (width - len(rows[0]))
    # Trailing columns with neither a header nor any value are formatting leftovers.
    while (
        width > 1
        and not header[width - 1].strip()
        and not any(len(row) >= width and row[width - 1].strip() for row in rows[1:])
    ):
        width -= 1
    body = [(row + [""] * (width - len(row)))[:width] for row in rows[1:]]
    frame = pd.DataFrame(body, columns=range(width), dtype=str)
    frame.columns = pd.Index(clean_header(header[:width]))
    return frame

"""XLSX workbooks: list the sheets, read one as a table of strings.

Cells read what Excel shows: a formula gives its last computed value; a formula Excel never computed (files
written by scripts) gives the formula text itself, so nothing silently becomes empty.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pandas as pd

from finsent.contract.errors import InputError
from finsent.ingest.columns import clean_header


def _unreadable(label: str, detail: str) -> InputError:
    return InputError(
        f"{label} could not be read as an Excel workbook ({detail}).",
        hint="Open it in Excel and save it again as .xlsx, or export the sheet as CSV UTF-8.",
        ko=f"{label} 을(를) 엑셀 통합문서로 읽을 수 없습니다({detail}).",
        hint_ko="엑셀에서 열어 .xlsx 로 다시 저장하거나 시트를 CSV UTF-8 로 내보내세요.",
    )


def _open(data: bytes, label: str, *, data_only: bool) -> Any:
    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, IndexError) as exc:
        raise _unreadable(label, type(exc).__name__ if not str(exc) else str(exc)[:120]) from None


def sheet_names(data: bytes, label: str) -> list[str]:
    book = _open(data, label, data_only=True)
    try:
        return [str(name) for name in book.sheetnames]
    finally:
        book.close()


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


def _rows(book: Any, sheet: str) -> list[list[Any]]:
    worksheet = book[sheet]
    if not hasattr(worksheet, "iter_rows"):  # a chart sheet
        return []
    return [list(row) for row in worksheet.iter_rows(values_only=False)]


def read_xlsx(data: bytes, label: str, sheet: str | None) -> tuple[pd.DataFrame, str, list[str]]:
    """(frame of strings, the sheet read, all sheet names). `sheet`, or else the sheet with the most texts
    in a text column (a workbook often opens on a cover sheet or a summary; the earlier sheet wins a tie),
    else the first sheet with data."""
    book = _open(data, label, data_only=False)
    try:
        names = [str(name) for name in book.sheetnames]
    finally:
        book.close()
    if not names:
        raise _unreadable(label, "no sheets")
    if sheet not in (None, ""):
        if str(sheet) not in names:
            raise InputError(
                f"{label} has no sheet named {sheet!r}. Sheets: {', '.join(names)}.",
                hint="Pick one of these sheets.",
                ko=f"{label} 에 {sheet!r} 시트가 없습니다. 시트 목록: {', '.join(names)}.",
                hint_ko="목록에 있는 시트를 고르세요.",
            )
        return _read_sheet(data, label, str(sheet), names), str(sheet), names
    if len(names) == 1:
        return _read_sheet(data, label, names[0], names), names[0], names
    from finsent.ingest.columns import guess_columns

    best: tuple[int, pd.DataFrame, str] | None = None
    fallback: tuple[pd.DataFrame, str] | None = None
    for name in names:
        try:
            frame = _read_sheet(data, label, name, names)
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
        return _read_sheet(data, label, names[0], names), names[0], names  # says that it is empty
    return fallback[0], fallback[1], names


def _read_sheet(data: bytes, label: str, chosen: str, names: list[str]) -> pd.DataFrame:
    book = _open(data, label, data_only=False)
    try:
        try:
            cells = _rows(book, chosen)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise _unreadable(label, str(exc)[:120] or type(exc).__name__) from None
    finally:
        book.close()
    values = [[getattr(cell, "value", None) for cell in row] for row in cells]
    formulas = [
        (r, c)
        for r, row in enumerate(cells)
        for c, cell in enumerate(row)
        if getattr(cell, "data_type", None) == "f" and isinstance(cell.value, str)
    ]
    if formulas:  # replace formulas by the values Excel computed, where it did
        computed = _open(data, label, data_only=True)
        try:
            shown = [[getattr(cell, "value", None) for cell in row] for row in _rows(computed, chosen)]
        finally:
            computed.close()
        for r, c in formulas:
            if r < len(shown) and c < len(shown[r]) and shown[r][c] is not None:
                values[r][c] = shown[r][c]
    rows = [[_text(v) for v in row] for row in values]
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError(
            f"Sheet {chosen!r} of {label} is empty.",
            hint="Choose the sheet that holds the data"
            + (f" ({', '.join(names)})." if len(names) > 1 else "."),
            ko=f"{label} 의 {chosen!r} 시트가 비어 있습니다.",
            hint_ko="데이터가 있는 시트를 고르세요.",
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

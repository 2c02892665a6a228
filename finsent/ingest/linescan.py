"""The cheap checks of `InputLimits` on a text file, before and after a parser sees it.

Before: a look at the bytes finds a physical line over the limit and counts the lines (no copy, a few
dozen C calls for a file of ordinary lines); the header's column count comes from its first line.
After: the longest cell of each column, one C-level `map(len, ...)` per column.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from finsent.ingest.limits import InputLimits, over_limit

if TYPE_CHECKING:  # no numpy at run time: a child process reads JSON Lines before it is imported
    import numpy as np


def scan_lines(data: bytes, label: str, limits: InputLimits) -> int:
    """The number of physical lines of `data`; OverLimitError for the first line over `max_line_bytes`.

    A line longer than the limit L covers a whole block of L // 2 bytes aligned on a multiple of L // 2:
    only blocks without a newline (one `find` each, which stops at the first newline) are looked at
    closely, so a file of ordinary lines costs a few dozen calls whatever its size."""
    limit = limits.max_line_bytes
    step = max(1, limit // 2)
    for start in range(0, len(data), step):
        if data.find(b"\n", start, start + step) >= 0:
            continue
        begin = data.rfind(b"\n", 0, start) + 1
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if end - begin > limit:
            line = data.count(b"\n", 0, begin) + 1
            raise _line_too_long(label, line, end - begin, limits)
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


def count_records(data: bytes, stop: int) -> int:
    """Lines holding something other than blanks, counted up to `stop` (without keeping the lines)."""
    records = 0
    for line in io.BytesIO(data):
        if line.strip():
            records += 1
            if records >= stop:
                break
    return records


def _line_too_long(label: str, line: int, length: int, limits: InputLimits) -> Exception:
    return over_limit(
        label,
        "max_line_kb",
        -(-length // 1024),
        limits.max_line_kb,
        where=f"line {line:,}",
        where_ko=f"{line:,}번째 줄",
    )


def check_header_columns(data: bytes, delimiter: str, label: str, limits: InputLimits) -> None:
    """OverLimitError when the first line names more than `max_columns` columns (delimiters in double
    quotes are not counted)."""
    end = data.find(b"\n")
    header = data if end < 0 else data[:end]
    if header.startswith(codecs.BOM_UTF8):
        header = header[len(codecs.BOM_UTF8) :]
    sep = delimiter.encode("ascii")
    columns = header.count(sep) + 1
    if columns <= limits.max_columns:
        return  # quotes only ever lower the count
    if b'"' in header:  # an unbalanced quote or a huge quoted name: the raw count stands
        with contextlib.suppress(csv.Error, StopIteration):
            columns = len(next(csv.reader([header.decode("utf-8", "replace")], delimiter=delimiter)))
    if columns > limits.max_columns:
        raise over_limit(
            label,
            "max_columns",
            columns,
            limits.max_columns,
            where="header, line 1",
            where_ko="머리글(1번째 줄)",
        )


def check_cells(
    columns: Sequence[str],
    values: Sequence[Sequence[str] | np.ndarray],
    label: str,
    limits: InputLimits,
    place: Callable[[int], tuple[str, str]],
) -> None:
    """OverLimitError for the first column holding a cell over `max_cell_chars` (and for a column name
    over it). `values` are the columns' cells; `place(i)` says where row i is, in English and Korean."""
    limit = limits.max_cell_chars
    for name in columns:
        if len(name) > limit:
            raise over_limit(label, "max_cell_chars", len(name), limit, where="header", where_ko="머리글")
    for name, cells in zip(columns, values, strict=True):
        if not len(cells) or max(map(len, cells)) <= limit:
            continue
        row = next(i for i, cell in enumerate(cells) if len(cell) > limit)
        where, where_ko = place(row)
        raise over_limit(
            label,
            "max_cell_chars",
            len(cells[row]),
            limit,
            where=f"{where}, column {name}",
            where_ko=f"{where_ko}, 열 {name}",
        )


def check_rows(rows: int, label: str, limits: InputLimits, *, at_least: bool = False) -> None:
    if rows > limits.max_rows:
        raise over_limit(label, "max_rows", rows, limits.max_rows, at_least=at_least)

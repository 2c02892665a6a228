"""JSON Lines (and a JSON array of objects) as a table of strings, within `InputLimits`.

The file is read in pieces of about 8 MB (whole lines), each parsed in one `json.loads` call instead of
one per line: its lines are joined into one array, each preceded by a random marker string. A line that is
not exactly one JSON value on its own (a value spanning lines, two values on one line) would move or
swallow a marker, which the file cannot forge, so checking that every marker is where it belongs proves
that each line parsed alone. A piece where that fails (blank lines, a broken line) is read line by line,
which also names the line that is wrong. The records of a piece go into columns at once, so only one
piece's dicts are ever in memory beside the cells. Free of pandas and numpy (the reader turns the cells
into a frame), so a child process can read a file before they are imported (`finsent.ingest.prefetch`).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import re
import secrets
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.ingest.limits import InputLimits, over_limit
from finsent.ingest.linescan import check_cells, count_records, scan_lines
from finsent.ingest.sniffing import decode_text, utf8_head

# JSON's blanks (all of them blanks to str.strip() too) before the first record.
_BLANKS = re.compile(rb"[ \t\n\r]*")
# A JSON escape of a UTF-16 surrogate: json.loads joins a pair into one character and leaves a lone one
# as a surrogate, which no encoding can write (UTF-8 text itself cannot hold one).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def cell_text(value: object) -> str:
    """A JSON value as the cell text finsent reads: strings as they are, null empty, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


#: characters (or bytes) of JSON Lines parsed in one call
_PIECE = 8 * 1024 * 1024


@dataclass(frozen=True)
class JsonlCells:
    """The cells of a JSON Lines file: one list of str per key, in the order the keys first appear, the
    keys as written (`finsent.ingest.columns.clean_header` makes them column names), and the rows."""

    names: list[str]
    columns: list[list[str]]
    rows: int


def read_jsonl_bytes(data: bytes, label: str, limits: InputLimits) -> tuple[JsonlCells, str]:
    """(cells, encoding) of a JSONL file's bytes, its lines and rows checked against `limits` before any
    line is decoded or parsed."""
    check_lines(data, label, limits)
    return read_jsonl_data(data, label, limits)


def check_lines(data: bytes, label: str, limits: InputLimits) -> None:
    """OverLimitError for a line over `max_line_kb` or more records than `max_rows`."""
    lines = scan_lines(data, label, limits)
    if lines > limits.max_rows:
        records = count_records(data, limits.max_rows + 1)
        if records > limits.max_rows:
            raise over_limit(label, "max_rows", records, limits.max_rows, at_least=True)


def read_jsonl_data(data: bytes, label: str, limits: InputLimits) -> tuple[JsonlCells, str]:
    """(cells, encoding) of a JSONL file's bytes (see `read_jsonl`). UTF-8 is decoded a piece at a time;
    any other file is decoded first (`decode_text`)."""
    start = utf8_lines_start(data, label)
    if start is not None:
        with contextlib.suppress(UnicodeDecodeError):  # not UTF-8 further on: decode_text tells more
            return _read_lines(data, start[0], label, limits), start[1]
    text, encoding = decode_text(data, label)
    return read_jsonl(text, label, limits), encoding


def utf8_lines_start(data: bytes, label: str) -> tuple[int, str] | None:
    """(offset of the first line, encoding) of a file read as UTF-8 lines a piece at a time (what starts
    with a BOM or blanks and "{" in UTF-8); None for a file `decode_text` decodes whole first."""
    head = utf8_head(data, label)  # raises for binary data, as decode_text would
    if head is None:
        return None
    encoding = head[1]
    offset = len(codecs.BOM_UTF8) if encoding == "utf-8-sig" else 0
    start = _BLANKS.match(data, offset)
    if start is not None and data[start.end() : start.end() + 1] == b"{":
        return offset, encoding
    return None


def read_jsonl_lines(data: bytes, start: int, end: int, label: str, limits: InputLimits) -> JsonlCells:
    """The cells of the whole UTF-8 lines `data[start:end]` (`start` from `utf8_lines_start` or just
    after a newline, `end` just after one): with `joined_cells`, the cells of a file read in two parts
    are those of the file read whole (UnicodeDecodeError when a part is not UTF-8: read it whole)."""
    return _read_lines(data, start, label, limits, end)


def joined_cells(first: JsonlCells, second: JsonlCells) -> JsonlCells:
    """The cells of two consecutive parts of a file as those of the whole: the keys in the order they
    first appear, "" where a part has no such key (what `cell_text` makes of the missing value)."""
    names = first.names + [name for name in second.names if name not in set(first.names)]
    before = dict(zip(first.names, first.columns, strict=True))
    after = dict(zip(second.names, second.columns, strict=True))
    columns = [
        (before[name] if name in before else [""] * first.rows)
        + (after[name] if name in after else [""] * second.rows)
        for name in names
    ]
    return JsonlCells(names, columns, first.rows + second.rows)


def read_jsonl(text: str, label: str, limits: InputLimits) -> JsonlCells:
    """The records of a JSONL text (or a JSON array of objects) as str cells, columns in the order their
    keys first appear. InputError names the line that is not one JSON object."""
    stripped = text.lstrip()
    if not stripped.startswith("["):
        return _read_lines(text, 0, label, limits)
    columns = _Columns(label, limits)  # a JSON array of objects is accepted as well
    columns.add(_array_records(stripped, label), 1, None)
    columns.surrogate_escapes = _SURROGATE_ESCAPE.search(stripped) is not None
    return columns.finished()


def _read_lines(
    source: bytes | str, offset: int, label: str, limits: InputLimits, stop: int | None = None
) -> JsonlCells:
    """JSON Lines from `source[offset:stop]` (UTF-8 bytes, decoded a piece at a time, or text)."""
    newline: Any = b"\n" if isinstance(source, bytes) else "\n"
    token = secrets.token_hex(16)
    held = token.encode("ascii") in source if isinstance(source, bytes) else token in source
    # never in practice; a file holding the marker could fake a line's place: then line by line
    marker = None if held else token
    columns = _Columns(label, limits)
    line, at = 1, offset
    stop = len(source) if stop is None else stop
    while at < stop:
        end = source.find(newline, at + _PIECE, stop)
        end = stop if end < 0 else end + 1
        piece = source[at:end]
        text: str = piece.decode("utf-8") if isinstance(piece, bytes) else piece
        del piece
        if not columns.surrogate_escapes and _SURROGATE_ESCAPE.search(text):
            columns.surrogate_escapes = True
        records = _parse_joined(text, marker) if marker else None
        if records is not None:
            columns.add(records, line, None)
        else:
            columns.add(*_line_records(text, label, line))
        del records
        line += text.count("\n")
        at = end
    return columns.finished()


def _array_records(text: str, label: str) -> list[dict[str, Any]]:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _broken_json(label, exc.lineno, exc.msg) from None
    except RecursionError:
        raise _too_deep(label, 1) from None
    if not isinstance(loaded, list) or not all(isinstance(item, dict) for item in loaded):
        raise _broken_json(label, 1, "expected a list of objects")
    return loaded


def _parse_joined(text: str, marker: str) -> list[dict[str, Any]] | None:
    """The records of `text`'s lines parsed in one call, or None when a line is blank or not exactly one
    JSON object: every marker must then be in its place, which only a text of such lines gives. (JSON
    Lines end at "\\n" only: str.splitlines() would also cut inside values holding U+2028 and the like.)
    The newline kept in the separator keeps every string inside its line: a raw newline ends no string."""
    newlines = text.count("\n") - text.endswith("\n")  # a last newline ends the last line
    lines = newlines + 1
    try:
        loaded = json.loads(f'["{marker}",' + text.replace("\n", f',\n"{marker}",', newlines) + "]")
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError, as is an int too long
        return None
    if len(loaded) != 2 * lines or loaded[0::2].count(marker) != lines:
        return None
    records = loaded[1::2]
    if set(map(type, records)) != {dict}:
        return None
    return records


def _line_records(text: str, label: str, first: int) -> tuple[list[dict[str, Any]], int, list[int]]:
    """(records, `first`, the line number of each record) read one line at a time; `first` is the number
    of the text's first line in the file."""
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in enumerate(text.split("\n"), start=first):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _broken_json(label, number, exc.msg) from None
        except RecursionError:
            raise _too_deep(label, number) from None
        except ValueError as exc:  # e.g. an integer of more than 4,300 digits
            raise _broken_json(label, number, str(exc).split(":")[0]) from None
        if not isinstance(item, dict):
            raise _broken_json(label, number, 'expected an object like {"text": ..., "label": ...}')
        records.append(item)
        numbers.append(number)
    return records, first, numbers


class _Columns:
    """The cells of the records read so far, one list per key in the order the keys first appear
    (JSON keys are str), and the line each record came from."""

    def __init__(self, label: str, limits: InputLimits) -> None:
        self.label, self.limits = label, limits
        self.cells: dict[str, list[Any]] = {}
        self.rows = 0
        #: (first record, its line, the line of each record or None when they follow one another)
        self.pieces: list[tuple[int, int, list[int] | None]] = []
        #: whether the text held a surrogate escape: only then can a cell hold a lone surrogate
        self.surrogate_escapes = False

    def add(self, records: list[dict[str, Any]], first_line: int, lines: list[int] | None) -> None:
        if self.rows + len(records) > self.limits.max_rows:
            found = self.rows + len(records)
            raise over_limit(self.label, "max_rows", found, self.limits.max_rows, at_least=True)
        for key in dict.fromkeys(chain.from_iterable(records)):
            if key not in self.cells:
                self.cells[key] = [None] * self.rows
        if len(self.cells) > self.limits.max_columns:
            found = len(self.cells)
            raise over_limit(self.label, "max_columns", found, self.limits.max_columns, at_least=True)
        get: Callable[[dict[str, Any], str], Any] = dict.get
        for key, values in self.cells.items():
            values.extend(map(get, records, repeat(key)))
        self.pieces.append((self.rows, first_line, lines))
        self.rows += len(records)

    def line(self, row: int) -> int:
        """The line of the file record `row` is on (a JSON array's records are numbered from 1)."""
        index = bisect_right([start for start, _, _ in self.pieces], row) - 1
        start, first_line, lines = self.pieces[index]
        return lines[row - start] if lines is not None else first_line + row - start

    def finished(self) -> JsonlCells:
        """Every cell as the text finsent reads (`cell_text`), each checked against `max_cell_chars`."""
        names = list(self.cells)
        cells: list[list[str]] = []
        for name in names:
            values = self.cells.pop(name)
            if set(map(type, values)) != {str}:
                try:
                    values = list(map(cell_text, values))
                except RecursionError:
                    raise _too_deep(self.label, self.line(_first_too_deep(values))) from None
            cells.append(values)
        check_cells(names, cells, self.label, self.limits, self._place)
        if self.surrogate_escapes:
            self._check_surrogates(names, cells)
        return JsonlCells(names, cells, self.rows)

    def _check_surrogates(self, names: list[str], cells: list[list[str]]) -> None:
        """InputError naming the first line whose key or value holds a lone surrogate (a file written from
        text cut in the middle of an emoji, say): it would fail later, when the outputs are written."""
        for name in names:
            if _SURROGATE.search(name):
                raise _lone_surrogate(self.label, None, name)
        for name, values in zip(names, cells, strict=True):
            if _SURROGATE.search("".join(values)):
                row = next(row for row, value in enumerate(values) if _SURROGATE.search(value))
                raise _lone_surrogate(self.label, self.line(row), name)

    def _place(self, row: int) -> tuple[str, str]:
        line = self.line(row)
        return f"line {line:,}", f"{line:,}번째 줄"


def _first_too_deep(values: list[Any]) -> int:
    """The first value json.dumps cannot nest that deep (it is the one failing again)."""
    for row, value in enumerate(values):
        try:
            cell_text(value)
        except RecursionError:
            return row
    return 0


def _too_deep(label: str, line: int) -> InputError:
    return InputError(
        Text(
            f"{label}: line {line:,} holds a value nested too deep (more than about 1,000 levels of [ or {{).",
            f"{label}: {line:,}번째 줄의 값이 너무 깊게 중첩되어 있습니다([ 또는 {{ 가 약 1,000단계 이상).",
        ),
        hint=Text(
            "Flatten that value, or remove the line; a table's cells need no deep nesting.",
            "그 값을 단순하게 바꾸거나 그 줄을 지우세요.",
        ),
    )


def _lone_surrogate(label: str, line: int | None, column: str) -> InputError:
    """A lone surrogate in a value of `column` on `line`, or (line None) in the key `column` itself."""
    shown = column.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    where = f"line {line:,}, column {shown}" if line else f"the key {shown}"
    where_ko = f"{line:,}번째 줄, 열 {shown}" if line else f"키 {shown}"
    return InputError(
        Text(
            f"{label}: {where} holds a \\uD800-\\uDFFF escape that is half of an emoji or another "
            "character outside the basic plane, without its other half: it is no text.",
            f"{label}: {where_ko}에 짝이 없는 \\uD800-\\uDFFF 이스케이프가 있습니다"
            "(이모지 등의 절반만 남은 것으로, 글자가 아닙니다).",
        ),
        hint=Text(
            "Fix or remove that escape (the file was probably cut or converted badly), or remove the line.",
            "그 이스케이프를 고치거나 지우세요(파일이 잘못 잘리거나 변환된 것 같습니다). 또는 그 줄을 지우세요.",
        ),
    )


def _broken_json(label: str, line: int, detail: str) -> InputError:
    return InputError(
        Text(
            f"{label}: line {line} is not valid JSON ({detail}).",
            f"{label}: {line}번째 줄이 올바른 JSON이 아닙니다({detail}).",
        ),
        hint=Text(
            "Fix or remove that line; every line must be one JSON object.",
            "그 줄을 고치거나 지우세요. 각 줄은 JSON 객체 하나여야 합니다.",
        ),
    )

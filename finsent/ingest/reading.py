"""Reading what users bring: CSV/TSV in any encoding Korean offices produce, XLSX and JSONL.

Every cell is read as a string: "=SUM(A1)", "+82", "-3%", "@user", "NA" and "null" stay exactly as
written, and nothing is turned into NaN behind the user's back. Column guessing lives in `finsent.ingest.columns`.
Every read keeps within `InputLimits` (`finsent.ingest.limits`): the text formats are checked on their bytes
before a parser sees them (`finsent.ingest.linescan`), JSONL is read by `finsent.ingest.jsonlines`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.ingest.columns import (
    ColumnGuess,
    clean_header,
    guess_columns,
    header_repeats,
    renamed_repeats,
    resolve_columns,
)
from finsent.ingest.filebytes import OLE_MAGIC, checked_bytes, checked_path, input_format, load_bytes
from finsent.ingest.jsonlines import JsonlCells, read_jsonl_bytes
from finsent.ingest.limits import InputLimits, over_limit
from finsent.ingest.linescan import check_cells, check_header_columns, scan_lines
from finsent.ingest.prefetch import JsonlPrefetch
from finsent.ingest.sniffing import decode_text, delimiter_name, sniff_delimiter, utf8_head
from finsent.settings import Settings
from finsent.support.gcpause import collector_paused

__all__ = [
    "ColumnGuess",
    "LoadedTable",
    "guess_columns",
    "list_sheets",
    "read_table",
    "resolve_columns",
]


@dataclass(frozen=True)
class LoadedTable:
    """A table as read: every cell a str, plus where it came from and how it was decoded."""

    frame: pd.DataFrame
    source_name: str
    file_format: str  # "csv", "tsv", "xlsx" or "jsonl"
    encoding: str | None = None  # None for xlsx
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    sha256: str = ""
    #: the column delimiter used for csv/tsv ("," "\t" ";" "|"), None otherwise
    delimiter: str | None = None
    #: header names used more than once -> the names they were read as ("x" -> ("x", "x.1"))
    repeated_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.frame)


def _limits_of(limits: InputLimits | None, max_mb: int | None) -> InputLimits:
    limits = limits if limits is not None else InputLimits.from_settings(Settings.from_env())
    return limits if max_mb is None else dataclasses.replace(limits, max_input_mb=max_mb)


@collector_paused()  # a dict or list per row, none in a cycle: finsent.support.gcpause
def read_table(
    source: Path | bytes,
    name: str | None = None,
    *,
    sheet: str | None = None,
    max_mb: int | None = None,
    limits: InputLimits | None = None,
    prefetch: JsonlPrefetch | None = None,
) -> LoadedTable:
    """Read a CSV/TSV/XLSX/JSONL file (path or uploaded bytes) into a table of strings.

    `name` is the file name shown to the user (and used for the format when `source` is bytes);
    `limits` default to the settings' (`FINSENT_MAX_*`); `max_mb`, when given, overrides their file size.
    Going over a limit is an `OverLimitError`, raised before the parser sees the data where it can be.
    `prefetch`: the cells of this JSONL file being read by a child process (`finsent.ingest.prefetch`),
    taken when it read this path with these limits; otherwise (and whenever it failed) the file is read
    here, with the errors a read here gives.
    """
    limits = _limits_of(limits, max_mb)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        path, label = checked_path(source, name, limits.max_input_mb)
        with path.open("rb") as handle:
            kind = input_format(handle.read(len(OLE_MAGIC)), label)
        if kind in ("csv", "tsv"):  # parsed from the file: its bytes and its table are never both held
            table = _read_text_file(path, label, kind, limits)
            return _with_repeats(table, path)
        prefetched = prefetch.result(path, limits) if prefetch is not None and kind == "jsonl" else None
        if prefetched is not None:
            frame = _jsonl_frame(prefetched.cells)
            table = LoadedTable(frame, label, "jsonl", prefetched.encoding, sha256=prefetched.sha256)
            return _with_repeats(table, path)
    data, label = load_bytes(source, name, limits.max_input_mb)
    kind = input_format(data, label)
    # hashlib releases the GIL on large inputs: the digest is computed beside the parse.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="finsent-sha256") as pool:
        pending = pool.submit(lambda: hashlib.sha256(data).hexdigest())
        if kind == "xlsx":
            from finsent.ingest.spreadsheet import read_xlsx

            frame, chosen, sheets = read_xlsx(data, label, sheet, limits=limits)
            table = LoadedTable(frame, label, "xlsx", None, chosen, tuple(sheets), pending.result())
        elif kind == "jsonl":
            cells, encoding = read_jsonl_bytes(data, label, limits)
            frame = _jsonl_frame(cells)
            table = LoadedTable(frame, label, "jsonl", encoding, sha256=pending.result())
        else:
            frame, encoding, delimiter = _read_text_table(data, label, kind, limits)
            table = _text_table(frame, label, encoding, delimiter, pending.result())
    return _with_repeats(table, data)


def _text_table(frame: pd.DataFrame, label: str, encoding: str, delimiter: str, sha256: str) -> LoadedTable:
    file_format = "tsv" if delimiter == "\t" else "csv"
    return LoadedTable(frame, label, file_format, encoding, sha256=sha256, delimiter=delimiter)


def _read_text_file(path: Path, label: str, kind: str, limits: InputLimits) -> LoadedTable:
    """A CSV/TSV file read from its path. Its bytes are read once for the checks on them, dropped, and the
    parser reads the file itself: on a 192 MB CSV this halves the peak of reading (the bytes, the parser's
    work and the table side by side: 3.4x the file; the table alone: 2.1x)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="finsent-sha256") as pool:
        pending = pool.submit(_file_sha256, path)
        data = checked_bytes(path.read_bytes(), label, limits.max_input_mb)
        head = utf8_head(data, label)
        if head is not None:
            start, encoding = head
            delimiter = sniff_delimiter(start, prefer_tab=kind == "tsv")
            check_header_columns(data, delimiter, label, limits)
            lines = scan_lines(data, label, limits)
            del data
            try:
                frame = _read_delimited(path, encoding, delimiter, label, limits, lines)
                return _text_table(frame, label, encoding, delimiter, pending.result())
            except UnicodeDecodeError:
                data = path.read_bytes()  # not UTF-8 after all, further on: decode it the careful way
        frame, encoding, delimiter = _read_text_table(data, label, kind, limits)
        return _text_table(frame, label, encoding, delimiter, pending.result())


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _with_repeats(table: LoadedTable, source: Path | bytes) -> LoadedTable:
    """The table with its repeated column names recorded; InputError when it has no data rows."""
    repeats = renamed_repeats([str(c) for c in table.frame.columns])
    if repeats and table.delimiter is not None:  # a text table: what its header line really says
        repeats = _header_repeats(source, table.encoding, table.delimiter)
    if repeats:
        table = dataclasses.replace(table, repeated_columns=repeats)
    if table.frame.empty:
        raise InputError(
            Text(
                f"{table.source_name} has a header row ({', '.join(map(str, table.frame.columns))}) "
                "but no data rows.",
                f"{table.source_name} 에 머리글 행만 있고 데이터 행이 없습니다.",
            ),
            hint=Text(
                "Add at least one labelled row under the header.",
                "머리글 아래에 라벨이 있는 행을 추가하세요.",
            ),
        )
    return table


def _header_repeats(source: Path | bytes, encoding: str | None, delimiter: str) -> dict[str, tuple[str, ...]]:
    """The repeated names of a CSV/TSV header as written (a file may really name columns "x" and "x.1")."""
    codec = "utf-8-sig" if encoding in (None, "utf-8", "utf-8-sig") else encoding
    with contextlib.suppress(csv.Error, StopIteration, UnicodeDecodeError, LookupError):
        raw = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
        with io.TextIOWrapper(raw, encoding=codec, newline="") as stream:
            return header_repeats(next(csv.reader(stream, delimiter=delimiter)))
    return {}


def list_sheets(
    source: Path | bytes,
    name: str | None = None,
    *,
    max_mb: int | None = None,
    limits: InputLimits | None = None,
) -> list[str]:
    """Names of the worksheets of an XLSX file, in workbook order ([] for other formats)."""
    limits = _limits_of(limits, max_mb)
    data, label = load_bytes(source, name, limits.max_input_mb)
    if input_format(data, label) != "xlsx":
        return []
    from finsent.ingest.spreadsheet import sheet_names

    return sheet_names(data, label, limits=limits)


def _jsonl_frame(cells: JsonlCells) -> pd.DataFrame:
    """The cells of a JSONL file as a frame of object columns (the cells' str objects, not copies)."""
    # np.fromiter: half the time of np.array, which looks into every cell for a nested sequence
    data = {i: np.fromiter(values, dtype=object, count=cells.rows) for i, values in enumerate(cells.columns)}
    frame = pd.DataFrame(data, dtype=object, copy=False, index=pd.RangeIndex(cells.rows))
    frame.columns = pd.Index(clean_header(cells.names))
    return frame


def _read_text_table(
    data: bytes, label: str, kind: str, limits: InputLimits
) -> tuple[pd.DataFrame, str, str]:
    """(frame, encoding, delimiter) of a CSV/TSV file. The limits are checked on the bytes first: the
    header's columns (the more telling error for a huge header line), then the length of every line."""
    head = utf8_head(data, label)
    if head is not None:  # UTF-8 (the usual case): parse the bytes as they are, no decode of the whole file
        start, encoding = head
        delimiter = sniff_delimiter(start, prefer_tab=kind == "tsv")
        check_header_columns(data, delimiter, label, limits)
        lines = scan_lines(data, label, limits)
        try:
            frame = _read_delimited(data, encoding, delimiter, label, limits, lines)
            return frame, encoding, delimiter
        except UnicodeDecodeError:
            pass  # not UTF-8 after all, further on: decode it the careful way
    else:
        lines = scan_lines(data, label, limits)  # before the whole file is decoded
    text, encoding = decode_text(data, label)
    delimiter = sniff_delimiter(text, prefer_tab=kind == "tsv")
    # The C parser is twice as fast on bytes as on a str; give it UTF-8 bytes.
    raw = data if encoding in ("utf-8", "utf-8-sig") else text.encode("utf-8")
    del text
    check_header_columns(raw, delimiter, label, limits)
    frame = _read_delimited(
        raw, "utf-8-sig" if encoding == "utf-8-sig" else "utf-8", delimiter, label, limits, lines
    )
    return frame, encoding, delimiter


#: rows the parser turns into a frame at a time: its work is bounded by this, not by the file (read whole,
#: the parser's chunks and their concatenation held 0.7x the file beside the finished table)
_PARSE_ROWS = 65_536


def _read_delimited(
    source: Path | bytes, encoding: str, delimiter: str, label: str, limits: InputLimits, lines: int
) -> pd.DataFrame:
    # Rows can only be fewer than the physical lines (the header, blank lines, multi-line cells): only a
    # file with more lines than the limit is parsed with a stop, so that its size never reaches memory.
    stop = limits.max_rows + 1 if lines - 1 > limits.max_rows else None
    try:
        with pd.read_csv(
            source if isinstance(source, Path) else io.BytesIO(source),
            encoding=encoding,
            sep=delimiter,
            # object columns of Python str: every cell is text, without a conversion to Arrow strings
            # that costs a third of the parse and is undone by the first row-wise check.
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            engine="c",
            skip_blank_lines=True,
            quoting=csv.QUOTE_MINIMAL,
            nrows=stop,
            chunksize=_PARSE_ROWS,
        ) as chunks:
            frame = _concatenated(list(chunks))
    except pd.errors.EmptyDataError:
        raise InputError(
            Text(f"{label} has no header row.", f"{label} 에 머리글 행이 없습니다."),
            hint=Text(
                "The first line must name the columns, e.g. `kor_sentence,labels`.",
                "첫 줄에 열 이름이 있어야 합니다(예: kor_sentence,labels).",
            ),
        ) from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
        raise InputError(
            Text(
                f"{label} could not be read as a {delimiter_name(delimiter)}-separated table: {detail}.",
                f"{label} 을(를) {delimiter_name(delimiter)} 구분 표로 읽을 수 없습니다: {detail}.",
            ),
            hint=Text(
                "Check that texts containing the delimiter are in double quotes, or save the file as CSV UTF-8.",
                "구분자가 들어간 문장은 큰따옴표로 감싸거나 CSV UTF-8 로 다시 저장하세요.",
            ),
        ) from None
    if len(frame) > limits.max_rows:
        raise over_limit(label, "max_rows", len(frame), limits.max_rows, at_least=True)
    frame.columns = pd.Index(clean_header(list(frame.columns)))
    # Short rows leave missing cells even with na_filter off; they are empty strings to us. (infer_dtype
    # stops at the first cell that is not a str: a fraction of what isna() costs on every cell.)
    if any(infer_dtype(frame.iloc[:, i].to_numpy(), skipna=False) != "string" for i in range(frame.shape[1])):
        frame = frame.fillna("")
    # The header is row 1, as a spreadsheet shows the file.
    cells = [frame.iloc[:, i].to_numpy() for i in range(frame.shape[1])]
    check_cells(list(frame.columns), cells, label, limits, _row_place)
    return frame


def _concatenated(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """The parsed chunks as one frame of object columns (the cells' str objects are shared, not copied)."""
    if len(chunks) == 1:
        return chunks[0]
    joined = {
        i: pd.Series(np.concatenate([chunk.iloc[:, i].to_numpy() for chunk in chunks]), dtype=object)
        for i in range(chunks[0].shape[1])
    }
    frame = pd.DataFrame(joined, copy=False)
    frame.columns = chunks[0].columns
    return frame


def _row_place(row: int) -> tuple[str, str]:
    return f"row {row + 2:,}", f"{row + 2:,}행"

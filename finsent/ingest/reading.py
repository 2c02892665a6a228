"""Reading what users bring: CSV/TSV in any encoding Korean offices produce, XLSX and JSONL.

Every cell is read as a string: "=SUM(A1)", "+82", "-3%", "@user", "NA" and "null" stay exactly as
written, and nothing is turned into NaN behind the user's back. Column guessing lives in `finsent.ingest.columns`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pandas.api.types import infer_dtype

from finsent.contract.errors import InputError
from finsent.ingest.columns import ColumnGuess, clean_header, guess_columns, resolve_columns
from finsent.ingest.sniffing import decode_text, delimiter_name, sniff_delimiter, utf8_head
from finsent.settings import Settings

__all__ = [
    "ColumnGuess",
    "LoadedTable",
    "guess_columns",
    "list_sheets",
    "read_table",
    "resolve_columns",
]

_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other MS Office binaries)
# Nothing but blanks, NULs and byte-order marks; stops at the first other byte (no copy of the file).
_BLANK = re.compile(rb"[ \t\r\n\x00\xef\xbb\xbf\xff\xfe]*\Z")


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

    @property
    def rows(self) -> int:
        return len(self.frame)


def _load_bytes(source: Path | bytes, name: str | None, max_mb: int) -> tuple[bytes, str]:
    limit = max_mb * 1024 * 1024
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = name or "upload"
    else:
        path = Path(source).expanduser()
        label = name or path.name
        if not path.is_file():
            raise InputError(
                f"{path} does not exist or is not a file.",
                hint="Check the path.",
                ko=f"{path} 파일이 없거나 파일이 아닙니다.",
                hint_ko="경로를 확인하세요.",
            )
        size = path.stat().st_size
        if size > limit:
            _raise_too_large(label, size, max_mb)
        data = path.read_bytes()
    if len(data) > limit:
        _raise_too_large(label, len(data), max_mb)
    if _BLANK.match(data):
        raise InputError(
            f"{label} is empty.",
            hint="Choose a file with a header row and at least one labelled row.",
            ko=f"{label} 파일이 비어 있습니다.",
            hint_ko="머리글 행과 라벨이 있는 행이 하나 이상 있는 파일을 선택하세요.",
        )
    return data, label


def _raise_too_large(label: str, size: int, max_mb: int) -> None:
    mb = size / (1024 * 1024)
    raise InputError(
        f"{label} is {mb:,.1f} MB, more than the limit of {max_mb} MB.",
        hint="Split the file, or raise the limit with FINSENT_MAX_INPUT_MB.",
        ko=f"{label} 파일 크기({mb:,.1f} MB)가 한도 {max_mb} MB를 넘습니다.",
        hint_ko="파일을 나누거나 FINSENT_MAX_INPUT_MB 로 한도를 높이세요.",
    )


def _format_of(data: bytes, label: str) -> str:
    lower = label.lower()
    if data.startswith(_OLE_MAGIC) or lower.endswith(".xls"):
        raise InputError(
            f"{label} is an old Excel (.xls) or other Office binary file, which finsent cannot read.",
            hint="Open it in Excel and save it as .xlsx or CSV UTF-8.",
            ko=f"{label} 은(는) 예전 엑셀(.xls) 형식이라 읽을 수 없습니다.",
            hint_ko="엑셀에서 열어 .xlsx 또는 CSV UTF-8 로 저장하세요.",
        )
    if data.startswith(_XLSX_MAGIC) or lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".tsv", ".tab")):
        return "tsv"
    return "csv"


def read_table(
    source: Path | bytes, name: str | None = None, *, sheet: str | None = None, max_mb: int | None = None
) -> LoadedTable:
    """Read a CSV/TSV/XLSX/JSONL file (path or uploaded bytes) into a table of strings.

    `name` is the file name shown to the user (and used for the format when `source` is bytes);
    `max_mb` defaults to the setting FINSENT_MAX_INPUT_MB.
    """
    limit = max_mb if max_mb is not None else Settings.from_env().max_input_mb
    data, label = _load_bytes(source, name, limit)
    kind = _format_of(data, label)
    # hashlib releases the GIL on large inputs: the digest is computed beside the parse.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="finsent-sha256") as pool:
        pending = pool.submit(lambda: hashlib.sha256(data).hexdigest())
        if kind == "xlsx":
            from finsent.ingest.spreadsheet import read_xlsx

            frame, chosen, sheets = read_xlsx(data, label, sheet)
            table = LoadedTable(frame, label, "xlsx", None, chosen, tuple(sheets), pending.result())
        elif kind == "jsonl":
            text, encoding = decode_text(data, label)
            table = LoadedTable(_read_jsonl(text, label), label, "jsonl", encoding, sha256=pending.result())
        else:
            frame, encoding, delimiter = _read_text_table(data, label, kind)
            file_format = "tsv" if delimiter == "\t" else "csv"
            table = LoadedTable(
                frame, label, file_format, encoding, sha256=pending.result(), delimiter=delimiter
            )
    if table.frame.empty:
        raise InputError(
            f"{label} has a header row ({', '.join(map(str, table.frame.columns))}) but no data rows.",
            hint="Add at least one labelled row under the header.",
            ko=f"{label} 에 머리글 행만 있고 데이터 행이 없습니다.",
            hint_ko="머리글 아래에 라벨이 있는 행을 추가하세요.",
        )
    return table


def list_sheets(source: Path | bytes, name: str | None = None) -> list[str]:
    """Names of the worksheets of an XLSX file, in workbook order ([] for other formats)."""
    data, label = _load_bytes(source, name, Settings.from_env().max_input_mb)
    if _format_of(data, label) != "xlsx":
        return []
    from finsent.ingest.spreadsheet import sheet_names

    return sheet_names(data, label)


def _read_text_table(data: bytes, label: str, kind: str) -> tuple[pd.DataFrame, str, str]:
    """(frame, encoding, delimiter) of a CSV/TSV file."""
    head = utf8_head(data, label)
    if head is not None:  # UTF-8 (the usual case): parse the bytes as they are, no decode of the whole file
        start, encoding = head
        delimiter = sniff_delimiter(start, prefer_tab=kind == "tsv")
        try:
            return _read_delimited(data, encoding, delimiter, label), encoding, delimiter
        except UnicodeDecodeError:
            pass  # not UTF-8 after all, further on: decode it the careful way
    text, encoding = decode_text(data, label)
    delimiter = sniff_delimiter(text, prefer_tab=kind == "tsv")
    # The C parser is twice as fast on bytes as on a str; give it UTF-8 bytes.
    raw = data if encoding in ("utf-8", "utf-8-sig") else text.encode("utf-8")
    frame = _read_delimited(raw, "utf-8-sig" if encoding == "utf-8-sig" else "utf-8", delimiter, label)
    return frame, encoding, delimiter


def _read_delimited(data: bytes, encoding: str, delimiter: str, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
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
        )
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{label} has no header row.",
            hint="The first line must name the columns, e.g. `kor_sentence,labels`.",
            ko=f"{label} 에 머리글 행이 없습니다.",
            hint_ko="첫 줄에 열 이름이 있어야 합니다(예: kor_sentence,labels).",
        ) from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "parse error"
        raise InputError(
            f"{label} could not be read as a {delimiter_name(delimiter)}-separated table: {detail}.",
            hint="Check that texts containing the delimiter are in double quotes, or save the file as CSV UTF-8.",
            ko=f"{label} 을(를) {delimiter_name(delimiter)} 구분 표로 읽을 수 없습니다: {detail}.",
            hint_ko="구분자가 들어간 문장은 큰따옴표로 감싸거나 CSV UTF-8 로 다시 저장하세요.",
        ) from None
    frame.columns = pd.Index(clean_header(list(frame.columns)))
    # Short rows leave missing cells even with na_filter off; they are empty strings to us. (infer_dtype
    # stops at the first cell that is not a str: a fraction of what isna() costs on every cell.)
    if any(infer_dtype(frame.iloc[:, i].to_numpy(), skipna=False) != "string" for i in range(frame.shape[1])):
        frame = frame.fillna("")
    return frame


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def _read_jsonl(text: str, label: str) -> pd.DataFrame:
    stripped = text.lstrip()
    records: list[dict[str, object]] = []
    if stripped.startswith("["):  # a JSON array of objects is accepted as well
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise _broken_json(label, exc.lineno, exc.msg) from None
        if not isinstance(loaded, list) or not all(isinstance(item, dict) for item in loaded):
            raise _broken_json(label, 1, "expected a list of objects")
        records = loaded
    else:
        # JSON Lines end at "\n" only: str.splitlines() would also cut inside a value holding U+2028,
        # U+0085 or other characters that json.dumps(ensure_ascii=False) leaves unescaped.
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _broken_json(label, number, exc.msg) from None
            if not isinstance(item, dict):
                raise _broken_json(label, number, 'expected an object like {"text": ..., "label": ...}')
            records.append(item)
    columns: dict[str, None] = {}
    for record in records:
        for key in record:
            columns.setdefault(str(key), None)
    data = {col: [_cell_text(record.get(col)) for record in records] for col in columns}
    frame = pd.DataFrame(data, columns=list(columns), dtype=str)
    frame.columns = pd.Index(clean_header(list(frame.columns)))
    return frame


def _broken_json(label: str, line: int, detail: str) -> InputError:
    return InputError(
        f"{label}: line {line} is not valid JSON ({detail}).",
        hint="Fix or remove that line; every line must be one JSON object.",
        ko=f"{label}: {line}번째 줄이 올바른 JSON이 아닙니다({detail}).",
        hint_ko="그 줄을 고치거나 지우세요. 각 줄은 JSON 객체 하나여야 합니다.",
    )

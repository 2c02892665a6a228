"""What an XLSX file holds, checked against `InputLimits` before openpyxl parses it.

openpyxl loads every shared string when it opens a workbook, keeps each text of a sheet whole and pads rows
to the sheet's declared dimension, so the checks come first and stream: the zip directory (total size), the
start of every part (no DOCTYPE: entity definitions are how a small XML file expands to gigabytes), the size
of the parts openpyxl parses as a tree, then the shared strings and each sheet to be read with expat,
counting characters per cell, rows holding data and the last column holding data, and stopping at the first
limit passed. Memory stays at one chunk plus the longest piece of XML, itself bounded.

Python's zipfile never yields more bytes for a part than the zip directory declares (it cuts the stream and
then fails on the CRC), so the directory's total bounds what openpyxl can decompress too; the scans still
count what they read.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from typing import Any, NoReturn
from xml.parsers import expat

from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.ingest.limits import InputLimits, over_limit

_MIB = 1024 * 1024
_CHUNK = _MIB
#: how far into a part its first element must start (Excel writes a 60-byte declaration)
_PROLOG_BYTES = _MIB
#: parts openpyxl parses as a whole tree (manifest, relationships, workbook, styles), MB once decompressed:
#: Excel keeps each to a few MB, and a tree takes many times its XML in memory
WHOLE_PART_MB = 64
#: what a zip member's read can raise when the file is damaged, encrypted or uses an unknown compression
_DAMAGED = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError)


@dataclass(frozen=True)
class SheetPart:
    """One sheet of the workbook: its name, the zip member holding it, whether it is a chart sheet."""

    name: str
    path: str
    chart: bool = False


class _Stop(Exception):
    """A scan has seen what it needed."""


def unreadable(label: str, detail: str) -> InputError:
    return InputError(
        Text(
            f"{label} could not be read as an Excel workbook ({detail}).",
            f"{label} 을(를) 엑셀 통합문서로 읽을 수 없습니다({detail}).",
        ),
        hint=Text(
            "Open it in Excel and save it again as .xlsx, or export the sheet as CSV UTF-8.",
            "엑셀에서 열어 .xlsx 로 다시 저장하거나 시트를 CSV UTF-8 로 내보내세요.",
        ),
    )


def _entities(label: str, part: str) -> InputError:
    return InputError(
        Text(
            f"{label}: the workbook contains XML entity definitions (a DOCTYPE in {part}), which Excel never "
            "writes; finsent does not read them, since they can make a small file expand without end.",
            f"{label}: 통합문서에 엑셀이 쓰지 않는 XML 엔터티 정의({part} 의 DOCTYPE)가 있어 읽지 않습니다. "
            "이런 정의는 작은 파일을 끝없이 부풀릴 수 있습니다.",
        ),
        hint=Text(
            "Open it in Excel and save it again as .xlsx, or export the sheet as CSV UTF-8.",
            "엑셀에서 열어 .xlsx 로 다시 저장하거나 시트를 CSV UTF-8 로 내보내세요.",
        ),
    )


class _Budget:
    """Decompressed bytes left to read under `max_unzipped_mb`."""

    def __init__(self, label: str, limits: InputLimits) -> None:
        self.label, self.limits, self.read = label, limits, 0

    def spend(self, size: int) -> None:
        self.read += size
        if self.read > self.limits.max_unzipped_bytes:
            raise over_limit(
                self.label,
                "max_unzipped_mb",
                -(-self.read // _MIB),
                self.limits.max_unzipped_mb,
                at_least=True,
            )


def check_container(archive: zipfile.ZipFile, label: str, limits: InputLimits) -> None:
    """The zip directory within `max_unzipped_mb`, and no part that opens with a DOCTYPE."""
    members = archive.infolist()
    total = sum(info.file_size for info in members)
    if total > limits.max_unzipped_bytes:
        raise over_limit(label, "max_unzipped_mb", -(-total // _MIB), limits.max_unzipped_mb)
    for info in members:
        if info.filename in ("[Content_Types].xml", "xl/styles.xml") or info.filename.endswith(".rels"):
            check_whole_part(archive, label, info.filename)
    budget = _Budget(label, limits)
    for info in members:
        if not info.is_dir():
            _check_prolog(archive, info, label, budget)


def check_whole_part(archive: zipfile.ZipFile, label: str, name: str) -> None:
    """A part openpyxl parses as a whole must be within `WHOLE_PART_MB`."""
    try:
        size = archive.getinfo(name).file_size
    except KeyError:
        return  # openpyxl says what is missing
    if size > WHOLE_PART_MB * _MIB:
        raise unreadable(label, f"{name} takes {-(-size // _MIB):,} MB once decompressed, Excel writes a few")


def _check_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, budget: _Budget) -> None:
    """Read `info` up to its first element: a DOCTYPE can only come before it."""

    def stop(*_: object) -> NoReturn:
        raise _Stop

    def refuse(*_: object) -> NoReturn:
        raise _entities(label, info.filename)

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.StartElementHandler = stop
    read = 0
    try:
        with archive.open(info) as src:
            while read < _PROLOG_BYTES:
                chunk = src.read(64 * 1024)
                if not chunk:
                    return
                read += len(chunk)
                budget.spend(len(chunk))
                parser.Parse(chunk, False)
    except (_Stop, expat.ExpatError):  # an element, or not XML at all (openpyxl reads it as bytes or fails)
        return
    except _DAMAGED as exc:
        raise unreadable(label, f"{info.filename}: {str(exc)[:100] or type(exc).__name__}") from None
    raise unreadable(label, f"{info.filename} does not start like an XML part")


def _local(name: str) -> str:
    return name[name.find(":") + 1 :]


class _SharedStrings:
    """The shared string table's texts: which are blank, and the first one over `max_cell_chars`.

    Like `_SheetScan` it listens to element starts only, and to text inside a <t>. Phonetic guides (<rPh>)
    are counted with the text although openpyxl drops them: a few characters more, never fewer.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parser: Any = None  # set by `_scan`
        self.blank = bytearray()  # 1 for each blank text, in table order
        self.too_long: int | None = None  # index of the first text over the limit
        self.found = 0  # the characters counted in it before stopping
        self._open = False  # inside an <si>
        self._in_text = False
        self._chars = 0
        self._filled = False

    def start(self, name: str, attrs: object) -> None:
        if self._in_text:
            self._in_text = False
            self.parser.CharacterDataHandler = None
        tag = _local(name)
        if tag == "t":
            if self._open:
                self._in_text = True
                self.parser.CharacterDataHandler = self.text
        elif tag == "si":
            self.finish()
            self._open, self._chars, self._filled = True, 0, False

    def finish(self) -> None:
        """Record the text just read (each is recorded when the next one starts, and at the end)."""
        if self._open:
            self.blank.append(0 if self._filled else 1)
            self._open = False

    def text(self, data: str) -> None:
        self._chars += len(data)
        if self._chars > self.limit:
            self.too_long, self.found = len(self.blank), self._chars
            raise _Stop
        if not self._filled and data.strip():
            self._filled = True

    def holds_text(self, index: int) -> bool:
        return index >= len(self.blank) or not self.blank[index]


def _column_letters(column: int) -> str:
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class _SheetScan:
    """One sheet's cells: rows holding data, the last column holding data, characters per cell.

    A million rows make millions of expat events, so the scan listens to as few as it can: element starts
    (a value, formula or text element has no children, so the next start ends it) and text only while
    inside one. An inline string's phonetic guide counts with its text, as in `_SharedStrings`.
    """

    def __init__(self, label: str, limits: InputLimits, sheet: str, strings: _SharedStrings) -> None:
        self.label, self.limits, self.sheet, self.strings = label, limits, sheet, strings
        self.parser: Any = None  # set by `_scan`
        self.rows = 0  # rows holding data, the header included
        self.row = self.column = 0  # where we are, as Excel numbers them
        self._in_cell = self._in_inline = False
        self._kind = ""  # the text being read: "v" value, "t" inline text, "f" formula
        self._type = "n"
        self._chars = 0
        self._row_filled = self._cell_filled = False
        self._index: list[str] = []  # the value of a shared-string cell: an index into the table
        self._tags: dict[str, str] = {}  # element name as written -> name without its prefix
        self._most_rows = limits.max_rows + 1  # the first row with data is the header
        self._most_chars = limits.max_cell_chars
        self._on_text = self.text  # bound once: expat calls it for every value

    def _where(self) -> tuple[str, str]:
        letters = _column_letters(self.column)
        return (
            f"sheet {self.sheet!r}, row {self.row}, column {letters}",
            f"{self.sheet!r} 시트, {self.row}행, {letters}열",
        )

    def _too_long(self, found: int) -> NoReturn:
        where, where_ko = self._where()
        raise over_limit(
            self.label,
            "max_cell_chars",
            found,
            self.limits.max_cell_chars,
            at_least=True,
            where=where,
            where_ko=where_ko,
        )

    def _tag(self, name: str) -> str:
        tag = _local(name)
        if len(self._tags) < 1000:
            self._tags[name] = tag
        return tag or "?"

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self._kind:
            self._close_text()
        tag = self._tags.get(name) or self._tag(name)
        if tag == "c":
            reference = attrs.get("r")
            self.column = _column_of(reference, self.column) if reference else self.column + 1
            self._type = attrs.get("t", "n")
            self._in_cell, self._in_inline, self._cell_filled, self._chars = True, False, False, 0
        elif tag == "v":
            if not self._in_cell:
                return
            if self._type in _NOT_TEXT:  # openpyxl refuses one too long to be a number, a date or a boolean
                self._fill()
            else:
                self._kind, self._chars, self._index = "v", 0, []
                self.parser.CharacterDataHandler = self._on_text
        elif tag == "row":
            self.finish()
            number = attrs.get("r", "")
            self.row = int(number) if number.isdecimal() else self.row + 1
            self.column, self._in_cell, self._in_inline = 0, False, False
        elif self._in_inline:
            if tag == "t":  # the runs of an inline string add up to one cell
                self._kind = "t"
                self.parser.CharacterDataHandler = self._on_text
        elif not self._in_cell:
            return
        elif tag == "f":
            self._fill()  # a formula shows its text or its value
            self._kind, self._chars = "f", 0
            self.parser.CharacterDataHandler = self._on_text
        elif tag == "is":
            self._in_inline = True
        else:  # extLst, or the end of the sheet's data
            self._in_cell = False

    def _close_text(self) -> None:
        self.parser.CharacterDataHandler = None
        if self._kind == "v" and self._type == "s" and not self._cell_filled and self._shared_text():
            self._fill()
        self._kind = ""

    def _fill(self) -> None:
        if self._cell_filled:
            return
        self._cell_filled = self._row_filled = True
        if self.column > self.limits.max_columns:
            where, where_ko = self._where()
            raise over_limit(
                self.label,
                "max_columns",
                self.column,
                self.limits.max_columns,
                where=where,
                where_ko=where_ko,
            )

    def finish(self) -> None:
        """Count the row just read (rows are counted when the next one starts, and at the end)."""
        if self._kind:
            self._close_text()
        if not self._row_filled:
            return
        self._row_filled = False
        self.rows += 1
        if self.rows > self._most_rows:
            raise over_limit(
                self.label,
                "max_rows",
                self.rows - 1,
                self.limits.max_rows,
                at_least=True,
                where=f"sheet {self.sheet!r}, row {self.row}",
                where_ko=f"{self.sheet!r} 시트, {self.row}행",
            )

    def _shared_text(self) -> bool:
        try:
            index = int("".join(self._index))
        except ValueError:
            return True  # openpyxl will say the cell is broken
        if index == self.strings.too_long:
            self._too_long(self.strings.found)
        return self.strings.holds_text(index)

    def text(self, data: str) -> None:
        self._chars += len(data)
        if self._chars > self._most_chars:
            self._too_long(self._chars)
        if self._type == "s" and self._kind == "v":
            self._index.append(data)
        elif not self._cell_filled and data.strip():
            self._fill()


#: cell types whose value is never text: a number, a boolean, an ISO date
_NOT_TEXT = frozenset({"n", "b", "d"})

#: the first 702 columns (A..ZZ), the ones real tables use
_COLUMNS = {_column_letters(n): n for n in range(1, 703)}


def _column_of(reference: str, previous: int) -> int:
    """The column of a cell reference such as "XFD12"; a cell without one follows the previous cell."""
    column = _COLUMNS.get(reference.rstrip("0123456789"))
    if column is None:
        letters = reference.rstrip("0123456789")
        if not letters or not letters.isascii() or not letters.isupper():
            return previous + 1
        column = 0
        for letter in letters:
            column = column * 26 + ord(letter) - 64
    return column


def _scan(
    archive: zipfile.ZipFile,
    path: str,
    label: str,
    limits: InputLimits,
    budget: _Budget,
    handlers: _SharedStrings | _SheetScan,
) -> None:
    """Stream the part `path` through expat with `handlers`, within the byte budget.

    Expat reports text in pieces but holds a whole tag, comment or processing instruction until its end, so
    no stretch of the part without a "<" may pass what the longest allowed cell can take (10 bytes a
    character covers UTF-8 and character references) plus a chunk.
    """

    def refuse(*_: object) -> NoReturn:
        raise _entities(label, path)

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = handlers.start
    handlers.parser = parser
    longest = limits.max_cell_chars * 10 + 2 * _CHUNK
    run = 0  # bytes since the last "<"
    try:
        with archive.open(path) as src:
            while chunk := src.read(_CHUNK):
                budget.spend(len(chunk))
                parser.Parse(chunk, False)
                first = chunk.find(b"<")
                if first < 0:
                    run += len(chunk)
                elif run + first > longest:
                    run += first
                else:
                    run = len(chunk) - chunk.rfind(b"<") - 1
                if run > longest:
                    raise unreadable(label, f"{path} holds a piece of XML over {longest // _MIB} MB")
            parser.Parse(b"", True)
        handlers.finish()
    except _Stop:
        return
    except expat.ExpatError as exc:
        raise unreadable(label, f"{path}: {str(exc)[:100]}") from None
    except _DAMAGED as exc:
        raise unreadable(label, f"{path}: {str(exc)[:100] or type(exc).__name__}") from None


def check_cells(
    archive: zipfile.ZipFile,
    label: str,
    limits: InputLimits,
    strings_path: str | None,
    sheets: list[SheetPart],
) -> None:
    """Every shared string and every cell of `sheets` within `max_cell_chars`, `max_columns`, `max_rows`."""
    budget = _Budget(label, limits)
    strings = _SharedStrings(limits.max_cell_chars)
    if strings_path is not None and strings_path in archive.namelist():
        _scan(archive, strings_path, label, limits, budget, strings)
    for sheet in sheets:
        if not sheet.chart:
            _scan(archive, sheet.path, label, limits, budget, _SheetScan(label, limits, sheet.name, strings))
    if strings.too_long is not None:  # a text no cell of these sheets shows: openpyxl would still load it
        number = strings.too_long + 1
        raise over_limit(
            label,
            "max_cell_chars",
            strings.found,
            limits.max_cell_chars,
            at_least=True,
            where=f"shared text no. {number}",
            where_ko=f"공유 텍스트 {number}번",
        )

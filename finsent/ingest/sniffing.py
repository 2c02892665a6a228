"""Guessing how a text table was saved: its encoding and its column delimiter, without asking the user.

Encodings, in order: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32), then strict UTF-8, then CP949 (what
Korean Excel writes; a superset of EUC-KR, reported as "euc-kr" when the file stays inside EUC-KR), then
charset-normalizer as a last resort. Text that decodes but is full of control characters is binary.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

from finsent.contract.errors import InputError
from finsent.contract.texts import Text

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab/newline/CR, DEL, and the replacement character: never in a real table.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")
_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_ROWS = 50


def delimiter_name(delimiter: str | None) -> str:
    return _NAMES.get(delimiter or "", repr(delimiter))


def _binary_error(label: str) -> InputError:
    return InputError(
        Text(
            f"{label} does not look like a text table (it contains binary data).",
            f"{label} 은(는) 텍스트 표가 아닌 것 같습니다(이진 데이터가 들어 있습니다).",
        ),
        hint=Text(
            "Choose a CSV, TSV, XLSX or JSONL file with a header row.",
            "머리글 행이 있는 CSV, TSV, XLSX 또는 JSONL 파일을 선택하세요.",
        ),
    )


def _looks_binary(text: str) -> bool:
    sample = text[:_SAMPLE_CHARS]
    if "\x00" in text:
        return True
    bad = len(_BINARY.findall(sample))
    return bad > max(2, len(sample) // 200)


def utf8_head(data: bytes, label: str) -> tuple[str, str] | None:
    """(start of the text, "utf-8" or "utf-8-sig") when `data` starts as UTF-8 and is not binary, else None.

    Enough of the start for `sniff_delimiter` and the binary check, which look at the first
    64 KiB only: a large UTF-8 file is then parsed straight from its bytes, and the parser's strict
    decoding validates the rest (a UnicodeDecodeError there means: use `decode_text`). Raises InputError
    for binary data, exactly as `decode_text` would."""
    encoding = "utf-8"
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8) :], "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # also covers the UTF-32 BOMs
        return None
    if b"\x00" in data:  # NUL in UTF-8 bytes is the NUL character: binary
        return None
    # One character more than the sniffer reads, so it judges exactly the text it would see in full.
    want = _SAMPLE_CHARS + 1
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        head = decoder.decode(data[: 4 * want], final=len(data) <= 4 * want)
    except UnicodeDecodeError:
        return None
    head = (head.lstrip("\ufeff") if encoding == "utf-8-sig" else head)[:want]
    if _looks_binary(head):
        raise _binary_error(label)
    return head, encoding


def decode_text(data: bytes, label: str) -> tuple[str, str]:
    """Decode `data` and return (text, encoding name). Raises InputError for binary or undecodable bytes."""
    text: str | None = None
    encoding = ""
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                text, encoding = data.decode(name), name
            except UnicodeDecodeError:
                if name == "utf-8-sig":
                    _check_mixed(data[len(bom) :], label, bom=True)
                raise _binary_error(label) from None
            if name == "utf-8-sig":
                encoding = "utf-8-sig"
            else:
                encoding = name + ("-le" if bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE) else "-be")
            text = text.lstrip("\ufeff")
            break
    if text is None:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            _check_utf8_then_cp949(data, exc.start, label)
    if text is None:
        try:
            text = data.decode("cp949")
        except UnicodeDecodeError:
            _check_mixed(data, label)
        else:
            try:
                data.decode("euc-kr")
                encoding = "euc-kr"
            except UnicodeDecodeError:
                encoding = "cp949"
    if text is None:
        text, encoding = _decode_by_guess(data, label)
    if _looks_binary(text):
        raise _binary_error(label)
    return text, encoding


def _check_mixed(data: bytes, label: str, *, bom: bool = False) -> None:
    """InputError naming the line where `data` (neither UTF-8 nor CP949 throughout) changes from one of
    them to the other; nothing when it does not look like such a mix. With `bom`, `data` followed a UTF-8
    byte-order mark: CP949 text after it is a mix too."""
    try:
        data.decode("cp949")
    except UnicodeDecodeError as exc:
        cp949_end = exc.start
    else:
        if bom:
            line = _first_non_ascii_line(data)
            raise _mixed_error(label, line, "UTF-8", "CP949", bom=True)
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _check_utf8_then_cp949(data, exc.start, label)
    # CP949 up to some line, then UTF-8
    start = data.rfind(b"\n", 0, cp949_end) + 1
    if not data[:start].isascii() and _decodes(data[start : _line_end(data, cp949_end)], "utf-8"):
        raise _mixed_error(label, data.count(b"\n", 0, start) + 1, "CP949", "UTF-8", bom=bom)


def _check_utf8_then_cp949(data: bytes, utf8_end: int, label: str) -> None:
    """InputError when `data` holds UTF-8 text (other than ASCII) up to the line of `utf8_end`, its first
    byte that is not UTF-8, and that line is CP949. A CP949 file fails UTF-8 at its first Korean letter,
    so what comes before is ASCII: that is no mix."""
    start = data.rfind(b"\n", 0, utf8_end) + 1
    if not data[:start].isascii() and _decodes(data[start : _line_end(data, utf8_end)], "cp949"):
        raise _mixed_error(label, data.count(b"\n", 0, start) + 1, "UTF-8", "CP949")


def _line_end(data: bytes, at: int) -> int:
    end = data.find(b"\n", at)
    return len(data) if end < 0 else end


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _first_non_ascii_line(data: bytes) -> int:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.isascii():
            return number
    return 1


def _mixed_error(label: str, line: int, old: str, new: str, *, bom: bool = False) -> InputError:
    if bom:
        what = Text(
            f"{label} starts with a UTF-8 byte-order mark, but its text is {new} (line {line:,} is the first "
            "one with other than ASCII): the file mixes two encodings.",
            f"{label} 은(는) UTF-8 표시(BOM)로 시작하지만 내용은 {new} 입니다({line:,}번째 줄부터): "
            "파일에 두 인코딩이 섞여 있습니다.",
        )
    else:
        what = Text(
            f"{label}: line {line:,} changes from {old} to {new}: the file mixes two encodings.",
            f"{label}: {line:,}번째 줄에서 인코딩이 {old} 에서 {new} (으)로 바뀝니다: 파일에 두 인코딩이 섞여 있습니다.",
        )
    return InputError(
        what,
        hint=Text(
            "Open it in Excel (or an editor), fix the lines that show garbled text, and save it again as "
            "CSV UTF-8.",
            "엑셀(또는 편집기)에서 열어 글자가 깨진 줄을 고친 뒤 CSV UTF-8 로 다시 저장하세요.",
        ),
    )


def _decode_by_guess(data: bytes, label: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 4 * 1024 * 1024]).best()
    if best is None:
        raise _binary_error(label)
    try:
        return data.decode(best.encoding), best.encoding
    except (UnicodeDecodeError, LookupError):
        raise _binary_error(label) from None


def _score(sample: str, delimiter: str) -> tuple[float, int]:
    """(share of rows having the most common field count, that count) for one candidate delimiter."""
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    counts: dict[int, int] = {}
    rows = 0
    try:
        for row in reader:
            if not row:
                continue
            counts[len(row)] = counts.get(len(row), 0) + 1
            rows += 1
            if rows >= _SAMPLE_ROWS:
                break
    except csv.Error:
        return 0.0, 1
    if not rows:
        return 0.0, 1
    mode, hits = max(counts.items(), key=lambda item: (item[1], item[0]))
    return hits / rows, mode


def sniff_delimiter(text: str, *, prefer_tab: bool = False) -> str:
    """The delimiter among comma, tab, semicolon and pipe that splits the rows most consistently.

    A file no candidate splits into two or more columns gets "," (or tab for .tsv); the caller reports a
    one-column table when it needs two columns, naming the delimiter that was tried.
    """
    sample = text[:_SAMPLE_CHARS]
    cut = sample.rfind("\n")
    if 0 < cut < len(text) - 1:
        sample = sample[:cut]  # never judge on a truncated last row
    best = "\t" if prefer_tab else ","
    best_key: tuple[float, int, int] = (0.0, 1, 0)
    for order, candidate in enumerate(DELIMITERS):
        consistency, columns = _score(sample, candidate)
        if columns < 2:
            continue
        # Consistency first; then the preferred delimiter for the file's extension; then the earlier one.
        preferred = 1 if (candidate == "\t") == prefer_tab else 0
        key = (round(consistency, 2), preferred, -order)
        if key > best_key:
            best, best_key = candidate, key
    return best

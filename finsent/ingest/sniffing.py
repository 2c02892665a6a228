"""Guessing how a text table was saved: its encoding and its column delimiter, without asking the user.

Encodings, in order: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32), then strict UTF-8, then CP949 (what
Korean Excel writes; a superset of EUC-KR, reported as "euc-kr" when the file stays inside EUC-KR), then
charset-normalizer as a last resort. Text that decodes but is full of control characters is binary.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re

from finsent.contract.errors import InputError

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
        f"{label} does not look like a text table (it contains binary data).",
        hint="Choose a CSV, TSV, XLSX or JSONL file with a header row.",
        ko=f"{label} 은(는) 텍스트 표가 아닌 것 같습니다(이진 데이터가 들어 있습니다).",
        hint_ko="머리글 행이 있는 CSV, TSV, XLSX 또는 JSONL 파일을 선택하세요.",
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
                raise _binary_error(label) from None
            if name == "utf-8-sig":
                encoding = "utf-8-sig"
            else:
                encoding = name + ("-le" if bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE) else "-be")
            text = text.lstrip("\ufeff")
            break
    if text is None:
        with contextlib.suppress(UnicodeDecodeError):
            text, encoding = data.decode("utf-8"), "utf-8"
    if text is None:
        try:
            text = data.decode("cp949")
        except UnicodeDecodeError:
            pass
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

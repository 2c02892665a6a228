"""The training files: train/valid.csv, prompt/completion JSONL and chat JSONL, as UTF-8 bytes.

`SplitFiles` builds all of them for one split from the texts encoded once: every text is turned into
UTF-8 one time for the whole column, and a file is a list of byte pieces (a constant start, the text, a
ready-made ending per label) laid out by extended-slice assignment, so no Python code runs per row and
per file. The pieces are joined by the writer in chunks of a few hundred KB (`finsent.prepare._store`):
no file-sized buffer is ever built. Only the few texts that need
escaping (a quote, a backslash or a control character for JSON; a comma or quote for CSV) are escaped one
by one. The per-row functions below (`completion_lines`, `chat_lines`, `csv_lines`) define the format;
the bulk path must give byte-identical files (tests/test_prepare.py checks that), and is used for every
column it can handle. Korean stays readable (json's `ensure_ascii=False` escaping).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring  # type: ignore[attr-defined]

import numpy as np

from finsent.textnorm import COMPLETION_SEPARATOR


def system_message(labels: Sequence[str]) -> str:
    """The system message of every chat example: it names the labels, and nothing else changes between runs."""
    return (
        "You classify the sentiment of a financial news text. "
        f"Answer with exactly one of: {', '.join(labels)}."
    )


def escape_all(values: Iterable[str]) -> list[str]:
    """Each str as a JSON string literal (with its quotes), non-ASCII kept as is."""
    return [encode_basestring(v) for v in values]


def _escaped_labels(labels: Iterable[str]) -> list[str]:
    # Few distinct labels: escape each once.
    cache: dict[str, str] = {}
    return [cache[v] if v in cache else cache.setdefault(v, encode_basestring(v)) for v in labels]


def completion_lines(texts: Iterable[str], labels: Iterable[str], escaped: list[str] | None = None) -> str:
    """`{"prompt": "<text> ->", "completion": " <label>"}` per line; `texts` are model input without separator.

    `escaped`: `escape_all(texts)` when the caller already has it (it writes several files from one split)."""
    # Appending the separator inside the literal equals escaping text + separator (the separator needs no escape).
    tail = encode_basestring(COMPLETION_SEPARATOR)[1:]
    answers = _escaped_labels(" " + label for label in labels)
    out = [
        f'{{"prompt": {text[:-1]}{tail}, "completion": {answer}}}\n'
        for text, answer in zip(escaped if escaped is not None else escape_all(texts), answers, strict=True)
    ]
    return "".join(out)


def chat_lines(
    texts: Iterable[str], labels: Iterable[str], label_names: Sequence[str], escaped: list[str] | None = None
) -> str:
    """`{"messages": [system, user, assistant]}` per line."""
    head = '{"messages": [{"role": "system", "content": ' + encode_basestring(system_message(label_names))
    head += '}, {"role": "user", "content": '
    out = [
        f'{head}{text}}}, {{"role": "assistant", "content": {answer}}}]}}\n'
        for text, answer in zip(
            escaped if escaped is not None else escape_all(texts), _escaped_labels(labels), strict=True
        )
    ]
    return "".join(out)


def csv_field(value: str) -> str:
    """A CSV field as the csv module writes it with QUOTE_MINIMAL: quoted only when it must be."""
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_lines(rows: Iterable[int], texts: Iterable[str], labels: Iterable[str]) -> str:
    """`row,text,label` with a header; byte-identical to csv.writer(lineterminator="\\n"), three times faster."""
    label_fields: dict[str, str] = {}
    out = ["row,text,label\n"]
    out += [
        f"{row},{csv_field(text)},"
        f"{label_fields[label] if label in label_fields else label_fields.setdefault(label, csv_field(label))}\n"
        for row, text, label in zip(rows, texts, labels, strict=True)
    ]
    return "".join(out)


#: A file's bytes as pieces in order: the file is `b"".join(pieces)`.
Pieces = list[bytes]


class SplitFiles:
    """The files of one split (rows, texts and labels in file order), built in bulk as byte pieces."""

    def __init__(self, rows: Sequence[int], texts: Sequence[str], labels: Sequence[str]) -> None:
        self.rows, self.texts, self.labels = list(rows), list(texts), list(labels)
        self._encoded = _encode_column(self.texts)

    def csv(self) -> Pieces:
        """Pieces of `csv_lines(...).encode("utf-8")`."""
        if self._encoded is None:
            return [csv_lines(self.rows, self.texts, self.labels).encode("utf-8")]
        _, csv_fields = self._encoded
        # "1,", "2,", ...: one join and one split instead of a format call per row.
        heads = ",\n".join(map(str, self.rows)).encode("ascii").split(b"\n") if self.rows else []
        if heads:
            heads[-1] += b","
        tails = {label: f",{csv_field(label)}\n".encode() for label in set(self.labels)}
        return [b"row,text,label\n", *_interleave(heads, csv_fields, self._per_row(tails))]

    def completion(self) -> Pieces:
        """Pieces of `completion_lines(...).encode("utf-8")`."""
        if self._encoded is None:
            return [completion_lines(self.texts, self.labels).encode("utf-8")]
        json_texts, _ = self._encoded
        # The separator needs no JSON escaping, so it goes after the escaped text, before the closing quote.
        tails = {
            label: f'{COMPLETION_SEPARATOR}", "completion": {encode_basestring(" " + label)}}}\n'.encode()
            for label in set(self.labels)
        }
        return _interleave([b'{"prompt": "'] * len(json_texts), json_texts, self._per_row(tails))

    def chat(self, label_names: Sequence[str]) -> Pieces:
        """Pieces of `chat_lines(..., label_names).encode("utf-8")`."""
        if self._encoded is None:
            return [chat_lines(self.texts, self.labels, label_names).encode("utf-8")]
        json_texts, _ = self._encoded
        head = '{"messages": [{"role": "system", "content": ' + encode_basestring(system_message(label_names))
        head_bytes = (head + '}, {"role": "user", "content": "').encode()
        tails = {
            label: f'"}}, {{"role": "assistant", "content": {encode_basestring(label)}}}]}}\n'.encode()
            for label in set(self.labels)
        }
        return _interleave([head_bytes] * len(json_texts), json_texts, self._per_row(tails))

    def _per_row(self, by_label: dict[str, bytes]) -> list[bytes]:
        return list(map(by_label.__getitem__, self.labels))


def _interleave(first: list[bytes], second: list[bytes], third: list[bytes]) -> Pieces:
    """[first[0], second[0], third[0], first[1], ...] by extended-slice assignment (no loop in Python)."""
    parts: list[bytes] = [b""] * (3 * len(first))
    parts[0::3] = first
    parts[1::3] = second
    parts[2::3] = third
    return parts


# Byte classes for the scan in _encode_column (UTF-8 bytes below 0x80 are exactly the ASCII characters).
_NEWLINE, _JSON_ESCAPE, _CSV_COMMA, _CSV_CAREFUL = 1, 2, 4, 8
_BYTE_CLASS = np.zeros(256, dtype=np.uint8)
_BYTE_CLASS[:32] = _JSON_ESCAPE
_BYTE_CLASS[ord("\n")] = _NEWLINE
_BYTE_CLASS[ord("\r")] |= _CSV_CAREFUL
_BYTE_CLASS[ord('"')] = _JSON_ESCAPE | _CSV_CAREFUL
_BYTE_CLASS[ord("\\")] = _JSON_ESCAPE
_BYTE_CLASS[ord(",")] = _CSV_COMMA
#: bytes scanned per numpy step: small temporaries are reused, where column-sized ones cost page faults
_SCAN_CHUNK = 1 << 20


def _special_bytes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(positions, classes) of the bytes of `data` that have a class in _BYTE_CLASS."""
    codes = np.frombuffer(data, dtype=np.uint8)
    positions, classes = [], []
    for start in range(0, len(codes), _SCAN_CHUNK):
        chunk = codes[start : start + _SCAN_CHUNK]
        # Comparisons are far cheaper than a table lookup per byte; the table classifies the few hits.
        hits = np.flatnonzero((chunk < 32) | (chunk == 34) | (chunk == 44) | (chunk == 92))
        positions.append(hits + start)
        classes.append(_BYTE_CLASS[chunk[hits]])
    if not positions:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    return np.concatenate(positions), np.concatenate(classes)


def _encode_column(texts: list[str]) -> tuple[list[bytes], list[bytes]] | None:
    """(JSON string contents, CSV fields) of every text as UTF-8 bytes; None when the bulk path cannot
    tell the rows apart (a text holding a line break: model input never does) or a value is not a str."""
    try:
        joined = "\n".join(texts)
    except TypeError:
        return None
    if joined.count("\n") != max(len(texts) - 1, 0):
        return None
    data = joined.encode("utf-8")
    del joined
    pieces = data.split(b"\n") if texts else []
    positions, classes = _special_bytes(data)
    breaks = positions[classes == _NEWLINE]

    def rows_with(kind: int) -> list[int]:
        return np.unique(np.searchsorted(breaks, positions[(classes & kind) != 0])).tolist()  # type: ignore[no-any-return]

    json_texts = pieces
    json_rows = rows_with(_JSON_ESCAPE)
    if json_rows:
        json_texts = list(pieces)
        for row in json_rows:
            json_texts[row] = encode_basestring(texts[row])[1:-1].encode("utf-8")
    csv_fields = pieces
    csv_rows = rows_with(_CSV_COMMA | _CSV_CAREFUL)
    if csv_rows:
        csv_fields = list(pieces)
        # A comma only needs quotes around the field; a quote (or CR) goes through csv_field.
        careful = set(rows_with(_CSV_CAREFUL))
        for row in csv_rows:
            if row in careful:
                csv_fields[row] = csv_field(texts[row]).encode("utf-8")
            else:
                csv_fields[row] = b'"' + pieces[row] + b'"'
    return json_texts, csv_fields

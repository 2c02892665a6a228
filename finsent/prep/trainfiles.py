"""The training files: train/valid.csv, prompt/completion JSONL and chat JSONL, as UTF-8 bytes.

`split_files` lays out the files of one split block by block (`BLOCK_ROWS` rows at a time), so a file is
never held whole: the writer (`finsent.prep.pipeline`) writes each block to every file of the split and
drops it. Within a block (`SplitFiles`) every text is turned into UTF-8 one time, and a file is a list of
byte pieces (the text, and a ready-made ending per label that also carries the start of the next line)
laid out by extended-slice assignment, so no Python code runs per row and per file. Only the texts
that need it are escaped (a quote, a backslash or a control character for JSON) or quoted (a comma, a
quote or a line break for CSV), one by one: the column scan (`finsent.prep.textscan`) says which, and
without it one C-level `bytes.translate` per text finds them. The per-row functions below (`completion_lines`,
`chat_lines`, `csv_lines`) define the format; the bulk path must give byte-identical files
(tests/prep/test_prepare.py checks that). Korean stays readable (json's `ensure_ascii=False` escaping).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from operator import methodcaller

import numpy as np

from finsent.contract.modelinput import COMPLETION_SEPARATOR, system_message


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


def needs_csv_quote(text: str) -> bool:
    """The csv module (QUOTE_MINIMAL) quotes a field holding it."""
    return any(char in text for char in ',"\r\n')


def csv_field(value: str) -> str:
    """A CSV field as the csv module writes it with QUOTE_MINIMAL: quoted only when it must be."""
    if needs_csv_quote(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_lines(rows: Iterable[int], texts: Iterable[str], labels: Iterable[str]) -> str:
    """`row,text,label` with a header; byte-identical to csv.writer(lineterminator="\\n"), three times faster.

    Fast path. Oracle: tests/prep/test_prepare.py::test_bulk_training_files_equal_the_per_row_formats."""
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


#: rows laid out at a time: a few MB of bytes per file, written and dropped before the next block
BLOCK_ROWS = 16_384

#: the file formats of a split, by the name `split_files` gives their bytes
FORMATS = ("csv", "completion", "chat")


def split_files(
    rows: Sequence[int],
    texts: Sequence[str],
    labels: Sequence[str],
    formats: Iterable[str],
    label_names: Sequence[str],
    json_escaped: np.ndarray | None = None,
    csv_quoted: np.ndarray | None = None,
    header: bool = True,
) -> Iterator[dict[str, bytes]]:
    """The files of one split (rows, texts and labels in file order), one block of rows at a time: for
    each block, {format: its bytes} for "csv" (its header in the first block) and each of `formats`
    ("completion", "chat"). Each file is its blocks joined in order; an empty split is one block, the
    CSV header alone. `json_escaped`, `csv_quoted`: per text, whether its JSON string needs an escape and
    whether its CSV field is quoted (`NormalisedColumn`), when known: then no text is looked at for it.
    `header`: False for the blocks of a split after its first ones (laid out elsewhere)."""
    wanted = [f for f in FORMATS[1:] if f in set(formats)]
    for start in range(0, max(len(rows), 1), BLOCK_ROWS):
        stop = start + BLOCK_ROWS
        special = None
        if json_escaped is not None and csv_quoted is not None:
            special = (
                np.flatnonzero(json_escaped[start:stop]).tolist(),
                np.flatnonzero(csv_quoted[start:stop]).tolist(),
            )
        block = SplitFiles(
            rows[start:stop],
            texts[start:stop],
            labels[start:stop],
            header=header and start == 0,
            special=special,
        )
        out = {"csv": b"".join(block.csv())}
        if "completion" in wanted:
            out["completion"] = b"".join(block.completion())
        if "chat" in wanted:
            out["chat"] = b"".join(block.chat(label_names))
        yield out


class SplitFiles:
    """The files of a block of rows (rows, texts and labels in file order), built in bulk as byte pieces.

    `header`: the CSV pieces start with the header line (the first block of a file). `special`: the rows
    (ascending) whose JSON string needs an escape, and those whose CSV field is quoted, when known; None:
    every text is looked at.
    """

    def __init__(
        self,
        rows: Sequence[int],
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        header: bool = True,
        special: tuple[Sequence[int], Sequence[int]] | None = None,
    ) -> None:
        self.rows, self.texts, self.labels = list(rows), list(texts), list(labels)
        self.header = header
        self._encoded = _encode_column(self.texts, special)

    def csv(self) -> Pieces:
        """Pieces of `csv_lines(...).encode("utf-8")`."""
        _, csv_fields = self._encoded
        heads = list(map(b"%d,".__mod__, self.rows))  # b"1,", b"2,", ...: the format runs in C
        tails = self._per_row({label: f",{csv_field(label)}\n".encode() for label in set(self.labels)})
        pieces = _interleave(heads, csv_fields, tails)
        return [b"row,text,label\n", *pieces] if self.header else pieces

    def completion(self) -> Pieces:
        """Pieces of `completion_lines(...).encode("utf-8")`."""
        json_texts, _ = self._encoded
        # The separator needs no JSON escaping, so it goes after the escaped text, before the closing quote.
        tails = {
            label: f'{COMPLETION_SEPARATOR}", "completion": {encode_basestring(" " + label)}}}\n'.encode()
            for label in set(self.labels)
        }
        return self._lines(b'{"prompt": "', json_texts, tails)

    def chat(self, label_names: Sequence[str]) -> Pieces:
        """Pieces of `chat_lines(..., label_names).encode("utf-8")`."""
        json_texts, _ = self._encoded
        head = '{"messages": [{"role": "system", "content": ' + encode_basestring(system_message(label_names))
        head_bytes = (head + '}, {"role": "user", "content": "').encode()
        tails = {
            label: f'"}}, {{"role": "assistant", "content": {encode_basestring(label)}}}]}}\n'.encode()
            for label in set(self.labels)
        }
        return self._lines(head_bytes, json_texts, tails)

    def _lines(self, head: bytes, texts: list[bytes], tails: dict[str, bytes]) -> Pieces:
        """head, text 0, tail of label 0 + head, text 1, ...: the constant head of each line goes onto the
        end of the line before, so a JSONL file is two pieces per row."""
        if not texts:
            return []
        after = self._per_row({label: tail + head for label, tail in tails.items()})
        after[-1] = tails[self.labels[-1]]
        parts: list[bytes] = [head] * (2 * len(texts) + 1)
        parts[1::2] = texts
        parts[2::2] = after
        return parts

    def _per_row(self, by_label: dict[str, bytes]) -> list[bytes]:
        return list(map(by_label.__getitem__, self.labels))


def _interleave(first: list[bytes], second: list[bytes], third: list[bytes]) -> Pieces:
    """[first[0], second[0], third[0], first[1], ...] by extended-slice assignment (no loop in Python)."""
    parts: list[bytes] = [b""] * (3 * len(first))
    parts[0::3] = first
    parts[1::3] = second
    parts[2::3] = third
    return parts


#: the bytes of UTF-8 text that JSON escapes (controls, quote, backslash) or that make a CSV field quoted
#: (comma, quote, CR, LF): no byte of a multi-byte character is one of them, so the test on bytes is exact
_JSON_BYTES = frozenset(range(0x20)) | frozenset(b'"\\')
_CSV_BYTES = frozenset(b',"\r\n')
#: the characters behind those bytes: the column scan flags the texts holding one (`textscan`)
JSON_ESCAPED_CHARS = frozenset(map(chr, _JSON_BYTES))
CSV_QUOTED_CHARS = frozenset(map(chr, _CSV_BYTES))
#: `bytes.translate(None, _OTHER_BYTES)` keeps only the bytes above
_OTHER_BYTES = bytes(sorted(set(range(256)) - _JSON_BYTES - _CSV_BYTES))


def _encode_column(
    texts: list[str], special: tuple[Sequence[int], Sequence[int]] | None = None
) -> tuple[list[bytes], list[bytes]]:
    """(JSON string contents, CSV fields with their quotes if any) of every text as UTF-8 bytes. Only the
    texts that need an escape or quotes are written one by one: `special` (the rows, ascending, whose
    JSON string needs an escape, and those whose CSV field is quoted) when the column scan found them,
    else one C-level translate per text finds them.

    Fast path. Oracle: tests/prep/test_prepare.py::test_bulk_training_files_equal_the_per_row_formats.
    Gain: with the rows from the column scan no text is looked at for them, and a quoted field costs one
    C-level format: 0.05 s where a check of every row that might need either (a quarter of news
    sentences holds a comma) took 0.18 s of a 200,000-row preparation."""
    pieces = list(map(str.encode, texts))  # UTF-8; faster than encoding the joined column and splitting it
    escaped, quoted = special if special is not None else _special_rows(pieces)
    json_texts = pieces
    if escaped:
        json_texts = list(pieces)
        for row in escaped:
            json_texts[row] = encode_basestring(texts[row])[1:-1].encode("utf-8")
    csv_fields = pieces
    if quoted:
        csv_fields = list(pieces)
        for row, field in zip(quoted, map(b'"%b"'.__mod__, map(pieces.__getitem__, quoted)), strict=True):
            csv_fields[row] = field
        for row in escaped:  # a quote is one of the characters JSON escapes; CSV doubles it
            if '"' in texts[row]:
                csv_fields[row] = b'"%b"' % texts[row].replace('"', '""').encode("utf-8")
    return json_texts, csv_fields


def _special_rows(pieces: list[bytes]) -> tuple[list[int], list[int]]:
    """The rows whose JSON string needs an escape, and those whose CSV field is quoted."""
    found = list(map(methodcaller("translate", None, _OTHER_BYTES), pieces))
    kinds = {
        special: (not _JSON_BYTES.isdisjoint(special), not _CSV_BYTES.isdisjoint(special))
        for special in set(found)
    }
    flagged = [(row, kinds[special]) for row, special in enumerate(found) if special]
    return [row for row, (escape, _) in flagged if escape], [row for row, (_, quote) in flagged if quote]

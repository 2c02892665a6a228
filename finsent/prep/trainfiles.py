"""The training files: train/valid.csv, prompt/completion JSONL and chat JSONL, as UTF-8 bytes.

`split_files` lays out the files of one split block by block (`BLOCK_ROWS` rows at a time), so a file is
never held whole: the writer (`finsent.prep.pipeline`) writes each block to every file of the split and
drops it. Within a block (`SplitFiles`) every text is turned into UTF-8 one time, and a file is a list of
byte pieces (the text, and a ready-made ending per label that also carries the start of the next line)
laid out by extended-slice assignment, so no Python code runs per row and per file. The writers find
for themselves the few texts that need escaping (a quote, a backslash or a control character for JSON; a
comma, quote or line break for CSV): one C-level `bytes.translate` per text keeps only those bytes, and
only the texts left with some are escaped one by one. The per-row functions below (`completion_lines`,
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
    escaped: np.ndarray | None = None,
) -> Iterator[dict[str, bytes]]:
    """The files of one split (rows, texts and labels in file order), one block of rows at a time: for
    each block, {format: its bytes} for "csv" (its header in the first block) and each of `formats`
    ("completion", "chat"). Each file is its blocks joined in order; an empty split is one block, the
    CSV header alone. `escaped`: True for every text that may hold a character JSON escapes or CSV quotes
    (`NormalisedColumn.escaped`), when known: the others are not looked at."""
    wanted = [f for f in FORMATS[1:] if f in set(formats)]
    for start in range(0, max(len(rows), 1), BLOCK_ROWS):
        stop = start + BLOCK_ROWS
        candidates = None if escaped is None else np.flatnonzero(escaped[start:stop]).tolist()
        block = SplitFiles(
            rows[start:stop], texts[start:stop], labels[start:stop], header=start == 0, candidates=candidates
        )
        out = {"csv": b"".join(block.csv())}
        if "completion" in wanted:
            out["completion"] = b"".join(block.completion())
        if "chat" in wanted:
            out["chat"] = b"".join(block.chat(label_names))
        yield out


class SplitFiles:
    """The files of a block of rows (rows, texts and labels in file order), built in bulk as byte pieces.

    `header`: the CSV pieces start with the header line (the first block of a file). `candidates`: the
    rows (ascending) that may hold a character JSON escapes or CSV quotes, when known; None: every row.
    """

    def __init__(
        self,
        rows: Sequence[int],
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        header: bool = True,
        candidates: Sequence[int] | None = None,
    ) -> None:
        self.rows, self.texts, self.labels = list(rows), list(texts), list(labels)
        self.header = header
        self._encoded = _encode_column(self.texts, candidates)

    def csv(self) -> Pieces:
        """Pieces of `csv_lines(...).encode("utf-8")`."""
        _, csv_fields, quoted = self._encoded
        heads = list(map(b"%d,".__mod__, self.rows))  # b"1,", b"2,", ...: the format runs in C
        ends = {label: f",{csv_field(label)}\n".encode() for label in set(self.labels)}
        tails = self._per_row(ends)
        # A quoted field: its quotes go onto the pieces beside it (cheaper than a new piece per field).
        quoted_ends = {label: b'"' + end for label, end in ends.items()}
        for row in quoted.tolist():
            heads[row] += b'"'
            tails[row] = quoted_ends[self.labels[row]]
        pieces = _interleave(heads, csv_fields, tails)
        return [b"row,text,label\n", *pieces] if self.header else pieces

    def completion(self) -> Pieces:
        """Pieces of `completion_lines(...).encode("utf-8")`."""
        json_texts, _, _ = self._encoded
        # The separator needs no JSON escaping, so it goes after the escaped text, before the closing quote.
        tails = {
            label: f'{COMPLETION_SEPARATOR}", "completion": {encode_basestring(" " + label)}}}\n'.encode()
            for label in set(self.labels)
        }
        return self._lines(b'{"prompt": "', json_texts, tails)

    def chat(self, label_names: Sequence[str]) -> Pieces:
        """Pieces of `chat_lines(..., label_names).encode("utf-8")`."""
        json_texts, _, _ = self._encoded
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
ESCAPED_CHARS = frozenset(map(chr, _JSON_BYTES | _CSV_BYTES))
#: `bytes.translate(None, _OTHER_BYTES)` keeps only the bytes above
_OTHER_BYTES = bytes(sorted(set(range(256)) - _JSON_BYTES - _CSV_BYTES))


def _encode_column(
    texts: list[str], candidates: Sequence[int] | None = None
) -> tuple[list[bytes], list[bytes], np.ndarray]:
    """(JSON string contents, CSV field contents, rows whose CSV field is quoted) of every text as UTF-8
    bytes. Only the texts holding a byte JSON escapes or CSV quotes are looked at one by one; `candidates`
    (ascending rows), when given, are the only texts that may hold one.

    Fast path. Oracle: tests/prep/test_prepare.py::test_bulk_training_files_equal_the_per_row_formats.
    Gain: finding those texts with one C-level translate per text costs about 0.04 s on 200,000 corpus
    rows, against 0.13-0.19 s for a per-row `needs_json_escape` / `needs_csv_quote` pair; with the
    candidates from the column scan (`NormalisedColumn.escaped`) that look is skipped for the rest, 0.17 s
    of a 200,000-row preparation on a slow machine."""
    pieces = list(map(str.encode, texts))  # UTF-8; faster than encoding the joined column and splitting it
    keep_special = methodcaller("translate", None, _OTHER_BYTES)
    found_in: list[bytes] | dict[int, bytes]
    if candidates is None:
        found_in = list(map(keep_special, pieces))
        flagged = [row for row, found in enumerate(found_in) if found]
    else:
        found_in = dict(zip(candidates, map(keep_special, map(pieces.__getitem__, candidates)), strict=True))
        flagged = [row for row, found in found_in.items() if found]
    special = {row: found_in[row] for row in flagged}
    kinds = {
        found: (not _JSON_BYTES.isdisjoint(found), not _CSV_BYTES.isdisjoint(found))
        for found in set(special.values())
    }
    json_texts, csv_fields, quoted = pieces, pieces, []
    for row in flagged:
        escape, quote = kinds[special[row]]
        if escape:
            if json_texts is pieces:
                json_texts = list(pieces)
            json_texts[row] = encode_basestring(texts[row])[1:-1].encode("utf-8")
        if quote:
            quoted.append(row)
            if b'"' in special[row]:  # quotes inside a field are doubled
                if csv_fields is pieces:
                    csv_fields = list(pieces)
                csv_fields[row] = texts[row].replace('"', '""').encode("utf-8")
    return json_texts, csv_fields, np.array(quoted, dtype=np.int64)

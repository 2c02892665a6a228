"""The training files: train/valid.csv, prompt/completion JSONL and chat JSONL, as UTF-8 bytes.

`SplitFiles` builds all of them for one split from the texts encoded once: every text is turned into
UTF-8 one time, and a file is a list of byte pieces (the text, and a ready-made ending per label that also
carries the start of the next line) laid out by extended-slice assignment, so no Python code runs per row
and per file. The pieces are joined by the writer in chunks of a few hundred KB (`finsent.prep.pipeline._store`):
no file-sized buffer is ever built. Only the few texts that need escaping (a quote, a backslash or a
control character for JSON; a quote for CSV) are escaped one by one, and the quotes around CSV fields
holding a comma go onto the pieces beside them. The per-row functions below (`completion_lines`,
`chat_lines`, `csv_lines`) define the format; the bulk path must give byte-identical files
(tests/test_prepare.py checks that). Korean stays readable (json's `ensure_ascii=False` escaping).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring  # type: ignore[attr-defined]

import numpy as np

from finsent.contract.modelinput import COMPLETION_SEPARATOR, system_message
from finsent.prep.textscan import needs_csv_quote, needs_json_escape


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


class SplitFiles:
    """The files of one split (rows, texts and labels in file order), built in bulk as byte pieces.

    `json_escape` / `csv_quote` flag the texts that JSON must escape and CSV must quote (a conservative
    flag only costs time); `finsent.prep.textscan.normalise_column` has them for free, others are computed here.
    """

    def __init__(
        self,
        rows: Sequence[int],
        texts: Sequence[str],
        labels: Sequence[str],
        json_escape: Sequence[bool] | np.ndarray | None = None,
        csv_quote: Sequence[bool] | np.ndarray | None = None,
    ) -> None:
        self.rows, self.texts, self.labels = list(rows), list(texts), list(labels)
        if json_escape is None:
            json_escape = [needs_json_escape(t) for t in self.texts]
        if csv_quote is None:
            csv_quote = [needs_csv_quote(t) for t in self.texts]
        self._encoded = _encode_column(
            self.texts, np.flatnonzero(np.asarray(json_escape, dtype=bool)), np.flatnonzero(csv_quote)
        )

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
        return [b"row,text,label\n", *_interleave(heads, csv_fields, tails)]

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


def _encode_column(
    texts: list[str], escape_rows: np.ndarray, quote_rows: np.ndarray
) -> tuple[list[bytes], list[bytes], np.ndarray]:
    """(JSON string contents, CSV field contents, rows whose CSV field is quoted) of every text as UTF-8
    bytes. Only the flagged rows are escaped one by one."""
    pieces = list(map(str.encode, texts))  # UTF-8; faster than encoding the joined column and splitting it
    json_texts = pieces
    if len(escape_rows):
        json_texts = list(pieces)
        for row in escape_rows.tolist():
            json_texts[row] = encode_basestring(texts[row])[1:-1].encode("utf-8")
    csv_fields = pieces
    # Quotes inside a field are doubled. A text holding one is flagged for JSON escaping as well, so only
    # the rows flagged both ways are looked at.
    doubled = [row for row in np.intersect1d(quote_rows, escape_rows).tolist() if '"' in texts[row]]
    if doubled:
        csv_fields = list(pieces)
        for row in doubled:
            csv_fields[row] = texts[row].replace('"', '""').encode("utf-8")
    return json_texts, csv_fields, quote_rows

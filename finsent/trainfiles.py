"""The lines of the training files for OpenAI: prompt/completion JSONL and chat JSONL.

Written as plain string templates around json's C string encoder (what `json.dumps(s, ensure_ascii=False)`
does for a str, without its per-call overhead: the fastest way to write 200,000 rows from Python), so
Korean stays readable in the files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring  # type: ignore[attr-defined]

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

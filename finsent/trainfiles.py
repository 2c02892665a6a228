"""The lines of the training files for OpenAI: prompt/completion JSONL and chat JSONL.

Written as plain string templates around `json.dumps` of each text (the fastest way to write 200,000 rows
from Python) and with `ensure_ascii=False`, so Korean stays readable in the files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from finsent.textnorm import COMPLETION_SEPARATOR


def system_message(labels: Sequence[str]) -> str:
    """The system message of every chat example: it names the labels, and nothing else changes between runs."""
    return (
        "You classify the sentiment of a financial news text. "
        f"Answer with exactly one of: {', '.join(labels)}."
    )


def completion_lines(texts: Iterable[str], labels: Iterable[str]) -> str:
    """`{"prompt": "<text> ->", "completion": " <label>"}` per line; `texts` are model input without separator."""
    out = [
        f'{{"prompt": {json.dumps(text + COMPLETION_SEPARATOR, ensure_ascii=False)}, '
        f'"completion": {json.dumps(" " + label, ensure_ascii=False)}}}\n'
        for text, label in zip(texts, labels, strict=True)
    ]
    return "".join(out)


def chat_lines(texts: Iterable[str], labels: Iterable[str], label_names: Sequence[str]) -> str:
    """`{"messages": [system, user, assistant]}` per line."""
    head = '{"messages": [{"role": "system", "content": ' + json.dumps(
        system_message(label_names), ensure_ascii=False
    )
    head += '}, {"role": "user", "content": '
    out = [
        f"{head}{json.dumps(text, ensure_ascii=False)}}}, "
        f'{{"role": "assistant", "content": {json.dumps(label, ensure_ascii=False)}}}]}}\n'
        for text, label in zip(texts, labels, strict=True)
    ]
    return "".join(out)

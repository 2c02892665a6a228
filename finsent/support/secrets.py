"""API keys must never be stored, printed or shown, in any form a server could send them back in.

Whoever obtains a key registers it (`register_secret`); `scrub(text)` then replaces every registered key
in `text` with REDACTED, in each form an echoing API server has been seen to return:

- the exact key, and the key in any letter case (`SK-CANARY-...`);
- percent-encoded, wholly or in part, once or more (`sk%2Dcanary...`, `%73%6B...`), and JSON `\\u` escapes;
- base64, standard or URL-safe, of the key, its upper- or lower-case form, at any offset inside a larger
  base64 text: so `base64("Bearer <key>")` and `base64("user:<key>")` are caught too;
- the key's distinctive part without its prefix (`canary-XYZ123...` of `sk-canary-XYZ123...`).

The registry is process-wide on purpose: a key typed in one browser session protects every text any thread
writes afterwards, and a text cannot be "scrubbed for the wrong key". Once a key is registered, log records
are scrubbed when they are made (a log-record factory), because SDK and HTTP debug logs print whatever
headers a server answers with.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted key]"
#: shorter values are not keys (and would blank ordinary words)
MIN_SECRET_LENGTH = 8
#: a key's tail after a separator counts as its distinctive part from this length on...
_MIN_TAIL = 12
#: ...and when it has this many different characters ("000000000000" is not distinctive)
_MIN_TAIL_VARIETY = 6
_SEPARATORS = "-_"


def distinctive_parts(secret: str) -> list[str]:
    """The secret, then each tail after a `-`/`_` that is still long and varied enough to be its own."""
    parts = [secret]
    for i, char in enumerate(secret):
        tail = secret[i + 1 :]
        if char in _SEPARATORS and len(tail) >= _MIN_TAIL and len(set(tail)) >= _MIN_TAIL_VARIETY:
            parts.append(tail)
    return parts


def _char_pattern(char: str) -> str:
    """One character, as written, percent-encoded (also again and again: %25XX) or JSON-escaped; letter
    case is ignored by the caller's (?i)."""
    encoded = char.encode("utf-8")
    percent = "".join(f"%(?:25)*{byte:02x}" for byte in encoded)
    forms = [re.escape(char), percent]
    if len(encoded) == 1:
        forms.append(rf"\\u00{encoded[0]:02x}")
    return "(?:" + "|".join(forms) + ")"


def _base64_cores(value: str) -> set[str]:
    """What base64 of any text containing `value` always contains, whatever bytes come before it: for each
    of the three alignments, the output characters computed from the value's bytes alone."""
    data = value.encode("utf-8")
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii")
        start = -(-8 * offset // 6)  # first character whose 6 bits all come from `data`
        end = (8 * offset + 8 * len(data)) // 6  # one past the last such character
        core = encoded[start:end]
        if len(core) >= _MIN_TAIL:
            cores |= {core, core.translate(str.maketrans("+/", "-_"))}
    return cores


def _compile(secrets: Iterable[str]) -> re.Pattern[str] | None:
    parts = {part for secret in secrets for part in distinctive_parts(secret)}
    if not parts:
        return None
    cores = {
        core for part in parts for case in {part, part.lower(), part.upper()} for core in _base64_cores(case)
    }
    # Longest first: the whole key goes before its tail, so nothing of it is left beside the marker.
    textual = [
        "(?i:" + "".join(_char_pattern(c) for c in part) + ")"
        for part in sorted(parts, key=len, reverse=True)
    ]
    literal = [re.escape(core) for core in sorted(cores, key=len, reverse=True)]
    return re.compile("|".join(textual + literal))


class SecretRegistry:
    """The keys to scrub, and the one pattern that finds all their forms (rebuilt when a key is added)."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def register(self, value: str | None) -> bool:
        """Remember `value` as a secret; False when it is too short to be one (or empty)."""
        value = (value or "").strip()
        if len(value) < MIN_SECRET_LENGTH:
            return False
        with self._lock:
            if value not in self._secrets:
                self._secrets.add(value)
                self._pattern = _compile(self._secrets)
        return True

    def scrub(self, text: str) -> str:
        pattern = self._pattern  # read once: a concurrent register swaps in a new pattern
        if pattern is None or not text:
            return text
        return pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return self._pattern is not None


_registry = SecretRegistry()
_log_factory_lock = threading.Lock()
_log_factory_installed = False


def register_secret(value: str | None) -> None:
    """Scrub `value` (an API key) from every text `scrub` sees from now on, log records included."""
    if _registry.register(value):
        _install_log_scrubbing()


def scrub(text: str) -> str:
    """`text` with every form of every registered secret replaced by REDACTED."""
    return _registry.scrub(text)


def scrub_optional(text: str | None) -> str | None:
    return None if text is None else _registry.scrub(text)


def scrub_value(value: Any) -> Any:
    """`value` with every string in it scrubbed (dicts, lists and tuples walked; keys included)."""
    if isinstance(value, str):
        return _registry.scrub(value)
    if isinstance(value, dict):
        return {scrub_value(k): scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(v) for v in value)
    return value


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it itself when the record is emitted
        return
    cleaned = _registry.scrub(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        # Exception texts can quote a server's answer; handlers use exc_text as is when it is set.
        record.exc_text = _registry.scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = _registry.scrub(record.stack_info)


def _install_log_scrubbing() -> None:
    global _log_factory_installed
    with _log_factory_lock:
        if _log_factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _scrub_record(record)
            return record

        logging.setLogRecordFactory(scrubbed_record)
        _log_factory_installed = True


__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SecretRegistry",
    "distinctive_parts",
    "register_secret",
    "scrub",
    "scrub_optional",
    "scrub_value",
]

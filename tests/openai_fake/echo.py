"""What a hostile OpenAI-compatible server does with the key it receives: it sends it back, in every form
such servers have been seen to use, inside every text it writes.

`echo_forms` spells one received Authorization value (or bare key) in those forms; `echo_payload` puts them
at the start of every text field of a JSON answer, so that an answer stays valid against the API
description (a string stays a string) while a classification answer falls outside the label set, and is
kept as the raw answer of an "unknown" prediction.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

#: JSON fields holding a text a person or finsent reads: error and event messages, answers, file details
ECHOED_FIELDS = frozenset({"message", "content", "text", "status_details"})


def key_forms(key: str) -> dict[str, str]:
    """name -> the key written that way (the test sweep looks for every one of them)."""
    bare = key.split("-", 1)[1] if "-" in key else key
    return {
        "exact": key,
        "upper": key.upper(),
        "without prefix": bare,
        "percent-encoded": "".join(f"%{byte:02X}" for byte in key.encode("utf-8")),
        "url-quoted": quote(key, safe=""),
        "base64 bearer": base64.b64encode(f"Bearer {key}".encode()).decode("ascii"),
        "base64": base64.b64encode(key.encode()).decode("ascii"),
    }


def echo_forms(received: str) -> str:
    """One text with every form of the received key ("Bearer " taken off, as servers log it)."""
    key = received.removeprefix("Bearer ").strip()
    if not key:
        return "(no key)"
    return "echo: " + " | ".join(key_forms(key).values())


def echo_payload(payload: Any, echo: str) -> Any:
    """`payload` with `echo` put before the value of every text field in ECHOED_FIELDS, at any depth."""
    if isinstance(payload, dict):
        return {
            k: (f"{echo} {v}" if k in ECHOED_FIELDS and isinstance(v, str) else echo_payload(v, echo))
            for k, v in payload.items()
        }
    if isinstance(payload, list):
        return [echo_payload(item, echo) for item in payload]
    return payload

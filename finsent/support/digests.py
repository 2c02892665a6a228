"""Fingerprints of texts: what makes two calls, batches or bulk runs the same, and what ties an answer kept
on disk to the text it was given for (a changed input then finds nothing instead of a wrong answer)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def texts_digest(texts: Iterable[str], head: str = "") -> str:
    """sha256 (hex) of `head`, then of every text in order, each ended by a NUL byte so that no two
    different lists of texts run together into the same bytes."""
    digest = hashlib.sha256(head.encode("utf-8"))
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def text_hash(text: str) -> str:
    """The hash an answer kept on disk is checked against."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]

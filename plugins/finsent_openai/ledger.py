"""Answers already paid for in a classify call that did not finish, so that the same call made again (a
resumed bulk chunk) sends only the texts that got no answer yet.

The core commits a bulk run chunk by chunk (one `classify` call each). A chunk that stops half-way (the API
keeps failing after 200 of 500 requests, Ctrl-C, a crash) is sent again when the run resumes; with a paid
API that would pay twice for every text answered before the stop. So the OpenAI backend writes the answers
of a call in flight to a small JSON file under its workdir (answers/<digest>.json, atomically, about once a
second and when the call fails), and deletes it when the call returns its predictions.

The file is named by a digest of everything that decides the answers: the account, the model, its input
format, labels and prompt details, the request settings, and every text of the call in order. A resumed
chunk asks with the same texts and finds the file; a changed input, model or setting gives another digest
and finds nothing. Each entry also keeps its text's hash, checked on reading, so an answer is only ever
used for the text it was given for.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from finsent.contract import ModelRef, Prediction
from finsent.support import atomic_write_text, text_hash, texts_digest

from .client import ClientConfig

log = logging.getLogger(__name__)

#: a ledger nobody resumed for this long is deleted (its run, if resumed later, pays for the chunk again)
STALE_SECONDS = 30 * 24 * 3600
_VERSION = 1


def call_digest(
    config: ClientConfig,
    model: ModelRef,
    request: Mapping[str, Any],
    texts: Sequence[str],
) -> str:
    """What makes two classify calls the same call: account, model, request settings, texts in order."""
    head = {
        # Only the key's last four characters: enough to tell accounts apart, useless to anyone else.
        "account": [
            config.base_url or config.azure_endpoint or "openai",
            config.azure_deployment,
            config.key_hint,
        ],
        "model": model.id,
        "input_format": model.input_format.to_dict(),
        "labels": model.labels.to_dict(),
        "details": dict(model.details),
        "request": dict(request),
    }
    return texts_digest(texts, head=json.dumps(head, sort_keys=True, default=str))


class AnswerLedger:
    """The answers of one classify call (by position), kept until the call returns them all."""

    def __init__(self, directory: Path, digest: str, texts: Sequence[str]) -> None:
        self.path = directory / f"{digest}.json"
        self.hashes = [text_hash(t) for t in texts]
        self._saved = 0

    def load(self) -> list[Prediction | None]:
        """Answers recorded by an earlier attempt of this call; None where a text has none (or it is unreadable)."""
        found: list[Prediction | None] = [None] * len(self.hashes)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["answers"] if data.get("version") == _VERSION else {}
            for key, entry in entries.items():
                i = int(key)
                if 0 <= i < len(found) and entry["h"] == self.hashes[i]:
                    found[i] = Prediction.from_dict(entry)
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, AttributeError):
            # A damaged ledger costs money (its texts are sent again), never a wrong answer.
            found = [None] * len(self.hashes)
        self._saved = sum(p is not None for p in found)
        return found

    def save(self, results: Sequence[Prediction | None]) -> None:
        """Write the answers so far, when there are new ones since the last write."""
        snapshot = list(results)  # workers keep filling `results` while this runs
        answered = sum(p is not None for p in snapshot)
        if answered == 0 or answered == self._saved:
            return
        if not self.path.exists():
            self._prune(self.path.parent)
        entries = {
            str(i): {"h": self.hashes[i], **p.to_dict()} for i, p in enumerate(snapshot) if p is not None
        }
        try:
            atomic_write_text(
                self.path, json.dumps({"version": _VERSION, "answers": entries}, ensure_ascii=False)
            )
        except OSError as exc:  # a full disk costs a resend on resume, never the classification itself
            log.warning("could not keep the answers of a classify call in %s: %s", self.path, exc)
            return
        self._saved = answered

    def discard(self) -> None:
        """The call returned every prediction: from here on the caller keeps them."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    @staticmethod
    def _prune(directory: Path) -> None:
        cutoff = time.time() - STALE_SECONDS
        for old in directory.glob("*.json"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    old.unlink()


def tuning_request(tuning: Any, kind: str, bias: Mapping[str, int] | None) -> dict[str, Any]:
    """The request settings that can change an answer, for `call_digest`."""
    return {"kind": kind, "tuning": asdict(tuning), "logit_bias": dict(bias) if bias else None}

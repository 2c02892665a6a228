"""What a batch-API bulk run keeps between batches: the answers a cancelled or expired batch had already
finished (paid for), and which rows the current batch carries.

A batch that stops early (cancelled, or expired after 24 hours) can still have an output file holding the
requests it finished. Resuming the run reads those answers once, keeps them here, and submits a new batch
for the rows still without an answer only, so no row is paid for twice. Both live in one small JSON file
in the run's folder (written atomically): `answers` by row, each with the hash of its text (checked on
reading, so an answer is only ever used for the text it was given for), and `carried`, the rows the
current batch was submitted with, in order (the batch answers by position in that list). A run without
the file (one submitted before this existed) carries every row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from finsent.contract.backend import Prediction
from finsent.support.atomic import atomic_write_text
from finsent.support.digests import text_hash

log = logging.getLogger(__name__)

FILE = "batch_answers.json"
_VERSION = 1


class BatchAnswers:
    """Answers by row (from stopped batches, then the current one) and the rows of the current batch."""

    def __init__(self, directory: Path, texts: Sequence[str]) -> None:
        self.path = directory / FILE
        self.texts = texts
        self.answers: dict[int, Prediction] = {}
        self.carried: list[int] = list(range(len(texts)))
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            # Costs money (those rows are sent again), never a wrong answer.
            log.warning(
                "could not read the kept batch answers %s (%s): their rows are sent again", self.path, exc
            )
            return
        try:
            if data.get("version") != _VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            carried = [int(row) for row in data["carried"]]
            answers: dict[int, Prediction] = {}
            for key, entry in data["answers"].items():
                row = int(key)
                if 0 <= row < len(self.texts) and entry["h"] == text_hash(self.texts[row]):
                    answers[row] = Prediction.from_dict(entry)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "the kept batch answers %s are damaged (%s): their rows are sent again", self.path, exc
            )
            return
        if all(0 <= row < len(self.texts) for row in carried):
            self.carried = carried
        self.answers = answers

    def save(self) -> None:
        entries = {
            str(row): {"h": text_hash(self.texts[row]), **p.to_dict()}
            for row, p in sorted(self.answers.items())
        }
        data = {"version": _VERSION, "carried": self.carried, "answers": entries}
        atomic_write_text(self.path, json.dumps(data, ensure_ascii=False))

    def carry(self, rows: Sequence[int]) -> None:
        """Record the rows the next batch is submitted with (before submitting: a crash in between makes
        the same rows again, and the backend finds its batch for the same texts)."""
        self.carried = list(rows)
        self.save()

    def carried_texts(self) -> list[str]:
        return [self.texts[row] for row in self.carried]

    def take(self, found: Sequence[Prediction | None]) -> int:
        """Keep the answers the current batch gave, by position in `carried`; returns how many were new."""
        added = 0
        for row, prediction in zip(self.carried, found, strict=True):
            if prediction is not None and row not in self.answers:
                self.answers[row] = prediction
                added += 1
        return added

    def missing(self, rows: Iterable[int]) -> list[int]:
        return [row for row in rows if row not in self.answers]

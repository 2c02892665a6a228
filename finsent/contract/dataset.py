"""A prepared dataset on disk: the hand-over between data preparation, the backends and evaluation.

Layout of a prepared directory (written by `finsent.prep.pipeline`, read by everyone else):

    manifest.json            input sha256, options, input_format, labels, counts per split and label,
                             finsent version, sha256 of every file below. No timestamps: same input and
                             options give byte-identical files.
    report.json, report.txt  the validation report (findings) for programs and for people
    train.csv, valid.csv     columns `row,text,label`; `text` is already model input for the manifest's
                             input_format (without separator); `row` is the 1-based data row of the source
    train.completion.jsonl   prompt/completion pairs (prompt ends in " ->", completion " <label>")  [optional]
    valid.completion.jsonl
    train.chat.jsonl         chat messages (system naming the labels, user text, assistant label)   [optional]
    valid.chat.jsonl
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsent.contract.errors import InputError
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat

if TYPE_CHECKING:  # pandas is imported when a split is read: commands and plugins start without it
    import pandas as pd

MANIFEST = "manifest.json"
SPLITS = ("train", "valid")


@dataclass(frozen=True)
class PreparedDataset:
    """Read access to a prepared directory."""

    directory: Path

    @classmethod
    def open(cls, directory: Path | str) -> PreparedDataset:
        path = Path(directory).expanduser()
        if not (path / MANIFEST).is_file():
            raise InputError(
                f"{path} is not a prepared dataset (no {MANIFEST}).",
                hint="Run `finsent prepare INPUT --out DIR` first and pass that DIR.",
            )
        return cls(path)

    @cached_property
    def manifest(self) -> Mapping[str, Any]:
        return json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))

    @property
    def labels(self) -> LabelSet:
        return LabelSet.from_dict(self.manifest["labels"])

    @property
    def input_format(self) -> InputFormat:
        return InputFormat.from_dict(self.manifest.get("input_format"))

    def path(self, split: str, kind: str = "csv") -> Path:
        """kind: "csv", "completion" or "chat"."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        name = f"{split}.csv" if kind == "csv" else f"{split}.{kind}.jsonl"
        return self.directory / name

    def frame(self, split: str) -> pd.DataFrame:
        """The split as a DataFrame with columns row (int), text (model input), label."""
        import pandas as pd

        return pd.read_csv(self.path(split), dtype={"text": str, "label": str}, keep_default_na=False)

    def counts(self, split: str) -> dict[str, int]:
        return dict(self.manifest["counts"][split])

"""The successor of the legacy `fine_tunes.prepare_data` tool: check, clean, split and write a labelled table.

Pipeline: map columns -> normalise labels (LabelSet) -> build the model input with
`finsent.contract.modelinput.build_model_input` (the same function classification uses) -> drop empty texts and
unknown labels -> drop texts with conflicting labels and repeated rows, judged on the model input ->
stratified train/valid split (numpy RandomState, per label in label-set order) -> write everything into a
temporary folder that replaces the output folder only when complete. No timestamps anywhere: the same
input and options give byte-identical files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finsent import __version__
from finsent.contract.costs import MIN_EXAMPLE_TOKEN_LIMIT
from finsent.contract.dataset import MANIFEST, PreparedDataset
from finsent.contract.errors import DataError, InputError
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import InputFormat
from finsent.contract.texts import Text
from finsent.ingest.columns import resolve_columns
from finsent.ingest.reading import LoadedTable
from finsent.prep import checks, helpedlayout, textchecks
from finsent.prep.checks import Finding
from finsent.prep.filewriter import HashedFileWriter
from finsent.prep.report import Report
from finsent.prep.textscan import normalise_column
from finsent.prep.trainfiles import split_files
from finsent.support.atomic import atomic_directory
from finsent.support.gcpause import collector_paused

__all__ = ["FORMATS", "PreparationError", "PrepareOptions", "Report", "check_table", "prepare_dataset"]

FORMATS = ("completion", "chat")


@dataclass(frozen=True)
class PrepareOptions:
    text_column: str | None = None
    label_column: str | None = None
    labels: LabelSet = field(default_factory=LabelSet)
    valid_fraction: float = 0.2
    seed: int = 42
    lowercase: bool = False
    #: provider training files to write besides train/valid.csv: "completion", "chat"
    formats: tuple[str, ...] = FORMATS
    #: token limit per example for the over_token_limit check; None: `backend_limit`
    token_limit: int | None = None
    #: (tokens, base model) of the smallest per-example limit the backends declare, or a function that
    #: asks them (called only when a text is long enough to reach MIN_EXAMPLE_TOKEN_LIMIT); the service
    #: fills it in (the pipeline knows no backend). Not an option of the dataset: left out of the manifest.
    backend_limit: tuple[int, str] | Callable[[], tuple[int, str] | None] | None = field(
        default=None, compare=False
    )

    def __post_init__(self) -> None:
        if not 0.0 < float(self.valid_fraction) <= 0.5:
            raise InputError(
                Text(
                    f"The validation fraction must be above 0 and at most 0.5, not {self.valid_fraction}.",
                    f"검증 비율은 0보다 크고 0.5 이하여야 합니다({self.valid_fraction}).",
                ),
                hint=Text(
                    "0.2 keeps one row in five for validation.", "0.2 는 다섯 행 중 하나를 검증에 씁니다."
                ),
            )
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise InputError(
                Text(
                    f"Unknown output format(s): {', '.join(unknown)}.",
                    f"알 수 없는 출력 형식: {', '.join(unknown)}.",
                ),
                hint=Text("Use completion, chat, csv or all.", "completion, chat, csv, all 중에서 고르세요."),
            )
        object.__setattr__(self, "formats", tuple(f for f in FORMATS if f in self.formats))

    def to_dict(self) -> dict[str, Any]:
        return {
            "text_column": self.text_column,
            "label_column": self.label_column,
            "labels": list(self.labels.names),
            "valid_fraction": float(self.valid_fraction),
            "seed": int(self.seed),
            "lowercase": bool(self.lowercase),
            "formats": list(self.formats),
            "token_limit": self.token_limit,
        }


class PreparationError(DataError):
    """Preparation was blocked by error findings; `report` holds all findings. Nothing was written."""

    def __init__(self, report: Report) -> None:
        first = report.errors[0]
        more = len(report.errors) - 1
        suffix = f" (and {more} more error(s); see the report)" if more else ""
        suffix_ko = f" (오류 {more}건 더 있음, 보고서 참조)" if more else ""
        super().__init__(
            Text(first.message + suffix, first.text.get("ko") + suffix_ko),
            hint=first.remedy_text if first.remedy else None,
        )
        self.report = report


@dataclass
class _Analysis:
    report: Report
    kept: pd.DataFrame | None = None  # columns row, text, label, json_escaped, csv_quoted, valid (bools)


def _source_info(table: LoadedTable) -> dict[str, Any]:
    return {
        "name": table.source_name,
        "format": table.file_format,
        "encoding": table.encoding,
        "sheet": table.sheet,
        "delimiter": table.delimiter,
        "sha256": table.sha256,
    }


def split_valid(labels: np.ndarray, names: Iterable[object], fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the validation rows: per label, round(n x fraction) rows (1 to n-1), chosen by one
    RandomState(seed) drawing for the labels in label-set order. Same labels, fraction and seed: same split.
    `labels` holds label names, or codes standing for them (`names` then lists the codes in that order)."""
    rng = np.random.RandomState(seed)
    valid = np.zeros(len(labels), dtype=bool)
    for name in names:
        positions = np.flatnonzero(labels == name)
        n = len(positions)
        if n < 2:
            continue
        k = min(max(math.floor(n * fraction + 0.5), 1), n - 1)
        valid[positions[rng.permutation(n)[:k]]] = True
    return valid


def _analyse(table: LoadedTable, options: PrepareOptions) -> _Analysis:
    """The checks in their order: the columns, one table of per-row facts, the checks that drop rows, the
    checks that only report, the repeats, then the class counts and the split."""
    report = Report(source=_source_info(table), options=options.to_dict(), rows_read=table.rows)
    columns = _columns(table, options, report)
    if columns is None:
        return _Analysis(report)
    work, variants, found = _work_table(table, columns, options)
    active = _drop_unusable(work, options, found)
    found += _reporting_checks(work, active, options, variants)
    active = _drop_repeats(work, active, options, found)
    return _split(table, work, active, options, report, found)


def _columns(table: LoadedTable, options: PrepareOptions, report: Report) -> tuple[str, str] | None:
    """The text and label columns, or None with the required_columns finding in the report."""
    repeats = table.repeated_columns
    try:
        cols = resolve_columns(
            table.frame,
            options.text_column,
            options.label_column,
            source_name=table.source_name,
            delimiter=table.delimiter,
        )
    except InputError as exc:
        report.findings.append(checks.required_columns(exc.what, exc.what_to_do or Text("")))
        if repeats:  # the names the message lists are these
            report.findings.append(checks.duplicate_columns(repeats, ()))
        return None
    assert cols.text is not None and cols.label is not None
    if repeats:
        report.findings.append(checks.duplicate_columns(repeats, (cols.text, cols.label)))
    report.columns = {"text": cols.text, "label": cols.label}
    return cols.text, cols.label


def _work_table(
    table: LoadedTable, columns: tuple[str, str], options: PrepareOptions
) -> tuple[pd.DataFrame, set[str], list[Finding | None]]:
    """One row per input row: the raw and model-input text, the label and its code, and the per-row facts
    the checks report on (from the one fast column scan); the label variants; the affix findings."""
    # Plain Python str objects from here on: the checks and writers run over every row, and object
    # arrays avoid a conversion to and from Arrow strings at each step.
    raw_texts = table.frame[columns[0]].tolist()
    raw_labels = table.frame[columns[1]].tolist()
    # build_model_input of every text (without separator) and the per-row facts the checks report on.
    column = normalise_column(raw_texts)
    changed = column.changed  # by whitespace/NFC normalisation, kept if a legacy separator is cut below
    nonempty = column.lengths > 0
    everywhere = bool(nonempty.all())
    affix_findings, separator = textchecks.common_affixes(
        column.texts if everywhere else list(compress(column.texts, nonempty)),
        column.first if everywhere else column.first[nonempty],
        column.last if everywhere else column.last[nonempty],
    )
    if separator:  # a legacy prompt file: take its separator off, then build the model input again
        cut = len(separator)
        column = normalise_column([t[:-cut] if t else t for t in column.texts])
    text_list = column.texts
    text_lengths = column.lengths
    if options.lowercase:  # build_model_input(t, lowercase=True): the normalised text, case-folded
        text_list = [t.casefold() for t in text_list]
        text_lengths = np.fromiter(map(len, text_list), dtype=np.int64, count=len(text_list))
    # Labels are few distinct values: each is normalised once, and every row gets the index of its value
    # in one pass; its label and its code are then taken by that index, in C.
    distinct = list(dict.fromkeys(raw_labels))
    index_of = {raw: index for index, raw in enumerate(distinct)}
    which = np.fromiter(map(index_of.__getitem__, raw_labels), dtype=np.intp, count=len(raw_labels))
    names = [options.labels.normalise(raw) for raw in distinct]
    variants = {raw for raw, name in zip(distinct, names, strict=True) if name is not None and name != raw}
    # Label codes 1..k in label-set order, 0 for no label in the set: checks count and compare integers.
    code_of = {name: code for code, name in enumerate(options.labels.names, start=1)}
    codes = [code_of.get(name, 0) if name is not None else 0 for name in names]
    work = pd.DataFrame(
        {
            "row": np.arange(1, len(raw_texts) + 1),
            "raw_text": _objects(table.frame[columns[0]], raw_texts),
            "raw_label": _objects(table.frame[columns[1]], raw_labels),
            "text": _objects(None, text_list),
            "label": pd.Series(np.array(names, dtype=object)[which], dtype=object, copy=False),
            "label_code": np.array(codes, dtype=np.int64)[which],
            "length": text_lengths,
            "changed": changed & (column.lengths > 0),
            "capital": column.capital,
            "formula": column.formula,
            "arrow": column.arrow,
            # what the training files escape or quote: casefolding (--lowercase) never adds such a character
            "json_escaped": column.json_escaped,
            "csv_quoted": column.csv_quoted,
        }
    )
    return work, variants, [*affix_findings]


def _objects(column: pd.Series | None, values: list[Any]) -> pd.Series:
    """`values` (`column.tolist()` when a column is given) as an object column: the column's own array
    when it holds these very objects, else one made with np.fromiter, twice as fast as np.array or
    pd.Series, which look into every value for a nested sequence (30 ms a column of 200,000 texts).
    Object dtype said outright: pandas would otherwise store str values as Arrow strings, and every
    check would convert them back."""
    if column is not None and column.dtype == object:
        array = column.to_numpy()
    else:
        array = np.fromiter(values, dtype=object, count=len(values))
    return pd.Series(array, dtype=object, copy=False)


def _drop_unusable(work: pd.DataFrame, options: PrepareOptions, found: list[Finding | None]) -> pd.Series:
    """Rows without text, without a label or with a label outside the set: the rows still active."""
    active = pd.Series(True, index=work.index)
    finding, mask = checks.empty_text(work)
    found.append(finding)
    active &= ~mask
    for check in (checks.empty_label, lambda w, a: checks.unknown_label(w, a, options.labels.names)):
        finding, mask = check(work, active)
        found.append(finding)
        active &= ~mask
    return active


def _backend_limit(options: PrepareOptions, length: pd.Series) -> tuple[int, str] | None:
    """The backends' limit, asked for only when a text could reach one: a declared limit under
    MIN_EXAMPLE_TOKEN_LIMIT counts as that (here, where the shortcut relies on it), and a token estimate
    never exceeds a text's characters + 1."""
    declared = options.backend_limit
    if declared is None or length.empty or int(length.max()) < MIN_EXAMPLE_TOKEN_LIMIT - 1:
        return None
    limit = declared() if callable(declared) else declared
    return (max(int(limit[0]), MIN_EXAMPLE_TOKEN_LIMIT), limit[1]) if limit else None


def _reporting_checks(
    work: pd.DataFrame, active: pd.Series, options: PrepareOptions, variants: set[str]
) -> list[Finding | None]:
    """The checks that drop nothing, over the rows still active."""
    live = work if active.all() else work[active]
    rows = live["row"]
    limit, limit_model = (options.token_limit, "the configured limit") if options.token_limit else (None, "")
    if limit is None:
        limit, limit_model = _backend_limit(options, live["length"]) or (None, "")
    return [
        textchecks.text_whitespace(live["changed"], rows),
        textchecks.label_variants(live["raw_label"], live["label"], rows, variants),
        textchecks.separator_in_text(live["arrow"], rows),
        textchecks.letter_case(live["capital"], rows, options.lowercase),
        textchecks.formula_like(live["formula"], rows),
        textchecks.long_text(live["length"], rows),
        textchecks.over_token_limit(live["text"], live["length"], rows, limit, limit_model)
        if limit
        else None,
        textchecks.completion_format(options.formats),
    ]


def _drop_repeats(
    work: pd.DataFrame, active: pd.Series, options: PrepareOptions, found: list[Finding | None]
) -> pd.Series:
    """Texts with two labels (all their rows), then exact and near repeats (all but the first)."""
    pairs = checks.pair_codes(work, options.labels.names)
    finding, mask = checks.conflicting_labels(work, active, pairs)
    found.append(finding)
    active = active & ~mask
    dup_findings, mask = checks.duplicates(work, active, options.lowercase, pairs)
    found.extend(dup_findings)
    return active & ~mask


def _split(
    table: LoadedTable,
    work: pd.DataFrame,
    active: pd.Series,
    options: PrepareOptions,
    report: Report,
    found: list[Finding | None],
) -> _Analysis:
    """The rows kept, the class-count findings and the stratified train/validation split."""
    kept = work.loc[active, ["row", "text", "raw_text", "label", "json_escaped", "csv_quoted"]]
    kept = kept.reset_index(drop=True)
    names = options.labels.names
    codes = work["label_code"].to_numpy()[active.to_numpy()]
    per_label = dict(zip(names, np.bincount(codes, minlength=len(names) + 1)[1:].tolist(), strict=True))
    report.rows_kept = len(kept)
    if kept.empty:
        found.append(checks.no_rows(table.rows))
    else:
        found.extend(checks.class_counts(per_label))
    report.findings += [f for f in found if f is not None]  # after those about the columns
    if kept.empty:
        return _Analysis(report)
    valid = split_valid(codes, range(1, len(names) + 1), float(options.valid_fraction), int(options.seed))
    kept["valid"] = valid
    for split, flag in (("train", False), ("valid", True)):
        split_counts = np.bincount(codes[valid == flag], minlength=len(names) + 1)[1:].tolist()
        report.counts[split] = dict(zip(names, split_counts, strict=True))
    return _Analysis(report, kept)


@collector_paused()  # tables of per-row facts, none in a cycle: finsent.support.gcpause
def check_table(table: LoadedTable, options: PrepareOptions | None = None) -> Report:
    """Run every check and the split without writing anything."""
    return _analyse(table, options or PrepareOptions()).report


@collector_paused()
def prepare_dataset(
    table: LoadedTable,
    options: PrepareOptions | None,
    out_dir: Path | str,
    helper: helpedlayout.CellsHelper | None = None,
) -> tuple[PreparedDataset, Report]:
    """Check, clean, split and write `table` into `out_dir` (see finsent.contract.dataset for the layout).

    Raises PreparationError (a DataError with `.report`) when an error finding blocks preparation;
    nothing is written then. An existing earlier output in `out_dir` is replaced as a whole. `helper`:
    the process that read the table's first rows, which may lay out part of the training split
    (`finsent.prep.helpedlayout`).
    """
    options = options or PrepareOptions()
    analysis = _analyse(table, options)
    report = analysis.report
    if report.has_errors or analysis.kept is None:
        raise PreparationError(report)
    formats: list[str] = [f for f in ("completion", "chat") if f in options.formats]
    valid, train = (_split_columns(analysis.kept, flag) for flag in (True, False))
    header = list(table.frame.columns)
    text_column = str(report.columns["text"])
    if header.count(text_column) != 1:  # the child finds the column by its place: it must be the one
        helper = None
    helped = helpedlayout.child_blocks(
        helper, train, len(analysis.kept), header.index(text_column) if helper else 0, formats,
        options.labels.names,
    )  # fmt: skip  # first: the child lays out its share while the rest is laid out here
    with (
        atomic_directory(out_dir, replace_if_contains=MANIFEST) as work_dir,
        HashedFileWriter(work_dir) as writer,
    ):
        for name, data in (
            ("report.json", report.to_json().encode("utf-8")),
            ("report.txt", report.to_text().encode("utf-8")),
        ):
            writer.write(name, data)
            writer.close(name)
        _write_split(writer, "valid", formats, _blocks(valid, formats, options, 0))
        if helped is None:
            _write_split(writer, "train", formats, _blocks(train, formats, options, 0))
        else:
            child_rows, from_child = helped
            # Laid out here meanwhile and held (about a third of the split) until the child's blocks,
            # which come first in the files, are written.
            rest = list(_blocks(train, formats, options, child_rows))
            _write_split(writer, "train", formats, itertools.chain(from_child, rest))
        digests = writer.finish()
        manifest = _manifest(table, report, options, dict(sorted(digests.items())))
        _store(
            work_dir / MANIFEST, [(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")]
        )
    return PreparedDataset.open(out_dir), report


def _split_columns(kept: pd.DataFrame, flag: bool) -> helpedlayout.SplitColumns:
    """The rows of the validation split (`flag` True) or of the training split, in file order."""
    take = kept["valid"].to_numpy() == flag
    return helpedlayout.SplitColumns(
        rows=kept["row"].to_numpy()[take].tolist(),
        texts=kept["text"].to_numpy()[take].tolist(),
        raw=kept["raw_text"].to_numpy()[take].tolist(),
        labels=kept["label"].to_numpy()[take].tolist(),
        json_escaped=kept["json_escaped"].to_numpy()[take],
        csv_quoted=kept["csv_quoted"].to_numpy()[take],
    )


def _blocks(
    split: helpedlayout.SplitColumns, formats: list[str], options: PrepareOptions, start: int
) -> Iterator[dict[str, bytes]]:
    """The blocks of a split's files from its row `start` on (a block boundary)."""
    return split_files(
        split.rows[start:], split.texts[start:], split.labels[start:], formats, options.labels.names,
        split.json_escaped[start:], split.csv_quoted[start:], header=start == 0,
    )  # fmt: skip


def _write_split(
    writer: HashedFileWriter, split: str, formats: list[str], blocks: Iterable[dict[str, Any]]
) -> None:
    """A block is handed to the writer's thread and dropped: a file is never held whole (on a 192 MB CSV
    the bytes of a split's files took 1x the input at once)."""
    names = {"csv": f"{split}.csv"} | {f: f"{split}.{f}.jsonl" for f in formats}
    for block in blocks:
        for kind, data in block.items():
            writer.write(names[kind], data)
    for name in names.values():
        writer.close(name)


def _store(path: Path, blocks: Iterable[bytes]) -> str:
    """Write the blocks to `path` and fsync it; returns the sha256, computed on the bytes as they are
    written (the file is never read back)."""
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for block in blocks:
            digest.update(block)
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def _manifest(
    table: LoadedTable, report: Report, options: PrepareOptions, digests: dict[str, str]
) -> dict[str, Any]:
    return {
        "finsent_version": __version__,
        "input": {
            "name": table.source_name,
            "sha256": table.sha256,
            "rows": table.rows,
            "format": table.file_format,
            "encoding": table.encoding,
            "sheet": table.sheet,
            "text_column": report.columns.get("text"),
            "label_column": report.columns.get("label"),
        },
        "options": options.to_dict(),
        "input_format": InputFormat(lowercase=options.lowercase, separator="").to_dict(),
        "labels": options.labels.to_dict(),
        "rows": {"read": report.rows_read, "kept": report.rows_kept},
        "counts": report.counts,
        "files": digests,
    }

"""`finsent prepare` and `finsent data fetch|info`: the data side of the command line."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsent.service import InputError, Text

if TYPE_CHECKING:  # imported when a command runs: parsing flags must stay light
    from finsent.service import DataFiles, LoadedTable, Report

PREPARE_HELP = """\
Check, clean and split a labelled file (CSV/TSV in any common encoding, XLSX, JSONL) and write
training files for every backend. Prints a report; nothing is written when an error blocks preparation.

examples:
  finsent prepare news.csv
  finsent prepare 뉴스.xlsx --sheet 2024 --text-col 제목 --label-col 감성 --out prepared/
  finsent prepare data.jsonl --labels positive,negative --format chat --report-json report.json
"""


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 < number <= 0.5:
        raise argparse.ArgumentTypeError("must be above 0 and at most 0.5 (e.g. 0.2)")
    return number


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    prep = subparsers.add_parser(
        "prepare",
        help="check, clean and split a labelled file into training data",
        description=PREPARE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prep.add_argument("input", metavar="INPUT", help="the labelled file (.csv, .tsv, .txt, .xlsx, .jsonl)")
    prep.add_argument(
        "--text-col", metavar="C", help="column with the text (default: guessed from the header)"
    )
    prep.add_argument("--label-col", metavar="C", help="column with the label (default: guessed)")
    prep.add_argument(
        "--labels",
        metavar="L1,L2,...",
        help="the label set, comma-separated (default: positive,negative,neutral; 긍정/부정/중립 map onto it)",
    )
    prep.add_argument(
        "--format",
        choices=("completion", "chat", "csv", "all"),
        default="all",
        help="training files to write besides train/valid.csv: completion (prompt/completion JSONL, as"
        " the legacy prepare_data wrote), chat (messages JSONL), csv (none), all (default)",
    )
    prep.add_argument(
        "--valid-fraction", type=_fraction, default=0.2, metavar="F", help="validation share (0.2)"
    )
    prep.add_argument("--seed", type=int, default=42, metavar="N", help="seed of the train/valid split (42)")
    prep.add_argument(
        "--lowercase", action="store_true", help="fold letter case for training and classification alike"
    )
    prep.add_argument("--sheet", metavar="S", help="XLSX sheet to read (default: the first)")
    prep.add_argument(
        "--out", metavar="DIR", help="output folder (default: FINSENT_HOME/datasets/<name>-<sha>)"
    )
    prep.add_argument("--report-json", metavar="FILE", help="also write the report as JSON to FILE")
    prep.add_argument("--check", action="store_true", help="only check and print the report; write nothing")
    prep.add_argument("--lang", choices=("en", "ko"), default="en", help="language of the printed report")
    prep.set_defaults(func=run_prepare)

    data = subparsers.add_parser("data", help="the Korean Finance PhraseBank corpus and the bundled sample")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    fetch = data_sub.add_parser(
        "fetch", help="download the corpus into FINSENT_HOME (checks its sha256)", description=_licence_text()
    )
    fetch.add_argument("--out", metavar="PATH", help="where to save it (default: FINSENT_HOME/corpus/...)")
    fetch.add_argument("--timeout", type=float, default=30.0, help="network timeout in seconds (30)")
    fetch.add_argument("--url", help="download from this mirror instead (the sha256 must still match)")
    fetch.set_defaults(func=run_fetch)
    info = data_sub.add_parser("info", help="where the corpus and the sample data are, and their licences")
    info.set_defaults(func=run_info)
    data.set_defaults(func=lambda args: (data.print_help(), 0)[1])


def _licence_text() -> str:
    from finsent.service import LICENCE

    return LICENCE


def default_out_dir(name: str, sha256: str) -> Path:
    """FINSENT_HOME/datasets/<file stem>-<first 8 hex of its sha256>."""
    from finsent.service import Settings

    stem = Path(name).stem
    slug = re.sub(r"[^\w.-]+", "-", stem, flags=re.UNICODE).strip("-.") or "dataset"
    return Settings.from_env().datasets_dir / f"{slug[:60]}-{sha256[:8]}"


def run_prepare(args: argparse.Namespace) -> int:
    from finsent.service import DataFiles, collector_paused

    files = DataFiles.standalone()
    source = Path(args.input)
    # First, before pandas is imported: a JSON Lines input is read meanwhile by a child process. The
    # command is one bounded step, the last of the process: the cycle collector waits until it ends,
    # imports included, and leaves alone what it leaves (finsent.support.gcpause).
    with collector_paused(freeze=True), files.start_reading(source) as prefetch:
        return _prepare(
            files, args, lambda: files.read_table(source, sheet=args.sheet, prefetch=prefetch), prefetch
        )


def _prepare(
    files: DataFiles, args: argparse.Namespace, read: Callable[[], LoadedTable], prefetch: Any = None
) -> int:
    from finsent.service import LabelSet, PreparationError, PrepareOptions

    labels = LabelSet()
    if args.labels:
        try:
            labels = LabelSet.from_names(args.labels.split(","))
        except ValueError as exc:
            raise InputError(
                Text(
                    f"--labels {args.labels!r}: {exc}.", f"--labels {args.labels!r}: 라벨이 잘못되었습니다."
                ),
                hint=Text(
                    "Give at least two different labels, e.g. --labels positive,negative.",
                    "서로 다른 라벨을 두 개 이상 주세요(예: --labels positive,negative).",
                ),
            ) from None
    formats = {"all": ("completion", "chat"), "csv": (), "completion": ("completion",), "chat": ("chat",)}
    options = PrepareOptions(
        text_column=args.text_col,
        label_column=args.label_col,
        labels=labels,
        valid_fraction=args.valid_fraction,
        seed=args.seed,
        lowercase=args.lowercase,
        formats=formats[args.format],
    )
    table = read()
    if args.check:
        report = files.check_table(table, options)
        _emit(files, report, args)
        return 2 if report.has_errors else 0
    out_dir = Path(args.out).expanduser() if args.out else default_out_dir(table.source_name, table.sha256)
    try:
        dataset, report = files.prepare_folder(table, options, out_dir, prefetch)
    except PreparationError as exc:
        _emit(files, exc.report, args)
        raise
    _emit(files, report, args)
    written = ", ".join(sorted(dataset.manifest["files"]))
    wrote = Text(f"Wrote {dataset.directory}: {written}, manifest.json",
                 f"{dataset.directory}에 저장했습니다: {written}, manifest.json")  # fmt: skip
    print(wrote.get(args.lang))
    if args.report_json:
        files.write_text(Path(args.report_json).expanduser(), report.to_json())
    return 0


def _emit(files: DataFiles, report: Report, args: argparse.Namespace) -> None:
    sys.stdout.write(report.to_text(args.lang))
    sys.stdout.flush()
    if args.report_json and (args.check or report.has_errors):
        files.write_text(Path(args.report_json).expanduser(), report.to_json())


def run_fetch(args: argparse.Namespace) -> int:
    from finsent.service import LICENCE, DataFiles

    dest = Path(args.out).expanduser() if args.out else None
    path = DataFiles.standalone().fetch_corpus(dest, url=args.url, timeout=args.timeout)
    print(f"Saved the Korean Finance PhraseBank to {path} (sha256 checked).")
    print(LICENCE)
    return 0


def run_info(args: argparse.Namespace) -> int:
    from finsent.service import LICENCE, SAMPLE_NOTE, DataFiles

    files = DataFiles.standalone()
    status = files.corpus_status()
    print(f"corpus: {status['path']}")
    print(f"  present: {'yes' if status['present'] else 'no'}", end="")
    if status["present"]:
        print(f", sha256 {'ok' if status['sha256_ok'] else 'DIFFERENT from the published file'}", end="")
    else:
        print(" (run `finsent data fetch`)", end="")
    print()
    print(f"  source: {status['url']}")
    print(f"sample: {files.sample_path()}")
    print(f"  {SAMPLE_NOTE}")
    print()
    print(LICENCE)
    return 0

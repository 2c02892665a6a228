"""`finsent classify`: a few texts on the command line, or a whole file through the bulk runner."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from finsent.cli.output import ProgressBar, service
from finsent.service import InputError, Text

if TYPE_CHECKING:  # imported when a command runs: parsing flags must stay light
    from finsent.service import BulkRunRecord, FinsentService

CLASSIFY_HELP = """\
Classify texts with a model (see `finsent models`).

examples:
  finsent classify --backend local --model M "삼성전자 영업이익 급증" "Shares fell sharply"
  finsent classify --backend local --model M --input news.xlsx --text-col 제목 --output scored.xlsx
  finsent classify --resume run-20261125-ab12cd34 --output scored.csv
  finsent classify --backend B --model M --input big.csv --output scored.csv --batch-api
  finsent classify --cancel run-20261125-ab12cd34

With --batch-api (backends that have a batch API) the file goes to the provider as one batch: cheaper,
finished within hours. The batch id is stored with the run: running the same command again, or
--resume RUN, follows that batch instead of submitting a new one; Ctrl-C leaves the batch running.
--cancel RUN cancels a run: for a batch-API run, its batch at the provider too (the requests it finished
are billed, nothing more); resuming it later keeps their answers and submits a new batch for the rest.

The output file keeps every input column and adds label, confidence, score_<label> and model (CSV with a
BOM for Excel, XLSX or JSONL by its extension; --label-names ko writes 긍정/부정/중립). Empty cells get no
label. CSV cells that Excel would run as a formula get a leading apostrophe (--no-formula-guard for
programs); XLSX writes every text as a text cell, unchanged. Ctrl-C keeps the finished rows and prints the
command to resume.
"""


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "classify",
        help="classify texts, or a CSV/XLSX/JSONL file, with a model",
        description=CLASSIFY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    p.add_argument("--backend", metavar="B", help="backend name (default: FINSENT_DEFAULT_BACKEND or local)")
    p.add_argument("--model", metavar="M", help="model id or unique name (see `finsent models`)")
    p.add_argument("--input", metavar="FILE", help="a CSV, TSV, XLSX or JSONL file to classify in bulk")
    p.add_argument("--text-col", metavar="C", help="column with the text (default: guessed from the header)")
    p.add_argument("--sheet", metavar="S", help="XLSX sheet to read (default: the first)")
    p.add_argument("--output", metavar="FILE", help="where to write the result (.csv, .xlsx, .jsonl, .tsv)")
    p.add_argument("--resume", metavar="RUN", help="resume an interrupted or cancelled bulk run (id or name)")
    p.add_argument(
        "--cancel",
        metavar="RUN",
        help="cancel a bulk run (a batch-API run: its batch at the provider too); finished rows are kept",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per text")
    p.add_argument(
        "--label-names",
        choices=("id", "ko"),
        default="id",
        help="labels in the --output file: ids (positive/negative/neutral, default) or Korean (긍정/부정/중립)",
    )
    p.add_argument(
        "--no-formula-guard",
        action="store_true",
        help="CSV/TSV output for programs: do not prefix cells that start with =, +, -, @ with an apostrophe",
    )
    p.add_argument(
        "--batch-api",
        action="store_true",
        help="classify --input through the backend's batch API (cheaper, slower; resumable)",
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        metavar="S",
        help="seconds between looks at a submitted batch (10, or FINSENT_BATCH_POLL_SECONDS)",
    )
    p.set_defaults(func=run_classify)

    p = subparsers.add_parser("runs", help="list bulk classification runs, newest first")
    p.set_defaults(func=run_runs)


def run_runs(args: argparse.Namespace) -> int:
    from finsent.cli.output import print_table

    svc = service()
    runs = svc.bulk_runs()
    if not runs:
        print("No bulk runs yet. Start one with `finsent classify --model M --input FILE --output FILE`.")
        return 0
    models = {(m.backend, m.id): m.title for m in svc.models()}
    print_table(
        ["name", "run", "model", "input", "rows", "status", "created"],
        [
            [r.title, r.id, models.get((r.backend, r.model_id), r.model_id), r.source_name,
             f"{r.rows_done:,}/{r.rows_total:,}", r.status, _time(r.created_at)]
            for r in sorted(runs, key=lambda r: r.created_at, reverse=True)
        ],
    )  # fmt: skip
    return 0


def _time(stamp: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def run_classify(args: argparse.Namespace) -> int:
    if args.cancel:
        if args.resume or args.input or args.texts:
            raise InputError(
                Text(
                    "--cancel RUN takes no TEXT, --input or --resume.",
                    "--cancel RUN에는 문장, --input, --resume을 함께 줄 수 없습니다.",
                )
            )
        return cancel(args.cancel)
    if args.resume:
        if not args.output:
            raise InputError(
                Text("--resume needs --output FILE.", "--resume에는 --output FILE이 필요합니다.")
            )
        return resume(args)
    if args.batch_api and not args.input:
        raise InputError(
            Text("--batch-api needs --input FILE.", "--batch-api에는 --input FILE이 필요합니다.")
        )
    if args.input:
        if args.texts:
            raise InputError("Give either TEXT arguments or --input FILE, not both.")
        if not args.output:
            raise InputError(
                Text(
                    "--input needs --output FILE (.csv, .xlsx or .jsonl).",
                    "--input에는 --output FILE(.csv, .xlsx, .jsonl)이 필요합니다.",
                )
            )
    elif not args.texts:
        raise InputError(Text("Nothing to classify.", "분류할 문장이 없습니다."), hint=Text("Give TEXT arguments, --input FILE, or --resume RUN.", "문장, --input FILE 또는 --resume RUN을 주세요."))  # fmt: skip
    if not args.model:
        raise InputError(
            Text("--model M is required.", "--model이 필요합니다."), hint="`finsent models` lists the models."
        )
    svc = service()
    # --model takes an id or a model's unique name; the name also tells the backend when --backend is left out
    backend, args.model = svc.resolve_model(args.model, args.backend)
    if args.input:
        return bulk(svc, args, backend)
    for text, prediction in zip(args.texts, svc.classify(backend, args.model, args.texts), strict=True):
        scores = {k: round(float(v), 4) for k, v in prediction.scores.items()}
        if args.json:
            row = {
                "text": text,
                "label": prediction.label,
                "confidence": round(prediction.confidence, 4),
                "scores": scores,
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            shown = "  ".join(f"{k}={v:.3f}" for k, v in scores.items())
            print(f"{prediction.label:<10} {prediction.confidence:.3f}  {shown}  {text}")
    return 0


def _finish(
    svc: FinsentService,
    record: BulkRunRecord,
    output: str,
    label_names: str = "id",
    formula_guard: bool = True,
) -> int:
    from finsent.service import CANCELLED_BATCH, BulkStatus  # here: the CLI's startup loads no store

    resume_cmd = f"finsent classify --resume {record.id} --output {shlex.quote(output)}"
    if (
        record.batch_api
        and record.batch_status in CANCELLED_BATCH
        and record.status is not BulkStatus.SUCCEEDED
    ):
        print(f"error: {svc.batch_cancelled_error(record.id)}", file=sys.stderr)
        print(f"Resume (a new batch) with: {resume_cmd}", file=sys.stderr)
        return 2
    if record.status is not BulkStatus.SUCCEEDED:
        print(
            f"error: bulk run {record.id} {record.status} after {record.rows_done:,} of {record.rows_total:,} rows"
            + (f": {record.error}" if record.error else "."),
            file=sys.stderr,
        )
        print(f"The finished rows are kept. Resume with: {resume_cmd}", file=sys.stderr)
        return 2
    path, results = svc.write_bulk_results(
        record.id, output, korean_labels=label_names == "ko", formula_guard=formula_guard
    )
    rate = f" ({record.rate:,.0f} rows/s)" if record.rate else ""
    if results.rows_blank:
        print(f"{results.rows_blank:,} empty rows were not classified (no label, confidence or scores).",
              file=sys.stderr)  # fmt: skip
    print(
        f"Classified {record.rows_done:,} rows{rate}; wrote {path} ({svc.files.check_output_name(path)}).",
        file=sys.stderr,
    )
    return 0


def bulk(svc: FinsentService, args: argparse.Namespace, backend: str) -> int:
    from finsent.service import BulkRequest  # here: the CLI's startup loads no pandas

    svc.files.check_output_name(args.output)  # refuse a bad output name before any work
    table = svc.files.read_table(Path(args.input).expanduser(), sheet=args.sheet)
    column = args.text_col or svc.files.guess_columns(table.frame).text
    if not column:
        raise InputError(
            Text(
                f"Could not tell which column of {table.source_name} holds the text.",
                f"{table.source_name}에서 문장 열을 찾지 못했습니다.",
            ),
            hint=Text(
                f"Pass --text-col (columns: {', '.join(map(str, table.frame.columns))}).",
                "--text-col 로 열을 지정하세요.",
            ),
        )
    # The stored input is what the run reads: the table is let go before classifying (on a large file
    # it is most of what the command holds, and the results are read back beside it otherwise).
    request = BulkRequest(
        backend, args.model, table.frame, column, table.source_name, batch_api=args.batch_api
    )
    del table
    bar = ProgressBar()
    created: list[BulkRunRecord] = []
    try:
        run = svc.open_bulk_run(request)
        del request
        _created(run, created)
        record = svc.run_bulk_here(run.id, on_progress=bar, poll_interval=args.poll_interval)
    except KeyboardInterrupt:
        bar.close()
        if created:
            _stopped(svc.bulk_run(created[0].id), args.output)
        return 130
    bar.close()
    return _finish(svc, record, args.output, args.label_names, not args.no_formula_guard)


def _created(run: BulkRunRecord, created: list[BulkRunRecord]) -> None:
    from finsent.service import BulkStatus  # here: the CLI's startup loads no store

    created.append(run)
    if run.status is BulkStatus.SUCCEEDED:
        print(
            f"This input was classified with this model before, in bulk run {run.id} ({run.title}):"
            " writing its results instead of classifying again.",
            file=sys.stderr,
        )
    elif run.status is not BulkStatus.QUEUED and not run.batch_id:
        print(
            f"Resuming bulk run {run.id} ({run.title}), which has this input: {run.status}.", file=sys.stderr
        )
    if run.batch_id:
        print(f"Following batch {run.batch_id} of bulk run {run.id} (submitted before).", file=sys.stderr)
    elif run.batch_api:
        print(f"Bulk run {run.id}: submitting the batch...", file=sys.stderr)


def _stopped(done: BulkRunRecord, output: str) -> None:
    resume_cmd = f"finsent classify --resume {done.id} --output {shlex.quote(output)}"
    if done.batch_api and done.batch_id:
        print(
            f"\nStopped following. Batch {done.batch_id} keeps running at the provider"
            f" ({done.batch_status or 'submitted'}); nothing is submitted twice. Resume with: {resume_cmd}",
            file=sys.stderr,
        )
        return
    print(
        f"\nStopped; {done.rows_done:,} of {done.rows_total:,} rows are kept. Resume with: {resume_cmd}",
        file=sys.stderr,
    )


def resume(args: argparse.Namespace) -> int:
    svc = service()
    svc.files.check_output_name(args.output)
    args.resume = svc.find_bulk_run(args.resume).id
    bar = ProgressBar()
    try:
        record = svc.resume_bulk_run(
            args.resume, foreground=True, on_progress=bar, poll_interval=args.poll_interval
        )
    except KeyboardInterrupt:
        bar.close()
        _stopped(svc.bulk_run(args.resume), args.output)
        return 130
    bar.close()
    return _finish(svc, record, args.output, args.label_names, not args.no_formula_guard)


def cancel(run_id: str) -> int:
    from finsent.service import BulkStatus  # here: the CLI's startup loads no store

    """Cancel a bulk run; for a batch-API run, its batch at the provider too."""
    svc = service()
    run = svc.find_bulk_run(run_id)
    run_id = run.id
    if run.status is BulkStatus.SUCCEEDED:
        raise InputError(
            Text(
                f"Bulk run {run_id} has finished: there is nothing to cancel.",
                f"대량 분류 {run_id}은(는) 이미 끝나 취소할 것이 없습니다.",
            ),
            hint=f"Its results: finsent classify --resume {run_id} --output FILE",
        )
    resume_cmd = f"finsent classify --resume {run_id} --output FILE"
    if not run.batch_api:
        run = svc.cancel_bulk_run(run_id)
        print(
            f"Bulk run {run_id}: {run.status}; {run.rows_done:,} of {run.rows_total:,} rows are kept"
            f" (a run in another process stops after its chunk in flight). Resume with: {resume_cmd}",
            file=sys.stderr,
        )
        return 0
    run = svc.cancel_bulk_batch(run_id)
    if not run.batch_id:
        print(
            f"Bulk run {run_id} cancelled before its batch was submitted; nothing was sent.", file=sys.stderr
        )
        return 0
    print(
        f"Batch {run.batch_id} of bulk run {run_id}: {run.batch_status}. The requests it finished"
        f" ({run.batch_done:,} of {run.batch_total:,}) are billed; nothing more will be."
        f"\nTo classify the other rows later (their answers are kept; a new batch, billed, for the rest):"
        f" {resume_cmd}",
        file=sys.stderr,
    )
    return 0

"""What the job and classify commands share: the service, plain tables, metrics and a progress bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # the service (pandas, the plugins) is imported when a command runs, not to parse flags
    from finsent.service import BulkRunRecord, EvaluationRecord, FinsentService


def service() -> FinsentService:
    from finsent.service import FinsentService

    return FinsentService()


def warn_plugin_problems(svc: FinsentService, only_if_missing: str | None = None) -> None:
    """Plugin load problems as warnings on stderr (always, or only when `only_if_missing` is not loaded)."""
    if only_if_missing and only_if_missing in svc.registry.backends:
        return
    for problem in svc.plugin_problems():
        print(f"warning: {problem}", file=sys.stderr)


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def print_evaluation(evaluation: EvaluationRecord, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    print(
        f"Final classification metrics on {evaluation.n} {evaluation.split} examples:"
        f" accuracy {evaluation.accuracy:.4f}, macro-F1 {evaluation.macro_f1:.4f}",
        file=out,
    )
    print_table(
        ["label", "precision", "recall", "f1", "support"],
        [
            [label, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", int(m["support"])]
            for label, m in evaluation.per_class.items()
        ],
        out,
    )
    print("confusion matrix (rows: true label, columns: predicted):", file=out)
    columns = [*evaluation.labels, "unknown"]
    print_table(
        ["", *columns],
        [[label, *row] for label, row in zip(evaluation.labels, evaluation.confusion, strict=True)],
        out,
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class ProgressBar:
    """rows done, rows/s and time left on stderr, redrawn in place (at most ~10 times a second)."""

    def __init__(self, out: TextIO | None = None, width: int = 30) -> None:
        self.out = out or sys.stderr
        self.width = width
        self._last = 0.0

    def __call__(self, record: BulkRunRecord) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and record.rows_done < record.rows_total:
            return
        self._last = now
        if record.batch_api and record.rows_done == 0:
            self._batch_line(record)
            return
        total = max(record.rows_total, 1)
        filled = int(self.width * record.rows_done / total)
        rate = f"{record.rate:,.0f} rows/s" if record.rate else "- rows/s"
        line = (
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {record.rows_done:,}/{record.rows_total:,} rows"
            f"  {rate}  {_duration(record.eta_seconds)} left"
        )
        self.out.write(line)
        self.out.flush()

    def _batch_line(self, record: BulkRunRecord) -> None:
        """While a provider batch runs, its requests finished (rows arrive all at once at the end)."""
        total = max(record.batch_total, 1)
        filled = int(self.width * record.batch_done / total) if record.batch_total else 0
        self.out.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] batch {record.batch_id or '-'}"
            f" {record.batch_status or 'submitting'}: {record.batch_done:,}/{record.batch_total:,} requests  "
        )
        self.out.flush()

    def close(self) -> None:
        if self._last:
            self.out.write("\n")
            self.out.flush()

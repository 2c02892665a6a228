"""`finsent gc`: what finsent's data takes under FINSENT_HOME, and freeing what is no longer needed."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when the command runs: parsing flags must stay light
    from finsent.service import StorageItem, StorageUsage

GC_HELP = """\
Show where the space under FINSENT_HOME goes and what can be freed; nothing is deleted without --yes.

What can be freed: bulk runs that are not running (their stored input and predictions: the run leaves the
list and its results can no longer be downloaded; classify the file again to get them), the folders of
failed and cancelled jobs and of succeeded jobs whose model is saved (training-file copies, checkpoints,
logs; the job's history and scores stay), and leftovers of writes that were killed. Models, datasets,
interrupted jobs (they can resume) and anything in use are never freed.

examples:
  finsent gc                     list what can be freed
  finsent gc --older-than 7      only what has not changed for 7 days
  finsent gc --yes               free it
"""

KIND_NAMES = {"temp": "leftover", "bulk_run": "bulk run", "bulk_orphan": "bulk folder", "job": "job folders"}
PART_NAMES = {"database": "database", "models": "models", "datasets": "datasets", "bulk": "bulk runs",
              "jobs": "jobs", "other": "other"}  # fmt: skip


def _days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {value!r}") from None
    if not (math.isfinite(days) and days >= 0):
        raise argparse.ArgumentTypeError("must be 0 or more days (e.g. 7)")
    return days


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gc = subparsers.add_parser(
        "gc",
        help="show the space finsent's data takes and free bulk runs, old jobs and leftovers",
        description=GC_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gc.add_argument(
        "--older-than",
        type=_days,
        default=0.0,
        metavar="DAYS",
        help="only what has not changed for DAYS days",
    )
    gc.add_argument("--yes", action="store_true", help="free what is listed (without it, nothing is deleted)")
    gc.set_defaults(func=run_gc)


def _moment(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def _item_row(item: StorageItem) -> list[str]:
    from finsent.service import size_text

    status = item.status.value if item.status is not None else "-"
    return [KIND_NAMES.get(item.kind.value, item.kind.value), item.title, status, _moment(item.stamp),
            size_text(item.size)]  # fmt: skip


def _print_usage(usage: StorageUsage) -> None:
    from finsent.cli.output import print_table
    from finsent.service import size_text

    print(f"FINSENT_HOME {usage.home}: {size_text(usage.total)} in all")
    print_table(
        ["part", "size"], [[PART_NAMES.get(p.value, p.value), size_text(n)] for p, n in usage.parts.items()]
    )


def run_gc(args: argparse.Namespace) -> int:
    from finsent.cli.output import print_table, service
    from finsent.service import size_text

    svc = service()
    usage = svc.housekeeping.usage(older_than=args.older_than * 86400)
    _print_usage(usage)
    if not usage.freeable:
        print("\nNothing to free.")
        return 0
    print(f"\nCan be freed: {len(usage.freeable)} items, {size_text(usage.freeable_size)}")
    print_table(["kind", "name", "status", "last change", "size"], [_item_row(i) for i in usage.freeable])
    if any(item.kind.value == "bulk_run" for item in usage.freeable):
        print("Freed bulk runs leave the run list: their results can no longer be downloaded.")
    if not args.yes:
        print("\nNothing was deleted. Run `finsent gc --yes` to free it.")
        return 0
    freed = svc.housekeeping.collect(usage.freeable)
    print(f"\nFreed {size_text(freed.size)} ({len(freed.freed)} items).")
    if freed.kept:
        print(
            f"Kept {len(freed.kept)} items that came back into use or could not be removed:", file=sys.stderr
        )
        for item in freed.kept:
            print(f"  {' '.join(_item_row(item)[:2])}", file=sys.stderr)
    return 0

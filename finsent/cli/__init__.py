"""The `finsent` command line: the old CLI's workflow, for every backend. A thin shell over the core."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from finsent import __version__
from finsent.service import FinsentError

# Each module adds its sub-commands with `add_commands(subparsers)`; a sub-command sets `func(args) -> int`.
COMMAND_MODULES = (
    "finsent.cli.data_cmds",
    "finsent.cli.job_cmds",
    "finsent.cli.classify_cmds",
    "finsent.cli.gc_cmds",
)

DESCRIPTION = """\
Turn labelled financial news into a sentiment classifier, and use it.

workflow:
  finsent prepare data.csv --out prepared/        check, clean and split a labelled file
  finsent train --backend local --data prepared/ --follow
  finsent results JOB                             accuracy curve and final metrics
  finsent classify --backend local --model M "삼성전자 영업이익 급증"
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finsent", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"finsent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # what finsent writes is its user's alone: see finsent/support/private.py
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except FinsentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def run() -> NoReturn:
    """The `finsent` program: `main`, then the end of the process."""
    code = main()
    # What is left is freed with the process. The interpreter's own ending would search it for cycles
    # and free it object by object (0.1-0.2 s after preparing 200,000 rows), so once what is registered
    # to run at exit has run (logging's flush among it) and the output is flushed, the process ends
    # here; not while another thread runs, which the interpreter would wait for.
    gc.freeze()
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say there
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()

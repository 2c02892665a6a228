"""Time the legacy `openai tools fine_tunes.prepare_data -q` (openai 0.28.1) inside one process.

Run with the legacy venv's python by bench/prep.py: the imports the command makes happen first, then only
the preparation itself is timed, so it compares with finsent's in-process figure like for like. Prints the
seconds of each run on one line.

    /tmp/legacy-openai/bin/python bench/legacy_prep.py FILE [REPEAT]
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import os
import sys
import time
import warnings

os.environ.setdefault("OPENAI_API_KEY", "sk-not-used")  # never sent: prepare_data makes no request
import openai.cli as legacy_cli
import pandas  # noqa: F401  (prepare_data imports it on first use: not part of the work)


def main() -> int:
    path = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    warnings.simplefilter("ignore")  # pandas warns on the legacy code's chained assignments
    times = []
    for _ in range(repeat):
        for old in glob.glob(os.path.splitext(path)[0] + "_prepared*.jsonl"):
            os.remove(old)
        args = argparse.Namespace(file=path, quiet=True)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            legacy_cli.FineTune.prepare_data(args)
        times.append(time.perf_counter() - start)
    print(" ".join(f"{t:.4f}" for t in times))
    return 0


if __name__ == "__main__":
    sys.exit(main())

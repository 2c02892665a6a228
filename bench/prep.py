"""Benchmark of `finsent prepare`: the corpus and a 200,000-row synthetic file built from it.

    FINSENT_CORPUS=../shared/data/finance_data.csv .venv/bin/python bench/prep.py [--rows N]
        [--legacy-venv /tmp/legacy-openai]

Prints the best and the median of --repeat runs, rows/s and peak memory (tracemalloc: Python and numpy
allocations of one run; ru_maxrss: the process's resident peak so far) for read + check + split + write,
twice per file: with every output format (csv + completion + chat JSONL, the default) and with the job
the legacy tool does (train/valid.csv + prompt/completion JSONL only, `--format completion`). Everything
is written to a temporary folder that is removed afterwards; nothing derived from the corpus is kept.

Target (issue 2): 200k rows in at most 1/7 of the legacy `openai tools fine_tunes.prepare_data -q`
(openai 0.28.1) on the same machine, and the corpus well under 1 s. With --legacy-venv PATH (a venv with
openai==0.28.1 and a pandas it works with), the legacy tool is timed (best and median of --repeat runs)
on the same 200k rows as prompt/completion JSONL, and the ratios are printed. The machine may be shared:
compare best with best, and look at the medians for the spread.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pandas as pd

from finsent.prepare import PrepareOptions, prepare_dataset
from finsent.reading import read_table


def build_synthetic(corpus: Path, rows: int, out: Path) -> Path:
    """Repeat the corpus, appending a cycle number from the second copy on so most rows stay distinct."""
    frame = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    copies: list[pd.DataFrame] = []
    cycle = 0
    while sum(len(c) for c in copies) < rows:
        part = frame.copy()
        if cycle:
            part["kor_sentence"] = part["kor_sentence"] + f" ({cycle})"
            part["sentence"] = part["sentence"] + f" ({cycle})"
        copies.append(part)
        cycle += 1
    big = pd.concat(copies, ignore_index=True).head(rows)
    path = out / f"synthetic_{rows}.csv"
    big.to_csv(path, index=False)
    return path


def run_once(path: Path, out_dir: Path, formats: tuple[str, ...], trace: bool) -> tuple[float, int, int]:
    """(seconds, rows read, tracemalloc peak bytes or 0)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    gc.collect()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    table = read_table(path, max_mb=2048)
    prepare_dataset(table, PrepareOptions(formats=formats), out_dir)
    seconds = time.perf_counter() - start
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return seconds, table.rows, peak


#: (label, formats): every output format, and the legacy tool's job (csv + prompt/completion JSONL)
JOBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("all", ("completion", "chat")),
    ("completion", ("completion",)),
)


def measure(label: str, path: Path, work: Path, repeat: int) -> dict[str, float]:
    """Best seconds per job ("all", "completion")."""
    best: dict[str, float] = {}
    size_mb = path.stat().st_size / 1e6
    for job, formats in JOBS:
        out_dir = work / f"out-{label}-{job}"
        times = []
        rows = 0
        for _ in range(repeat):
            seconds, rows, _ = run_once(path, out_dir, formats, trace=False)
            times.append(seconds)
        _, _, peak = run_once(path, out_dir, formats, trace=True)
        best[job] = min(times)
        maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{label:>10} {job:>10}: {rows:>8,} rows ({size_mb:5.1f} MB)  best {best[job]:6.3f} s  "
            f"median {statistics.median(times):6.3f} s of {repeat}  {rows / best[job]:>9,.0f} rows/s  "
            f"tracemalloc {peak / 1e6:6.1f} MB  ru_maxrss {maxrss_mb:6.1f} MB"
        )
    return best


def legacy(venv: Path, source: Path, work: Path, repeat: int) -> float | None:
    """Best time of `openai tools fine_tunes.prepare_data -f FILE -q` (openai 0.28.1) on the same rows."""
    exe = venv / "bin" / "openai"
    if not exe.exists():
        print(f"    legacy: {exe} not found; skipped")
        return None
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    jsonl = work / "legacy.jsonl"
    with open(jsonl, "w", encoding="utf-8") as handle:
        for text, label in zip(frame["kor_sentence"], frame["labels"], strict=True):
            handle.write(json.dumps({"prompt": text, "completion": label}, ensure_ascii=False) + "\n")
    env = dict(os.environ, OPENAI_API_KEY="sk-not-used")
    times = []
    for _ in range(repeat):
        for old in work.glob("legacy_prepared*.jsonl"):
            old.unlink()
        start = time.perf_counter()
        result = subprocess.run(
            [str(exe), "tools", "fine_tunes.prepare_data", "-f", str(jsonl), "-q"],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=900,
        )
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            print(f"    legacy: exit {result.returncode}: {result.stderr.strip()[-300:]}")
            return None
    best = min(times)
    print(
        f"{'legacy':>10} {'completion':>10}: {len(frame):>8,} rows  best {best:6.3f} s  "
        f"median {statistics.median(times):6.3f} s of {repeat}  {len(frame) / best:>9,.0f} rows/s  "
        "(openai 0.28.1 prepare_data -q)"
    )
    return best


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default=os.environ.get("FINSENT_CORPUS", ""), help="the corpus CSV")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the synthetic file (200,000)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per job (3); best and median printed"
    )
    parser.add_argument("--legacy-venv", type=Path, help="venv with openai==0.28.1 to time the legacy tool")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if not corpus.is_file():
        print("error: set FINSENT_CORPUS (or --corpus) to the corpus CSV", file=sys.stderr)
        return 2
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="finsent-bench-") as tmp:
        work = Path(tmp)
        measure("corpus", corpus, work, args.repeat)
        synthetic = build_synthetic(corpus, args.rows, work)
        best = measure("synthetic", synthetic, work, args.repeat)
        if args.legacy_venv:
            old = legacy(args.legacy_venv, synthetic, work, args.repeat)
            if old:
                for job, seconds in best.items():
                    print(
                        f"   speedup {job:>10}: {old / seconds:5.1f}x the legacy tool "
                        f"(target at least 7x: <= {old / 7:.2f} s)"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

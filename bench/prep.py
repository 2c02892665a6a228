"""Benchmark of `finsent prepare`: the corpus and a 200,000-row synthetic file built from it.

    FINSENT_CORPUS=../shared/data/finance_data.csv .venv/bin/python bench/prep.py [--rows N]
        [--legacy-venv /tmp/legacy-openai]

Prints rows/s, seconds and peak memory (tracemalloc: Python allocations of the run; ru_maxrss: the
process's resident peak) for read + check + split + write of every output format. Everything is written
to a temporary folder that is removed afterwards; nothing derived from the corpus is kept.

Target (issue 2): 200k rows in at most 1/7 of the legacy `openai tools fine_tunes.prepare_data -q`
(openai 0.28.1, ~21 s on the project machine, so <= 3 s), and the corpus well under 1 s.
With --legacy-venv PATH (a venv with openai==0.28.1 and a pandas it works with), the legacy tool is run
on the same 200k rows as prompt/completion JSONL and its time printed too.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
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
    copies = []
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


def run_once(path: Path, out_dir: Path, trace: bool) -> tuple[float, int, int]:
    """(seconds, rows read, tracemalloc peak bytes or 0)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    gc.collect()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    table = read_table(path, max_mb=2048)
    prepare_dataset(table, PrepareOptions(), out_dir)
    seconds = time.perf_counter() - start
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return seconds, table.rows, peak


def measure(label: str, path: Path, work: Path, repeat: int) -> float:
    out_dir = work / f"out-{label}"
    times = []
    rows = 0
    for _ in range(repeat):
        seconds, rows, _ = run_once(path, out_dir, trace=False)
        times.append(seconds)
    _, _, peak = run_once(path, out_dir, trace=True)
    best = min(times)
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = path.stat().st_size / 1e6
    print(
        f"{label:>10}: {rows:>8,} rows ({size_mb:5.1f} MB)  best {best:6.3f} s of {repeat}  "
        f"{rows / best:>10,.0f} rows/s  tracemalloc peak {peak / 1e6:7.1f} MB  ru_maxrss {maxrss_mb:7.1f} MB"
    )
    return best


def legacy(venv: Path, source: Path, work: Path) -> float | None:
    """Time `openai tools fine_tunes.prepare_data -f FILE -q` from openai 0.28.1 on the same rows."""
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
    start = time.perf_counter()
    result = subprocess.run(
        [str(exe), "tools", "fine_tunes.prepare_data", "-f", str(jsonl), "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=900,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(f"    legacy: exit {result.returncode}: {result.stderr.strip()[-300:]}")
        return None
    print(
        f"    legacy: {len(frame):>8,} rows  {seconds:6.2f} s  {len(frame) / seconds:>10,.0f} rows/s (openai 0.28.1 -q)"
    )
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default=os.environ.get("FINSENT_CORPUS", ""), help="the corpus CSV")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the synthetic file (200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per file; the best is printed")
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
            old = legacy(args.legacy_venv, synthetic, work)
            if old:
                print(f"   speedup: {old / best:.1f}x (target: at least 7x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

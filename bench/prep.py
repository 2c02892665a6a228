"""Benchmark of `finsent prepare`: the corpus and a 200,000-row synthetic file built from it.

    FINSENT_CORPUS=../shared/data/finance_data.csv .venv/bin/python bench/prep.py [--rows N]
        [--repeat N] [--legacy-venv /tmp/legacy-openai] [--commands-only]

The synthetic file repeats the corpus's Korean sentences (a cycle number appended from the second copy on,
so most rows stay distinct) as a `prompt,completion` CSV: the columns the legacy tool requires, so both
tools read the very same file. The same rows as JSON Lines (the tutorial's input) are timed the same way,
both tools again reading the very same file. A second, wide copy keeps the corpus's three columns (labels,
English sentence, Korean sentence) for the figure on a file shaped like the corpus.

Prints the best and the median of --repeat runs, rows/s and peak memory (tracemalloc: Python and numpy
allocations of one run; ru_maxrss: the process's resident peak so far) of read + check + split + write in
this process, twice per file: with every output format (csv + completion + chat JSONL, the default) and
with the job the legacy tool does (train/valid.csv + prompt/completion JSONL, `--format completion`), and
the whole `finsent prepare FILE --format completion` command (Python start and imports included).
Everything is written to a temporary folder that is removed afterwards; nothing derived from the corpus is
kept.

Target (issue 2): the 200k-row file in at most 1/7 of the time of the legacy
`openai tools fine_tunes.prepare_data -q` (openai 0.28.1) on the same machine, and the corpus well under
1 s. With --legacy-venv PATH (a venv with openai==0.28.1 and a pandas it works with) the legacy tool is
timed on the same file twice: inside one process with its imports done (bench/legacy_prep.py), which
compares with finsent's in-process figure like for like, and as the whole command. Both ratios are
printed. The two whole commands are run in turn (finsent, legacy, finsent, ...), so a shared machine's
slow minutes weigh on both; compare best with best, and medians with medians for the spread.
`--commands-only` times just the two commands on the 200k CSV and JSONL (issue 12: the JSONL command at
least 5x the legacy one).
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

from finsent.ingest.reading import read_table
from finsent.prep.pipeline import PrepareOptions, prepare_dataset
from finsent.service import DataFiles


def build_synthetic(corpus: Path, rows: int, out: Path, wide: bool = False) -> Path:
    """`rows` rows of the corpus repeated, a cycle number appended from the second copy on. Narrow: the
    Korean sentence and its label as `prompt,completion` (what the legacy tool reads); wide: the corpus's
    own columns."""
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
    if not wide:
        big = pd.DataFrame({"prompt": big["kor_sentence"], "completion": big["labels"]})
    path = out / f"synthetic_{rows}{'_wide' if wide else ''}.csv"
    big.to_csv(path, index=False)
    return path


def to_jsonl(path: Path) -> Path:
    """The rows of a synthetic CSV as JSON Lines ({"prompt": ..., "completion": ...} per line)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = path.with_suffix(".jsonl")
    with out.open("w", encoding="utf-8") as lines:
        for record in frame.to_dict("records"):
            lines.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


def run_once(path: Path, out_dir: Path, formats: tuple[str, ...], trace: bool) -> tuple[float, int, int]:
    """(seconds, rows read, tracemalloc peak bytes or 0)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    gc.collect()
    if trace:
        tracemalloc.start()
    # The backends' token limit is asked once, before the clock, as `finsent prepare` does at start.
    options = PrepareOptions(formats=formats, backend_limit=BACKEND_LIMIT)
    start = time.perf_counter()
    table = read_table(path, max_mb=2048)
    prepare_dataset(table, options, out_dir)
    seconds = time.perf_counter() - start
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return seconds, table.rows, peak


#: the backends' smallest per-example token limit, asked for as `finsent prepare` asks: only when a text
#: is long enough to reach one (the corpus' are not, so no plugin is loaded inside the clock)
BACKEND_LIMIT = DataFiles.standalone().with_backend_limit(None).backend_limit

#: (label, formats): every output format, and the legacy tool's job (csv + prompt/completion JSONL)
JOBS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("all", ("completion", "chat")),
    ("completion", ("completion",)),
)


def measure_here(path: Path, job: str, repeat: int, out_dir: Path) -> dict[str, object]:
    """Run one job `repeat` times (plus one traced run) in this process; the figures as a dict."""
    formats = dict(JOBS)[job]
    times, rows = [], 0
    for _ in range(repeat):
        seconds, rows, _ = run_once(path, out_dir, formats, trace=False)
        times.append(seconds)
    _, _, peak = run_once(path, out_dir, formats, trace=True)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"times": times, "rows": rows, "peak": peak, "maxrss": maxrss}


def measure(label: str, path: Path, work: Path, repeat: int) -> dict[str, float]:
    """Best seconds per job ("all", "completion"). Each job runs in a fresh process, as the legacy tool
    does: what one job leaves in the heap does not slow the next, and ru_maxrss is that job's own peak."""
    best: dict[str, float] = {}
    size_mb = path.stat().st_size / 1e6
    for job, _ in JOBS:
        out_dir = work / f"out-{label}-{job}"
        command = [sys.executable, __file__, "--one", str(path), "--job", job, "--repeat", str(repeat)]
        command += ["--out", str(out_dir)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        figures = json.loads(result.stdout)
        times, rows = figures["times"], figures["rows"]
        best[job] = min(times)
        print(
            f"{label:>14} {job:>10}: {rows:>8,} rows ({size_mb:5.1f} MB)  best {best[job]:6.3f} s  "
            f"median {statistics.median(times):6.3f} s of {repeat}  {rows / best[job]:>9,.0f} rows/s  "
            f"tracemalloc {figures['peak'] / 1e6:6.1f} MB  ru_maxrss {figures['maxrss'] / 1e6:6.1f} MB"
        )
    return best


def _env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Both tools are timed as a user meets them from the second run on: with their bytecode compiled.
    (PYTHONDONTWRITEBYTECODE, set in some containers, would make every run compile finsent's editable
    source tree again, about 0.1 s; pip compiled the legacy tool's at install.)"""
    env = dict(env if env is not None else os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]}: exit {result.returncode}: {result.stderr.strip()[-300:]}")
    return seconds


def side_by_side(
    commands: dict[str, tuple[list[str], dict[str, str]]], repeat: int, cwd: Path
) -> dict[str, list[float]]:
    """Seconds of `repeat` runs of each command, taken in turn (one of each, then again), after one
    untimed run of each: a machine that slows down or speeds up for a while (a shared host) weighs on
    both alike, where runs of one tool after the other's would credit the drift to one of them."""
    for command, env in commands.values():
        _run(command, cwd, _env(env))
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeat):
        for label, (command, env) in commands.items():
            times[label].append(_run(command, cwd, _env(env)))
    return times


def _line(label: str, rows: int, times: list[float], what: str) -> None:
    best = min(times)
    print(
        f"{label:>21}: {rows:>8,} rows  best {best:6.3f} s  median {statistics.median(times):6.3f} s of "
        f"{len(times)}  {rows / best:>9,.0f} rows/s  ({what})"
    )


def finsent_command(path: Path, work: Path) -> list[str] | None:
    """The whole `finsent prepare FILE --format completion` command (the legacy tool's job)."""
    exe = Path(sys.executable).with_name("finsent")
    if not exe.exists():
        print(f"    {exe} not found; the command is not timed")
        return None
    return [str(exe), "prepare", str(path), "--out", str(work / "out-command"), "--format", "completion"]


def legacy_command(venv: Path | None, path: Path) -> tuple[list[str], dict[str, str]] | None:
    """openai 0.28.1 `fine_tunes.prepare_data -q` on the same file, and its environment."""
    if venv is None:
        return None
    exe = venv / "bin" / "openai"
    if not exe.exists():
        print(f"    legacy: {exe} not found; skipped")
        return None
    env = dict(os.environ, OPENAI_API_KEY="sk-not-used")
    return [str(exe), "tools", "fine_tunes.prepare_data", "-f", str(path), "-q"], env


def legacy_in_process(venv: Path, path: Path, work: Path, rows: int, repeat: int, label: str) -> float | None:
    """Best in-process seconds of the legacy tool (bench/legacy_prep.py, its imports done)."""
    env = dict(os.environ, OPENAI_API_KEY="sk-not-used")
    try:
        script = Path(__file__).with_name("legacy_prep.py")
        result = subprocess.run(
            [str(venv / "bin" / "python"), str(script), str(path), str(repeat)],
            capture_output=True, text=True, env=env, cwd=work, timeout=900,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"legacy_prep.py: exit {result.returncode}: {result.stderr.strip()[-300:]}")
        inside = [float(t) for t in result.stdout.split()]
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"    legacy: {exc}")
        return None
    _line(f"{label} in-process", rows, inside, "openai 0.28.1 prepare_data -q, imports done")
    return min(inside)


def compare_commands(kind: str, path: Path, work: Path, rows: int, repeat: int, venv: Path | None) -> None:
    """The two whole commands on the same file, side by side; the ratio of the bests and of the medians."""
    commands: dict[str, tuple[list[str], dict[str, str]]] = {}
    mine = finsent_command(path, work)
    if mine:
        commands["finsent"] = (mine, dict(os.environ))
    old = legacy_command(venv, path)
    if old:
        commands["legacy"] = old
    if not commands:
        return
    try:
        times = side_by_side(commands, repeat, work)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"    commands: {exc}")
        return
    what = {"finsent": "python start, imports, read, check, split, write",
            "legacy": "openai tools fine_tunes.prepare_data -q"}  # fmt: skip
    for label, seconds in times.items():
        _line(f"{label} command {kind}", rows, seconds, what[label] + ", runs taken in turn")
    if len(times) == 2:
        best = min(times["legacy"]) / min(times["finsent"])
        median = statistics.median(times["legacy"]) / statistics.median(times["finsent"])
        target = "; target at least 5x" if kind == "jsonl" else ""
        print(
            f"   speedup {kind:>5}    command: {best:5.1f}x the legacy command (bests), {median:5.1f}x "
            f"(medians), both whole commands (Python start and imports included{target})"
        )


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
    parser.add_argument(
        "--commands-only", action="store_true", help="time only the whole commands on the 200k CSV and JSONL"
    )
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # one job in this process (internal)
    parser.add_argument("--job", default="completion", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_here(args.one, args.job, args.repeat, args.out)))
        return 0
    corpus = Path(args.corpus)
    if not corpus.is_file():
        print("error: set FINSENT_CORPUS (or --corpus) to the corpus CSV", file=sys.stderr)
        return 2
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="finsent-bench-") as tmp:
        work = Path(tmp)
        if not args.commands_only:
            measure("corpus", corpus, work, args.repeat)
            measure("synthetic wide", build_synthetic(corpus, args.rows, work, wide=True), work, args.repeat)
        synthetic = build_synthetic(corpus, args.rows, work)
        jsonl = to_jsonl(synthetic)
        venv = (
            args.legacy_venv.resolve() if args.legacy_venv else None
        )  # the runs happen in a temporary folder
        for kind, path in (("csv", synthetic), ("jsonl", jsonl)):
            if not args.commands_only:
                best = measure(f"synthetic {kind}", path, work, args.repeat)
                inside = (
                    legacy_in_process(venv, path, work, args.rows, args.repeat, f"legacy {kind}")
                    if venv
                    else None
                )
                for job, seconds in best.items() if inside else ():
                    assert inside is not None
                    print(
                        f"   speedup {kind:>5} {job:>10}: {inside / seconds:5.1f}x the legacy tool, both "
                        f"in-process (target at least 7x: <= {inside / 7:.3f} s)"
                    )
            compare_commands(kind, path, work, args.rows, args.repeat, venv)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The hostile inputs of issue 12 (part 1), each through `finsent prepare` and `finsent classify --input`.

    FINSENT_CORPUS=../shared/data/finance_data.csv .venv/bin/python bench/limits.py [--timeout S]
        [--only NAME ...] [--keep DIR]

Builds every file in a temporary folder (removed afterwards unless --keep): a CSV whose header has a
million columns, 50 MB on one line, a 50 MB single cell as CSV (a quoted cell of many short lines) and as
JSONL, a JSONL value nested 100,000 levels deep, a 190 MB CSV of the corpus repeated (under the 200 MB
limit) and the same rows as JSONL, and the XLSX ones built with zipfile directly: 409 KB holding one 400 MiB shared string, 1,000,001
data rows, 300 x 16,384 cells, and the billion laughs. Each command runs in its own process with a time
limit, the mock backend and a temporary FINSENT_HOME; its peak memory is the child's ru_maxrss (os.wait4;
the files are built in processes of their own, as a child's ru_maxrss starts from its parent's size).

Prints one row per probe: file, size, command, seconds, peak MB, exit code, first line of the error (the
`error:` line, or a traceback's last line). Printed, not asserted.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


# -- text files ----------------------------------------------------------------------------------------
def million_columns(path: Path) -> None:
    header = b",".join(b"c%d" % i for i in range(1_000_000))
    path.write_bytes(header + b"\n" + b"x," * 999_999 + b"x\n")


def one_line_50mb(path: Path) -> None:
    path.write_bytes(b"text,label\n" + b"x" * (50 * MB) + b",positive\n")


def cell_50mb_csv(path: Path) -> None:
    # one quoted cell of 50 MB in lines of 1,000 characters: no line is long, the cell is
    line = b"a" * 999 + b"\n"
    with path.open("wb") as out:
        out.write(b'text,label\n"')
        for _ in range(50 * MB // len(line)):
            out.write(line)
        out.write(b'",positive\n')


def cell_50mb_jsonl(path: Path) -> None:
    path.write_bytes(b'{"text": "' + b"a" * (50 * MB) + b'", "label": "positive"}\n')


def deep_jsonl(path: Path) -> None:
    path.write_bytes(b"[" * 100_000 + b"\n")


def csv_190mb(path: Path, corpus: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from prep import build_synthetic  # the corpus repeated, a cycle number from the second copy on

    built = build_synthetic(corpus, 680_000, path.parent, wide=True)  # ~280 bytes a row: ~190 MB
    built.rename(path)


def jsonl_190mb(path: Path, corpus: Path) -> None:
    """The same rows as JSON Lines: 600,000 rows, about 190 MB."""
    import json

    import pandas as pd

    csv_path = path.with_name("rows-for-jsonl.csv")
    csv_190mb(csv_path, corpus)
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False).head(600_000)
    csv_path.unlink()
    with path.open("w", encoding="utf-8") as out:
        for record in frame.to_dict("records"):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


# -- XLSX files, written part by part ------------------------------------------------------------------
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
_SHEET_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_CLOSE = "</sheetData></worksheet>"
_SST_OPEN = '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def _xlsx(
    path: Path, write_sheet: Callable[[io.TextIOWrapper], None], shared: Callable[[io.TextIOWrapper], None]
) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        for name, write in (("xl/worksheets/sheet1.xml", write_sheet), ("xl/sharedStrings.xml", shared)):
            with book.open(name, "w", force_zip64=True) as raw, io.TextIOWrapper(raw, "utf-8") as part:
                write(part)


def _header_sheet(rows: Callable[[io.TextIOWrapper], None]) -> Callable[[io.TextIOWrapper], None]:
    def write(part: io.TextIOWrapper) -> None:
        part.write(_SHEET_OPEN + '<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c>')
        part.write('<c r="B1" t="inlineStr"><is><t>label</t></is></c></row>')
        rows(part)
        part.write(_SHEET_CLOSE)

    return write


def _strings(*items: str) -> Callable[[io.TextIOWrapper], None]:
    def write(part: io.TextIOWrapper) -> None:
        part.write(_SST_OPEN + "".join(f"<si><t>{s}</t></si>" for s in items) + "</sst>")

    return write


def xlsx_huge_string(path: Path) -> None:
    def shared(part: io.TextIOWrapper) -> None:
        part.write(_SST_OPEN + "<si><t>")
        chunk = "a" * MB
        for _ in range(400):
            part.write(chunk)
        part.write("</t></si><si><t>positive</t></si></sst>")

    rows = '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c></row>'
    _xlsx(path, _header_sheet(lambda part: part.write(rows)), shared)


def xlsx_million_rows(path: Path) -> None:
    def rows(part: io.TextIOWrapper) -> None:
        for r in range(2, 1_000_003):
            part.write(f'<row r="{r}"><c r="A{r}" t="s"><v>0</v></c><c r="B{r}" t="s"><v>1</v></c></row>')

    _xlsx(path, _header_sheet(rows), _strings("삼성전자 주가 상승", "positive"))


def xlsx_wide(path: Path) -> None:
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(c) for c in range(1, 16_385)]

    def sheet(part: io.TextIOWrapper) -> None:
        part.write(_SHEET_OPEN)
        for r in range(1, 301):
            part.write(
                f'<row r="{r}">' + "".join(f'<c r="{col}{r}"><v>{r}</v></c>' for col in letters) + "</row>"
            )
        part.write(_SHEET_CLOSE)

    _xlsx(path, sheet, _strings("x"))


def xlsx_billion_laughs(path: Path) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )

    def shared(part: io.TextIOWrapper) -> None:
        part.write(f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE sst [{entities}]>')
        part.write('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
        part.write("<si><t>&lol9;</t></si><si><t>positive</t></si></sst>")

    rows = '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c></row>'
    _xlsx(path, _header_sheet(lambda part: part.write(rows)), shared)


# -- running ---------------------------------------------------------------------------------------------
def run(command: list[str], env: dict[str, str], timeout: float, cwd: Path) -> tuple[float, float, str, str]:
    """(seconds, peak MB, exit code, first line of the error) of one command in its own process."""
    err_path = cwd / "stderr.txt"
    with err_path.open("wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        killed = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout and not killed:
                os.kill(child.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.05)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: keep Popen from waiting again
    code = "timeout" if killed else str(child.returncode)
    lines = [line.strip() for line in err_path.read_text("utf-8", "replace").splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "")
    return seconds, usage.ru_maxrss / 1024, code, first


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_corpus = os.environ.get("FINSENT_CORPUS") or str(
        ROOT.parent / "shared" / "data" / "finance_data.csv"
    )
    parser.add_argument("--corpus", default=default_corpus, help="the corpus CSV (for the 190 MB file)")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per command (240)")
    parser.add_argument("--only", nargs="*", help="probe names to run (default: all)")
    parser.add_argument("--keep", type=Path, help="build the files in this folder and keep them")
    parser.add_argument("--build", nargs=2, help=argparse.SUPPRESS)  # NAME PATH: build one file (internal)
    args = parser.parse_args()
    corpus = Path(args.corpus)
    probes: dict[str, tuple[str, Callable[[Path], None]]] = {
        "million-columns": ("wide.csv", million_columns),
        "one-line-50mb": ("oneline.csv", one_line_50mb),
        "cell-50mb-csv": ("cell.csv", cell_50mb_csv),
        "cell-50mb-jsonl": ("cell.jsonl", cell_50mb_jsonl),
        "deep-jsonl": ("deep.jsonl", deep_jsonl),
        "csv-190mb": ("big.csv", lambda path: csv_190mb(path, corpus)),
        "jsonl-190mb": ("big.jsonl", lambda path: jsonl_190mb(path, corpus)),
        "xlsx-400mib-string": ("string.xlsx", xlsx_huge_string),
        "xlsx-1m-rows": ("rows.xlsx", xlsx_million_rows),
        "xlsx-300x16384": ("wide.xlsx", xlsx_wide),
        "xlsx-billion-laughs": ("laughs.xlsx", xlsx_billion_laughs),
    }
    if args.build:
        probes[args.build[0]][1](Path(args.build[1]))
        return 0
    chosen = args.only or list(probes)
    exe = str(Path(sys.executable).with_name("finsent"))
    folder = Path(args.keep or tempfile.mkdtemp(prefix="finsent-limits-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'file':<22} {'size':>9} {'command':<9} {'seconds':>8} {'peak MB':>8} {'exit':>7}  error")
    try:
        for name in chosen:
            file_name, _ = probes[name]
            path = folder / file_name
            if not path.exists():
                # in a process of its own: a child's ru_maxrss starts from its parent's size at the fork
                subprocess.run([sys.executable, __file__, "--build", name, str(path)], check=True)
            size = f"{path.stat().st_size / MB:,.1f} MB"
            for command in ("prepare", "classify"):
                home = folder / f"home-{name}-{command}"
                env = dict(os.environ, FINSENT_HOME=str(home), FINSENT_DEFAULT_BACKEND="mock")
                out = folder / f"out-{name}-{command}"
                model = ["--backend", "mock", "--model", "mock-keywords"]
                argv = (
                    [exe, "prepare", str(path), "--out", str(out)]
                    if command == "prepare"
                    else [exe, "classify", *model, "--input", str(path), "--output", f"{out}.csv"]
                )
                seconds, peak, code, first = run(argv, env, args.timeout, folder)
                print(
                    f"{file_name:<22} {size:>9} {command:<9} {seconds:8.1f} {peak:8.0f} {code:>7}  {first[:150]}"
                )
                sys.stdout.flush()
                shutil.rmtree(home, ignore_errors=True)
                shutil.rmtree(out, ignore_errors=True)
                Path(str(out) + ".csv").unlink(missing_ok=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dashboard speed in a real browser (Debian's Chromium via Playwright). Prints the figures; asserts nothing.

1. Cold start: spawn `streamlit run` -> the first page fully drawn (title, label chart, script idle).
   Target: about 5 s on 2 cores.
2. Bulk run, end to end in the browser with the LOCAL backend: upload a 100,000-row CSV -> run -> the CSV
   download saved on disk. Target: under 60 s on 2 cores. The local model is trained first, through the
   service, on the bundled sample.

Usage: .venv/bin/python bench/ui.py [--rows 100000] [--keep]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_FLAGS,
    free_port,
    start_server,
    stop_server,
    wait_healthy,
    wait_idle,
)

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'


def train_local_model(home: Path) -> str:
    """Prepare the bundled sample and train the local backend on it; returns the model id."""
    os.environ["FINSENT_HOME"] = str(home)
    from finsent.ingest.corpus import sample_path
    from finsent.prep.pipeline import PrepareOptions
    from finsent.service import FinsentService
    from finsent.settings import Settings

    service = FinsentService(Settings.from_env())
    try:
        record, _ = service.prepare(sample_path(), "sample_ko.csv", PrepareOptions())
        job = service.start_training("local", record.id, {})
        deadline = time.monotonic() + 300
        while not job.status.is_terminal and time.monotonic() < deadline:
            time.sleep(0.5)
            job = service.refresh_job(job.id)
        if job.status.value != "succeeded" or not job.fine_tuned_model:
            raise SystemExit(f"local training did not succeed: {job.status.value} {job.error or ''}")
        return job.fine_tuned_model
    finally:
        service.close()


def bulk_input(path: Path, rows: int) -> Path:
    """A CSV of `rows` Korean sentences (the bundled sample repeated with a row number), plus an id column."""
    from finsent.ingest.corpus import sample_path

    texts = pd.read_csv(sample_path(), dtype=str)["kor_sentence"].tolist()
    frame = pd.DataFrame(
        {"번호": range(1, rows + 1), "기사": [f"{texts[i % len(texts)]} ({i})" for i in range(rows)]}
    )
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary FINSENT_HOME")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        print(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium and fonts-noto-cjk", file=sys.stderr
        )
        return 2
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="finsent-bench-ui-"))
    home = work / "home"
    home.mkdir()
    print(f"cores: {os.cpu_count()}  FINSENT_HOME: {home}")
    started = time.perf_counter()
    model = train_local_model(home)
    print(f"local model trained on the sample: {model} ({time.perf_counter() - started:.1f} s)")
    source = bulk_input(work / "bulk.csv", args.rows)
    print(f"bulk input: {args.rows:,} rows, {source.stat().st_size / 1e6:.1f} MB")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_context(viewport={"width": 1440, "height": 1400}, accept_downloads=True).new_page()
        page.set_default_timeout(120_000)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        spawn = time.perf_counter()
        process = start_server(home, port, {"FINSENT_DEFAULT_BACKEND": "local"})
        try:
            wait_healthy(url, process)
            healthy = time.perf_counter() - spawn
            page.goto(url)
            page.get_by_role("heading", name="데이터", level=1).wait_for()
            page.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first.wait_for()
            page.wait_for_selector(IDLE)
            cold = time.perf_counter() - spawn
            print(f"cold start: health {healthy:.2f} s, first page fully drawn {cold:.2f} s  (target ~5 s)")

            switch = time.perf_counter()
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="분류").click()
            page.get_by_role("heading", name="분류", level=1).wait_for()
            wait_idle(page)
            print(f"page switch to Classify: {time.perf_counter() - switch:.2f} s")
            page.get_by_role("tab", name="대량 분류 (파일)").click()

            t0 = time.perf_counter()
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(source))
            page.get_by_text(f"{args.rows:,}", exact=False).first.wait_for()
            uploaded = time.perf_counter() - t0
            page.get_by_role("button", name="모든 행 분류하기").click()
            button = page.get_by_role("button", name="CSV 내려받기 (엑셀용)")
            button.wait_for(timeout=600_000)
            classified = time.perf_counter() - t0
            with page.expect_download(timeout=300_000) as info:
                button.click()
            target = work / "result.csv"
            info.value.save_as(str(target))
            done = time.perf_counter() - t0
        finally:
            stop_server(process)
            browser.close()

    result = pd.read_csv(io.BytesIO(target.read_bytes()), encoding="utf-8-sig", dtype=str)
    ok = len(result) == args.rows and list(result.columns[:2]) == ["번호", "기사"]
    print(f"bulk {args.rows:,} rows, local backend, in the browser:")
    print(f"  upload read and shown  {uploaded:6.2f} s")
    print(
        f"  classified (download ready) {classified:6.2f} s  ({args.rows / max(classified - uploaded, 1e-9):,.0f} rows/s)"
    )
    print(f"  upload -> download saved {done:6.2f} s  (target < 60 s)  rows ok: {ok}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

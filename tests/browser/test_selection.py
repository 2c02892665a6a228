"""In Chromium: what the user picks is what runs. The Train page's dataset picker keeps an older dataset
(it used to snap back to the newest on the next rerun), and the job trains on it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from browser_support import shot, wait_idle

from finsent.ingest.corpus import sample_path
from finsent.prep.pipeline import PrepareOptions
from finsent.service import FinsentService
from finsent.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _nav(page: Any, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    wait_idle(page)


def test_an_older_dataset_picked_on_train_stays_picked_and_is_trained_on(
    app_page: Any, app_home: Path
) -> None:
    svc = FinsentService(Settings.from_env(home=app_home))  # a second process on the server's store
    try:
        older, _ = svc.prepare(sample_path(), "작년_뉴스.csv", PrepareOptions())
        time.sleep(0.05)
        newer, _ = svc.prepare(sample_path(), "올해_뉴스.csv", PrepareOptions(seed=3))
        page = app_page
        page.get_by_role("heading", name="데이터", level=1).wait_for()
        wait_idle(page)
        _nav(page, "학습")
        picker = page.get_by_test_id("stSelectbox").filter(has_text="데이터셋").locator("input")
        assert newer.id in picker.input_value()
        picker.click()
        page.get_by_role("option").filter(has_text=older.id).click()
        wait_idle(page)
        page.wait_for_timeout(3000)  # a default re-applied on every run shows only after the next runs
        page.get_by_role("button", name="학습 시작").wait_for()
        assert older.id in picker.input_value()
        shot(page, "10-train-older-dataset")
        page.get_by_role("button", name="학습 시작").click()
        page.get_by_role("heading", name="모니터링", level=1).wait_for()
        wait_idle(page)
        newest_job = svc.jobs(refresh=False)[0]
        assert newest_job.dataset_id == older.id
    finally:
        svc.close()


def test_page_names_in_the_url_open_their_page(app_page: Any, app_server: str) -> None:
    page = app_page
    for path, title in (
        ("/data", "데이터"),
        ("/classify", "분류"),
        ("/monitor?lang=en", "Monitor"),
        ("/", "데이터"),
    ):
        page.goto(app_server + path)
        page.get_by_role("heading", name=title, level=1).wait_for()
        wait_idle(page)
        assert page.get_by_text("Page not found").count() == 0
    assert page.url.split("?")[0].endswith("/data")  # "/" moves on to the Data page's own address

"""Real-browser fixtures: the dashboard as a real server, Debian's Chromium driven by Playwright.

The server runs once per session with its own FINSENT_HOME and the mock backend. Without Chromium or
Playwright the browser tests skip with the reason, except under CI=true, where they fail (`require`).
Never `playwright install`: it downloads a browser; we drive /usr/bin/chromium.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_FLAGS,
    ROOT,
    TIMEOUT_MS,
    free_port,
    start_server,
    stop_server,
    wait_healthy,
)


def _shared_require() -> Any:
    """`require` from tests/conftest.py (loaded by path: both files are called conftest)."""
    spec = importlib.util.spec_from_file_location(
        "finsent_tests_root_conftest", ROOT / "tests" / "conftest.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.require


require = _shared_require()


@pytest.fixture(scope="session")
def browser_available() -> None:
    require(Path(CHROMIUM).is_file() or bool(shutil.which("chromium")), f"Chromium not found at {CHROMIUM}")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")


@pytest.fixture(scope="session")
def app_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's FINSENT_HOME: tests may add datasets and models there as a second process would."""
    return tmp_path_factory.mktemp("browser-home")


@pytest.fixture(scope="session")
def app_server(browser_available: None, app_home: Path) -> Iterator[str]:
    home = app_home
    port = free_port()
    process = start_server(home, port, {"FINSENT_LOAD_PLUGINS": "finsent_mock,finsent_openai"})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        stop_server(process)


@pytest.fixture(scope="session")
def chromium(browser_available: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def app_page(chromium: Any, app_server: str) -> Iterator[Any]:
    """A fresh browser context (a new session) opened on the app, tall enough to screenshot whole pages."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = chromium.new_context(
        viewport={"width": 1440, "height": 2200}, accept_downloads=True, locale="ko-KR"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_server)
    try:
        yield page
    finally:
        context.close()

"""Shared pieces of the AppTest suites: the app under test, chart data, page paths, error checks."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
TIMEOUT = 60


def page(name: str) -> str:
    return str(ROOT / "finsent" / "ui" / "views" / f"{name}.py")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, finsent_home: Path) -> Iterator[Path]:
    """Mock backend by default, only built-in plugins, fresh Streamlit caches (they outlive one AppTest)."""
    monkeypatch.setenv("FINSENT_DEFAULT_BACKEND", "mock")
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_openai")
    monkeypatch.delenv("FINSENT_LANG", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield finsent_home
    from finsent.ui import state

    state.get_service().close()
    st.cache_data.clear()
    st.cache_resource.clear()


def new_app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def service() -> Any:
    from finsent.ui import state

    return state.get_service()


def assert_clean(at: AppTest) -> None:
    """No exception element and no error box on the page."""
    assert [e.value for e in at.exception] == []
    assert [e.value for e in at.error] == []


def texts(at: AppTest) -> str:
    """Every visible text of ours on the page (titles, headers, captions, markdown, alerts, labels)."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "caption",
        "markdown",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts.extend(str(e.value) for e in at.get(kind))
    parts.extend(str(b.label) for b in at.button)
    return "\n".join(parts)


def charts(at: AppTest) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """(Vega-Lite spec, data) of every Altair chart on the page; data of all its datasets concatenated."""
    found = []
    for element in at.get("vega_lite_chart"):
        proto = element.proto
        frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in proto.datasets]
        data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        found.append((json.loads(proto.spec), data))
    return found


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def prepare_sample() -> Any:
    from finsent.ingest.corpus import sample_path
    from finsent.prep.pipeline import PrepareOptions

    record, _ = service().prepare(sample_path(), "sample_ko.csv", PrepareOptions())
    return record


def train_mock(dataset_id: str, **options: Any) -> Any:
    """Start a mock job and poll it to its end, as the Monitor page's fragment does every few seconds."""
    svc = service()
    job = svc.start_training("mock", dataset_id, {"duration_seconds": 0, **options})
    deadline = time.monotonic() + 30
    while not job.status.is_terminal and time.monotonic() < deadline:
        job = svc.refresh_job(job.id)
        time.sleep(0.02)
    svc.wait_for_evaluation(job.id, timeout=30)  # it runs in the background once the job has succeeded
    return job

"""Monitor's events follow the language switch (issue 9): "에포크 3/10 ...", "상태: 완료." in Korean, the
English texts in English, for the local backend's worker, the mock and the core's own events."""

from __future__ import annotations

import time

import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    assert_clean,
    new_app,
    page,
    prepare_sample,
    service,
    train_mock,
)

pytestmark = pytest.mark.usefixtures("app_env")


def _events(at: object) -> list[str]:
    for frame in (d.value for d in at.dataframe):  # type: ignore[attr-defined]
        for column in ("내용", "Message"):
            if column in frame.columns:
                return [str(v) for v in frame[column]]
    return []


def _train_local(dataset_id: str) -> None:
    svc = service()
    job = svc.start_training("local", dataset_id, {"epochs": 3})
    deadline = time.monotonic() + 120
    while not job.status.is_terminal and time.monotonic() < deadline:
        job = svc.refresh_job(job.id)
        time.sleep(0.2)
    assert job.status.value == "succeeded", job


@pytest.mark.parametrize("backend", ["mock", "local"])
def test_monitor_events_are_in_the_page_language(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_LOAD_PLUGINS", "finsent_mock,finsent_local")
    record = prepare_sample()
    if backend == "mock":
        train_mock(record.id)
    else:
        _train_local(record.id)
    at = new_app()
    at.sidebar.selectbox(key="backend").set_value(backend).run()
    at.switch_page(page("monitor")).run()
    assert_clean(at)
    korean = _events(at)
    assert any(e.startswith("상태: 완료") for e in korean)
    assert any(e.startswith("에포크 ") for e in korean), korean
    assert not any(e.startswith(("Status:", "Epoch ", "The job")) for e in korean), korean
    at.sidebar.radio(key="lang").set_value("en").run()
    english = _events(at)
    assert any(e.startswith("Status: succeeded") for e in english)
    assert any(e.startswith("Epoch ") for e in english) and not any(e.startswith("에포크") for e in english)

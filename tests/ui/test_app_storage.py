"""The Monitor page's storage panel (issue 12 part 5): the space by part, what can be freed, and one button
that frees exactly that (what `finsent gc --yes` frees), in both languages, with no job yet."""

from __future__ import annotations

import pandas as pd
import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    assert_clean,
    new_app,
    page,
    prepare_sample,
    service,
    texts,
    train_mock,
)

pytestmark = pytest.mark.usefixtures("app_env")


def _storage_button(at: object) -> object | None:
    return next((b for b in at.button if b.key == "storage_free"), None)  # type: ignore[attr-defined]


def test_the_storage_panel_frees_a_finished_bulk_run_in_either_language() -> None:
    from finsent.service import BulkRequest

    at = new_app()
    at.switch_page(page("monitor")).run()
    assert_clean(at)
    assert "저장 공간" in [e.label for e in at.expander]
    assert "비울 것이 없습니다" in texts(at) and _storage_button(at) is None  # a fresh home: nothing to free

    svc = service()
    job = train_mock(prepare_sample().id)
    frame = pd.DataFrame({"text": [f"삼성전자 주가 상승 {i}" for i in range(20)]})
    run = svc.run_bulk(BulkRequest("mock", str(job.fine_tuned_model), frame, "text", "news.csv"))
    assert run.status.value == "succeeded"
    bulk_input = svc.settings.home / "bulk" / run.id
    assert bulk_input.exists()

    at.sidebar.radio(key="lang").set_value("en").run()
    assert_clean(at)
    assert "Storage" in [e.label for e in at.expander]
    listed = [d.value for d in at.dataframe if "What" in d.value.columns]
    assert listed and "Bulk run" in set(listed[0]["What"]), listed
    free = _storage_button(at)
    assert free is not None and str(free.label).startswith("Free ")  # type: ignore[attr-defined]
    free.click().run()  # type: ignore[attr-defined]
    assert_clean(at)
    assert "Freed " in texts(at)
    assert not bulk_input.exists()
    assert run.id not in {r.id for r in svc.bulk_runs()}
    assert svc.job(job.id).status.value == "succeeded"  # the job itself stays, with its history

    at.sidebar.radio(key="lang").set_value("ko").run()
    assert_clean(at)
    assert "비울 것이 없습니다" in texts(at) and _storage_button(at) is None  # all of it was freed

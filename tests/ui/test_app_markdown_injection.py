"""Text from users and servers is shown literally on every page (issue 12, part 4): a file name, a sheet
of it, a model's, job's and run's name, a base model name, an external job id and an error text holding
markdown (an image that would be fetched from elsewhere, bold, a Streamlit colour directive) never reach
Streamlit's markdown unescaped. Streamlit renders markdown in the values of markdown, captions, alerts,
headings and in widget labels; the check reads those sources in both languages."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    button,
    new_app,
    page,
    service,
    train_mock,
)

from finsent.service import BulkRequest

pytestmark = pytest.mark.usefixtures("app_env")

HOSTILE = "![pix](http://127.0.0.1:8799/pixel.png) **bold** :red[red]"
#: what must never appear in a markdown source: each would render (an image, bold, red text)
RENDERED = ("![pix](", "**bold**", ":red[red]")
MARKDOWN_ELEMENTS = (
    "markdown",
    "caption",
    "info",
    "warning",
    "error",
    "success",
    "title",
    "header",
    "subheader",
)
LABELLED = ("button", "selectbox", "radio", "text_input", "multiselect", "checkbox", "number_input", "slider",
            "expander", "tab", "metric", "toggle", "text_area", "download_button")  # fmt: skip


def _sources(at: Any) -> list[str]:
    found = []
    for kind in MARKDOWN_ELEMENTS:
        found += [str(e.value) for e in at.get(kind)]
    for kind in LABELLED:
        found += [str(getattr(e, "label", "")) for e in at.get(kind)]
    return found


def _unescaped(at: Any) -> list[str]:
    return [s for s in _sources(at) if any(r in s for r in RENDERED)]


def _hostile_store() -> None:
    from finsent.ingest.corpus import sample_path
    from finsent.prep.pipeline import PrepareOptions

    svc = service()
    dataset, _ = svc.prepare(sample_path(), f"{HOSTILE}.csv", PrepareOptions())
    job = train_mock(dataset.id)
    svc.rename_job(job.id, f"job {HOSTILE}")
    svc.rename_model("mock", str(job.fine_tuned_model), f"model {HOSTILE}")
    frame = pd.DataFrame({"본문": ["가나전자의 영업이익이 크게 증가했다.", HOSTILE]})
    run = svc.start_bulk_run(BulkRequest("mock", str(job.fine_tuned_model), frame, "본문", f"{HOSTILE}.xlsx"))
    svc.wait_bulk_run(run.id, timeout=30)
    svc.rename_bulk_run(run.id, f"run {HOSTILE}")
    # a model added by id (as a provider's fine-tune would be), newest: the sidebar selects it
    svc.add_model("mock", f"id {HOSTILE}", dataset.id, base_model=f"base {HOSTILE}")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_page_shows_hostile_names_literally(lang: str) -> None:
    _hostile_store()
    at = new_app({"lang": lang})
    for name in ("data", "train", "monitor", "evaluate", "classify"):
        at.switch_page(page(name)).run()
        assert [e.value for e in at.exception] == [], name
        shown = "\n".join(_sources(at))
        if name in ("monitor", "classify", "evaluate"):
            assert "pixel.png" in shown, name  # the names are on the page (the check below is not vacuous)
        assert _unescaped(at) == [], name
    # an external job id and the error that names it
    at.switch_page(page("monitor")).run()
    at.text_input(key="mon_attach_id").input(HOSTILE)
    button(at, "따라가기" if lang == "ko" else "Follow").click().run()
    assert [e.value for e in at.exception] == []
    assert _unescaped(at) == []

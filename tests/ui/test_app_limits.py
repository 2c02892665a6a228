"""The dashboard's uploads go through the same input limits as the CLI (issue 12 part 1): a file over a
limit ends in one translated st.error that names the limit and its setting, with no traceback, on the Data
page and in bulk classification, for CSV and XLSX alike."""

from __future__ import annotations

import io

import pytest
import streamlit as st
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    new_app,
    page,
    prepare_sample,
    service,
    train_mock,
)
from korean_news import labelled_rows
from openpyxl import Workbook

pytestmark = pytest.mark.usefixtures("app_env")

ROWS = labelled_rows()  # more than the limit set below


def _csv() -> bytes:
    return ("text,label\n" + "\n".join(ROWS) + "\n").encode("utf-8")


def _xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["text", "label"])
    for row in ROWS:
        sheet.append(row.rsplit(",", 1))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


FILES = {"뉴스.csv": _csv, "뉴스.xlsx": _xlsx}


def _errors(at: object) -> list[str]:
    # as the page shows it: the markdown escapes (FINSENT\_MAX_ROWS) removed
    return [str(e.value).replace("\\", "") for e in at.error]  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", FILES)
def test_an_upload_over_the_row_limit_is_one_clear_error_on_the_data_page(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_MAX_ROWS", "10")
    at = new_app()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value((name, FILES[name](), "application/octet-stream")).run()
    assert [e.value for e in at.exception] == []
    [error] = _errors(at)
    assert "FINSENT_MAX_ROWS" in error and "행" in error and "다시 올리세요" in error, error
    assert not any(b.label == "학습 데이터 준비" for b in at.button)  # nothing to prepare from
    at.sidebar.radio(key="lang").set_value("en").run()
    [error] = _errors(at)
    assert "FINSENT_MAX_ROWS" in error and "over the limit of 10" in error, error


@pytest.mark.parametrize("name", FILES)
def test_an_upload_over_the_row_limit_is_one_clear_error_in_bulk_classification(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_mock(prepare_sample().id)  # the sample has more rows than 10: prepare it before the limit is set
    service().close()  # the next service reads the settings again, with the limit
    st.cache_resource.clear()
    monkeypatch.setenv("FINSENT_MAX_ROWS", "10")
    at = new_app()
    at.switch_page(page("classify")).run()
    at.file_uploader(key="cls_bulk_upload").set_value((name, FILES[name](), "application/octet-stream")).run()
    assert [e.value for e in at.exception] == []
    [error] = _errors(at)
    assert "FINSENT_MAX_ROWS" in error and "다시 올리세요" in error, error
    assert not any(b.key == "cls_bulk_start" for b in at.button)

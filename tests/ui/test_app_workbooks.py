"""Workbooks as analysts have them: a cover sheet first, the data on sheet 2, empty cells. The Data page and
bulk classification open the first sheet that has a text column, say so, and offer a sheet picker."""

from __future__ import annotations

import io

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
from korean_news import labelled_rows
from openpyxl import Workbook

pytestmark = pytest.mark.usefixtures("app_env")


def two_sheet_workbook(blank_rows: int = 0) -> bytes:
    """Sheet 1 a cover (title, author, date), sheet 2 the news with Korean headers and a company column."""
    book = Workbook()
    cover = book.active
    cover.title = "표지"
    cover.append(["2026년 3분기 뉴스 모음"])
    cover.append(["작성자", "재무팀"])
    data = book.create_sheet("데이터")
    # "분류" (a label header) holds the companies' sectors; the labels are under "평가"
    data.append(["번호", "분류", "기사", "평가"])
    for i, row in enumerate(labelled_rows(), start=1):
        text, label = row.rsplit(",", 1)
        data.append([i, "전자", text, label])
    for i in range(blank_rows):
        data.append([1000 + i, "전자", None, "중립"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_the_data_page_opens_the_data_sheet_and_guesses_the_label_column_by_its_cells() -> None:
    at = new_app()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(
        ("뉴스.xlsx", two_sheet_workbook(), "application/octet-stream")
    ).run()
    assert_clean(at)
    assert at.selectbox(key="data_sheet_pick").value == "데이터"
    assert any("첫 시트 '표지'에는 문장 열이 없어" in c.value for c in at.caption)
    tag = next(s for s in at.selectbox if s.key and s.key.startswith("data_text_col_"))
    assert tag.value == "기사"
    label_box = next(s for s in at.selectbox if s.key and s.key.startswith("data_label_col_"))
    assert label_box.value == "평가"  # its cells are 긍정/부정/중립; "분류" holds sectors


def test_bulk_classifies_sheet_2_of_a_workbook_and_leaves_empty_cells_unlabelled() -> None:
    model = str(train_mock(prepare_sample().id).fine_tuned_model)
    at = new_app()
    at.switch_page(page("classify")).run()
    data = two_sheet_workbook(blank_rows=5)
    at.file_uploader(key="cls_bulk_upload").set_value(("뉴스.xlsx", data, "application/octet-stream")).run()
    assert_clean(at)
    sheet_box = next(
        s for s in at.selectbox if s.key and s.key.endswith("_pick") and "cls_bulk_sheet" in s.key
    )
    assert sheet_box.value == "데이터" and sheet_box.options == ["표지", "데이터"]
    column = next(s for s in at.selectbox if s.key and s.key.startswith("cls_bulk_col_"))
    assert column.value == "기사"
    at.button(key="cls_bulk_start").click().run()
    [run] = service().bulk_runs()
    final = service().wait_bulk_run(run.id, timeout=30)
    assert final.status == "succeeded" and final.model_id == model
    results = service().bulk_results(run.id)
    assert results.rows_blank == 5 and results.rows_done == len(labelled_rows()) + 5
    at.run()
    assert any("빈 행 5개는 분류하지 않았습니다" in i.value for i in at.info)

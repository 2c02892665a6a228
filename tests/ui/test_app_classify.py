"""AppTest of the Classify page with the mock backend: one text, bulk runs, their results and errors."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    assert_clean,
    button,
    charts,
    new_app,
    page,
    prepare_sample,
    service,
    texts,
    train_mock,
)

from finsent.service import BulkRequest

pytestmark = pytest.mark.usefixtures("app_env")

BULK_CSV = (
    "id,본문,비고\n"
    "1,가나전자의 영업이익이 크게 증가했다.,a\n"
    "2,다라건설이 적자로 돌아섰다.,b\n"
    "3,마바식품은 다음 달 주주총회를 연다.,c\n"
    '4,=HYPERLINK("http://x"),d\n'
    "5,사아은행의 순이익이 급증했다.,e\n"
)


def _trained(**options: object) -> str:
    record = prepare_sample()
    job = train_mock(record.id, **options)
    assert job.status.value == "succeeded"
    return str(job.fine_tuned_model)


def test_without_a_model_the_page_says_to_train_first() -> None:
    at = new_app()
    at.switch_page(page("classify")).run()
    assert_clean(at)
    assert "학습한 모델이 아직 없습니다" in texts(at)


def test_one_text_with_the_tutorial_prompt_and_an_example_one_click_away() -> None:
    model = _trained()
    at = new_app()
    at.switch_page(page("classify")).run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="model_id").value == model
    box = at.text_area(key="cls_text")
    assert box.label == "감성 분석할 뉴스를 입력해주세요"
    example = next(b for b in at.button if b.key and b.key.startswith("cls_ex_"))
    example.click().run()
    assert at.text_area(key="cls_text").value == example.label
    button(at, "분석하기").click().run()
    assert_clean(at)
    [result] = [m for m in at.metric if m.label == "감성"]
    assert result.value in {"긍정", "부정", "중립", "알 수 없음"}
    bars = next(data for spec, data in charts(at) if spec["encoding"]["x"].get("title") == "신뢰도")
    assert set(bars["label"]) == {"positive", "negative", "neutral"}
    assert bars["score"].between(0, 1).all()


def test_empty_text_asks_for_a_sentence() -> None:
    _trained()
    at = new_app()
    at.switch_page(page("classify")).run()
    button(at, "분석하기").click().run()
    assert any("문장을 입력" in w.value for w in at.warning)


def test_a_refused_classification_is_a_korean_error_without_traceback() -> None:
    _trained(refuse_classify=True)
    at = new_app()
    at.switch_page(page("classify")).run()
    at.text_area(key="cls_text").input("가나전자의 영업이익이 늘었다.")
    button(at, "분석하기").click().run()
    assert [e.value for e in at.exception] == []
    assert at.error and "Traceback" not in at.error[0].value


def test_bulk_run_progress_results_charts_and_exports_survive_a_reload() -> None:
    _trained()
    at = new_app()
    at.switch_page(page("classify")).run()
    at.file_uploader(key="cls_bulk_upload").set_value(
        ("뉴스.csv", BULK_CSV.encode("utf-8-sig"), "text/csv")
    ).run()
    assert_clean(at)
    column = next(s for s in at.selectbox if s.key.startswith("cls_bulk_col_"))
    assert column.value == "본문"
    assert "**5**" in texts(at)
    button(at, "모든 행 분류하기").click().run()
    assert_clean(at)
    run_id = at.session_state["bulk_run_id"]
    run = service().wait_bulk_run(run_id, timeout=30)
    assert (run.status, run.rows_done) == ("succeeded", 5)
    at.run()
    assert_clean(at)
    table = next(d.value for d in at.dataframe if "본문" in d.value.columns)
    assert len(table) == 5 and list(table.columns[:3]) == ["id", "본문", "비고"]
    found = {spec["encoding"]["x"].get("title"): data for spec, data in charts(at)}
    assert int(found["라벨"]["count"].sum()) == 5 and len(found["라벨"]) <= 4
    assert int(found["신뢰도"]["count"].sum()) == 5
    assert {b.label for b in at.get("download_button")} == {"CSV 내려받기 (엑셀용)", "XLSX 내려받기"}
    # a browser reload is a new session: the run is listed and shows its results again
    again = new_app()
    again.switch_page(page("classify")).run()
    assert again.selectbox(key="cls_bulk_pick").value == run_id
    assert any(len(d.value) == 5 for d in again.dataframe)


def test_bulk_results_export_keeps_every_column_and_neutralises_formulas() -> None:
    from finsent.output.export import to_csv_bytes

    model = _trained()
    frame = pd.read_csv(io.StringIO(BULK_CSV), dtype=str)
    run = service().start_bulk_run(BulkRequest("mock", model, frame, "본문", "뉴스.csv"))
    service().wait_bulk_run(run.id, timeout=30)
    bulk = service().bulk_results(run.id)
    results = bulk.frame
    assert (bulk.label_column, bulk.confidence_column, bulk.model_column) == ("label", "confidence", "model")
    assert len(bulk.score_columns) == 3 and set(results["model"]) == {model}
    data = to_csv_bytes(results)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert list(back.columns) == list(results.columns) and len(back) == 5
    assert back.loc[3, "본문"].startswith("'=")


def test_added_columns_are_named_by_the_results_record_when_the_input_has_them_already() -> None:
    model = _trained()
    frame = pd.DataFrame(
        {"text": ["가나전자 흑자 전환", "다라건설 적자"], "label": ["x", "y"], "model": ["m", "n"]}
    )
    run = service().start_bulk_run(BulkRequest("mock", model, frame, "text", "clash.csv"))
    service().wait_bulk_run(run.id, timeout=30)
    bulk = service().bulk_results(run.id)
    assert bulk.label_column == "predicted_label" and bulk.model_column == "predicted_model"
    assert list(bulk.frame["label"]) == ["x", "y"] and list(bulk.frame["model"]) == ["m", "n"]
    assert set(bulk.frame["predicted_model"]) == {model}


def test_cancelling_a_bulk_run_keeps_the_finished_rows() -> None:
    model = _trained(classify_delay_ms=300)
    frame = pd.DataFrame({"본문": [f"가나전자 뉴스 {i}" for i in range(20000)]})
    run = service().start_bulk_run(BulkRequest("mock", model, frame, "본문", "big.csv"))
    at = new_app()
    at.switch_page(page("classify")).run()
    assert_clean(at)
    assert at.get("progress")
    button(at, "취소 (끝난 행은 유지)").click().run()
    final = service().wait_bulk_run(run.id, timeout=30)
    assert final.status == "cancelled"
    at.run()
    assert_clean(at)
    assert any("유지됩니다" in w.value for w in at.warning)
    assert len(service().bulk_results(run.id).frame) == final.rows_done


def test_blank_rows_are_counted_kept_and_left_out_of_the_charts() -> None:
    model = _trained()
    frame = pd.DataFrame(
        {"번호": range(6), "본문": ["가나전자 흑자 전환", "", "  ", None, "다라건설 적자", "주총 개최"]}
    )
    run = service().start_bulk_run(BulkRequest("mock", model, frame, "본문", "빈칸.csv"))
    service().wait_bulk_run(run.id, timeout=30)
    at = new_app()
    at.switch_page(page("classify")).run()
    assert_clean(at)
    assert any("빈 행 3개는 분류하지 않았습니다" in i.value for i in at.info)
    distribution = next(data for spec, data in charts(at) if spec.get("mark", {}).get("type") == "bar")
    assert int(distribution["count"].sum()) == 3  # only the rows with text
    table = next(d.value for d in at.dataframe if "번호" in d.value.columns)
    assert len(table) == 6  # the blank rows stay in the table (and the downloads)


def test_downloads_offer_korean_label_names_and_xlsx_keeps_text_unchanged() -> None:
    from openpyxl import load_workbook

    model = _trained()
    frame = pd.read_csv(io.StringIO(BULK_CSV), dtype=str)
    run = service().start_bulk_run(BulkRequest("mock", model, frame, "본문", "뉴스.csv"))
    service().wait_bulk_run(run.id, timeout=30)
    at = new_app()
    at.switch_page(page("classify")).run()
    assert at.radio(key="cls_bulk_label_names").value == "ko"  # the Korean page offers 긍정/부정/중립
    results = service().bulk_results(run.id)
    data = service().files.export_results(results, "xlsx", korean_labels=True)
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    labels = {row[header.index("label")] for row in rows[1:]}
    assert labels <= {"긍정", "부정", "중립"} and labels
    assert rows[4][header.index("본문")] == '=HYPERLINK("http://x")'  # as written: a text cell, no apostrophe
    assert {row[header.index("model")] for row in rows[1:]} == {model}

"""What the dashboard trains on and classifies with is what the user picked, and every page says which.

Issue: the Train page's dataset picker snapped back to the newest dataset on the rerun after a choice, so a
job trained on a dataset nobody picked; pages kept their own model choices. These tests pick the older of
two datasets, models and runs, as analysts do.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    assert_clean,
    new_app,
    page,
    service,
)

from finsent.service import BulkRequest

pytestmark = pytest.mark.usefixtures("app_env")


def two_datasets() -> tuple[object, object]:
    from finsent.ingest.corpus import sample_path
    from finsent.prep.pipeline import PrepareOptions

    older, _ = service().prepare(sample_path(), "older_news.csv", PrepareOptions())
    time.sleep(0.01)  # created_at orders them
    newer, _ = service().prepare(sample_path(), "newer_news.csv", PrepareOptions(seed=7))
    return older, newer


def test_the_dataset_picked_on_train_sticks_across_reruns_and_is_the_one_trained_on() -> None:
    older, newer = two_datasets()
    at = new_app()
    at.switch_page(page("train")).run()
    assert at.selectbox(key="train_dataset").value == newer.id  # the newest first
    at.selectbox(key="train_dataset").select(older.id).run()
    assert at.selectbox(key="train_dataset").value == older.id
    at.run()  # any later rerun (a widget, a fragment, a page switch back) keeps it
    assert at.selectbox(key="train_dataset").value == older.id
    at.switch_page(page("data")).run()
    at.switch_page(page("train")).run()
    assert at.selectbox(key="train_dataset").value == older.id
    at.number_input(key="train_mock_duration_seconds").set_value(0.0)
    at.button(key="train_start").click().run()
    assert_clean(at)
    job = service().job(at.session_state["job_id"])
    assert job.dataset_id == older.id


def test_preparing_a_new_dataset_moves_the_train_picker_to_it_once() -> None:
    older, _newer = two_datasets()
    at = new_app()
    at.switch_page(page("train")).run()
    at.selectbox(key="train_dataset").select(older.id).run()
    at.switch_page(page("data")).run()
    at.button(key="data_prepare_btn").click().run()  # the bundled sample, prepared from the page
    newest = at.session_state["dataset_id"]
    assert newest not in (older.id, _newer.id)
    at.switch_page(page("train")).run()
    assert at.selectbox(key="train_dataset").value == newest
    at.selectbox(key="train_dataset").select(older.id).run()
    at.run()
    assert at.selectbox(key="train_dataset").value == older.id


def two_models() -> tuple[object, object]:
    """Two trained mock models, the older first; each job (and model) has its default name."""
    from app_helpers import prepare_sample, train_mock

    record = prepare_sample()
    older = train_mock(record.id, epochs=1)
    newer = train_mock(record.id, epochs=2)
    svc = service()
    return svc.find_model(str(older.fine_tuned_model)), svc.find_model(str(newer.fine_tuned_model))


def test_one_model_selection_shown_by_name_on_every_page() -> None:
    from finsent.ui.markdown import plain

    older, newer = two_models()
    service().rename_model("mock", older.id, "작년 모델")
    at = new_app()
    picker = at.sidebar.selectbox(key="model_id")
    assert picker.value == newer.id
    assert "작년 모델" in picker.options and newer.title in picker.options  # names, not hashes
    picker.set_value(older.id).run()
    assert any(older.id in c.value for c in at.sidebar.caption)  # the id stays visible under the name
    at.switch_page(page("evaluate")).run()
    assert_clean(at)
    assert any("작년 모델" in m.value for m in at.markdown)  # the page evaluates the sidebar's model
    at.switch_page(page("classify")).run()
    assert any(plain("작년 모델") in c.value for c in at.caption)
    at.run()  # reruns keep the selection
    assert at.sidebar.selectbox(key="model_id").value == older.id


def test_monitor_says_when_the_job_shown_made_another_model_than_the_selected_one() -> None:
    older, newer = two_models()
    at = new_app()
    at.switch_page(page("monitor")).run()
    at.selectbox(key="mon_pick").set_value(older.job_id).run()
    assert_clean(at)
    assert any("사이드바에서 선택한 모델이 아닙니다" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert list(table["이름"])[:2] == [newer.title, older.title]


def test_bulk_runs_say_their_model_and_the_same_input_is_not_started_twice() -> None:
    from finsent.ui.markdown import plain

    older, _newer = two_models()
    frame = pd.DataFrame({"본문": [f"가나전자 영업이익 증가 {i}" for i in range(40)]})
    old_run = service().start_bulk_run(BulkRequest("mock", older.id, frame, "본문", "뉴스.csv"))
    service().wait_bulk_run(old_run.id, timeout=30)
    at = new_app()  # the sidebar selects the newest model
    at.switch_page(page("classify")).run()
    assert_clean(at)
    label = at.selectbox(key="cls_bulk_pick").format_func(old_run.id)
    assert older.title in label and "뉴스.csv" in label and "40행" in label and "완료" in label
    assert any(plain(older.title) in w.value for w in at.warning)  # another model's results, said so
    # the same upload with the older model: no twin, the page says it has this input already
    at.sidebar.selectbox(key="model_id").set_value(older.id).run()
    data = frame.to_csv(index=False).encode("utf-8-sig")
    at.file_uploader(key="cls_bulk_upload").set_value(("뉴스.csv", data, "text/csv")).run()
    assert_clean(at)
    assert any("이미 분류한 적이 있습니다" in i.value for i in at.info)
    at.button(key="cls_bulk_start").click().run()
    assert [r.id for r in service().bulk_runs()] == [old_run.id]


def test_the_start_button_is_disabled_while_that_input_is_running() -> None:
    from app_helpers import prepare_sample, train_mock

    model = str(train_mock(prepare_sample().id, classify_delay_ms=300).fine_tuned_model)
    frame = pd.DataFrame({"본문": [f"가나전자 뉴스 {i}" for i in range(20000)]})
    run = service().start_bulk_run(BulkRequest("mock", model, frame, "본문", "big.csv"))
    at = new_app()
    at.switch_page(page("classify")).run()
    data = frame.to_csv(index=False).encode("utf-8-sig")
    at.file_uploader(key="cls_bulk_upload").set_value(("big.csv", data, "text/csv")).run()
    assert at.button(key="cls_bulk_start").disabled
    assert any("이미 분류 중입니다" in i.value for i in at.info)
    service().cancel_bulk_run(run.id)
    service().wait_bulk_run(run.id, timeout=30)
    at.run()
    assert not at.button(key="cls_bulk_start").disabled  # a stopped run is resumed by starting again


def test_download_names_carry_the_model_and_say_partial_with_the_row_count() -> None:
    from finsent.store.records import BulkResults, BulkRunRecord
    from finsent.ui.bulk_view import download_name

    run = BulkRunRecord(
        id="run-1", backend="local", model_id="local-4fc9", source_name="3분기 뉴스.xlsx", text_column="t",
        status="cancelled", rows_total=100, rows_done=40, created_at=0.0, updated_at=0.0,
    )  # fmt: skip
    whole = BulkResults(pd.DataFrame(), ("positive",), "label", "confidence", {}, "model", 100, 100)
    part = BulkResults(pd.DataFrame(), ("positive",), "label", "confidence", {}, "model", 40, 100)
    title = "로컬 · tfidf-logreg · news.xlsx · 12-02 16:52"
    assert download_name(run, title, whole, "csv") == "3분기_뉴스.로컬_tfidf-logreg_news.xlsx_12-02_16_52.csv"
    assert download_name(run, title, part, "xlsx").endswith(".partial-40-of-100-rows.xlsx")

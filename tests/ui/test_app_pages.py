"""AppTest over every page with the mock backend: navigation, data, training, monitoring, language, errors."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from app_helpers import (
    HANGUL,
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
from korean_news import TEMPLATES, labelled_rows

from finsent.ui.markdown import plain

pytestmark = pytest.mark.usefixtures("app_env")

PAGE_TITLES_KO = {
    "data": "데이터",
    "train": "학습",
    "monitor": "모니터링",
    "evaluate": "평가",
    "classify": "분류",
}
PAGE_TITLES_EN = {
    "data": "Data",
    "train": "Train",
    "monitor": "Monitor",
    "evaluate": "Evaluate",
    "classify": "Classify",
}


def korean_csv() -> str:
    """12 rows per label (Korean label names), plus one duplicate row and one row without text."""
    rows = labelled_rows()
    rows += [rows[0], ",중립"]
    return "문장,감성\n" + "\n".join(rows) + "\n"


def test_every_page_opens_in_korean_by_default() -> None:
    at = new_app()
    assert_clean(at)
    assert at.title[0].value == PAGE_TITLES_KO["data"]
    assert at.sidebar.selectbox(key="backend").value == "mock"
    for name, title in PAGE_TITLES_KO.items():
        at.switch_page(page(name)).run()
        assert_clean(at)
        assert at.title[0].value == title
    # with nothing prepared or trained yet, each page says what to do first
    assert "학습 작업이 아직 없습니다" in texts(at.switch_page(page("monitor")).run())


def test_language_switch_in_the_sidebar_and_from_the_url() -> None:
    at = new_app()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert_clean(at)
    assert at.title[0].value == "Data"
    assert at.query_params["lang"] in ("en", ["en"])
    for name, title in PAGE_TITLES_EN.items():
        at.switch_page(page(name)).run()
        assert at.title[0].value == title
        # nothing of ours is left in Korean (the pages show no user data yet)
        assert not HANGUL.search(texts(at)), texts(at)
    english = new_app({"lang": "en"})
    assert english.title[0].value == "Data" and english.session_state["lang"] == "en"
    korean = new_app({"lang": "xx"})
    assert korean.title[0].value == "데이터"


def test_bundled_sample_is_the_default_source_and_prepares_offline() -> None:
    at = new_app()
    assert at.radio(key="data_source").value == "sample"
    assert "170" in texts(at)
    button(at, "학습 데이터 준비").click().run()
    assert_clean(at)
    [record] = service().datasets()
    assert at.session_state["dataset_id"] == record.id
    assert any(s.value.startswith("준비 완료") for s in at.subheader)
    # the split chart shows train and validation counts adding up to the prepared rows
    split = [data for spec, data in charts(at) if "xOffset" in spec.get("encoding", {})]
    assert split and int(split[0]["count"].sum()) == record.rows
    assert {b.label for b in at.get("download_button")} >= {"전체 내려받기 (zip)", "train.csv", "valid.csv"}


def test_prepared_files_download_as_one_zip() -> None:
    from finsent.ui.prepared_view import zip_directory

    record = prepare_sample()
    archive = zipfile.ZipFile(io.BytesIO(zip_directory(Path(record.directory))))
    assert {"manifest.json", "train.csv", "valid.csv"} <= set(archive.namelist())


def test_prepared_dataset_cost_table_is_counted_once_not_on_every_rerun(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from finsent_openai import costs

    calls: list[int] = []

    def counted(dataset: object, epochs: int = 3) -> list[costs.CostEstimate]:
        calls.append(epochs)
        return estimate_all(dataset, epochs)  # type: ignore[arg-type]

    estimate_all = costs.estimate_all
    monkeypatch.setattr(costs, "estimate_all", counted)
    at = new_app()
    button(at, "학습 데이터 준비").click().run()
    assert_clean(at)
    costs_table = next(d.value for d in at.dataframe if "비용 (USD)" in d.value.columns)
    assert len(costs_table) > 0
    at.run()
    at.run()
    assert calls == [3]
    at.number_input(key="data_cost_epochs").set_value(5).run()
    assert_clean(at)
    assert calls == [3, 5]


def test_korean_cp949_upload_shows_the_report_with_rows_and_label_chart_then_prepares() -> None:
    at = new_app()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(
        ("뉴스.csv", korean_csv().encode("cp949"), "text/csv")
    ).run()
    assert_clean(at)
    caption = texts(at)
    assert "38행" in caption and ("cp949" in caption.lower() or "euc-kr" in caption.lower())
    text_col = next(s for s in at.selectbox if s.key.startswith("data_text_col"))
    label_col = next(s for s in at.selectbox if s.key.startswith("data_label_col"))
    assert (text_col.value, label_col.value) == ("문장", "감성")
    # the report names the duplicate and the empty text, the offending rows one click away
    assert any("같습니다" in w.value for w in at.warning) and any(
        "문장이 없습니다" in w.value for w in at.warning
    )
    shown = [d.value for d in at.dataframe if d.value.index.name == "행"]
    assert any(list(f.index) == [37] for f in shown)  # the duplicate is data row 37
    labels = next(data for spec, data in charts(at) if "xOffset" not in spec.get("encoding", {}))
    counts = dict(zip(labels["label"], labels["count"], strict=True))
    assert (counts["positive"], counts["negative"], counts["neutral"]) == (13, 12, 13)
    assert set(labels["name"]) >= {"긍정", "부정", "중립"}
    button(at, "학습 데이터 준비").click().run()
    assert_clean(at)
    [record] = service().datasets()
    assert record.rows == 36 and record.name == "뉴스.csv"


def test_too_few_examples_per_label_is_an_error_that_blocks_preparing() -> None:
    at = new_app()
    at.radio(key="data_source").set_value("upload").run()
    small = "문장,감성\n" + "\n".join(f"{t.format(c='가나전자')},{label}" for label, t in TEMPLATES.items())
    at.file_uploader(key="data_upload").set_value(("small.csv", small.encode("utf-8"), "text/csv")).run()
    assert [e.value for e in at.exception] == []
    assert any("10개 미만" in e.value for e in at.error)
    assert button(at, "학습 데이터 준비").disabled


def test_unreadable_upload_is_a_korean_error_without_traceback() -> None:
    at = new_app()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").set_value(("broken.csv", b"\x00\x01\x02\xff" * 50, "text/csv")).run()
    assert [e.value for e in at.exception] == []
    assert at.error and HANGUL.search(at.error[0].value)
    assert "Traceback" not in texts(at)


def test_unexpected_failure_is_a_generic_translated_message(monkeypatch: pytest.MonkeyPatch) -> None:
    at = new_app()
    from finsent.service import FinsentService

    def broken(self: object) -> list[object]:
        raise RuntimeError("secret internals /srv/x.py line 12")

    monkeypatch.setattr(FinsentService, "jobs", broken)
    at.switch_page(page("monitor")).run()
    assert [e.value for e in at.exception] == []
    assert any("문제가 발생했습니다" in e.value for e in at.error)
    assert "secret internals" not in texts(at)


def test_train_page_starts_a_job_and_monitor_follows_it_to_the_end_with_curves() -> None:
    record = prepare_sample()
    at = new_app()
    at.switch_page(page("train")).run()
    assert_clean(at)
    assert at.selectbox(key="train_dataset").value == record.id
    at.number_input(key="train_mock_epochs").set_value(2)
    at.number_input(key="train_mock_steps_per_epoch").set_value(5)
    at.number_input(key="train_mock_duration_seconds").set_value(0.0)
    button(at, "학습 시작").click().run()
    assert_clean(at)
    job_id = at.session_state["job_id"]
    assert at.title[0].value == "모니터링"  # switched to Monitor
    # AppTest never fires run_every: poll as the fragment does, then redraw the page
    svc = service()
    job = svc.job(job_id)
    while not job.status.is_terminal:
        job = svc.refresh_job(job_id)
    assert job.status.value == "succeeded"
    at.switch_page(page("monitor")).run()
    assert_clean(at)
    assert any(job.fine_tuned_model in s.value for s in at.success)
    curves = {
        spec["encoding"]["y"]["title"]: data
        for spec, data in charts(at)
        if spec.get("mark", {}).get("type") == "line"
    }
    accuracy = curves["정확도"]
    assert set(accuracy["series"]) == {"학습", "검증"}
    train = accuracy[accuracy["series"] == "학습"]
    assert train["step"].is_monotonic_increasing and train["step"].max() == 10
    assert accuracy["value"].between(0, 1).all()
    assert "손실" in curves
    assert {m.label for m in at.metric} >= {"정확도", "매크로 F1"}


def test_a_running_job_is_live_and_can_be_cancelled() -> None:
    record = prepare_sample()
    job = service().start_training("mock", record.id, {"duration_seconds": 600})
    at = new_app()
    at.switch_page(page("monitor")).run()
    assert_clean(at)
    assert at.get("progress") or "실행 중" in texts(at) or "대기 중" in texts(at)
    button(at, "작업 취소").click().run()
    assert_clean(at)
    assert service().job(job.id).status.value == "cancelled"


def test_attach_an_existing_job_by_id() -> None:
    record = prepare_sample()
    job = train_mock(record.id)
    at = new_app()
    at.switch_page(page("monitor")).run()
    at.text_input(key="mon_attach_id").input(job.external_id)
    button(at, "따라가기").click().run()
    assert_clean(at)
    assert len(service().jobs()) == 2 and at.session_state["job_id"] != job.id


def test_evaluate_page_shows_confusion_per_class_mistakes_and_comparison() -> None:
    record = prepare_sample()
    first = train_mock(record.id)
    second = train_mock(record.id, epochs=1)
    at = new_app()
    at.switch_page(page("evaluate")).run()
    assert_clean(at)
    # the sidebar's model (the newest) is the one evaluated, and the page names it
    assert at.sidebar.selectbox(key="model_id").value == second.fine_tuned_model
    assert any(plain(service().job(second.id).name) in m.value for m in at.markdown)
    evaluation = service().evaluation(second.id)
    heat = next(data for spec, data in charts(at) if "layer" in spec)
    assert int(heat["count"].sum()) == evaluation.n
    assert {"긍정", "부정", "중립"} <= set(heat["true"])
    frames = [d.value for d in at.dataframe]
    assert any("정밀도" in f.columns for f in frames)
    mistakes = next((f for f in frames if "예측 라벨" in f.columns), None)
    assert mistakes is not None and len(mistakes) == evaluation.n - round(evaluation.accuracy * evaluation.n)
    # label values in the page's language, like the filters above the table
    assert set(mistakes["실제 라벨"]) | set(mistakes["예측 라벨"]) <= {"긍정", "부정", "중립"}
    assert at.selectbox(key="eval_cmp").value == f"mock|{first.fine_tuned_model}"
    # comparison: one row per curve, the two models side by side (accuracy and loss of each: 4 curves)
    curves = [spec for spec, _ in charts(at) if "strokeDash" in spec.get("encoding", {})]
    assert len(curves) == 4


def test_sidebar_lists_unavailable_backends_and_keeps_a_typed_key_masked(finsent_home: Path) -> None:
    at = new_app()
    backend = at.sidebar.selectbox(key="backend")
    assert "openai" in backend.options or any("OpenAI" in o for o in backend.options)
    backend.set_value("openai").run()
    assert_clean(at)
    assert any("API 키" in i.value for i in at.sidebar.info)
    key = "sk-test-0123456789abcd"
    at.sidebar.text_input(key="sb_key_input").input(key).run()
    assert at.session_state["api_keys"] == {"openai": key}
    shown = "\n".join(c.value for c in at.sidebar.caption)
    assert "••••abcd" in shown and key not in shown
    # never written anywhere under FINSENT_HOME
    for path in finsent_home.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
    button(at, "키 지우기").click().run()
    assert at.session_state["api_keys"] == {}


def test_prepared_csv_downloads_open_in_korean_excel_and_the_zip_stays_exact(tmp_path: Path) -> None:
    from finsent.ui.prepared_view import UTF8_BOM, _reader

    record = prepare_sample()
    train = Path(record.directory) / "train.csv"
    for_people = _reader(train)()
    assert for_people.startswith(UTF8_BOM) and for_people[3:] == train.read_bytes()
    assert not train.read_bytes().startswith(UTF8_BOM)  # the prepared file (hashed in the manifest) as is
    assert (
        _reader(Path(record.directory) / "manifest.json")()
        == (Path(record.directory) / "manifest.json").read_bytes()
    )


def test_report_txt_downloads_in_the_page_language() -> None:
    """The prepared folder's report.txt is the CLI's (English); the Korean page's download is Korean."""
    from finsent.ui.prepared_view import _report_reader

    record = prepare_sample()
    directory = Path(record.directory)
    on_disk = (directory / "report.txt").read_text(encoding="utf-8")
    korean = _report_reader(directory, "ko")()  # type: ignore[misc]
    english = _report_reader(directory, "en")()  # type: ignore[misc]
    assert english.decode("utf-8") == on_disk
    assert korean.decode("utf-8") != on_disk and re.search("[가-힣]", korean.decode("utf-8").split("\n")[0])


def test_label_set_field_speaks_the_page_language_and_prepares_the_same_labels() -> None:
    at = new_app()
    assert at.text_input(key="data_labels").value == "긍정,부정,중립"
    at.sidebar.radio(key="lang").set_value("en").run()
    assert at.text_input(key="data_labels").value == "positive,negative,neutral"
    at.sidebar.radio(key="lang").set_value("ko").run()
    assert at.text_input(key="data_labels").value == "긍정,부정,중립"
    button(at, "학습 데이터 준비").click().run()
    assert_clean(at)
    [record] = service().datasets()
    manifest = json.loads((Path(record.directory) / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["labels"]["names"]) == ["positive", "negative", "neutral"]
    # a set the user typed stays as typed across a language switch
    at.text_input(key="data_labels").input("긍정,부정").run()
    at.sidebar.radio(key="lang").set_value("en").run()
    assert at.text_input(key="data_labels").value == "긍정,부정"

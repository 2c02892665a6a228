"""The whole workflow in Debian's Chromium against a real server: upload Korean data, prepare, train on the
mock backend and watch the accuracy curve appear, bulk-classify a CSV and download it, switch language.

Screenshots of every page go to test-artifacts/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from browser_support import TIMEOUT_MS, shot, wait_idle
from korean_news import COMPANIES, TEMPLATES, labelled_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _training_csv(path: Path) -> Path:
    rows = labelled_rows()
    path.write_bytes(("문장,감성\n" + "\n".join(rows) + "\n").encode("cp949"))
    return path


def _bulk_csv(path: Path, n: int = 60) -> Path:
    texts = [
        TEMPLATES[label].format(c=COMPANIES[i % len(COMPANIES)])
        for i, label in enumerate(["긍정", "부정", "중립"] * (n // 3))
    ]
    frame = pd.DataFrame({"번호": range(1, len(texts) + 1), "기사": texts, "출처": "테스트"})
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _nav(page: Any, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    wait_idle(page)


def _chart_drawn(page: Any, index: int = 0) -> None:
    chart = page.get_by_test_id("stVegaLiteChart").nth(index)
    chart.locator("canvas, svg").first.wait_for(timeout=TIMEOUT_MS)


def test_upload_prepare_train_bulk_download_and_language(app_page: Any, tmp_path: Path) -> None:
    page = app_page
    page.get_by_role("heading", name="데이터", level=1).wait_for()
    wait_idle(page)
    _chart_drawn(page)  # the bundled sample's label distribution
    shot(page, "01-data-sample")

    # upload a CP949 CSV with Korean text and prepare it
    page.get_by_text("파일 업로드", exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        str(_training_csv(tmp_path / "뉴스.csv"))
    )
    page.get_by_text("36행", exact=False).first.wait_for()
    wait_idle(page)
    page.get_by_role("button", name="학습 데이터 준비").click()
    page.get_by_text("준비 완료", exact=False).first.wait_for()
    wait_idle(page)
    shot(page, "02-data-prepared")

    # train on the mock backend (instant by default) and watch the accuracy curve appear on Monitor
    _nav(page, "학습")
    shot(page, "03-train")
    page.get_by_role("button", name="학습 시작").click()
    page.get_by_role("heading", name="모니터링", level=1).wait_for()
    page.get_by_text("정확도 곡선").first.wait_for()
    page.get_by_test_id("stAlertContentSuccess").filter(has_text="학습된 모델:").wait_for(timeout=60_000)
    wait_idle(page)
    _chart_drawn(page, 0)
    _chart_drawn(page, 1)
    shot(page, "04-monitor")

    _nav(page, "평가")
    _chart_drawn(page)
    shot(page, "05-evaluate")

    # bulk-classify a CSV and download the result
    _nav(page, "분류")
    page.get_by_role("tab", name="대량 분류 (파일)").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(_bulk_csv(tmp_path / "기사.csv")))
    page.get_by_role("button", name="모든 행 분류하기").click()
    download_button = page.get_by_role("button", name="CSV 내려받기 (엑셀용)")
    download_button.wait_for(timeout=60_000)
    wait_idle(page)
    _chart_drawn(page)
    shot(page, "06-classify-bulk")
    with page.expect_download() as info:
        download_button.click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel shows the Korean
    result = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert len(result) == 60
    assert list(result.columns[:3]) == ["번호", "기사", "출처"]
    assert {"label", "confidence", "score_positive", "score_negative", "score_neutral"} <= set(result.columns)
    assert set(result["label"]) <= {"긍정", "부정", "중립"}  # the Korean page downloads Korean label names
    # the file says where its labels came from: the model's name in the file name, its id on every row
    name = info.value.suggested_filename
    assert name.startswith("기사.") and name.endswith(".csv") and "partial" not in name and "모의" in name
    assert result["model"].nunique() == 1 and result["model"].iloc[0].startswith("mock-")
    # the same file again with the same model: the page says so, and starting shows that run, no twin
    page.get_by_text("이미 분류한 적이 있습니다", exact=False).first.wait_for()
    runs_before = page.get_by_test_id("stSelectbox").filter(has_text="작업").locator("input").input_value()
    page.get_by_role("button", name="모든 행 분류하기").click()
    wait_idle(page)
    page.get_by_test_id("stDownloadButton").first.wait_for()
    assert (
        page.get_by_test_id("stSelectbox").filter(has_text="작업").locator("input").input_value()
        == runs_before
    )

    # one text, like the tutorial's form
    page.get_by_role("tab", name="문장 하나").click()
    page.get_by_label("감성 분석할 뉴스를 입력해주세요").fill("가나전자의 영업이익이 크게 늘었다.")
    page.get_by_role("button", name="분석하기").click()
    page.get_by_test_id("stMetric").first.wait_for()
    wait_idle(page)
    shot(page, "07-classify-one")

    # the storage panel at the bottom of Monitor lists the finished bulk run as something that can go
    _nav(page, "모니터링")
    page.get_by_test_id("stExpander").filter(has_text="저장 공간").click()
    page.get_by_text(
        "비운 대량 분류 작업은", exact=False
    ).first.wait_for()  # the note shown when a bulk run can go
    page.get_by_role("button", name="비우기").wait_for()  # "<size> 비우기"
    wait_idle(page)
    shot(page, "11-storage")
    _nav(page, "분류")

    # switch to English: every text of ours follows
    page.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()
    page.get_by_role("heading", name="Classify", level=1).wait_for()
    wait_idle(page)
    assert page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data").is_visible()
    shot(page, "08-classify-english")
    _nav(page, "Data")
    assert "lang=en" in page.url
    shot(page, "09-data-english")

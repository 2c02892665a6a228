"""The Data page's report names the page's controls, never the CLI's flags (issue 9), in both languages;
the CLI's report keeps naming its flags."""

from __future__ import annotations

import pytest
from app_helpers import (
    app_env,  # noqa: F401  (fixture)
    new_app,
    service,
    texts,
)

pytestmark = pytest.mark.usefixtures("app_env")

# Capital letters (letter_case), a label outside the set (unknown_label), too few examples (class_below_minimum)
ROWS = [
    ("Samsung 실적 개선", "긍정"),
    ("LG 적자 확대", "부정"),
    ("SK 주총 개최", "중립"),
    ("KT 합병", "혼합"),
]


def _upload(at: object, lang: str) -> str:
    csv = "문장,감성\n" + "\n".join(f"{text},{label}" for text, label in ROWS)
    at.sidebar.radio(key="lang").set_value(lang).run()  # type: ignore[attr-defined]
    at.radio(key="data_source").set_value("upload").run()  # type: ignore[attr-defined]
    at.file_uploader(key="data_upload").set_value(("mixed.csv", csv.encode("utf-8"), "text/csv")).run()  # type: ignore[attr-defined]
    return texts(at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lang", "labels_field", "lowercase_option"),
    [("ko", "‘라벨’ 칸", "‘영문을 소문자로 바꾸기’"), ("en", "“Labels” field", "“Lower-case the text”")],
)
def test_report_remedies_name_the_dashboard_controls(
    lang: str, labels_field: str, lowercase_option: str
) -> None:
    at = new_app()
    shown = _upload(at, lang)
    assert [e.value for e in at.exception] == []
    assert "--labels" not in shown and "--lowercase" not in shown
    assert labels_field in shown  # unknown_label and class_below_minimum point at the field
    assert lowercase_option in shown  # letter_case points at the option


def test_errors_on_the_page_name_its_controls_not_finsent_commands() -> None:
    from app_helpers import button, page

    at = new_app()
    at.switch_page(page("monitor")).run()
    at.text_input(key="mon_attach_id").input("mockjob-doesnotexist")
    button(at, "따라가기").click().run()
    assert [e.value for e in at.exception] == []
    [error] = [e.value for e in at.error]
    assert "finsent jobs" not in error and "작업 목록" in error
    assert service().jobs(refresh=False) == []  # an unknown id leaves no job behind

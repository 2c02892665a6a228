"""The two-language text carrier and the errors' dashboard hint."""

from __future__ import annotations

from finsent.contract import InputError, Text


def test_text_falls_back_to_english_where_no_korean_was_written() -> None:
    assert Text("Hello", "안녕").get("ko") == "안녕"
    assert Text("Hello").get("ko") == "Hello" and str(Text("Hello", "안녕")) == "Hello"
    assert Text.of("plain") == Text("plain") and Text.of(Text("a", "가")) == Text("a", "가")


def test_an_error_shows_its_dashboard_hint_in_the_dashboard_and_its_cli_hint_elsewhere() -> None:
    exc = InputError(
        Text("No column 'x'.", "'x' 열이 없습니다."),
        hint=Text("Pass one with --text-col.", "--text-col 로 지정하세요."),
        dashboard_hint=Text("Pick one in the column box.", "열 선택 상자에서 고르세요."),
    )
    assert exc.text("en") == "No column 'x'. Pass one with --text-col." == str(exc)
    assert exc.text("ko") == "'x' 열이 없습니다. --text-col 로 지정하세요."
    assert exc.text("en", dashboard=True) == "No column 'x'. Pick one in the column box."
    assert exc.text("ko", dashboard=True) == "'x' 열이 없습니다. 열 선택 상자에서 고르세요."
    # without a dashboard hint the dashboard shows the hint as written
    assert InputError("Bad.", hint="Fix it.").text("en", dashboard=True) == "Bad. Fix it."

"""The OpenAI backend's training notice changes its wording on the cut-off day, in both languages."""

from __future__ import annotations

import datetime as dt

from finsent_openai.notices import fine_tuning_notice


def test_the_notice_says_stops_before_the_cut_off_and_no_longer_from_that_day() -> None:
    before = fine_tuning_notice(dt.date(2026, 12, 2))
    after = fine_tuning_notice(dt.date(2027, 1, 6))
    assert "stops taking" in before.en and "no longer takes" in after.en
    for notice in (before, after):
        assert "2027-01-06" in notice.en and notice.ko and "2027-01-06" in notice.ko
        assert notice.get("ko") == notice.ko and notice.get("en") == notice.en

"""Every page in Korean and in English, at 1280 and 1400 px wide, after the workflow test has filled the
store (this file runs last): screenshots in test-artifacts/ for people to look at, and a check that our own
titles, widget labels, tabs and buttons on an English page hold no Korean (data such as file names, model
names and sentences excepted: they are the user's), and that a Korean page shows none of our English texts
(any fragment of the English catalogue that the Korean one does not share) in headings, labels, tabs,
buttons, captions, alerts, metrics and expanders. Streamlit's own widget texts ("Drag and drop file here",
"Browse files", "Limit 200MB per file") are not ours and are not looked at: see docs/dashboard.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import shot, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = {"data": ("데이터", "Data"), "train": ("학습", "Train"), "monitor": ("모니터링", "Monitor"),
         "evaluate": ("평가", "Evaluate"), "classify": ("분류", "Classify")}  # fmt: skip
HANGUL = re.compile(r"[\uac00-\ud7a3]")
#: our elements (not the data shown in them)
OURS = '[data-testid="stHeading"] h1, [data-testid="stWidgetLabel"], button[role="tab"], [data-testid="stBaseButton-secondary"], [data-testid="stBaseButton-primary"]'


#: where a Korean page could show an English text of ours (Streamlit's own texts live elsewhere)
OURS_KO = ", ".join(
    [
        OURS,
        '[data-testid="stCaptionContainer"]',
        '[data-testid="stAlertContentInfo"], [data-testid="stAlertContentWarning"]',
        '[data-testid="stAlertContentError"], [data-testid="stAlertContentSuccess"]',
        '[data-testid="stMetricLabel"]',
        '[data-testid="stExpander"] summary',
    ]
)


def _english_fragments() -> list[str]:
    """Literal pieces (12+ characters, words) of English catalogue texts the Korean catalogue does not share."""
    from finsent.ui.messages_en import MESSAGES as EN
    from finsent.ui.messages_ko import MESSAGES as KO

    pieces = set()
    for key, text in EN.items():
        if KO.get(key) == text:
            continue  # the same in both (a product name, a unit): not a sign of the wrong language
        for piece in re.split(r"\{[^}]*\}|[*`_]", text):
            piece = piece.strip(" .,:;()\"'“”‘’-")
            if len(piece) >= 12 and " " in piece and piece not in " ".join(KO.values()):
                pieces.add(piece)
    return sorted(pieces)


@pytest.mark.parametrize("width", [1280, 1400])
def test_every_page_in_both_languages(app_page: Any, app_server: str, width: int) -> None:
    page = app_page
    fragments = _english_fragments()
    page.set_viewport_size({"width": width, "height": 2000})
    for lang in ("ko", "en"):
        for name, titles in PAGES.items():
            title = titles[0] if lang == "ko" else titles[1]
            page.goto(f"{app_server}/{name}?lang={lang}")
            page.get_by_role("heading", name=title, level=1).wait_for()
            wait_idle(page)
            page.wait_for_timeout(600)
            shot(page, f"lang-{lang}-{width}-{name}")
            if lang == "en":
                korean = [t for t in page.locator(OURS).all_inner_texts() if HANGUL.search(t)]
                assert korean == [], f"{name}: {korean}"
            else:
                shown = page.locator(OURS_KO).all_inner_texts()
                english = sorted({f for f in fragments for t in shown if f in t})
                assert english == [], f"{name}: English texts on the Korean page: {english}"

"""Invented Korean news sentences (never from the corpus) that the app and browser tests upload."""

from __future__ import annotations

COMPANIES = (
    "가나전자",
    "다라건설",
    "마바식품",
    "사아은행",
    "자차화학",
    "카타물산",
    "파하상사",
    "한빛제약",
    "누리통신",
    "별빛항공",
    "솔밭유통",
    "푸른에너지",
)
TEMPLATES = {
    "긍정": "{c}의 3분기 영업이익이 두 배로 늘었다.",
    "부정": "{c}의 부실채권이 급증해 적자로 돌아섰다.",
    "중립": "{c}는 다음 달 정기 주주총회를 연다.",
}


def labelled_rows() -> list[str]:
    """`text,label` CSV lines: every template for every company, labels in Korean."""
    return [f"{template.format(c=c)},{label}" for label, template in TEMPLATES.items() for c in COMPANIES]

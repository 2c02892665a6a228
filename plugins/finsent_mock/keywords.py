"""The mock backend's classifier: a transparent keyword rule over Korean and English finance words.

Nothing is learnt: a text scores one point per positive or negative word it contains, and the points
become per-label scores through a softmax, so the confidences are in [0, 1] and sum to 1. Phrases where
two "negative" words make good news ("손실 감소": the loss shrank) are matched first and count as positive,
and so do phrases where a "positive" direction word makes bad news ("적자 확대": the deficit widened). Job
titles such as 최고경영자 are removed first so that 최고 ("highest") only counts where it means a record.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from finsent.contract import UNKNOWN_LABEL, LabelSet, Prediction

# Words that contain a keyword without meaning it; removed before anything is counted.
NEUTRAL_PHRASES_KO = ("최고경영자", "최고재무책임자", "최고운영책임자", "최고기술책임자", "최고위")
# Good news made of bad words; matched (and removed) before the single words below.
POSITIVE_PHRASES_KO = (
    "손실 감소",
    "손실이 감소",
    "손실 축소",
    "손실이 줄",
    "적자 축소",
    "적자폭 축소",
    "적자가 줄",
)
# Bad news made of good (direction) words, or of a bad word and a good one that would cancel out.
NEGATIVE_PHRASES_KO = (
    "이익 감소",
    "이익이 감소",
    "순이익 감소",
    "매출 감소",
    "매출이 감소",
    "흑자 축소",
    "손실 확대",
    "손실이 확대",
    "손실폭 확대",
    "손실이 늘",
    "손실 증가",
    "손실이 증가",
    "적자 확대",
    "적자폭 확대",
    "적자가 확대",
    "적자폭이 확대",
    "적자가 늘",
    "부실채권이 급증",
    "부채가 급증",
)

POSITIVE_KO = (
    "상승",
    "증가",
    "흑자",
    "수주",
    "호조",
    "개선",
    "최대",
    "성장",
    "급등",
    "돌파",
    "상회",
    "확대",
    "호실적",
    # verb stems of "grew / raised": 늘었다, 늘어나, 늘려, 늘린
    "늘었",
    "늘어",
    "늘려",
    "늘린",
    "상향",
    "최고",
    "흑자전환",
)
NEGATIVE_KO = (
    "하락",
    "감소",
    "적자",
    "손실",
    "감원",
    "부진",
    "악화",
    "급락",
    "하회",
    "축소",
    "해고",
    "파산",
    "둔화",
    # verb stems of "shrank / cut": 줄었다, 줄어들어, 줄여, 줄인
    "줄었",
    "줄어",
    "줄여",
    "줄인",
    "하향",
    "적자전환",
    "급감",
    "취소",
    "소송",
)

POSITIVE_EN = ("rise", "rises", "rose", "risen", "profit", "profits", "growth", "grew", "increase", "increased",
               "gain", "gains", "improve", "improved", "record", "up")  # fmt: skip
NEGATIVE_EN = ("loss", "losses", "decline", "declined", "fall", "fell", "decrease", "decreased", "layoffs",
               "drop", "dropped", "weak", "down", "cut", "cuts")  # fmt: skip

_EN_WORD = re.compile(r"[a-z]+")
#: how much one keyword moves the score; the neutral label starts with a small lead
_WEIGHT = 1.5
_NEUTRAL_PRIOR = 1.0


def keyword_hits(text: str) -> tuple[int, int]:
    """(positive, negative) keyword counts in `text`."""
    value = text.casefold()
    positive = negative = 0
    for phrase in NEUTRAL_PHRASES_KO:
        value = value.replace(phrase, " ")
    for phrase in POSITIVE_PHRASES_KO:
        positive += value.count(phrase)
        value = value.replace(phrase, " ")
    for phrase in NEGATIVE_PHRASES_KO:
        negative += value.count(phrase)
        value = value.replace(phrase, " ")
    # Korean glues particles onto words, so substrings are the honest unit; English needs whole words.
    positive += sum(value.count(word) for word in POSITIVE_KO)
    negative += sum(value.count(word) for word in NEGATIVE_KO)
    words = _EN_WORD.findall(value)
    positive += sum(1 for w in words if w in POSITIVE_EN)
    negative += sum(1 for w in words if w in NEGATIVE_EN)
    return positive, negative


def keyword_scores(text: str, labels: LabelSet) -> dict[str, float]:
    """One score per label of `labels`, summing to 1 (labels the rule does not know get a low share)."""
    positive, negative = keyword_hits(text)
    logits: dict[str, float] = {}
    for name in labels.names:
        if name == "positive":
            logits[name] = _WEIGHT * positive
        elif name == "negative":
            logits[name] = _WEIGHT * negative
        elif name == "neutral":
            logits[name] = _NEUTRAL_PRIOR
        else:
            logits[name] = -1.0
    top = max(logits.values())
    exp = {name: math.exp(value - top) for name, value in logits.items()}
    total = sum(exp.values())
    return {name: value / total for name, value in exp.items()}


def classify_by_keywords(texts: Sequence[str], labels: LabelSet) -> list[Prediction]:
    """One prediction per text, in order; "unknown" when the label set has none of the rule's labels."""
    known = {"positive", "negative", "neutral"} & set(labels.names)
    predictions: list[Prediction] = []
    for text in texts:
        scores = keyword_scores(text, labels)
        if not known:
            predictions.append(Prediction(label=UNKNOWN_LABEL, confidence=0.0, scores=scores))
            continue
        label = max(labels.names, key=lambda name: scores[name])
        predictions.append(Prediction(label=label, confidence=scores[label], scores=scores))
    return predictions

"""The Train page's notice about OpenAI's end of new self-serve fine-tuning jobs, in both languages.

It comes from this backend (not from the page) because only this backend knows the date, and it changes
wording on the day: before, the jobs can still be started; from then on, only existing fine-tunes work.
"""

from __future__ import annotations

import datetime as dt

from finsent.contract import Text

from .client import FINE_TUNING_CUTOFF

_ALTERNATIVES_EN = (
    "Alternatives: the transformers backend fine-tunes open Korean encoders such as klue/bert-base on your "
    "own machine, the local backend trains on the CPU in a minute, and zero-/few-shot mode classifies with "
    "any chat model without training."
)
_ALTERNATIVES_KO = (
    "대안: transformers 백엔드는 klue/bert-base 같은 공개 한국어 인코더를 내 컴퓨터에서 파인튜닝하고, 로컬 "
    "백엔드는 CPU로 1분 안에 학습하며, 제로샷/퓨샷 모드는 학습 없이 채팅 모델로 분류합니다."
)


def fine_tuning_notice(today: dt.date | None = None) -> Text:
    cutoff = dt.date.fromisoformat(FINE_TUNING_CUTOFF)
    if (today or dt.date.today()) < cutoff:
        return Text(
            f"OpenAI stops taking new self-serve fine-tuning jobs on {FINE_TUNING_CUTOFF}; fine-tuned models "
            f"you already have keep working until their base models retire. {_ALTERNATIVES_EN}",
            f"OpenAI는 {FINE_TUNING_CUTOFF}부터 새 셀프서비스 파인튜닝 작업을 받지 않습니다. 이미 만든 "
            f"파인튜닝 모델은 기본 모델이 종료될 때까지 계속 쓸 수 있습니다. {_ALTERNATIVES_KO}",
        )
    return Text(
        f"OpenAI no longer takes new self-serve fine-tuning jobs (since {FINE_TUNING_CUTOFF}); fine-tuned "
        f"models you already have keep working until their base models retire. {_ALTERNATIVES_EN}",
        f"OpenAI는 {FINE_TUNING_CUTOFF}부터 새 셀프서비스 파인튜닝 작업을 받지 않습니다. 이미 만든 파인튜닝 "
        f"모델은 기본 모델이 종료될 때까지 계속 쓸 수 있습니다. {_ALTERNATIVES_KO}",
    )

"""What a paid backend tells the core about money: estimated tokens and cost before a job or a bulk run.

The core knows no prices: it asks each backend (`Backend.training_cost_estimates`, `training_cost`,
`input_cost`, `example_token_limit`) and shows what they answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")

#: the smallest per-example token limit a backend may declare (`Backend.example_token_limit`); a smaller
#: one is taken as this. Fine-tuning services allow thousands of tokens per example. With it the data
#: checks know, from the longest text alone, when no backend's limit can be reached (an estimate never
#: exceeds a text's characters + 1), and `finsent prepare` then loads no backend at all.
MIN_EXAMPLE_TOKEN_LIMIT = 512


@dataclass(frozen=True)
class CostEstimate:
    """Training (or input) tokens and their price with one base model."""

    base_model: str
    tokens_per_epoch: int
    epochs: int
    total_tokens: int
    usd: float | None
    #: counted with the model's own tokenizer (False: the offline estimate below)
    exact: bool
    prices_as_of: str
    kind: str = ""
    examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def estimate_tokens(text: str) -> int:
    """Offline token estimate: Hangul syllables plus a quarter of the other characters (rounded up); what
    current subword tokenizers come to on Korean news, give or take a third."""
    hangul = len(_HANGUL.findall(text))
    return hangul + math.ceil((len(text) - hangul) / 4)

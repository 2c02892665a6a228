"""From a model's answer and its log-probabilities to a Prediction on the label set.

An answer outside the label set becomes `unknown` with the raw text kept: never a crash. The raw text is
a server's, so what is kept is scrubbed of the API key (`finsent.support.secrets`) and cut to RAW_LIMIT
characters: enough to see what the model said, before it goes to a ledger, a batch file or the store.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping

from finsent.contract import UNKNOWN_LABEL, LabelSet, Prediction
from finsent.support.secrets import scrub

_STRIP = " \t\r\n\"'`.,:;!?()[]{}<>*_-"
#: characters of an answer outside the label set that are kept with its "unknown" prediction
RAW_LIMIT = 200


def kept_raw(answer: str | None) -> str | None:
    """What is kept of a server's answer: scrubbed first (a cut could split a key), then cut."""
    return None if answer is None else scrub(answer)[:RAW_LIMIT]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip(_STRIP).casefold()


class AnswerMapper:
    """Knows every written form of every label (names and synonyms) and maps answers and tokens onto them."""

    def __init__(self, labels: LabelSet) -> None:
        self.labels = labels
        forms: dict[str, str] = {_fold(name): name for name in labels.names}
        for synonym, target in labels.synonyms.items():
            if target in labels.names:
                forms.setdefault(_fold(synonym), target)
        self.forms = {form: label for form, label in forms.items() if form}

    def label_of(self, answer: str | None) -> str | None:
        """A whole answer ("Positive.", " negative", "중립") -> its label, or None."""
        if not answer:
            return None
        folded = _fold(answer)
        if folded in self.forms:
            return self.forms[folded]
        first = folded.split()[0].strip(_STRIP) if folded.split() else ""
        return self.forms.get(first)

    def token_label(self, token: str | None) -> str | None:
        """A first token (" pos", "neg") -> the one label it can start, or None when none or several."""
        folded = _fold(token or "")
        if not folded:
            return None
        matches = {label for form, label in self.forms.items() if form.startswith(folded)}
        return matches.pop() if len(matches) == 1 else None

    def label_mass(self, top_logprobs: Mapping[str, float] | None) -> dict[str, float]:
        """Probability mass per label among the top first tokens (0 for labels not seen)."""
        mass = dict.fromkeys(self.labels.names, 0.0)
        for token, logprob in (top_logprobs or {}).items():
            label = self.token_label(token)
            if label is not None and logprob is not None and math.isfinite(logprob):
                mass[label] += math.exp(logprob)
        return mass

    def predict(
        self,
        answer: str | None,
        top_logprobs: Mapping[str, float] | None = None,
        answer_logprob: float | None = None,
        *,
        whole_answer: bool = True,
    ) -> Prediction:
        """`whole_answer` False: the answer is one token (max_tokens=1), so a label prefix is enough."""
        label = self.label_of(answer) or (None if whole_answer else self.token_label(answer))
        mass = self.label_mass(top_logprobs)
        total = sum(mass.values())
        if label is None:
            # The confidence of "unknown" is the probability the model put outside the label set.
            outside = max(0.0, 1.0 - total) if top_logprobs else 0.0
            return Prediction(
                UNKNOWN_LABEL, round(outside, 6), {k: round(v, 6) for k, v in mass.items()}, kept_raw(answer)
            )
        if total > 0 and mass[label] > 0:
            scores = {k: v / total for k, v in mass.items()}
        else:
            # No usable distribution (e.g. a server without logprobs): the answer's own probability.
            own = (
                math.exp(answer_logprob)
                if answer_logprob is not None and math.isfinite(answer_logprob)
                else 1.0
            )
            scores = {k: (own if k == label else 0.0) for k in mass}
        return Prediction(label, round(scores[label], 6), {k: round(v, 6) for k, v in scores.items()})

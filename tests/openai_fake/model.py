"""The fake server's scripted model: a deterministic keyword rule (or a lookup table) with log-probabilities.

It behaves like a fine-tuned classifier: a completion model answers the first token of the label after
the " ->" separator (and nonsense without it, as a real fine-tuned model does when the input format is
wrong); a chat model answers the label word. Log-probabilities are deterministic per text.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LABELS = ("positive", "negative", "neutral")
POSITIVE_WORDS = (
    "상승",
    "증가",
    "개선",
    "호조",
    "흑자",
    "rise",
    "rose",
    "gain",
    "growth",
    "increase",
    "profit",
)
NEGATIVE_WORDS = ("하락", "감소", "악화", "적자", "손실", "fall", "fell", "drop", "decline", "loss")
SEPARATOR = " ->"


def rule_label(text: str) -> str:
    """The keyword rule every test can predict: negative words win over positive ones, else neutral."""
    folded = text.casefold()
    if any(word in folded for word in NEGATIVE_WORDS):
        return "negative"
    if any(word in folded for word in POSITIVE_WORDS):
        return "positive"
    return "neutral"


def _confidence(text: str) -> float:
    """0.55..0.95, fixed per text, so scores differ between texts but never between runs."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return 0.55 + 0.4 * digest[0] / 255


def _bytes(token: str) -> list[int]:
    return list(token.encode("utf-8"))


@dataclass
class ScriptedModel:
    """answers: text -> raw answer, overriding the rule (use it for answers outside the label set)."""

    answers: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = LABELS

    def answer(self, text: str) -> str:
        return self.answers.get(text, rule_label(text))

    def distribution(self, text: str, answer: str) -> dict[str, float]:
        """Log-probabilities of the answer and the other labels (the rest of the mass is elsewhere)."""
        top = _confidence(text)
        others = [label for label in self.labels if label != answer]
        rest = (1.0 - top) * 0.9 / max(1, len(others))
        probs = {answer: top} | {label: rest for label in others}
        return {token: math.log(p) for token, p in probs.items()}

    # -- /v1/completions ---------------------------------------------------------------------------
    def complete(self, request: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """A completion response and the texts it answered (for the per-text request counts)."""
        prompts = request.get("prompt")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts or [])
        max_tokens = request.get("max_tokens") or 16
        n_top = request.get("logprobs")
        choices, texts = [], []
        for index, prompt in enumerate(prompts):
            if prompt.endswith(SEPARATOR):
                text = prompt[: -len(SEPARATOR)]
                answer = self.answer(text)
            else:  # a fine-tuned completion model fed the wrong input format answers nonsense
                text, answer = prompt, "\n"
            texts.append(text)
            words = (" " + answer).split(" ")[1:] if answer.strip() else [answer]
            tokens = [" " + w for w in words][: int(max_tokens)] if answer.strip() else [answer]
            logprobs = None
            if n_top:
                dist = self.distribution(text, answer.strip() or answer)
                spaced = {(" " + k if k.strip() else k): v for k, v in dist.items()}
                first_top = dict(sorted(spaced.items(), key=lambda kv: -kv[1])[: int(n_top)])
                logprobs = {
                    "tokens": tokens,
                    "token_logprobs": [spaced.get(tokens[0], math.log(0.5))] + [-0.01] * (len(tokens) - 1),
                    "top_logprobs": [first_top] + [{t: -0.01} for t in tokens[1:]],
                    "text_offset": [
                        len(prompt) + sum(len(t) for t in tokens[:i]) for i in range(len(tokens))
                    ],
                }
            finish = "length" if len(tokens) >= int(max_tokens) else "stop"
            choices.append(
                {"text": "".join(tokens), "index": index, "logprobs": logprobs, "finish_reason": finish}
            )
        usage = {"prompt_tokens": sum(len(p) // 2 + 1 for p in prompts), "completion_tokens": len(prompts)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        response = {
            "id": f"cmpl-{uuid.uuid4().hex[:24]}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": request.get("model"),
            "choices": choices,
            "usage": usage,
            "system_fingerprint": "fp_finsent_fake",
        }
        return response, texts

    # -- /v1/chat/completions ----------------------------------------------------------------------
    def chat(self, request: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        messages = request.get("messages") or []
        users = [m for m in messages if m.get("role") == "user"]
        text = str(users[-1].get("content", "")) if users else ""
        answer = self.answer(text)
        words = answer.split(" ") if answer else [""]
        max_tokens = request.get("max_completion_tokens") or request.get("max_tokens") or 64
        tokens = [w if i == 0 else " " + w for i, w in enumerate(words)][: int(max_tokens)]
        logprobs = None
        if request.get("logprobs"):
            dist = self.distribution(text, answer)
            n_top = int(request.get("top_logprobs") or 0)
            first_top = sorted(dist.items(), key=lambda kv: -kv[1])[:n_top]
            content = []
            for i, token in enumerate(tokens):
                own = dist.get(token, math.log(0.5)) if i == 0 else -0.01
                top = first_top if i == 0 else [(token, own)][:n_top]
                content.append(
                    {
                        "token": token,
                        "logprob": own,
                        "bytes": _bytes(token),
                        "top_logprobs": [{"token": t, "logprob": lp, "bytes": _bytes(t)} for t, lp in top],
                    }
                )
            logprobs = {"content": content, "refusal": None}
        prompt_tokens = sum(len(str(m.get("content", ""))) // 2 + 4 for m in messages)
        response: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(tokens),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": logprobs,
                    "finish_reason": "length" if len(tokens) < len(words) else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(tokens),
                "total_tokens": prompt_tokens + len(tokens),
            },
            "service_tier": "default",
            "system_fingerprint": "fp_finsent_fake",
        }
        return response, [text]

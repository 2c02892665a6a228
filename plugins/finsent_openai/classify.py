"""Classification through the OpenAI API, many requests in flight.

Completion models: many prompts per request (`prompt` accepts a list, answers come back by index),
max_tokens=1, temperature=0, logprobs, and a logit_bias limited to the first token of each label when
the tokenizer is available offline. Chat models: one request per text with logprobs + top_logprobs.
Retries (429 with Retry-After, 5xx, dropped connections, with backoff) are the SDK's; what is left after
them is a typed finsent error for the whole call: every text gets exactly one prediction, or none does.
The answers a failed call did get are kept in an AnswerLedger (see ledger.py), so the same call made again
(a resumed bulk chunk) sends only the texts still without an answer: nothing is paid twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import openai
from openai.types import Completion
from openai.types.chat import ChatCompletion

from finsent.contract import ModelRef, Prediction, Text, errors
from finsent_openai.costs import cached_encoder

from .answers import AnswerMapper
from .client import ClientConfig, openai_errors
from .data import COMPLETION, base_of, model_kind
from .ledger import AnswerLedger, call_digest, tuning_request
from .prompts import SHOT_MODES, chat_messages

#: seconds between two writes of the answers of a call in flight to its ledger
LEDGER_EVERY = 1.0


def _int(config: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(str(config.get(name) or default))
    except ValueError:
        value = default
    return max(low, min(high, value))


@dataclass(frozen=True)
class ClassifyTuning:
    """How hard to push the API. Settable through the backend config (e.g. for rate-limited accounts)."""

    prompts_per_request: int = 20
    completion_in_flight: int = 8
    chat_in_flight: int = 16
    chat_max_tokens: int = 8
    top_logprobs: int = 5

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> ClassifyTuning:
        return cls(
            prompts_per_request=_int(config, "prompts_per_request", 20, 1, 2048),
            completion_in_flight=_int(config, "completion_in_flight", 8, 1, 64),
            chat_in_flight=_int(config, "chat_in_flight", 16, 1, 128),
            chat_max_tokens=_int(config, "chat_max_tokens", 8, 1, 64),
            top_logprobs=_int(config, "top_logprobs", 5, 0, 20),
        )


def cached_encoding(model_id: str) -> Any | None:
    """The model's tiktoken encoding if its file is already cached locally, else None (no download)."""
    try:
        from tiktoken.model import encoding_name_for_model

        name = encoding_name_for_model(base_of(model_id))
    except (ImportError, KeyError):
        return None
    return cached_encoder(name)


def first_token_bias(encoding: Any, labels: Sequence[str]) -> dict[str, int] | None:
    """logit_bias allowing only the first token of each label (" positive" etc.); None if two labels share it."""
    firsts = [encoding.encode(" " + label)[0] for label in labels]
    if len(set(firsts)) != len(firsts):
        return None
    return {str(token): 100 for token in firsts}


class Classifier:
    """Classifies lists of texts with one model; thread-safe, one shared SDK client."""

    def __init__(
        self,
        client: openai.OpenAI,
        config: ClientConfig,
        tuning: ClassifyTuning | None = None,
        encoding_for: Callable[[str], Any | None] = cached_encoding,
        ledger_dir: Path | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.tuning = tuning or ClassifyTuning()
        self.encoding_for = encoding_for
        #: where the answers of unfinished calls are kept (None: not kept, a retried call sends everything)
        self.ledger_dir = ledger_dir
        self._bias_cache: dict[tuple[str, tuple[str, ...]], dict[str, int] | None] = {}
        self._lock = threading.Lock()

    # -- dispatch ----------------------------------------------------------------------------------
    def classify(self, model: ModelRef, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        kind = str(model.details.get("kind") or model_kind(model.id))
        mode = model.details.get("mode")
        if mode in SHOT_MODES and kind == COMPLETION:
            raise errors.InputError(
                Text(
                    f"Zero/few-shot mode needs a chat model; {model.id} is a completion model.",
                    f"제로샷/퓨샷 모드는 채팅 모델이 필요합니다. {model.id}은(는) 완성(completion) 모델입니다.",
                ),
                hint=Text(
                    "Pick a chat model such as gpt-4o-mini or gpt-4.1-mini.",
                    "gpt-4o-mini나 gpt-4.1-mini 같은 채팅 모델을 고르세요.",
                ),
            )
        mapper = AnswerMapper(model.labels)
        bias = self._bias(model) if kind == COMPLETION else None
        ledger = self._ledger(model, texts, kind, bias)
        results: list[Prediction | None] = ledger.load() if ledger else [None] * len(texts)
        todo = [i for i, p in enumerate(results) if p is None]
        jobs: list[Callable[[], None]]
        if kind == COMPLETION:
            size = self.tuning.prompts_per_request
            groups = [todo[i : i + size] for i in range(0, len(todo), size)]
            jobs = [
                partial(self._completion_request, model, mapper, texts, idx, bias, results) for idx in groups
            ]
            in_flight = self.tuning.completion_in_flight
        else:
            jobs = [partial(self._chat_request, model, mapper, texts[i], i, results) for i in todo]
            in_flight = self.tuning.chat_in_flight
        try:
            self._run(jobs, in_flight, checkpoint=partial(ledger.save, results) if ledger else None)
        except BaseException:
            if ledger:  # what was answered before the failure (or Ctrl-C) is not paid for again
                ledger.save(results)
            raise
        missing = [i for i, p in enumerate(results) if p is None]
        if missing:  # cannot happen unless a server answers short; never hand back partial results
            if ledger:
                ledger.save(results)
            raise errors.FinsentError(
                Text(
                    f"{len(missing)} of {len(texts)} texts got no answer from {model.id}.",
                    f"{len(texts)}개 중 {len(missing)}개 문장이 {model.id}의 답을 받지 못했습니다.",
                ),
                hint=Text(
                    "Retry the run; finished chunks are kept.", "다시 실행하세요. 끝난 묶음은 보존됩니다."
                ),
            )
        if ledger:
            ledger.discard()
        return [p for p in results if p is not None]

    def _ledger(
        self, model: ModelRef, texts: Sequence[str], kind: str, bias: dict[str, int] | None
    ) -> AnswerLedger | None:
        if self.ledger_dir is None:
            return None
        digest = call_digest(self.config, model, tuning_request(self.tuning, kind, bias), texts)
        return AnswerLedger(self.ledger_dir, digest, texts)

    def _run(
        self, jobs: list[Callable[[], None]], in_flight: int, checkpoint: Callable[[], None] | None = None
    ) -> None:
        """Run the requests with at most `in_flight` at a time; the first failure stops the rest and is raised.
        `checkpoint` is called about every LEDGER_EVERY seconds while requests are in flight."""
        if len(jobs) <= 1:
            for job in jobs:
                job()
            return
        with ThreadPoolExecutor(
            max_workers=min(in_flight, len(jobs)), thread_name_prefix="finsent-openai"
        ) as pool:
            futures: list[Future[None]] = [pool.submit(job) for job in jobs]
            try:
                pending: set[Future[None]] = set(futures)
                while pending:
                    # returns at the first failure, when all are done, or after LEDGER_EVERY seconds
                    done, pending = wait(pending, timeout=LEDGER_EVERY, return_when=FIRST_EXCEPTION)
                    failed = next((f for f in done if f.exception() is not None), None)
                    if failed is not None:
                        raise failed.exception()  # type: ignore[misc]
                    if checkpoint is not None and pending:
                        checkpoint()
            except BaseException:
                # Not started is not sent: leaving the pool then waits only for the requests in flight
                # (Ctrl-C included), whose answers the caller still records.
                for future in futures:
                    future.cancel()
                raise

    def _bias(self, model: ModelRef) -> dict[str, int] | None:
        key = (model.id, tuple(model.labels.names))
        with self._lock:
            if key not in self._bias_cache:
                encoding = self.encoding_for(model.id)
                self._bias_cache[key] = first_token_bias(encoding, model.labels.names) if encoding else None
            return self._bias_cache[key]

    # -- requests --------------------------------------------------------------------------------
    def _completion_request(
        self,
        model: ModelRef,
        mapper: AnswerMapper,
        texts: Sequence[str],
        indices: list[int],
        bias: dict[str, int] | None,
        results: list[Prediction | None],
    ) -> None:
        body = completion_body(model, [texts[i] for i in indices], self.tuning, bias)
        client: Any = self.client  # the body is built as a dict, shared with the Batch API
        with openai_errors(self.config, "classify", subject=f"model '{model.id}'"):
            response = client.completions.create(**body)
        for i, prediction in zip(
            indices, completion_predictions(response, mapper, len(indices)), strict=True
        ):
            results[i] = prediction

    def _chat_request(
        self, model: ModelRef, mapper: AnswerMapper, text: str, i: int, results: list[Prediction | None]
    ) -> None:
        client: Any = self.client
        with openai_errors(self.config, "classify", subject=f"model '{model.id}'"):
            response = client.chat.completions.create(**chat_body(model, text, self.tuning))
        results[i] = chat_prediction(response, mapper)


# -- request bodies and answers, shared by live requests and the Batch API --------------------------
def completion_body(
    model: ModelRef, texts: Sequence[str], tuning: ClassifyTuning, bias: dict[str, int] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model.id,
        "prompt": [model.input_format.apply(text) for text in texts],
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": min(5, max(1, tuning.top_logprobs)),
    }
    if bias:
        body["logit_bias"] = bias
    return body


def chat_body(model: ModelRef, text: str, tuning: ClassifyTuning) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model.id,
        "messages": chat_messages(model, text),
        "max_tokens": tuning.chat_max_tokens,
        "temperature": 0,
    }
    if tuning.top_logprobs:
        body |= {"logprobs": True, "top_logprobs": tuning.top_logprobs}
    return body


def completion_predictions(response: Completion, mapper: AnswerMapper, n_prompts: int) -> list[Prediction]:
    """One prediction per prompt, by choice index (a list prompt answers in any order)."""
    choices = sorted(response.choices, key=lambda c: c.index)
    if [c.index for c in choices] != list(range(n_prompts)):
        raise errors.FinsentError(
            Text(
                f"The server answered {len(choices)} choices for {n_prompts} prompts.",
                f"서버가 프롬프트 {n_prompts}개에 답 {len(choices)}개를 보냈습니다.",
            ),
            hint=Text(
                "This server does not take a list of prompts: set prompts_per_request to 1.",
                "이 서버는 프롬프트 목록을 받지 않습니다. prompts_per_request를 1로 설정하세요.",
            ),
        )
    predictions = []
    for choice in choices:
        top, own = None, None
        if choice.logprobs is not None:
            if choice.logprobs.top_logprobs:
                top = choice.logprobs.top_logprobs[0]
            if choice.logprobs.token_logprobs:
                own = choice.logprobs.token_logprobs[0]
        predictions.append(mapper.predict(choice.text, top, own, whole_answer=False))
    return predictions


def chat_prediction(response: ChatCompletion, mapper: AnswerMapper) -> Prediction:
    if not response.choices:
        return mapper.predict(None)
    choice = response.choices[0]
    answer = choice.message.content if choice.message else None
    top, own = None, None
    content = choice.logprobs.content if choice.logprobs is not None else None
    if content:
        first = content[0]
        top = {t.token: t.logprob for t in first.top_logprobs or []} or {first.token: first.logprob}
        own = sum(t.logprob for t in content)
    return mapper.predict(answer, top, own, whole_answer=True)

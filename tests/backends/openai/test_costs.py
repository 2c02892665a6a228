"""Token counts and training cost estimates, offline."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from finsent_openai import costs

from finsent.contract import estimate_tokens
from finsent.contract.errors import InputError
from finsent.ingest.corpus import sample_path
from finsent.ingest.reading import read_table
from finsent.prep.pipeline import PrepareOptions, prepare_dataset

REQUIRED = {
    "babbage-002": "completion",
    "davinci-002": "completion",
    "gpt-4o-mini-2024-07-18": "chat",
    "gpt-4.1-mini-2025-04-14": "chat",
    "gpt-4.1-nano-2025-04-14": "chat",
    "gpt-4o-2024-08-06": "chat",
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def empty_tiktoken_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    costs.cached_encoder.cache_clear()
    yield cache
    costs.cached_encoder.cache_clear()


@pytest.fixture
def dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    return prepare_dataset(read_table(sample_path()), PrepareOptions(), tmp_path / "prepared")[0]


def test_price_list_has_the_models_with_prices_and_date() -> None:
    models = {m["id"]: m for m in costs.openai_base_models()}
    for model_id, kind in REQUIRED.items():
        model = models[model_id]
        assert model["kind"] == kind and model["trainable"] is True
        for key in ("training_per_1m", "input_per_1m", "output_per_1m"):
            assert isinstance(model[key], float) and model[key] > 0
        assert model["context_tokens"] >= 4096
        assert model["prices_as_of"] == costs.prices_as_of()
    assert costs.prices_as_of()[:4].isdigit()
    assert costs.smallest_context()[0] == 16384


def test_estimate_tokens() -> None:
    assert estimate_tokens("삼성전자") == 4
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("한빛 Steel 3%") == 2 + 3  # 2 syllables + ceil(9 other chars / 4)
    assert estimate_tokens("") == 0


def test_estimate_without_cached_encoding_is_flagged_and_offline(
    dataset,
    empty_tiktoken_cache: Path,
    no_network: None,  # type: ignore[no-untyped-def]
) -> None:
    chat = costs.estimate_training_cost(dataset, "gpt-4.1-mini-2025-04-14", epochs=3)
    assert chat.exact is False
    assert chat.total_tokens == chat.tokens_per_epoch * 3
    assert chat.usd == pytest.approx(chat.total_tokens / 1e6 * 5.0, abs=1e-4)
    assert chat.examples == len(dataset.frame("train")) and chat.prices_as_of == costs.prices_as_of()
    completion = costs.estimate_training_cost(dataset, "babbage-002", epochs=1)
    assert completion.kind == "completion" and completion.epochs == 1
    # Chat examples carry a system message and message overhead: more tokens than prompt/completion.
    assert chat.tokens_per_epoch > completion.tokens_per_epoch > 0
    train = dataset.frame("train")
    texts_only = sum(estimate_tokens(t) for t in train["text"])
    assert completion.tokens_per_epoch > texts_only


def test_estimate_all_is_sorted_by_price(dataset, empty_tiktoken_cache: Path) -> None:  # type: ignore[no-untyped-def]
    estimates = costs.estimate_all(dataset, epochs=2)
    assert {e.base_model for e in estimates} == set(REQUIRED)
    assert [e.usd for e in estimates] == sorted(e.usd for e in estimates)
    assert all(e.epochs == 2 for e in estimates)


def test_corrupt_cache_file_is_not_trusted(empty_tiktoken_cache: Path, no_network: None) -> None:
    url, _ = costs._ENCODING_FILES["o200k_base"]
    (empty_tiktoken_cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"not an encoding")
    assert costs._tiktoken_cache_file("o200k_base") is None
    counts, exact = costs.count_tokens(["삼성전자 수주"], "o200k_base")
    assert (counts, exact) == ([estimate_tokens("삼성전자 수주")], False)


def test_openai_logit_bias_never_downloads_an_encoding(
    empty_tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The OpenAI backend's tokenizer (for logit_bias) goes through the same offline check: tiktoken itself
    # would delete a cache file that fails its hash and fetch the encoding again.
    from finsent_openai.classify import cached_encoding
    from tiktoken import load

    fetched: list[str] = []
    monkeypatch.setattr(load, "read_file", lambda url: fetched.append(url) or b"")
    url, _ = costs._ENCODING_FILES["o200k_base"]
    corrupt = empty_tiktoken_cache / hashlib.sha1(url.encode()).hexdigest()
    corrupt.write_bytes(b"not an encoding")
    assert cached_encoding("gpt-4o-mini-2024-07-18") is None
    assert cached_encoding("babbage-002") is None  # cl100k_base: not in the cache at all
    assert fetched == [] and corrupt.read_bytes() == b"not an encoding"


def test_disabled_cache_never_downloads(monkeypatch: pytest.MonkeyPatch, no_network: None) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    costs.cached_encoder.cache_clear()
    try:
        assert costs.count_tokens(["가나다"], "cl100k_base") == ([3], False)
    finally:
        costs.cached_encoder.cache_clear()


def test_exact_counts_when_the_encoding_is_cached(dataset, no_network: None) -> None:  # type: ignore[no-untyped-def]
    if costs._tiktoken_cache_file("o200k_base") is None:
        pytest.skip(
            "tiktoken's o200k_base encoding is not cached on this machine (finsent never downloads it)"
        )
    costs.cached_encoder.cache_clear()
    estimate = costs.estimate_training_cost(dataset, "gpt-4o-mini-2024-07-18", epochs=1)
    assert estimate.exact is True


def test_bad_model_and_epochs(dataset) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="Unknown OpenAI base model"):
        costs.estimate_training_cost(dataset, "gpt-9", epochs=1)
    with pytest.raises(InputError, match="Epochs"):
        costs.estimate_training_cost(dataset, "babbage-002", epochs=0)

"""pytest fixtures for the fake OpenAI server. Import them explicitly in a test module:

from openai_fake.fixtures import openai_server, openai_backend  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from finsent.contract.backend import BackendContext
from finsent.settings import Settings

from .server import TEST_KEY, FakeOpenAI


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    """A fresh fake API per test (real HTTP on 127.0.0.1), recording request/response pairs."""
    server = FakeOpenAI(record=True).start()
    try:
        yield server
    finally:
        server.stop()


def make_backend(server: FakeOpenAI, home: Path, api_key: str | None = TEST_KEY, **config: str):
    """An OpenAIBackend talking to `server` (retries fast, so fault tests stay quick)."""
    from finsent_openai.backend import OpenAIBackend

    settings = Settings.from_env(home)
    cfg = {"base_url": server.base_url, "timeout": "20"} | config
    return OpenAIBackend(BackendContext(settings=settings, api_key=api_key, config=cfg))


@pytest.fixture
def openai_backend(openai_server: FakeOpenAI, finsent_home: Path):
    backend = make_backend(openai_server, finsent_home)
    try:
        yield backend
    finally:
        backend.close()

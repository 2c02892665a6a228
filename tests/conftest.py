"""Fixtures every test shares. Each test gets its own FINSENT_HOME; nothing touches the user's ~/.finsent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` is false, except under CI=true, where it is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def finsent_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("finsent-home")
    monkeypatch.setenv("FINSENT_HOME", str(home))
    # Tests never load installed third-party plugins unless they ask for it.
    monkeypatch.delenv("FINSENT_PLUGINS_DIR", raising=False)
    monkeypatch.delenv("FINSENT_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return home


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    """The Korean Finance PhraseBank from FINSENT_CORPUS (never committed)."""
    raw = os.environ.get("FINSENT_CORPUS", "")
    path = Path(raw) if raw else None
    require(bool(path and path.is_file()), "FINSENT_CORPUS is not set to the corpus file (see README, Tests)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def openapi_path() -> Path:
    """OpenAI's official API description, to keep our test server honest."""
    raw = os.environ.get("FINSENT_OPENAPI", "") or str(
        ROOT.parent / "shared" / "openai-openapi" / "openapi.json"
    )
    path = Path(raw)
    require(path.is_file(), "the OpenAI API description (../shared/openai-openapi/openapi.json) is not here")
    return path

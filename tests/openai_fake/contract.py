"""The OpenAI backend's entry in the backend contract suite (tests/contract_setups.py imports `setup`).

The backend runs through the real openai SDK against our fake API on 127.0.0.1; a suffix starting with
"slow" makes the fake server run that job for minutes, so that the suite can cancel it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finsent.contract.backend import BackendContext
from finsent.settings import Settings

from .server import TEST_KEY, FakeOpenAI


def setup(tmp_path: Path) -> Any:
    from contract_setups import ContractSetup, prepared_sample
    from finsent_openai import OpenAIBackend

    server = FakeOpenAI().start()
    context = BackendContext(
        Settings.from_env(), api_key=TEST_KEY, config={"base_url": server.base_url, "timeout": "20"}
    )
    return ContractSetup(
        backend=OpenAIBackend(context),
        options={"base_model": "gpt-4.1-mini-2025-04-14", "n_epochs": 2},
        slow_options={"base_model": "gpt-4.1-mini-2025-04-14", "suffix": "slow-contract"},
        dataset_dir=prepared_sample(tmp_path / "prepared"),
        teardown=server.stop,
        deadline_seconds=20.0,
    )

"""How the backend contract suite (tests/test_backend_contract.py) gets a ready backend, per backend name.

A setup is a function `setup(tmp_path: Path) -> ContractSetup`, called inside a test (FINSENT_HOME already
points at a fresh folder). It returns:
  - `backend`: an instance, ready to use (servers started, keys set);
  - `options`: training options (a dict for `backend.Options`) for a short job that succeeds;
  - `slow_options`: options for a job that runs long enough to be cancelled (None: cancel is not tested);
  - `dataset_dir`: a prepared dataset folder (see `prepared_sample`);
  - `teardown`: called after the test (stop servers...), optional;
  - `deadline_seconds`: how long a job may take to reach a terminal state.
A backend joins the suite by adding its setup to CONTRACT_SETUPS (the OpenAI one does so from
tests/openai_fake/contract.py, imported at the end of this module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finsent.contract.backend import Backend, BackendContext
from finsent.ingest.corpus import sample_path
from finsent.ingest.reading import read_table
from finsent.prep.pipeline import PrepareOptions, prepare_dataset
from finsent.settings import Settings


@dataclass
class ContractSetup:
    backend: Backend
    options: dict[str, Any]
    dataset_dir: Path
    slow_options: dict[str, Any] | None = None
    teardown: Callable[[], None] | None = None
    deadline_seconds: float = 60.0


def prepared_sample(out_dir: Path) -> Path:
    """The bundled Korean sample (finsent/data/sample_ko.csv) prepared with finsent.prep.pipeline's defaults."""
    if not (out_dir / "manifest.json").is_file():
        table = read_table(sample_path())
        prepare_dataset(table, PrepareOptions(text_column="kor_sentence", label_column="labels"), out_dir)
    return out_dir


def _context() -> BackendContext:
    return BackendContext(Settings.from_env())


def mock_setup(tmp_path: Path) -> ContractSetup:
    from finsent_mock import MockBackend

    return ContractSetup(
        backend=MockBackend(_context()),
        options={"epochs": 2, "steps_per_epoch": 5, "duration_seconds": 0},
        slow_options={"epochs": 2, "steps_per_epoch": 5, "duration_seconds": 120},
        dataset_dir=prepared_sample(tmp_path / "prepared"),
        deadline_seconds=10.0,
    )


def local_setup(tmp_path: Path) -> ContractSetup:
    from finsent_local import LocalBackend

    return ContractSetup(
        backend=LocalBackend(_context()),
        options={"epochs": 3},
        slow_options={"epochs": 50, "epoch_delay_seconds": 1.0},
        dataset_dir=prepared_sample(tmp_path / "prepared"),
        deadline_seconds=60.0,
    )


CONTRACT_SETUPS: dict[str, Callable[..., ContractSetup]] = {"mock": mock_setup, "local": local_setup}

try:  # the OpenAI backend joins with its fake server, when that module exists
    from openai_fake.contract import setup as openai_setup
except ImportError:
    pass
else:
    CONTRACT_SETUPS["openai"] = openai_setup
import transformers_fixtures  # noqa: E402, F401 - the transformers backend adds its setup (a tiny BERT) itself

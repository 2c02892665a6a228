"""finsent built-in backend "mock": simulated fine-tuning and a keyword classifier, offline."""

from __future__ import annotations

from typing import Any

from finsent.contract import hookimpl
from finsent_mock.backend import MockBackend, MockOptions

__all__ = ["MockBackend", "MockOptions", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(MockBackend)

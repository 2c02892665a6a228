"""finsent built-in backend "local": calibrated linear models trained on this computer with scikit-learn."""

from __future__ import annotations

from typing import Any

from finsent.contract import hookimpl
from finsent_local.backend import LocalBackend, LocalOptions

__all__ = ["LocalBackend", "LocalOptions", "register_backends"]


@hookimpl
def register_backends(register: Any) -> None:
    register(LocalBackend)

"""The hooks finsent plugins implement. Hooks are always called with keyword arguments."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("finsent")


@hookspec
def register_backends(register: Any) -> None:
    """Declare the backends this plugin provides: call `register(BackendClass)` for each one."""

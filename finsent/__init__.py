"""finsent: turn labelled financial news into a working sentiment classifier, and use it."""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

# Plugins import this marker: `from finsent import hookimpl`.
hookimpl = pluggy.HookimplMarker("finsent")

__all__ = ["__version__", "hookimpl"]

"""Moved to finsent.contract.backend (kept while finsent/plugins.py moves)."""

from finsent.contract.backend import *  # noqa: F403

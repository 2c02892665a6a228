"""Moved to finsent.contract.hookspecs (kept while finsent/plugins.py moves)."""

from finsent.contract.hookspecs import *  # noqa: F403

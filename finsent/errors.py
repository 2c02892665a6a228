"""Moved to finsent.contract.errors (kept while finsent/plugins.py moves)."""

from finsent.contract.errors import *  # noqa: F403

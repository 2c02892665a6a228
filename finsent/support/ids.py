"""finsent's own ids: a prefix, the day, and random hex ("job-20261202-1a2b3c4d")."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"

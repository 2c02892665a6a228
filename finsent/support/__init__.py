"""Small helpers the core and plugins share: atomic writes, digests, ids, the job folder a worker process
reports through (`finsent.support.jobfolder`). No domain logic lives here."""

from __future__ import annotations

from finsent.support.atomic import atomic_directory, atomic_write_bytes, atomic_write_text
from finsent.support.digests import text_hash, texts_digest
from finsent.support.ids import new_id

__all__ = [
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "new_id",
    "text_hash",
    "texts_digest",
]

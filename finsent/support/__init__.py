"""Small helpers the core and plugins share: atomic writes, digests, ids, the job folder a worker process
reports through (`finsent.support.jobfolder`), private files under FINSENT_HOME and the scrubbing of API
keys from every text that is stored, printed or shown (`finsent.support.secrets`). No domain logic lives
here."""

from __future__ import annotations

from finsent.support.atomic import atomic_directory, atomic_write_bytes, atomic_write_text
from finsent.support.digests import text_hash, texts_digest
from finsent.support.ids import new_id
from finsent.support.private import private_dir, private_file
from finsent.support.secrets import register_secret, scrub, scrub_optional, scrub_value

__all__ = [
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "new_id",
    "private_dir",
    "private_file",
    "register_secret",
    "scrub",
    "scrub_optional",
    "scrub_value",
    "text_hash",
    "texts_digest",
]

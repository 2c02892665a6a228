"""FINSENT_HOME belongs to its user alone: the folder is 0700 and the files finsent writes in it 0600.

It holds the database (job errors, events, raw answers), uploaded inputs and training files. The folder
mode is what actually keeps other users out (nobody else can even list it); the file modes are a second
line for a folder someone loosened. The shells also set the umask PRIVATE_UMASK at start-up, so files
written by any part of finsent (and by the workers it spawns) come out 0600 without each writer knowing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_dir(path: Path | str) -> Path:
    """Create `path` (and its missing parents) readable by this user only; tighten it if it exists."""
    folder = Path(path).expanduser()
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and not applied to a folder that was already there (an older
    # finsent made FINSENT_HOME 0755); a folder owned by someone else is left as it is.
    with contextlib.suppress(PermissionError):
        if folder.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
            os.chmod(folder, PRIVATE_DIR_MODE)
    return folder


def private_file(path: Path | str) -> None:
    """Make an existing file readable and writable by this user only (nothing happens if it is missing)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if os.stat(path).st_mode & 0o777 != PRIVATE_FILE_MODE:
            os.chmod(path, PRIVATE_FILE_MODE)


def create_private_file(path: Path | str) -> None:
    """Create `path` empty with mode 0600 unless it exists (before a library such as SQLite opens it with
    its own default mode, which the files it adds beside it then copy)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    private_file(path)

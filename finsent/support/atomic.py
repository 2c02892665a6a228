"""Writes that either happen completely or not at all.

A file is written to a temporary file in the same folder, flushed to disk and renamed over the target
(`os.replace` is atomic on one file system). A whole output folder is built in a sibling temporary folder
and renamed into place only when everything in it was written, so a failed run leaves nothing half-done.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.support.private import PRIVATE_DIR_MODE


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not every platform lets a folder be opened, hence the guard.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write `data` to `path` atomically; the parent folder is created when missing (0700).

    The file is 0600 whatever the umask: mkstemp creates it so and the rename keeps the mode."""
    return atomic_write_with(path, lambda handle: handle.write(data))


def atomic_write_with(path: Path | str, write: Callable[[BinaryIO], object]) -> Path:
    """`atomic_write_bytes` for a writer that streams into the file (a large table is never held in
    memory as one bytes object besides the table itself)."""
    target = Path(path)
    target.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically (UTF-8 and "\\n" line ends unless told otherwise)."""
    return atomic_write_bytes(path, text.encode(encoding))


def _fsync_tree(folder: Path) -> None:
    for entry in folder.rglob("*"):
        if entry.is_file():
            with contextlib.suppress(OSError), open(entry, "rb") as handle:
                os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_directory(out_dir: Path | str, *, replace_if_contains: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder beside `out_dir`; on success it becomes `out_dir`, on failure it is removed.

    An existing empty `out_dir` is replaced. An existing non-empty one is replaced only when it contains the
    file named `replace_if_contains` (e.g. "manifest.json": an earlier output of the same kind), so a
    mistyped `--out ~` can never wipe a user's folder.
    """
    target = Path(out_dir).expanduser()
    if target.exists() and not target.is_dir():
        raise InputError(
            Text(
                f"{target} exists and is a file, not a folder.", f"{target} 은(는) 폴더가 아니라 파일입니다."
            ),
            hint=Text("Choose another output folder.", "다른 출력 폴더를 지정하세요."),
        )
    replaceable = bool(replace_if_contains) and (target / str(replace_if_contains)).is_file()
    if target.is_dir() and any(target.iterdir()) and not replaceable:
        raise InputError(
            Text(
                f"{target} already exists and is not empty.", f"{target} 폴더가 이미 있고 비어 있지 않습니다."
            ),
            hint=Text(
                "Choose a new folder, or remove this one first.",
                "새 폴더를 지정하거나 기존 폴더를 먼저 지우세요.",
            ),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield work
        _fsync_tree(work)
        # mkdtemp creates 0700; give the result the usual permissions of a folder the user made.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(work, 0o777 & ~umask)
        old: Path | None = None
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
            os.replace(target, old / "previous")
        try:
            os.replace(work, target)
        except BaseException:
            if old is not None:  # put the previous output back
                os.replace(old / "previous", target)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

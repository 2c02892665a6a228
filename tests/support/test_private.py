"""Private files under FINSENT_HOME: folders made 0700 (an existing looser one tightened), atomic writes
0600 whatever the umask, their missing parent folders 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from finsent.support.atomic import atomic_write_text
from finsent.support.private import private_dir, private_file


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_creates_and_tightens(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "home")
    assert mode(made) == 0o700
    os.chmod(made, 0o755)
    assert mode(private_dir(made)) == 0o700


def test_private_file_tightens_an_existing_file_and_ignores_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    assert mode(path) == 0o644
    private_file(path)
    assert mode(path) == 0o600
    private_file(tmp_path / "missing")


def test_atomic_writes_are_0600_and_their_new_folders_0700(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "new" / "answers.json", "{}")
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    atomic_write_text(target, "{}")  # replaced: still private
    assert mode(target) == 0o600


def test_a_job_folder_progress_log_is_0600_under_a_loose_umask(tmp_path: Path) -> None:
    from finsent.support.jobfolder import PROGRESS, JobFolder

    folder = JobFolder(tmp_path / "job")
    folder.path.mkdir()
    folder.add_event("started")
    assert mode(folder.path / PROGRESS) == 0o600

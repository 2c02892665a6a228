"""The output files written, hashed and fsynced by a thread: the same bytes and digests as written in line,
and a failure in the thread is raised in the caller, leaving no output folder behind."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pandas as pd
import pytest

from finsent.ingest.reading import LoadedTable
from finsent.prep import filewriter
from finsent.prep.filewriter import HashedFileWriter
from finsent.prep.pipeline import PrepareOptions, prepare_dataset


def _table(n: int = 30) -> LoadedTable:
    rows = [
        (f"{label} 뉴스 문장 {i}번", label) for label in ("positive", "negative", "neutral") for i in range(n)
    ]
    frame = pd.DataFrame(rows, columns=["text", "label"], dtype=str)
    return LoadedTable(frame, "t.csv", "csv", "utf-8", sha256="0" * 64, delimiter=",")


def test_files_are_written_in_order_with_the_digest_of_their_bytes(tmp_path: Path) -> None:
    pieces = {"a.csv": [f"{i},조각\n".encode() for i in range(500)], "b.jsonl": [b"{}\n"] * 300}
    with HashedFileWriter(tmp_path) as writer:
        for i in range(500):  # interleaved, as the blocks of a split's files come
            writer.write("a.csv", pieces["a.csv"][i])
            if i < 300:
                writer.write("b.jsonl", pieces["b.jsonl"][i])
        writer.close("a.csv")
        writer.close("b.jsonl")
        writer.close("empty.txt")  # a file without bytes is still written
        digests = writer.finish()
    expected = {name: b"".join(parts) for name, parts in pieces.items()} | {"empty.txt": b""}
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == expected
    assert digests == {name: hashlib.sha256(data).hexdigest() for name, data in expected.items()}


def test_a_failure_in_the_thread_is_raised_in_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(filewriter.os, "fsync", disk_full)
    writer = HashedFileWriter(tmp_path)
    writer.write("a.csv", b"x")
    writer.close("a.csv")  # fails in the thread
    with pytest.raises(OSError, match="No space"):
        for _ in range(100):  # raised at a later call at the latest
            writer.write("b.csv", b"y" * 1000)
        writer.finish()
    with pytest.raises(OSError, match="No space"):
        writer.finish()
    assert not any(t.name == "finsent-writer" for t in threading.enumerate())


def test_a_failure_while_writing_leaves_no_output_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    calls: list[int] = []

    def fails_on_the_fourth_file(fd: int) -> None:  # after the reports and the validation CSV
        calls.append(fd)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(filewriter.os, "fsync", fails_on_the_fourth_file)
    with pytest.raises(OSError, match="No space"):
        prepare_dataset(_table(), PrepareOptions(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
    assert not any(t.name == "finsent-writer" for t in threading.enumerate())


def test_an_error_in_the_caller_stops_the_thread(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="laying out"), HashedFileWriter(tmp_path) as writer:
        writer.write("a.csv", b"x")
        raise RuntimeError("a bug while laying out a block")
    assert not any(t.name == "finsent-writer" for t in threading.enumerate())


def _write_blocks(folder: Path, blocks: int = 12) -> dict[str, bytes]:
    data = {"a.csv": [bytes([65 + i % 26]) * 50_000 for i in range(blocks)], "b.jsonl": [b"{}\n" * 9000]}
    with HashedFileWriter(folder) as writer:
        for name, parts in data.items():
            for part in parts:
                writer.write(name, part)
            writer.close(name)
        digests = writer.finish()
    joined = {name: b"".join(parts) for name, parts in data.items()}
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == joined
    assert digests == {name: hashlib.sha256(data).hexdigest() for name, data in joined.items()}
    assert not any(t.name in ("finsent-writer", "finsent-sync") for t in threading.enumerate())
    return joined


def test_the_disk_is_asked_for_the_bytes_while_more_come_and_never_for_a_closed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_flight: list[int] = []
    synced: list[int] = []
    real_datasync, real_fsync = filewriter._datasync, os.fsync

    def slow_datasync(fd: int) -> None:  # slow enough for the writer to come to a file's end meanwhile
        in_flight.append(fd)
        threading.Event().wait(0.02)
        real_datasync(fd)
        synced.append(fd)
        in_flight.remove(fd)

    def final_fsync(fd: int) -> None:
        assert fd not in in_flight  # a file is closed only when no background sync uses it
        real_fsync(fd)

    monkeypatch.setattr(filewriter, "_datasync", slow_datasync)
    monkeypatch.setattr(filewriter.os, "fsync", final_fsync)
    _write_blocks(tmp_path)
    assert synced  # the background syncs ran, beside the writes


def test_a_failing_background_sync_is_left_to_the_final_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(filewriter, "_datasync", broken)
    _write_blocks(tmp_path)  # complete and hashed: only the fsync at a file's end makes it durable

    real_fsync = os.fsync
    failures = iter([OSError(5, "Input/output error")])

    def final_fails(fd: int) -> None:
        error = next(failures, None)
        if error is not None:
            raise error
        real_fsync(fd)

    monkeypatch.setattr(filewriter.os, "fsync", final_fails)
    second = tmp_path / "second"
    second.mkdir()
    with pytest.raises(OSError, match="Input/output"):  # ... which still reports a failing disk
        _write_blocks(second)
    assert not any(t.name in ("finsent-writer", "finsent-sync") for t in threading.enumerate())

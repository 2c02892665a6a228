"""A JSON Lines file read by a child process while the parent is still importing pandas.

`finsent prepare data.jsonl` spends about half a second importing pandas and the pipeline before it can
read a line, on one core of a machine that usually has two. Reading JSON Lines needs neither (decoding,
`json.loads`, every limit of `InputLimits`: `finsent.ingest.jsonlines`), so a child forked before those
imports reads the file on the other core and hands the cells back through a pipe, a column a few
thousand cells at a time, each part as one text (its cells joined by a NUL, or with their lengths when a
cell holds a NUL) in latin-1 when it fits, else UTF-16, which the parent decodes
and splits several times faster than pickle would rebuild the same strings.

Only a complete read is handed back. When the child fails for any reason (a limit, broken JSON, a bug, a
signal), `JsonlPrefetch.result` says None and the reader reads the file itself, so every error is the one
a read without a child gives, raised in the parent. Without `os.fork` (Windows), and for files over
`MAX_MB` (the cells are in both processes while they go through the pipe), nothing is started.
"""

from __future__ import annotations

import array
import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import signal
import threading
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import BinaryIO

from finsent.ingest.filebytes import checked_bytes, checked_path, input_format
from finsent.ingest.jsonlines import (
    JsonlCells,
    check_lines,
    joined_cells,
    read_jsonl_data,
    read_jsonl_lines,
    utf8_lines_start,
)
from finsent.ingest.limits import InputLimits

#: files up to this size (MB) are read by a child: while it hands its cells over, they are in memory twice
#: (about +5% of the peak of a 36 MB file, +35% of a 224 MB one), so a larger file is read in the process,
#: within the memory its reader is known to take
MAX_MB = 64

#: the child's share of the lines of a file of at least _SPLIT_BYTES; the parent reads the others once it
#: has imported pandas (about 0.6 s), so that both finish at about the same time
CHILD_SHARE = 0.75
_SPLIT_BYTES = 1024 * 1024
#: cells of a column sent at a time
_PART_ROWS = 32_768
#: joins the cells of a part when no cell holds it
_SEPARATOR = "\x00"
#: the codecs tried in order: the first that encodes a part is the one sent
#: (a lone surrogate, which UTF-16 cannot encode, is an input error of the reader: it never gets here)
_CODECS = ("latin-1", "utf-16-le")


@dataclass(frozen=True)
class PrefetchedJsonl:
    """What was read: the cells, the file's encoding, the sha256 of the bytes parsed, and where in them
    the child stopped (the parent reads the lines from there on)."""

    cells: JsonlCells
    encoding: str
    sha256: str
    split: int


class JsonlPrefetch:
    """A child process reading one JSON Lines file; `result` takes its cells once, `close` stops it."""

    def __init__(self, pid: int, pipe: BinaryIO, path: Path, limits: InputLimits) -> None:
        self._pid: int | None = pid
        self._pipe = pipe
        self.path, self.limits = path, limits

    def result(self, path: Path, limits: InputLimits) -> PrefetchedJsonl | None:
        """The cells, when the child read `path` with `limits` completely; None otherwise (the caller then
        reads the file itself). The child is finished either way."""
        if self._pid is None or Path(path) != self.path or limits != self.limits:
            self.close()
            return None
        try:  # the file's last lines, read here while the child reads the others
            own = _read_end(path, limits)
        except Exception:  # whatever is wrong, the read of the whole file here raises it
            own = None
        try:
            received = _receive(self._pipe)
        except (OSError, EOFError, ValueError, UnicodeDecodeError, KeyError, TypeError):
            received = None  # a child that died mid-way (its exit status says so too)
        succeeded = self._wait() == 0
        if not succeeded or received is None or own is None:
            return None
        if (own.sha256, own.split) != (received.sha256, received.split):
            return None  # the file changed in between
        cells = joined_cells(received.cells, own.cells) if own.cells.rows else received.cells
        if len(cells.names) > limits.max_columns:
            return None
        return dataclasses.replace(received, cells=cells)

    def close(self) -> None:
        """Stop the child if it still runs (its result not taken) and reap it."""
        if self._pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            self._wait()

    def _wait(self) -> int:
        """The child's exit status (-1 when it was killed); closes the pipe."""
        self._pipe.close()
        pid, self._pid = self._pid, None
        if pid is None:
            return -1
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def __enter__(self) -> JsonlPrefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def other_threads_running() -> bool:
    """Whether a thread besides this one runs (the CLI has none when it starts reading; the dashboard has)."""
    return threading.active_count() > 1


def start_jsonl_prefetch(path: Path, limits: InputLimits) -> JsonlPrefetch | None:
    """Fork a child that reads `path` (when its name says JSON Lines) with `limits`; None when nothing is
    started: another format, no such file, a file over MAX_MB, no fork on this platform, or other threads
    running (a fork copies only the calling thread, and a lock another one holds would stay held in the
    child)."""
    if input_format(b"", path.name) != "jsonl" or not hasattr(os, "fork"):
        return None
    if other_threads_running() or not path.is_file() or path.stat().st_size > MAX_MB * 1024 * 1024:
        return None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs the parent's exit handlers
        status = 1
        try:
            gc.disable()  # a dict per line, none in a cycle, and the child ends next: finsent.support.gcpause
            os.close(read_fd)
            with os.fdopen(write_fd, "wb") as pipe:
                _send(pipe, _read(path, limits))
            status = 0
        except BaseException:  # the parent reads the file itself, and raises what is wrong with it
            pass
        finally:
            os._exit(status)
    os.close(write_fd)
    return JsonlPrefetch(pid, os.fdopen(read_fd, "rb"), path, limits)


def _split(data: bytes, start: tuple[int, str] | None) -> int:
    """Where the child's share of the lines ends: just after a newline about CHILD_SHARE into the lines
    of a file read as UTF-8 lines; the end of the file for others and small ones."""
    if start is None or len(data) < _SPLIT_BYTES:
        return len(data)
    newline = data.find(b"\n", start[0] + int((len(data) - start[0]) * CHILD_SHARE))
    return len(data) if newline < 0 else newline + 1


def _read(path: Path, limits: InputLimits) -> PrefetchedJsonl:
    """In the child: what `finsent.ingest.reading.read_table` does to a JSONL path, up to the frame, for
    the lines up to `_split` (all of them when the file is not read as UTF-8 lines)."""
    path, label = checked_path(path, None, limits.max_input_mb)
    data = checked_bytes(path.read_bytes(), label, limits.max_input_mb)
    if input_format(data, label) != "jsonl":
        raise ValueError("not JSON Lines")
    check_lines(data, label, limits)
    start = utf8_lines_start(data, label)
    split = _split(data, start)
    if start is not None and split < len(data):
        cells, encoding = read_jsonl_lines(data, start[0], split, label, limits), start[1]
    else:
        (cells, encoding), split = read_jsonl_data(data, label, limits), len(data)
    return PrefetchedJsonl(cells, encoding, hashlib.sha256(data).hexdigest(), split)


def _read_end(path: Path, limits: InputLimits) -> PrefetchedJsonl:
    """In the parent: the lines after `_split`, from its own read of the file (compared by sha256)."""
    path, label = checked_path(path, None, limits.max_input_mb)
    data = checked_bytes(path.read_bytes(), label, limits.max_input_mb)
    start = utf8_lines_start(data, label)
    split = _split(data, start)
    none = JsonlCells([], [], 0)
    cells = read_jsonl_lines(data, split, len(data), label, limits) if split < len(data) else none
    return PrefetchedJsonl(cells, start[1] if start else "", hashlib.sha256(data).hexdigest(), split)


# -- the pipe: frames of an 8-byte length and that many bytes -------------------------------------------


def _send(pipe: BinaryIO, read: PrefetchedJsonl) -> None:
    """The head, then each column in parts of _PART_ROWS cells: the parent decodes a part while the next
    one is encoded here."""
    cells = read.cells
    head = {"encoding": read.encoding, "sha256": read.sha256, "split": read.split}
    head |= {"names": cells.names, "rows": cells.rows}
    _put(pipe, json.dumps(head).encode("ascii"))  # ASCII JSON: any key, lone surrogates too, goes through
    for column in cells.columns:
        for start in range(0, cells.rows, _PART_ROWS):
            values = column[start : start + _PART_ROWS]
            joined = _SEPARATOR.join(values)
            if joined.count(_SEPARATOR) == len(values) - 1:  # no cell holds the separator
                lengths = b"split"
            else:
                lengths = array.array("q", map(len, values)).tobytes()
                joined = "".join(values)
            codec, text = _encoded(joined)
            del joined
            _put(pipe, codec.encode("ascii"))
            _put(pipe, lengths)
            _put(pipe, text)
            del text


def _encoded(text: str) -> tuple[str, bytes]:
    with contextlib.suppress(UnicodeEncodeError):
        return _CODECS[0], text.encode(_CODECS[0])
    return _CODECS[1], text.encode(_CODECS[1])


def _receive(pipe: BinaryIO) -> PrefetchedJsonl:
    head = json.loads(_take(pipe))
    rows: int = head["rows"]
    columns: list[list[str]] = []
    for _ in head["names"]:
        values: list[str] = []
        for start in range(0, rows, _PART_ROWS):
            codec = _take(pipe).decode("ascii")
            lengths, data = _take(pipe), _take(pipe)
            if codec not in _CODECS:
                raise ValueError(f"unknown codec {codec!r}")
            joined = data.decode(codec)
            del data
            if lengths == b"split":
                part = joined.split(_SEPARATOR)
            else:
                ends = list(accumulate(array.array("q", lengths)))
                part = list(map(joined.__getitem__, map(slice, [0, *ends[:-1]], ends)))
            del joined
            if len(part) != min(_PART_ROWS, rows - start):
                raise ValueError("a part of the wrong length")
            values += part
        columns.append(values)
    if pipe.read(1):
        raise ValueError("more than the child sent")
    cells = JsonlCells(list(head["names"]), columns, rows)
    return PrefetchedJsonl(cells, head["encoding"], head["sha256"], head["split"])


def _put(pipe: BinaryIO, data: bytes) -> None:
    pipe.write(len(data).to_bytes(8, "little"))
    pipe.write(data)


def _take(pipe: BinaryIO) -> bytes:
    size = pipe.read(8)
    data = pipe.read(int.from_bytes(size, "little")) if len(size) == 8 else b""
    if len(size) != 8 or len(data) != int.from_bytes(size, "little"):
        raise EOFError("the child stopped mid-way")
    return data

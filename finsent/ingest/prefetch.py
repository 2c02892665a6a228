"""A JSON Lines file read by a child process while the parent is still importing pandas.

`finsent prepare data.jsonl` spends about half a second importing pandas and the pipeline before it can
read a line, on one core of a machine that usually has two. Reading JSON Lines needs neither (decoding,
`json.loads`, every limit of `InputLimits`: `finsent.ingest.jsonlines`), so a child forked before those
imports reads the file on the other core and hands the cells back, a column a few thousand cells at a
time, each part as one text (its cells joined by a NUL, or with their lengths when a cell holds a NUL)
in latin-1 when it fits, else UTF-16, which the parent decodes and splits several times faster than
pickle would rebuild the same strings. The parts go into memory the two processes share (an anonymous
shared map made before the fork), the pipe carries only where each one is: the child finishes without
waiting for the parent, which is still importing, and the parent decodes straight from the map (through
the pipe itself, the parts took 0.2 s to come across, against 0.1 s to decode). A part that does not fit
in the map goes through the pipe.

The parent reads the file's last lines itself meanwhile: only those bytes, from just after the newline
that the child's share ends with (found the same way in both), and checks them against the child's
digest of the same bytes, so the two shares are of one version of the file.

Only a complete read is handed back. When the child fails for any reason (a limit, broken JSON, a bug, a
signal), `JsonlPrefetch.result` says None and the reader reads the file itself, so every error is the one
a read without a child gives, raised in the parent. Without `os.fork` (Windows), and for files over
`MAX_MB` (the cells are in both processes while they go through the pipe), nothing is started.
"""

from __future__ import annotations

import array
import codecs
import contextlib
import dataclasses
import gc
import hashlib
import importlib
import json
import mmap
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
from finsent.support.frames import put_frame, take_frame

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
#: marks the codec of a part whose text is in the shared map
_IN_MAP = "@map"
#: the shared map's room beyond twice the file's size (the NULs between cells of short lines)
_MAP_SLACK = 1024 * 1024


@dataclass(frozen=True)
class PrefetchedJsonl:
    """What was read: the cells, the file's encoding, the sha256 of the bytes parsed, and where in them
    the child stopped (the parent reads the lines from there on)."""

    cells: JsonlCells
    encoding: str
    sha256: str
    split: int
    #: the file's size in bytes, and the sha256 of its bytes from `split` on (the parent's share)
    size: int = 0
    tail_sha256: str = ""


class JsonlPrefetch:
    """A child process reading one JSON Lines file; `result` takes its cells once, `close` stops it."""

    def __init__(
        self, pid: int, pipe: BinaryIO, orders: BinaryIO, shared: mmap.mmap, path: Path, limits: InputLimits
    ) -> None:
        self._pid: int | None = pid
        self._pipe, self._orders, self._shared = pipe, orders, shared
        self.path, self.limits = path, limits
        #: the child's cells were taken: it waits for one more job (`run_job`)
        self.serving = False
        self._taken = False
        #: rows the child holds the cells of: the first ones of the table
        self.child_rows = 0

    def result(self, path: Path, limits: InputLimits) -> PrefetchedJsonl | None:
        """The cells, when the child read `path` with `limits` completely; None otherwise (the caller then
        reads the file itself). The child then either ended, or waits for a job on its cells (`run_job`)
        until `close`. Its cells are taken once: a second call says None."""
        taken = self._take_result(path, limits)
        if taken is None:
            self.close()
        else:
            self.serving = True
        return taken

    def _take_result(self, path: Path, limits: InputLimits) -> PrefetchedJsonl | None:
        if self._pid is None or self._taken or Path(path) != self.path or limits != self.limits:
            return None
        self._taken = True
        try:  # the file's last lines, read here while the child reads the others
            own = _read_end(path, limits)
        except Exception:  # whatever is wrong, the read of the whole file here raises it
            own = None
        try:
            received = _receive(self._pipe, self._shared)
        except (OSError, EOFError, ValueError, UnicodeDecodeError, KeyError, TypeError):
            received = None  # a child that died mid-way (its exit status says so too)
        if received is None:
            return None
        self.child_rows = received.cells.rows
        if received.split == received.size:  # the child read every line (a small file, or not UTF-8 lines)
            return received if len(received.cells.names) <= limits.max_columns else None
        if own is None or (own.size, own.split, own.tail_sha256) != (
            received.size,
            received.split,
            received.tail_sha256,
        ):
            return None  # the file changed in between
        cells = joined_cells(received.cells, own.cells) if own.cells.rows else received.cells
        if len(cells.names) > limits.max_columns:
            return None
        return dataclasses.replace(received, cells=cells)

    def run_job(self, job: str, order: bytes) -> tuple[BinaryIO, mmap.mmap] | None:
        """Ask the child, which holds the cells of its share of the lines (the first `rows_read` rows), to
        run `job` ("module:function", called as function(cells, order, shared, answers) in the child) on
        them: the pipe its answers come through and the map they point into; None when the child
        cannot take a job. It takes one; what it answers is the job's to define."""
        if not self.serving or self._pid is None:
            return None
        self.serving = False
        try:
            put_frame(self._orders, job.encode("utf-8"))
            put_frame(self._orders, order)
            self._orders.flush()
        except OSError:  # the child is gone
            return None
        return self._pipe, self._shared

    def close(self) -> None:
        """Stop the child if it still runs and reap it; close the pipes and the shared map."""
        self.serving = False
        if self._pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = None
        for pipe in (self._pipe, self._orders):
            with contextlib.suppress(OSError):
                pipe.close()
        with contextlib.suppress(BufferError):  # a job's answer still in use: freed with it
            self._shared.close()

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
    # Room for the cells of every line: UTF-16 takes at most two bytes per byte of UTF-8 (a part that
    # does not fit goes through the pipe). Only the pages the child writes take memory.
    shared = mmap.mmap(-1, _map_bytes(path.stat().st_size))
    read_fd, write_fd = os.pipe()
    orders_read, orders_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, never runs the parent's exit handlers
        status = 1
        try:
            gc.disable()  # a dict per line, none in a cycle, and the child ends next: finsent.support.gcpause
            os.close(read_fd)
            os.close(orders_write)
            with os.fdopen(write_fd, "wb") as pipe, os.fdopen(orders_read, "rb") as orders:
                read = _read(path, limits)
                _send(pipe, read, shared)
                pipe.flush()
                _serve(read.cells, orders, pipe, shared)
            status = 0
        except BaseException:  # the parent reads the file itself, and raises what is wrong with it
            pass
        finally:
            os._exit(status)
    os.close(write_fd)
    os.close(orders_read)
    return JsonlPrefetch(pid, os.fdopen(read_fd, "rb"), os.fdopen(orders_write, "wb"), shared, path, limits)


def _serve(cells: JsonlCells, orders: BinaryIO, answers: BinaryIO, shared: mmap.mmap) -> None:
    """In the child, once its cells are sent: wait for one job, run it, end (EOF: no job)."""
    try:
        job = take_frame(orders).decode("utf-8")
        order = take_frame(orders)
    except EOFError:
        return
    module, _, name = job.partition(":")
    getattr(importlib.import_module(module), name)(cells, order, shared, answers)
    answers.flush()


def _map_bytes(size: int) -> int:
    """The shared map's size for a file of `size` bytes (two bytes of UTF-16 at most per byte of UTF-8)."""
    return 2 * size + _MAP_SLACK


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
    tail = hashlib.sha256(memoryview(data)[split:]).hexdigest()
    return PrefetchedJsonl(cells, encoding, hashlib.sha256(data).hexdigest(), split, len(data), tail)


def _read_end(path: Path, limits: InputLimits) -> PrefetchedJsonl:
    """In the parent: the lines after `_split`, from its own read of just those bytes (the cells, the
    split, the size, and the sha256 of the bytes read; the other fields are the child's to give)."""
    path, label = checked_path(path, None, limits.max_input_mb)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start = len(codecs.BOM_UTF8) if handle.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
        tail, split = b"", size
        if size >= _SPLIT_BYTES:  # as `_split` finds it: the first newline from CHILD_SHARE on
            position = start + int((size - start) * CHILD_SHARE)
            handle.seek(position)
            rest = handle.read()
            size = position + len(rest)  # the bytes there are now
            newline = rest.find(b"\n")
            split = size if newline < 0 else position + newline + 1
            tail = rest[newline + 1 :] if newline >= 0 else b""
    none = JsonlCells([], [], 0)
    cells = read_jsonl_lines(tail, 0, len(tail), label, limits) if tail else none
    return PrefetchedJsonl(cells, "", "", split, size, hashlib.sha256(tail).hexdigest())


# -- the pipe: frames of an 8-byte length and that many bytes -------------------------------------------


def _send(pipe: BinaryIO, read: PrefetchedJsonl, shared: mmap.mmap) -> None:
    """The head, then each column in parts of _PART_ROWS cells: a part's text goes into `shared` when it
    fits, and the pipe says where (its codec marked `_IN_MAP`, then a frame of offset and length)."""
    cells = read.cells
    head = {"encoding": read.encoding, "sha256": read.sha256, "split": read.split}
    head |= {"size": read.size, "tail_sha256": read.tail_sha256}
    head |= {"names": cells.names, "rows": cells.rows}
    put_frame(
        pipe, json.dumps(head).encode("ascii")
    )  # ASCII JSON: any key, lone surrogates too, goes through
    used = 0  # bytes of the shared map taken
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
            if used + len(text) <= len(shared):
                shared[used : used + len(text)] = text
                put_frame(pipe, (codec + _IN_MAP).encode("ascii"))
                put_frame(pipe, lengths)
                put_frame(pipe, b"%d,%d" % (used, len(text)))
                used += len(text)
            else:
                put_frame(pipe, codec.encode("ascii"))
                put_frame(pipe, lengths)
                put_frame(pipe, text)
            del text
    put_frame(pipe, _END)


#: the frame after the last part of the cells
_END = b"end of cells"


def _encoded(text: str) -> tuple[str, bytes]:
    with contextlib.suppress(UnicodeEncodeError):
        return _CODECS[0], text.encode(_CODECS[0])
    return _CODECS[1], text.encode(_CODECS[1])


def _receive(pipe: BinaryIO, shared: mmap.mmap) -> PrefetchedJsonl:
    head = json.loads(take_frame(pipe))
    rows: int = head["rows"]
    columns: list[list[str]] = []
    for _ in head["names"]:
        values: list[str] = []
        for start in range(0, rows, _PART_ROWS):
            codec = take_frame(pipe).decode("ascii")
            lengths, data = take_frame(pipe), take_frame(pipe)
            in_map = codec.endswith(_IN_MAP)
            codec = codec.removesuffix(_IN_MAP)
            if codec not in _CODECS:
                raise ValueError(f"unknown codec {codec!r}")
            if in_map:
                offset, size = map(int, data.split(b","))
                if not 0 <= offset <= offset + size <= len(shared):
                    raise ValueError("a part outside the shared map")
                with memoryview(shared) as view:
                    joined = str(view[offset : offset + size], codec)
            else:
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
    if take_frame(pipe) != _END:
        raise ValueError("more than the child sent")
    cells = JsonlCells(list(head["names"]), columns, rows)
    return PrefetchedJsonl(
        cells, head["encoding"], head["sha256"], head["split"], head["size"], head["tail_sha256"]
    )

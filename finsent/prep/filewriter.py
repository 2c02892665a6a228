"""The output files of a preparation, hashed, written and fsynced by a thread while the caller lays out the
next block of bytes.

Laying out a block (`finsent.prep.trainfiles`) is Python work that holds the GIL; hashing, writing and
fsync release it, so on a second core they cost the caller almost nothing (about 0.2 s of a 200,000-row
preparation). The queue between them holds a few blocks at most, so a file is still never held whole. A
failure in the thread (a full disk) is raised again in the caller at its next call, and the caller's
folder is temporary (`finsent.support.atomic.atomic_directory`): no half-written file is ever left.

The system writes a file's pages to the disk only when asked (or half a minute later), so the fsync of
each file would wait for all of it at its end: the 54 MB of a 200,000-row training split took 0.12-0.18 s
after the last block was laid out. A third thread (`_BackgroundSync`) asks for what was written so far
whenever it is idle, so the disk works while the caller lays out the next blocks, and the fsync at the
end waits only for the last of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import BinaryIO

#: blocks (of one file each) waiting for the thread at most: a few MB
MAX_PENDING = 4

#: a queue item: ("write", name, bytes), ("close", name, b""), or None to stop
_Item = tuple[str, str, bytes] | None


class HashedFileWriter:
    """Files in `folder`, each written in order by `write` calls and finished by `close`; `finish` waits for
    every file to be on disk and returns {name: sha256 of its bytes}, computed as they are written (a file
    is never read back). A context manager: leaving it, even on an error, stops the thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._queue: queue.Queue[_Item] = queue.Queue(MAX_PENDING)
        self._digests: dict[str, str] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="finsent-writer", daemon=True)
        self._thread.start()

    def write(self, name: str, data: bytes) -> None:
        """Append `data` to the file `name` (created by its first write)."""
        self._put(("write", name, data))

    def close(self, name: str) -> None:
        """No more bytes for `name`: the thread flushes and fsyncs it."""
        self._put(("close", name, b""))

    def finish(self) -> dict[str, str]:
        """Wait until every file is written and fsynced; {name: sha256}. Raises what failed in the thread."""
        self._stop()
        if self._error is not None:
            raise self._error
        return dict(self._digests)

    def _put(self, item: _Item) -> None:
        if self._error is not None or not self._thread.is_alive():
            self._stop()
            raise self._error or RuntimeError("the file writer stopped")
        self._queue.put(item)

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        with contextlib.ExitStack() as stack:  # closes what a failure left open
            handles: dict[str, tuple[BinaryIO, hashlib._Hash]] = {}
            syncing = _BackgroundSync()
            stack.callback(syncing.stop)
            while (item := self._queue.get()) is not None:
                action, name, data = item
                if self._error is not None:  # failed: take what comes until told to stop
                    continue
                try:
                    if name not in handles:  # created by its first write (or its close: no bytes)
                        handles[name] = (
                            stack.enter_context(open(self.folder / name, "wb")),
                            hashlib.sha256(),
                        )
                    handle, digest = handles[name]
                    if action == "write":
                        digest.update(data)
                        handle.write(data)
                        syncing.nudge(handle.fileno())
                    else:
                        del handles[name]
                        syncing.settle()  # its descriptor is not in use there when it is closed
                        handle.flush()
                        os.fsync(handle.fileno())
                        handle.close()
                        self._digests[name] = digest.hexdigest()
                except BaseException as exc:  # raised again in the caller
                    self._error = exc

    def __enter__(self) -> HashedFileWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()


class _BackgroundSync:
    """`fdatasync` of the file being written, in a thread of its own, whenever that thread is idle: each
    call puts on disk what was written until then (the writer's fsync at the file's end still makes it
    all durable; an error here is left for that fsync to report)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[int | None] = queue.Queue(1)
        self._thread = threading.Thread(target=self._run, name="finsent-sync", daemon=True)
        self._thread.start()

    def nudge(self, fd: int) -> None:
        """Sync `fd` soon, unless a sync is already waiting (never blocks)."""
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(fd)

    def settle(self) -> None:
        """Wait until no sync is waiting or running."""
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (fd := self._queue.get()) is not None:
            try:
                _datasync(fd)
            except OSError:
                pass
            finally:
                self._queue.task_done()
        self._queue.task_done()


#: fdatasync where the platform has it (it skips metadata the file's final fsync writes anyway)
_datasync = getattr(os, "fdatasync", os.fsync)

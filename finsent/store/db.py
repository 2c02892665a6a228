"""SQLite access: one short-lived connection per operation, WAL, and explicit write transactions.

Why this shape: the dashboard (several browser sessions, background threads) and CLI processes write the
same file at once. WAL lets readers run beside a writer; `BEGIN IMMEDIATE` takes the write lock up front so
a transaction never has to upgrade a read lock (which SQLite refuses with "database is locked" without
waiting); `busy_timeout` makes writers queue instead of failing.

Opening the database is the first thing every process does, so it is also where FINSENT_HOME is made
private (0700) and the database file 0600 before SQLite first opens it: SQLite gives the -wal and -shm
files it adds the database file's mode.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from finsent.store.schema import migrate
from finsent.support.private import create_private_file, private_dir, private_file

BUSY_TIMEOUT_S = 30.0


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)
        create_private_file(self.path)
        for companion in ("-wal", "-shm", "-journal"):  # left 0644 by an older finsent
            private_file(f"{self.path}{companion}")
        self._ready = False
        self._ready_lock = threading.Lock()
        self._ensure_ready()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = OFF")
        return conn

    def _ensure_ready(self) -> None:
        with self._ready_lock:
            if self._ready:
                return
            conn = self._connect()
            try:
                # journal_mode needs a moment without other writers; retry briefly if a peer is busy.
                for attempt in range(50):
                    try:
                        conn.execute("PRAGMA journal_mode = WAL")
                        break
                    except sqlite3.OperationalError:
                        if attempt == 49:
                            raise
                        time.sleep(0.1)
                migrate(conn)
            finally:
                conn.close()
            self._ready = True

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

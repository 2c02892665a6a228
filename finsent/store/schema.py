"""The store's schema as an ordered list of migrations. Never edit a released migration: append one.

`schema_version` holds one row: the number of migrations applied. A database written by an older finsent
is brought up to date when it is opened; several processes opening it at once migrate it exactly once
(the check and the migration run in one BEGIN IMMEDIATE transaction). A step is an SQL statement, or a
function of the connection for a change of the data itself.

Paths under FINSENT_HOME are stored relative to it (`stored_path`, `home_path`), so a home that is moved
or copied keeps working with its own files; paths outside it stay absolute.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

#: one step of a migration: an SQL statement, or a function that changes the data with the connection
Step = str | Callable[[sqlite3.Connection], None]

# v1: datasets, jobs and their history, models, evaluations.
_V1 = [
    """CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        directory TEXT NOT NULL UNIQUE,
        input_sha256 TEXT NOT NULL DEFAULT '',
        rows INTEGER NOT NULL DEFAULT 0,
        manifest TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        external_id TEXT,
        dataset_id TEXT REFERENCES datasets(id),
        base_model TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',
        input_format TEXT NOT NULL DEFAULT '{}',
        training TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        fine_tuned_model TEXT,
        error TEXT,
        progress REAL,
        poll_cursor TEXT,
        polled_at REAL,
        evaluation_state TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL
    )""",
    "CREATE INDEX jobs_by_created ON jobs(created_at)",
    """CREATE TABLE events (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        seq INTEGER NOT NULL,
        created_at REAL NOT NULL,
        level TEXT NOT NULL DEFAULT 'info',
        message TEXT NOT NULL,
        external_id TEXT,
        PRIMARY KEY (job_id, seq)
    )""",
    "CREATE UNIQUE INDEX events_by_external_id ON events(job_id, external_id) WHERE external_id IS NOT NULL",
    """CREATE TABLE metrics (
        job_id TEXT NOT NULL REFERENCES jobs(id),
        step INTEGER NOT NULL,
        epoch REAL,
        train_loss REAL,
        train_accuracy REAL,
        valid_loss REAL,
        valid_accuracy REAL,
        PRIMARY KEY (job_id, step)
    )""",
    """CREATE TABLE models (
        backend TEXT NOT NULL,
        id TEXT NOT NULL,
        job_id TEXT,
        dataset_id TEXT,
        base_model TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL,
        input_format TEXT NOT NULL DEFAULT '{}',
        path TEXT,
        sha256 TEXT,
        details TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        PRIMARY KEY (backend, id)
    )""",
    """CREATE TABLE evaluations (
        id TEXT PRIMARY KEY,
        job_id TEXT,
        backend TEXT NOT NULL,
        model_id TEXT NOT NULL,
        dataset_id TEXT,
        split TEXT NOT NULL,
        accuracy REAL NOT NULL,
        macro_f1 REAL NOT NULL,
        per_class TEXT NOT NULL,
        labels TEXT NOT NULL,
        confusion TEXT NOT NULL,
        n INTEGER NOT NULL,
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX evaluations_by_job ON evaluations(job_id, created_at)",
]

# v2: per-example predictions of an evaluation (the misclassified view) and bulk classification runs.
_V2 = [
    """CREATE TABLE evaluation_predictions (
        evaluation_id TEXT NOT NULL REFERENCES evaluations(id),
        position INTEGER NOT NULL,
        row INTEGER NOT NULL,
        text TEXT NOT NULL,
        label TEXT NOT NULL,
        predicted TEXT NOT NULL,
        confidence REAL NOT NULL,
        PRIMARY KEY (evaluation_id, position)
    )""",
    """CREATE TABLE bulk_runs (
        id TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        model_id TEXT NOT NULL,
        source_name TEXT NOT NULL,
        text_column TEXT NOT NULL,
        labels TEXT NOT NULL,
        directory TEXT NOT NULL,
        chunk_size INTEGER NOT NULL,
        status TEXT NOT NULL,
        rows_total INTEGER NOT NULL,
        rows_done INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        owner TEXT,
        session_started_at REAL,
        session_rows_at_start INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL
    )""",
    """CREATE TABLE bulk_chunks (
        run_id TEXT NOT NULL REFERENCES bulk_runs(id),
        chunk_index INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        label_codes BLOB NOT NULL,
        confidence BLOB NOT NULL,
        scores BLOB NOT NULL,
        raw TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, chunk_index)
    )""",
]

# v3: bulk runs through a provider's batch API: the batch id and progress, and a key of the input so the
# same command run again finds its unfinished run (and batch) instead of paying twice.
_V3 = [
    "ALTER TABLE bulk_runs ADD COLUMN batch_api INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE bulk_runs ADD COLUMN batch TEXT",
    "ALTER TABLE bulk_runs ADD COLUMN input_key TEXT",
    "CREATE INDEX bulk_runs_by_input_key ON bulk_runs(input_key) WHERE input_key IS NOT NULL",
]

# v4: human names for models, jobs and bulk runs (shown in every picker; the CLI takes them for ids).
_V4 = [
    "ALTER TABLE models ADD COLUMN name TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE jobs ADD COLUMN name TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE bulk_runs ADD COLUMN name TEXT NOT NULL DEFAULT ''",
]

# v5: the Korean text of events ("에포크 3/10 ...", "상태: 완료."), so Monitor follows the language switch.
_V5 = ["ALTER TABLE events ADD COLUMN message_ko TEXT"]

# v6: the Korean text of a job's or a bulk run's error, shown by the Korean dashboard.
_V6 = ["ALTER TABLE jobs ADD COLUMN error_ko TEXT", "ALTER TABLE bulk_runs ADD COLUMN error_ko TEXT"]

# -- paths under FINSENT_HOME (v7) -------------------------------------------------------------------------
#: the start of a stored path that lies under FINSENT_HOME; `$` never starts a file name finsent writes nor
#: a Hugging Face hub id, so a hub id or a relative path of the user's is never mistaken for one
HOME_MARK = "$FINSENT_HOME/"


def _inside(path: Path, home: Path) -> Path | None:
    """`path` relative to `home` if it lies there, as written (symlinks inside the home kept) or resolved."""
    for candidate, root in (
        (Path(os.path.normpath(path)), home.absolute()),
        (path.resolve(), home.resolve()),
    ):
        if candidate.is_relative_to(root):
            return candidate.relative_to(root)
    return None


def stored_path(path: str | None, home: Path) -> str | None:
    """How `path` is stored: marked and relative when it lies under `home`, else as it is (a folder
    elsewhere the user pointed to, a hub id)."""
    if not path or path.startswith(HOME_MARK) or not Path(path).expanduser().is_absolute():
        return path
    inside = _inside(Path(path).expanduser(), home)
    return path if inside is None else HOME_MARK + inside.as_posix()


def home_path(stored: str | None, home: Path) -> str | None:
    """The path a stored one stands for, under the home the database is in now."""
    if stored and stored.startswith(HOME_MARK):
        return str(home.absolute() / stored[len(HOME_MARK) :])
    return stored


def database_home(conn: sqlite3.Connection) -> Path | None:
    """The folder of the database file: FINSENT_HOME (None for a database in memory)."""
    for row in conn.execute("PRAGMA database_list").fetchall():
        if row[1] == "main" and row[2]:
            return Path(row[2]).parent
    return None


def _copied_home_path(path: str, home: Path) -> str | None:
    """A path an older finsent wrote under another home (this one is a copy, or was moved), pointing into
    that home's models folder: the same file in this home, if it is there (the backend still checks its
    sha256 before loading it). The old home must be a finsent home, or be gone."""
    parts = Path(path).parts
    for index in range(len(parts) - 2, 0, -1):
        if parts[index] != "models":
            continue
        old_home = Path(*parts[:index])
        ours = home / Path(*parts[index:])
        looks_like_home = (old_home / "finsent.db").is_file() or not old_home.exists()
        if looks_like_home and ours.exists():
            return HOME_MARK + Path(*parts[index:]).as_posix()
        return None
    return None


def _migrated_path(path: object, home: Path) -> object:
    if not isinstance(path, str):
        return path
    stored = stored_path(path, home)
    if stored == path and Path(path).is_absolute():
        stored = _copied_home_path(path, home) or path
    return stored


def _home_relative_model_paths(conn: sqlite3.Connection) -> None:
    """v7: models' file paths (and a ready model's folder, details["path"]) relative to FINSENT_HOME."""
    home = database_home(conn)
    if home is None:
        return
    rows = conn.execute("SELECT backend, id, path, details FROM models").fetchall()
    for backend, model_id, path, raw_details in rows:
        details = json.loads(raw_details) if raw_details else {}
        new_path = _migrated_path(path, home)
        new_details = details
        if isinstance(details, dict) and "path" in details:
            new_details = {**details, "path": _migrated_path(details["path"], home)}
        if new_path != path or new_details != details:
            conn.execute(
                "UPDATE models SET path = ?, details = ? WHERE backend = ? AND id = ?",
                (new_path, json.dumps(new_details, ensure_ascii=False, default=str), backend, model_id),
            )


# v7: paths under FINSENT_HOME stored relative to it (a moved or copied home keeps its models).
_V7: list[Step] = [_home_relative_model_paths]

MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    tuple(_V1),
    tuple(_V2),
    tuple(_V3),
    tuple(_V4),
    tuple(_V5),
    tuple(_V6),
    tuple(_V7),
)
LATEST_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> int:
    """Apply the missing migrations up to `target` in one transaction; returns the version reached.

    `conn` must be in autocommit mode (isolation_level=None) so that the transaction here is explicit.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(conn)
        if version > LATEST_VERSION:
            conn.execute("ROLLBACK")
            raise RuntimeError(
                f"the finsent database is schema v{version}, newer than this finsent (v{LATEST_VERSION})"
            )
        for number in range(version + 1, target + 1):
            for step in MIGRATIONS[number - 1]:
                if callable(step):
                    step(conn)
                else:
                    conn.execute(step)
        if target > version:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
        conn.execute("COMMIT")
        return max(version, target)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

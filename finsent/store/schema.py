"""The store's schema as an ordered list of migrations. Never edit a released migration: append one.

`schema_version` holds one row: the number of migrations applied. A database written by an older finsent
is brought up to date when it is opened; several processes opening it at once migrate it exactly once
(the check and the migration run in one BEGIN IMMEDIATE transaction).
"""

from __future__ import annotations

import sqlite3

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

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    tuple(_V1),
    tuple(_V2),
    tuple(_V3),
    tuple(_V4),
    tuple(_V5),
    tuple(_V6),
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
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
        if target > version:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
        conn.execute("COMMIT")
        return max(version, target)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

"""Datasets, training jobs, their events and metric history."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from finsent.contract.backend import JobEvent, JobStatus, MetricPoint
from finsent.contract.errors import NotFoundError
from finsent.contract.texts import Text
from finsent.store.db import Database
from finsent.store.records import DatasetRecord, EventRecord, JobRecord
from finsent.support.secrets import scrub, scrub_optional, scrub_value

METRIC_COLUMNS = ("step", "epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy")
#: jobs columns a caller may change with `update_job`
_JOB_FIELDS = frozenset(
    {
        "external_id",
        "base_model",
        "status",
        "fine_tuned_model",
        "error",
        "progress",
        "poll_cursor",
        "polled_at",
        "evaluation_state",
        "finished_at",
        "input_format",
        "training",
    }
)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def loads(raw: str | None, default: Any = None) -> Any:
    if not raw:
        return default
    return json.loads(raw)


@dataclass(frozen=True)
class JobState:
    """A job record plus what only the core needs: poll cursor, input format, training details."""

    record: JobRecord
    poll_cursor: str | None
    polled_at: float | None
    input_format: Mapping[str, Any]
    training: Mapping[str, Any]
    evaluation_state: str | None


def _dataset(row: sqlite3.Row) -> DatasetRecord:
    return DatasetRecord(
        id=row["id"],
        name=row["name"],
        directory=row["directory"],
        input_sha256=row["input_sha256"],
        rows=row["rows"],
        created_at=row["created_at"],
        manifest=loads(row["manifest"], {}),
    )


def _job_state(row: sqlite3.Row) -> JobState:
    record = JobRecord(
        id=row["id"],
        backend=row["backend"],
        external_id=row["external_id"],
        dataset_id=row["dataset_id"],
        base_model=row["base_model"],
        options=loads(row["options"], {}),
        status=JobStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        fine_tuned_model=row["fine_tuned_model"],
        error=row["error"],
        progress=row["progress"],
        name=row["name"],
        error_ko=row["error_ko"],
    )
    return JobState(
        record=record,
        poll_cursor=row["poll_cursor"],
        polled_at=row["polled_at"],
        input_format=loads(row["input_format"], {}),
        training=loads(row["training"], {}),
        evaluation_state=row["evaluation_state"],
    )


def _error_columns(values: dict[str, Any]) -> dict[str, Any]:
    """An `error` given as a Text fills both error columns; a plain string (a backend's) clears the Korean."""
    if "error" in values:
        text = values["error"]
        values["error"], values["error_ko"] = (text.en, text.ko) if isinstance(text, Text) else (text, None)
    return values


def _scrubbed(values: dict[str, Any]) -> dict[str, Any]:
    """No API key reaches the jobs table in any form (backends scrub what servers send; this is the
    second line): every text, ids and the poll cursor included, since a hostile server chooses them too."""
    return {k: scrub(v) if type(v) is str else v for k, v in values.items()}  # statuses stay enums


def _event(r: sqlite3.Row) -> EventRecord:
    return EventRecord(r["job_id"], r["seq"], r["created_at"], r["level"], r["message"], r["message_ko"])


def job_not_found(job_id: str) -> NotFoundError:
    return NotFoundError(
        Text(f"Unknown job {job_id!r}.", f"알 수 없는 작업입니다: {job_id!r}."),
        hint=Text(
            "Run `finsent jobs` to list the jobs this finsent knows.",
            "`finsent jobs`로 작업 목록을 확인하세요.",
        ),
    )


class JobsRepository:
    db: Database

    # -- datasets ------------------------------------------------------------------------------
    def add_dataset(self, record: DatasetRecord) -> DatasetRecord:
        """Insert, or return the record already stored for the same directory."""
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM datasets WHERE directory = ?", (record.directory,)).fetchone()
            if row:
                return _dataset(row)
            conn.execute(
                "INSERT INTO datasets (id, name, directory, input_sha256, rows, manifest, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.name,
                    record.directory,
                    record.input_sha256,
                    record.rows,
                    dumps(dict(record.manifest)),
                    record.created_at,
                ),
            )
        return record

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                Text(f"Unknown dataset {dataset_id!r}.", f"알 수 없는 데이터셋입니다: {dataset_id!r}."),
                hint=Text(
                    "Prepare one first (`finsent prepare`), or pass the prepared folder.",
                    "먼저 데이터를 준비하세요 (`finsent prepare`).",
                ),
            )
        return _dataset(row)

    def list_datasets(self) -> list[DatasetRecord]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM datasets ORDER BY created_at DESC, id DESC").fetchall()
        return [_dataset(r) for r in rows]

    # -- jobs ----------------------------------------------------------------------------------
    def insert_job(
        self,
        record: JobRecord,
        input_format: Mapping[str, Any] | None = None,
        training: Mapping[str, Any] | None = None,
    ) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO jobs (id, backend, external_id, dataset_id, base_model, options, input_format,"
                " training, status, fine_tuned_model, error, progress, created_at, updated_at, finished_at,"
                " name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.backend,
                    record.external_id,
                    record.dataset_id,
                    record.base_model,
                    dumps(dict(record.options)),
                    dumps(dict(input_format or {})),
                    dumps(dict(training or {})),
                    record.status.value,
                    record.fine_tuned_model,
                    scrub_optional(record.error),
                    record.progress,
                    record.created_at,
                    record.updated_at,
                    record.finished_at,
                    record.name,
                ),
            )

    def rename_job(self, job_id: str, name: str) -> None:
        """A job's name, and its model's while the model still carries the job's name."""
        with self.db.write() as conn:
            row = conn.execute("SELECT name FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise job_not_found(job_id)
            conn.execute("UPDATE jobs SET name = ? WHERE id = ?", (name, job_id))
            conn.execute(
                "UPDATE models SET name = ? WHERE job_id = ? AND name = ?", (name, job_id, row["name"])
            )

    def job_state(self, job_id: str) -> JobState:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise job_not_found(job_id)
        return _job_state(row)

    def get_job(self, job_id: str) -> JobRecord:
        return self.job_state(job_id).record

    def list_job_states(self) -> list[JobState]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM jobs ORDER BY created_at DESC, id DESC").fetchall()
        return [_job_state(r) for r in rows]

    def update_job(self, job_id: str, **fields: Any) -> None:
        unknown = set(fields) - _JOB_FIELDS
        if unknown:
            raise ValueError(f"not job fields: {sorted(unknown)}")
        values = _scrubbed(
            _error_columns(
                {
                    k: (dumps(scrub_value(v)) if k in ("input_format", "training") else v)
                    for k, v in fields.items()
                }
            )
        )
        if "status" in values and isinstance(values["status"], JobStatus):
            values["status"] = values["status"].value
        values["updated_at"] = time.time()
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.db.write() as conn:
            conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id))

    def claim_evaluation(self, job_id: str, stale_after: float = 600.0) -> bool:
        """Take the job's one evaluation; False if it is done or another thread/process is on it."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute("SELECT evaluation_state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            state = row["evaluation_state"] if row else "done"
            if state == "done":
                return False
            if state and state.startswith("running:") and now - float(state.split(":", 1)[1]) < stale_after:
                return False
            conn.execute("UPDATE jobs SET evaluation_state = ? WHERE id = ?", (f"running:{now}", job_id))
        return True

    # -- events and metrics --------------------------------------------------------------------
    @staticmethod
    def _append_events(conn: sqlite3.Connection, job_id: str, events: Iterable[JobEvent]) -> int:
        row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE job_id = ?", (job_id,)).fetchone()
        seq = int(row[0])
        added = 0
        for event in events:
            cur = conn.execute(
                "INSERT OR IGNORE INTO events (job_id, seq, created_at, level, message, message_ko, external_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    seq + 1,
                    event.created_at,
                    event.level,
                    scrub(event.text.en),
                    scrub_optional(event.text.ko),
                    scrub_optional(event.id),
                ),
            )
            if cur.rowcount:
                seq += 1
                added += 1
        return added

    @staticmethod
    def _upsert_metrics(conn: sqlite3.Connection, job_id: str, points: Iterable[MetricPoint]) -> None:
        conn.executemany(
            "INSERT INTO metrics (job_id, step, epoch, train_loss, train_accuracy, valid_loss, valid_accuracy)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(job_id, step) DO UPDATE SET"
            " epoch = COALESCE(excluded.epoch, epoch),"
            " train_loss = COALESCE(excluded.train_loss, train_loss),"
            " train_accuracy = COALESCE(excluded.train_accuracy, train_accuracy),"
            " valid_loss = COALESCE(excluded.valid_loss, valid_loss),"
            " valid_accuracy = COALESCE(excluded.valid_accuracy, valid_accuracy)",
            [
                (job_id, int(p.step), p.epoch, p.train_loss, p.train_accuracy, p.valid_loss, p.valid_accuracy)
                for p in points
            ],
        )

    def add_event(
        self, job_id: str, message: str | Text, level: str = "info", created_at: float | None = None
    ) -> None:
        event = JobEvent(created_at=created_at or time.time(), message=message, level=level)
        with self.db.write() as conn:
            self._append_events(conn, job_id, [event])

    def add_metrics(self, job_id: str, points: Iterable[MetricPoint]) -> None:
        with self.db.write() as conn:
            self._upsert_metrics(conn, job_id, points)

    def apply_poll(
        self,
        job_id: str,
        expected_cursor: str | None,
        new_cursor: str | None,
        events: Iterable[JobEvent],
        metrics: Iterable[MetricPoint],
        fields: Mapping[str, Any],
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> bool:
        """Store one poll's news atomically, unless another poller already moved the cursor (no duplicates).
        `also` writes more in the same transaction (the model record of a job that just succeeded, so no
        reader ever sees the job succeeded without its model)."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute("SELECT poll_cursor FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise job_not_found(job_id)
            if row["poll_cursor"] != expected_cursor:
                return False
            self._append_events(conn, job_id, events)
            self._upsert_metrics(conn, job_id, metrics)
            values = _scrubbed(
                _error_columns({**fields, "poll_cursor": new_cursor, "polled_at": now, "updated_at": now})
            )
            if isinstance(values.get("status"), JobStatus):
                values["status"] = values["status"].value
            assignments = ", ".join(f"{k} = ?" for k in values)
            conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values.values(), job_id))
            if also is not None:
                also(conn)
        return True

    def events(self, job_id: str, after_seq: int = 0) -> list[EventRecord]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM events WHERE job_id = ? AND seq > ? ORDER BY seq", (job_id, after_seq)
            ).fetchall()
        return [_event(r) for r in rows]

    def last_event(self, job_id: str) -> EventRecord | None:
        with self.db.read() as conn:
            r = conn.execute(
                "SELECT * FROM events WHERE job_id = ? ORDER BY seq DESC LIMIT 1", (job_id,)
            ).fetchone()
        return _event(r) if r else None

    def metrics_frame(self, job_id: str) -> pd.DataFrame:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(METRIC_COLUMNS)} FROM metrics WHERE job_id = ? ORDER BY step", (job_id,)
            ).fetchall()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(METRIC_COLUMNS))
        frame["step"] = frame["step"].astype("int64")
        for column in METRIC_COLUMNS[1:]:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        return frame

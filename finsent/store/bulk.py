"""Bulk classification runs and their finished chunks (predictions in a compact binary form).

A chunk row holds one `classify` call's predictions: label codes (int16 indexes into the run's labels,
the last code being "unknown"), confidences (float64) and the scores matrix (float64, rows x labels).
Chunks are written once (INSERT OR IGNORE), so a resumed run can never store a row twice.

The raw answers of "unknown" predictions come from a server: they are stored scrubbed of API keys and cut
to RAW_KEEP characters, and dropped when the run succeeds (nothing reads them after that). Errors and the
provider batch record are scrubbed too.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from finsent.contract.errors import NotFoundError
from finsent.contract.texts import Text
from finsent.store.db import Database
from finsent.store.jobs import dumps, loads
from finsent.store.records import BulkRunRecord, BulkStatus
from finsent.support.secrets import scrub, scrub_optional, scrub_value

ACTIVE_STATUSES = tuple(s for s in BulkStatus if s.is_active)
RESUMABLE_STATUSES = tuple(s for s in BulkStatus if s.is_resumable)

#: the error of a run whose process is gone
ORPHANED = Text(
    "The process running it stopped; resume it to finish the remaining rows.",
    "분류하던 프로세스가 멈췄습니다. 재개하면 남은 행을 마저 분류합니다.",
)


#: characters of a raw answer kept while its run is unfinished (enough to see what a model said)
RAW_KEEP = 200


def _kept_raw(raw: dict[int, str]) -> str | None:
    return dumps({str(k): scrub(str(v))[:RAW_KEEP] for k, v in raw.items()}) if raw else None


@dataclass(frozen=True)
class BulkRunState:
    record: BulkRunRecord
    labels: tuple[str, ...]
    directory: str
    chunk_size: int
    owner: str | None


@dataclass(frozen=True)
class ChunkPredictions:
    index: int
    codes: np.ndarray  # int16, one per row
    confidence: np.ndarray  # float64, one per row
    scores: np.ndarray  # float64, rows x labels
    raw: dict[int, str]  # row offset in the chunk -> raw answer, for "unknown" predictions only


def _state(row: sqlite3.Row) -> BulkRunState:
    done, total = row["rows_done"], row["rows_total"]
    rate = eta = None
    started = row["session_started_at"]
    if started is not None:
        elapsed = max(row["updated_at"] - started, 1e-9)
        session_rows = done - row["session_rows_at_start"]
        if session_rows > 0:
            rate = session_rows / elapsed
            if row["status"] == "running":
                eta = (total - done) / rate
    batch = loads(row["batch"], {}) if row["batch"] else {}
    record = BulkRunRecord(
        id=row["id"],
        backend=row["backend"],
        model_id=row["model_id"],
        source_name=row["source_name"],
        text_column=row["text_column"],
        status=BulkStatus(row["status"]),
        rows_total=total,
        rows_done=done,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        error=row["error"],
        error_ko=row["error_ko"],
        rate=rate,
        eta_seconds=eta,
        batch_api=bool(row["batch_api"]),
        batch_id=batch.get("id"),
        batch_status=batch.get("status"),
        batch_done=int(batch.get("completed", 0)) + int(batch.get("failed", 0)),
        batch_total=int(batch.get("total", 0)),
        name=row["name"],
    )
    return BulkRunState(
        record=record,
        labels=tuple(loads(row["labels"], [])),
        directory=row["directory"],
        chunk_size=row["chunk_size"],
        owner=row["owner"],
    )


def bulk_run_not_found(run_id: str) -> NotFoundError:
    return NotFoundError(
        Text(f"Unknown bulk run {run_id!r}.", f"알 수 없는 대량 분류 작업입니다: {run_id!r}."),
        hint="The list of runs is on the Classify page; `finsent classify --resume RUN` takes one of them.",
    )


class BulkRepository:
    db: Database

    def insert_bulk_run(
        self,
        run_id: str,
        backend: str,
        model_id: str,
        source_name: str,
        text_column: str,
        labels: tuple[str, ...],
        directory: str,
        chunk_size: int,
        rows_total: int,
        batch_api: bool = False,
        input_key: str | None = None,
        name: str = "",
    ) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO bulk_runs (id, backend, model_id, source_name, text_column, labels, directory,"
                " chunk_size, status, rows_total, created_at, updated_at, batch_api, input_key, name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                (run_id, backend, model_id, source_name, text_column, dumps(list(labels)), directory,
                 chunk_size, rows_total, now, now, int(batch_api), input_key, name),
            )  # fmt: skip

    def rename_bulk_run(self, run_id: str, name: str) -> None:
        with self.db.write() as conn:
            if conn.execute("UPDATE bulk_runs SET name = ? WHERE id = ?", (name, run_id)).rowcount == 0:
                raise bulk_run_not_found(run_id)

    def set_bulk_batch(self, run_id: str, batch: dict[str, object] | None) -> None:
        """Record the provider batch of a run ({"id", "status", "total", "completed", "failed"}), or forget
        it (None) after it died, so that resuming submits a new one."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE bulk_runs SET batch = ?, updated_at = ? WHERE id = ?",
                (dumps(scrub_value(batch)) if batch is not None else None, time.time(), run_id),
            )

    def bulk_run_for_input(self, input_key: str) -> BulkRunState | None:
        """The newest run of this input (same backend, model, column and texts), whatever its status."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM bulk_runs WHERE input_key = ? ORDER BY created_at DESC LIMIT 1", (input_key,)
            ).fetchone()
        return _state(row) if row else None

    def bulk_run_state(self, run_id: str) -> BulkRunState:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM bulk_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise bulk_run_not_found(run_id)
        return _state(row)

    def list_bulk_runs(self) -> list[BulkRunState]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM bulk_runs ORDER BY created_at DESC, id DESC").fetchall()
        return [_state(r) for r in rows]

    def claim_bulk_run(self, run_id: str, owner: str, owner_alive: Callable[[str, str], bool]) -> bool:
        """Make `owner` the one executor of the run; False when a live executor already holds it."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT status, owner, rows_done FROM bulk_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise bulk_run_not_found(run_id)
            if row["status"] == "succeeded":
                return False
            if row["status"] == "running" and row["owner"] and owner_alive(run_id, row["owner"]):
                return False
            conn.execute(
                "UPDATE bulk_runs SET status = 'running', owner = ?, error = NULL, session_started_at = ?,"
                " session_rows_at_start = ?, updated_at = ?, finished_at = NULL WHERE id = ?",
                (owner, now, row["rows_done"], now, run_id),
            )
        return True

    def add_chunk(self, run_id: str, chunk: ChunkPredictions) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO bulk_chunks (run_id, chunk_index, rows, label_codes, confidence, scores,"
                " raw, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    chunk.index,
                    len(chunk.codes),
                    np.ascontiguousarray(chunk.codes, dtype="<i2").tobytes(),
                    np.ascontiguousarray(chunk.confidence, dtype="<f8").tobytes(),
                    np.ascontiguousarray(chunk.scores, dtype="<f8").tobytes(),
                    _kept_raw(chunk.raw),
                    now,
                ),
            )
            conn.execute(
                "UPDATE bulk_runs SET rows_done = (SELECT COALESCE(SUM(rows), 0) FROM bulk_chunks WHERE run_id = ?),"
                " updated_at = ? WHERE id = ?",
                (run_id, now, run_id),
            )

    def done_chunks(self, run_id: str) -> set[int]:
        with self.db.read() as conn:
            rows = conn.execute("SELECT chunk_index FROM bulk_chunks WHERE run_id = ?", (run_id,)).fetchall()
        return {int(r[0]) for r in rows}

    def chunks(self, run_id: str, n_labels: int) -> list[ChunkPredictions]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM bulk_chunks WHERE run_id = ? ORDER BY chunk_index", (run_id,)
            ).fetchall()
        result = []
        for r in rows:
            n = r["rows"]
            result.append(
                ChunkPredictions(
                    index=r["chunk_index"],
                    codes=np.frombuffer(r["label_codes"], dtype="<i2"),
                    confidence=np.frombuffer(r["confidence"], dtype="<f8"),
                    scores=np.frombuffer(r["scores"], dtype="<f8").reshape(n, n_labels),
                    raw={int(k): v for k, v in loads(r["raw"], {}).items()},
                )
            )
        return result

    def set_bulk_status(
        self,
        run_id: str,
        status: BulkStatus,
        error: str | Text | None = None,
        owner: str | None = None,
        only_from: tuple[BulkStatus, ...] = (),
    ) -> bool:
        """Change the status (only if held by `owner` / currently in `only_from`, when given); an error given
        as a Text keeps its Korean for the Korean dashboard."""
        now = time.time()
        text = Text.of(error) if error is not None else None
        query = "UPDATE bulk_runs SET status = ?, error = ?, error_ko = ?, updated_at = ?, finished_at = ? WHERE id = ?"
        params: list[object] = [
            status,
            scrub(text.en) if text else None,
            scrub_optional(text.ko) if text else None,
            now,
            now if status not in ACTIVE_STATUSES else None,
            run_id,
        ]
        if owner is not None:
            query += " AND owner = ?"
            params.append(owner)
        if only_from:
            query += f" AND status IN ({', '.join('?' for _ in only_from)})"
            params.extend(only_from)
        with self.db.write() as conn:
            changed = conn.execute(query, params).rowcount > 0
            if changed and status == BulkStatus.SUCCEEDED:
                conn.execute("UPDATE bulk_chunks SET raw = NULL WHERE run_id = ?", (run_id,))
            return changed

    def interrupt_orphaned_runs(self, owner_alive: Callable[[str, str], bool]) -> list[str]:
        """Runs left `running`/`queued` by a process that is gone become `interrupted` (resumable)."""
        orphaned = []
        with self.db.write() as conn:
            rows = conn.execute(
                "SELECT id, owner FROM bulk_runs WHERE status IN ('running', 'queued')"
            ).fetchall()
            now = time.time()
            for r in rows:
                if r["owner"] is None or not owner_alive(r["id"], r["owner"]):
                    conn.execute(
                        "UPDATE bulk_runs SET status = 'interrupted', updated_at = ?, error = ?, error_ko = ?"
                        " WHERE id = ?",
                        (now, ORPHANED.en, ORPHANED.ko, r["id"]),
                    )
                    orphaned.append(r["id"])
        return orphaned

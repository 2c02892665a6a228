"""Models (trained in finsent or added by hand) and evaluations with their per-example predictions.

A model's file (or a ready model's folder, `details["path"]`) is stored relative to FINSENT_HOME when it
lies there, and handed out as a path under the home the database is in now: a moved or copied home keeps
its models, and a folder elsewhere that the user pointed to keeps its absolute path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from finsent.contract.errors import NotFoundError
from finsent.contract.texts import Text
from finsent.store.db import Database
from finsent.store.jobs import dumps, loads
from finsent.store.records import EvaluationRecord, ModelRecord
from finsent.store.schema import home_path, stored_path

PREDICTION_COLUMNS = ("row", "text", "label", "predicted", "confidence")


def _details(
    details: Mapping[str, Any], convert: Callable[[str, Path], str | None], home: Path
) -> dict[str, Any]:
    """The details with a ready model's folder converted (stored relative, or read back under `home`)."""
    found = dict(details)
    if isinstance(found.get("path"), str):
        found["path"] = convert(found["path"], home)
    return found


def _model(row: sqlite3.Row, home: Path) -> ModelRecord:
    return ModelRecord(
        id=row["id"],
        backend=row["backend"],
        job_id=row["job_id"],
        base_model=row["base_model"],
        labels=tuple(loads(row["labels"], [])),
        input_format=loads(row["input_format"], {}),
        created_at=row["created_at"],
        path=home_path(row["path"], home),
        sha256=row["sha256"],
        details=_details(loads(row["details"], {}), home_path, home),
        name=row["name"],
    )


def _evaluation(row: sqlite3.Row) -> EvaluationRecord:
    return EvaluationRecord(
        id=row["id"],
        job_id=row["job_id"],
        model_id=row["model_id"],
        backend=row["backend"],
        dataset_id=row["dataset_id"],
        split=row["split"],
        accuracy=row["accuracy"],
        macro_f1=row["macro_f1"],
        per_class=loads(row["per_class"], {}),
        labels=tuple(loads(row["labels"], [])),
        confusion=tuple(tuple(int(v) for v in r) for r in loads(row["confusion"], [])),
        created_at=row["created_at"],
        n=row["n"],
    )


def model_not_found(backend: str, model_id: str) -> NotFoundError:
    return NotFoundError(
        Text(
            f"Unknown model {model_id!r} for the {backend} backend.",
            f"{backend} 백엔드에 {model_id!r} 모델이 없습니다.",
        ),
        hint=Text(
            f"Run `finsent models --backend {backend}` to list the models finsent knows.",
            f"`finsent models --backend {backend}`로 모델 목록을 확인하세요.",
        ),
    )


class ModelsRepository:
    db: Database

    @property
    def home(self) -> Path:
        """FINSENT_HOME: the folder the database is in."""
        return self.db.path.parent

    def insert_model(
        self, conn: sqlite3.Connection, record: ModelRecord, dataset_id: str | None, replace: bool
    ) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        conn.execute(
            f"{verb} INTO models (backend, id, job_id, dataset_id, base_model, labels, input_format, path,"
            " sha256, details, created_at, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.backend,
                record.id,
                record.job_id,
                dataset_id,
                record.base_model,
                dumps(list(record.labels)),
                dumps(dict(record.input_format)),
                stored_path(record.path, self.home),
                record.sha256,
                dumps(_details(record.details, stored_path, self.home)),
                record.created_at,
                record.name,
            ),
        )

    def add_model(self, record: ModelRecord, dataset_id: str | None = None, replace: bool = True) -> None:
        with self.db.write() as conn:
            self.insert_model(conn, record, dataset_id, replace)

    def rename_model(self, backend: str, model_id: str, name: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE models SET name = ? WHERE backend = ? AND id = ?", (name, backend, model_id)
            )
            if cursor.rowcount == 0:
                raise model_not_found(backend, model_id)

    def find_model(self, backend: str, model_id: str) -> ModelRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM models WHERE backend = ? AND id = ?", (backend, model_id)
            ).fetchone()
        return _model(row, self.home) if row else None

    def get_model(self, backend: str, model_id: str) -> ModelRecord:
        record = self.find_model(backend, model_id)
        if record is None:
            raise model_not_found(backend, model_id)
        return record

    def model_dataset_id(self, backend: str, model_id: str) -> str | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT dataset_id FROM models WHERE backend = ? AND id = ?", (backend, model_id)
            ).fetchone()
        return row["dataset_id"] if row else None

    def list_models(self, backend: str | None = None) -> list[ModelRecord]:
        with self.db.read() as conn:
            if backend:
                rows = conn.execute(
                    "SELECT * FROM models WHERE backend = ? ORDER BY created_at DESC", (backend,)
                ).fetchall()
            else:
                rows = conn.execute("SELECT * FROM models ORDER BY created_at DESC").fetchall()
        return [_model(r, self.home) for r in rows]

    # -- evaluations ---------------------------------------------------------------------------
    def add_evaluation(self, record: EvaluationRecord, predictions: pd.DataFrame) -> None:
        """The record and its per-example predictions (columns PREDICTION_COLUMNS) in one transaction."""
        rows = [
            (record.id, i, int(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4]))
            for i, r in enumerate(
                predictions.loc[:, list(PREDICTION_COLUMNS)].itertuples(index=False, name=None)
            )
        ]
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO evaluations (id, job_id, backend, model_id, dataset_id, split, accuracy, macro_f1,"
                " per_class, labels, confusion, n, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.job_id,
                    record.backend,
                    record.model_id,
                    record.dataset_id,
                    record.split,
                    record.accuracy,
                    record.macro_f1,
                    dumps({k: dict(v) for k, v in record.per_class.items()}),
                    dumps(list(record.labels)),
                    dumps([list(r) for r in record.confusion]),
                    record.n,
                    record.created_at,
                ),
            )
            conn.executemany(
                "INSERT INTO evaluation_predictions (evaluation_id, position, row, text, label, predicted,"
                " confidence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def get_evaluation(self, evaluation_id: str) -> EvaluationRecord:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM evaluations WHERE id = ?", (evaluation_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                Text(f"Unknown evaluation {evaluation_id!r}.", f"알 수 없는 평가입니다: {evaluation_id!r}.")
            )
        return _evaluation(row)

    def latest_evaluation(self, job_id: str) -> EvaluationRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM evaluations WHERE job_id = ? ORDER BY created_at DESC LIMIT 1", (job_id,)
            ).fetchone()
        return _evaluation(row) if row else None

    def list_evaluations(
        self, backend: str | None = None, model_id: str | None = None
    ) -> list[EvaluationRecord]:
        query, params = "SELECT * FROM evaluations WHERE 1 = 1", list[str]()
        if backend:
            query, params = query + " AND backend = ?", [*params, backend]
        if model_id:
            query, params = query + " AND model_id = ?", [*params, model_id]
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY created_at DESC", params).fetchall()
        return [_evaluation(r) for r in rows]

    def evaluation_predictions(self, evaluation_id: str) -> pd.DataFrame:
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(PREDICTION_COLUMNS)} FROM evaluation_predictions"
                " WHERE evaluation_id = ? ORDER BY position",
                (evaluation_id,),
            ).fetchall()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(PREDICTION_COLUMNS))
        return frame.astype({"row": "int64", "confidence": "float64"})

"""Bulk classification runs: a table in, the same table plus label, confidence and score_<label> out.

The input is stored once under FINSENT_HOME/bulk/<run id>/input.parquet (every column, in order). A run is
classified chunk by chunk (chunk = one `Backend.classify` call); each finished chunk is committed to the
store, so cancelling keeps what is done, a crash loses at most the chunk in flight, and resuming never sends
a finished chunk again. One executor per run: a claim in the store plus a per-process registry of the
threads running here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.api.types import infer_dtype
from pyarrow.lib import ArrowException

from finsent.contract.backend import UNKNOWN_LABEL, Backend, ModelRef, Prediction
from finsent.contract.errors import FinsentError, InputError
from finsent.contract.texts import Text
from finsent.jobs.evaluation import checked
from finsent.store import BulkRunState, ChunkPredictions, Store
from finsent.store.records import BulkResults, BulkRunRecord, BulkStatus

log = logging.getLogger(__name__)

INPUT_FILE = "input.parquet"
#: rows per parquet row group of the stored input: it is written, and its texts are read, a group at a
#: time, so neither holds a second copy of a large table (whole, the Arrow copy took 1x the CSV at once)
ROW_GROUP_ROWS = 16_384
#: the predicted columns, renamed with this prefix when the input already has a column of that name
CLASH_PREFIX = "predicted_"

# Runs executing in this process, by (database path, run id). Process-wide on purpose: two service
# instances in one process (e.g. after a Streamlit cache clear) must not run the same run twice.
_ACTIVE: dict[tuple[str, str], threading.Event] = {}
_ACTIVE_LOCK = threading.Lock()

#: the hint of a backend that broke its promise mid-run: what the run has kept
KEPT = Text(
    "This is a bug in the backend plugin; the finished chunks are kept.",
    "백엔드 플러그인의 버그입니다. 끝난 묶음은 보관됩니다.",
)


def _process_start(pid: int) -> str:
    """The kernel's start time of `pid` (guards against a recycled pid); "" where /proc is missing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


OWNER = f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _pid_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not started or _process_start(pid) in ("", started)


def owner_alive(db_path: Path) -> Callable[[str, str], bool]:
    def alive(run_id: str, owner: str) -> bool:
        host, _, rest = owner.partition(":")
        pid_text, _, started = rest.partition(":")
        if owner == OWNER:
            return (str(db_path), run_id) in _ACTIVE
        if host != socket.gethostname() or not pid_text.isdigit():
            return True  # cannot tell for another machine: assume it is still at work
        return _pid_alive(int(pid_text), started)

    return alive


class BulkRunBusy(FinsentError):
    code = "bulk_busy"


def store_input(frame: pd.DataFrame, directory: Path) -> Path:
    """Write the input table as parquet (every column, in order), atomically."""
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputError(
            Text(
                f"The table has duplicate column names {dupes}.", f"표에 같은 이름의 열이 있습니다: {dupes}."
            ),
            hint=Text(
                "Rename the columns so each name appears once.", "열 이름이 겹치지 않도록 바꿔 주세요."
            ),
        )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / INPUT_FILE
    tmp = directory / f".{INPUT_FILE}.{os.getpid()}.tmp"
    table = frame.reset_index(drop=True)
    table.columns = pd.Index(names)
    try:
        _write_parquet(table, tmp)
    except (TypeError, ValueError, ArrowException):
        # A column mixing types (numbers and text from a spreadsheet) cannot be one parquet column: keep it
        # as text, missing cells stay missing.
        mixed = [c for c in table.columns if table[c].dtype == object]
        table[mixed] = table[mixed].astype("string")
        table.to_parquet(tmp, index=False, engine="pyarrow")
    os.replace(tmp, path)
    return path


def _write_parquet(table: pd.DataFrame, path: Path) -> None:
    """`table.to_parquet(path)`, converted to Arrow and written one row group at a time."""
    texts = [_holds_text(table.iloc[:, i]) for i in range(table.shape[1])]
    names = [str(c) for c in table.columns]
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, max(len(table), 1), ROW_GROUP_ROWS):
            part = table.iloc[start : start + ROW_GROUP_ROWS]
            arrays = [
                _text_array(part.iloc[:, i]) if text else pa.Array.from_pandas(part.iloc[:, i])
                for i, text in enumerate(texts)
            ]
            group = pa.Table.from_arrays(arrays, names=names)
            if writer is None:
                writer = pq.ParquetWriter(path, group.schema)
            writer.write_table(group)
    finally:
        if writer is not None:
            writer.close()


def _holds_text(column: pd.Series) -> bool:
    """An object column of str cells (missing cells allowed): what every column read from a file is."""
    return column.dtype == object and infer_dtype(column.to_numpy(), skipna=True) == "string"


def _text_array(column: pd.Series) -> pa.Array:
    """A column of str (or missing) cells as an Arrow string array, from UTF-8 encoded here: handed the
    str objects, Arrow would have CPython cache a UTF-8 copy inside each of them for as long as the table
    lives (+0.6x a Korean CSV)."""
    values = column.to_numpy()
    missing = pd.isna(values)
    if missing.any():
        cells = zip(values.tolist(), missing.tolist(), strict=True)
        encoded = [None if gone else text.encode("utf-8") for text, gone in cells]
    else:
        encoded = list(map(str.encode, values.tolist()))
    return pa.array(encoded, type=pa.binary()).cast(pa.string())


def input_path(state: BulkRunState) -> Path:
    path = Path(state.directory) / INPUT_FILE
    if not path.is_file():
        raise FinsentError(
            Text(
                f"The stored input of bulk run {state.record.id} is missing ({path}).",
                f"대량 분류 {state.record.id}의 입력 파일이 없습니다.",
            ),
            hint=Text("Start a new run with the file.", "파일로 새 실행을 시작하세요."),
        )
    return path


def column_texts(series: pd.Series) -> list[str]:
    """A column's cells as the texts sent to the backend: missing cells become "", others their str()."""
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = ""
    if infer_dtype(values, skipna=False) == "string":  # the usual case: the cells are the texts
        return values.tolist()
    return [value if isinstance(value, str) else str(value) for value in values]


def read_texts(state: BulkRunState) -> list[str]:
    column = pd.read_parquet(input_path(state), columns=[state.record.text_column])
    return column_texts(column[state.record.text_column])


class StoredTexts:
    """The texts of a stored input, read a row group at a time (a run holds one group, not the column)."""

    def __init__(self, state: BulkRunState) -> None:
        self._file = pq.ParquetFile(input_path(state))
        self._column = state.record.text_column
        self.rows = self._file.metadata.num_rows
        starts = [0]
        for group in range(self._file.num_row_groups):
            starts.append(starts[-1] + self._file.metadata.row_group(group).num_rows)
        self._starts = np.array(starts)
        self._cached: tuple[int, list[str]] = (-1, [])

    def __getitem__(self, rows: slice) -> list[str]:
        start, stop, _ = rows.indices(self.rows)
        texts: list[str] = []
        while start < stop:
            group = int(np.searchsorted(self._starts, start, side="right")) - 1
            offset = int(self._starts[group])
            group_texts = self._group(group)
            taken = group_texts[start - offset : stop - offset]
            texts += taken
            start += len(taken)
        return texts

    def _group(self, group: int) -> list[str]:
        if self._cached[0] != group:
            frame = self._file.read_row_group(group, columns=[self._column]).to_pandas()
            self._cached = (group, column_texts(frame[self._column]))
        return self._cached[1]

    def close(self) -> None:
        self._file.close()


def is_blank(text: str) -> bool:
    """An empty or whitespace-only cell: not a text, so it gets no sentiment."""
    return not text.strip()


def encode_predictions(
    index: int,
    predictions: Sequence[Prediction],
    labels: Sequence[str],
    texts: Sequence[str] | None = None,
) -> ChunkPredictions:
    """Predictions -> compact arrays: label codes (len(labels) = unknown, len(labels) + 1 = a blank text,
    which has no label, confidence or scores), confidences, scores matrix. With `texts`, the rows whose
    text is blank are coded as blank whatever the backend answered."""
    code_of = {name: i for i, name in enumerate(labels)}
    unknown, blank = len(labels), len(labels) + 1
    codes = np.fromiter(
        (code_of.get(p.label, unknown) for p in predictions), dtype=np.int16, count=len(predictions)
    )
    confidence = np.fromiter(
        (float(p.confidence) for p in predictions), dtype=np.float64, count=len(predictions)
    )
    scores = np.array(
        [[float(p.scores.get(name, 0.0)) for name in labels] for p in predictions], dtype=np.float64
    )
    scores = scores.reshape(len(predictions), len(labels))
    empty = np.fromiter(
        (p is BLANK or (texts is not None and is_blank(texts[i])) for i, p in enumerate(predictions)),
        dtype=bool,
        count=len(predictions),
    )
    codes[empty] = blank
    confidence[empty] = np.nan
    scores[empty] = np.nan
    raw = {
        i: str(p.raw if p.raw is not None else p.label)
        for i, p in enumerate(predictions)
        if codes[i] == unknown
    }
    return ChunkPredictions(index=index, codes=codes, confidence=confidence, scores=scores, raw=raw)


#: the answer for a blank text: the backend is not asked
BLANK = Prediction(label="", confidence=float("nan"))


def output_names(input_columns: Sequence[str], labels: Sequence[str]) -> dict[str, str]:
    """Predicted column -> name in the output, avoiding clashes with the input's own columns."""
    taken = set(input_columns)
    names = {}
    for column in ["label", "confidence", *[f"score_{label}" for label in labels], "model"]:
        name = column
        while name in taken:
            name = CLASH_PREFIX + name
        taken.add(name)
        names[column] = name
    return names


def assemble_results(store: Store, state: BulkRunState, include_pending: bool = False) -> BulkResults:
    """Every input column, then label, confidence, score_<label>, model; rows of unfinished chunks left out
    (or, with include_pending, kept with empty predictions). Rows are placed by chunk index: never shifted."""
    frame = pd.read_parquet(input_path(state))
    predicted = _Predicted(store, state, [str(c) for c in frame.columns], len(frame))
    return predicted.results(frame, 0, include_pending)


def results_in_parts(store: Store, state: BulkRunState) -> Iterator[BulkResults]:
    """`assemble_results` a row group of the stored input at a time (at least one part, maybe without
    rows): for writing a large result without holding it whole. Each part's counts are the run's."""
    with pq.ParquetFile(input_path(state)) as source:
        predicted = _Predicted(store, state, source.schema_arrow.names, source.metadata.num_rows)
        start = 0
        for group in range(max(source.num_row_groups, 1)):
            if source.num_row_groups:
                frame = source.read_row_group(group).to_pandas()
            else:
                frame = source.read().to_pandas()
            yield predicted.results(frame, start, include_pending=False)
            start += len(frame)


class _Predicted:
    """A run's stored predictions for all its rows, to join onto its input's rows."""

    def __init__(self, store: Store, state: BulkRunState, input_columns: Sequence[str], rows: int) -> None:
        self.state, self.labels = state, list(state.labels)
        n, k = rows, len(self.labels)
        self.codes = np.full(n, -1, dtype=np.int64)
        self.confidence = np.full(n, np.nan)
        self.scores = np.full((n, k), np.nan)
        for chunk in store.chunks(state.record.id, k):
            start = chunk.index * state.chunk_size
            stop = start + len(chunk.codes)
            self.codes[start:stop] = chunk.codes
            self.confidence[start:stop] = chunk.confidence
            self.scores[start:stop] = chunk.scores
        self.done = self.codes >= 0
        self.names = output_names(input_columns, self.labels)
        self.vocabulary = np.array([*self.labels, UNKNOWN_LABEL, ""], dtype=object)

    def results(self, frame: pd.DataFrame, start: int, include_pending: bool) -> BulkResults:
        """`frame`, the input's rows from `start` on, with the predicted columns added (in place: it is
        read for this and held by no one else)."""
        rows = slice(start, start + len(frame))
        k, names, done = len(self.labels), self.names, self.done[rows]
        frame[names["label"]] = self.vocabulary[np.where(done, self.codes[rows], k + 1)]
        frame[names["confidence"]] = self.confidence[rows]
        for j, label in enumerate(self.labels):
            frame[names[f"score_{label}"]] = self.scores[rows, j]
        frame[names["model"]] = np.where(done, self.state.record.model_id, "")
        if not include_pending and not done.all():
            frame = frame.loc[done].reset_index(drop=True)
        return BulkResults(
            frame=frame,
            labels=tuple(self.labels),
            label_column=names["label"],
            confidence_column=names["confidence"],
            score_columns={label: names[f"score_{label}"] for label in self.labels},
            model_column=names["model"],
            rows_done=int(self.done.sum()),
            rows_total=len(self.codes),
            rows_blank=int((self.codes == k + 1).sum()),
        )


class BulkExecutor:
    """Runs one bulk run to its end (or cancel/failure) in the calling thread."""

    def __init__(
        self,
        store: Store,
        backend: Backend,
        model: ModelRef,
        run_id: str,
        cancel: threading.Event | None = None,
        on_progress: Callable[[BulkRunRecord], None] | None = None,
    ) -> None:
        self.store, self.backend, self.model, self.run_id = store, backend, model, run_id
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress

    def claim(self) -> None:
        key = (str(self.store.path), self.run_id)
        with _ACTIVE_LOCK:
            if key in _ACTIVE:
                raise BulkRunBusy(
                    Text(f"Bulk run {self.run_id} is already running.", "이미 실행 중인 대량 분류입니다.")
                )
            if not self.store.claim_bulk_run(self.run_id, OWNER, owner_alive(self.store.path)):
                state = self.store.bulk_run_state(self.run_id)
                raise BulkRunBusy(
                    Text(
                        f"Bulk run {self.run_id} is {state.record.status} (held by another process).",
                        f"대량 분류 {self.run_id}은(는) 다른 프로세스에서 실행 중이거나 이미 끝났습니다.",
                    )
                )
            _ACTIVE[key] = self.cancel

    def release(self) -> None:
        with _ACTIVE_LOCK:
            _ACTIVE.pop((str(self.store.path), self.run_id), None)

    def run(self) -> BulkRunRecord:
        """Execute the claimed run; always leaves it in a terminal state and releases the claim."""
        try:
            return self._run()
        finally:
            self.release()

    def _run(self) -> BulkRunRecord:
        try:
            status, error = self._execute()
        except KeyboardInterrupt:
            self._finish(
                BulkStatus.CANCELLED,
                Text(
                    "Interrupted from the keyboard; resume to finish the remaining rows.",
                    "키보드로 중단했습니다. 재개하면 남은 행을 마저 분류합니다.",
                ),
            )
            raise
        except FinsentError as exc:
            status, error = BulkStatus.FAILED, exc.texts()
        except Exception as exc:  # a backend bug must not leave the run "running"
            log.exception("bulk run %s failed", self.run_id)
            label_ko = self.backend.label_text().get("ko")
            status, error = (
                BulkStatus.FAILED,
                Text(
                    f"Unexpected error in the {self.backend.label} backend: {type(exc).__name__}: {exc}",
                    f"{label_ko} 백엔드에서 예상하지 못한 오류: {type(exc).__name__}: {exc}",
                ),
            )
        self._finish(status, error)
        return self.store.bulk_run_state(self.run_id).record

    def _finish(self, status: BulkStatus, error: str | Text | None) -> None:
        self.store.set_bulk_status(
            self.run_id, status, error, owner=OWNER, only_from=(BulkStatus.RUNNING, BulkStatus.CANCELLED)
        )

    def _report(self) -> None:
        if self.on_progress:
            self.on_progress(self.store.bulk_run_state(self.run_id).record)

    def _pending_chunks(self, state: BulkRunState, rows: int) -> Iterator[tuple[int, slice]]:
        """(index, rows) of each chunk not stored yet, in order: a resumed run never sends one twice."""
        size = state.chunk_size
        done = self.store.done_chunks(self.run_id)
        for index in range((rows + size - 1) // size):
            if index not in done:
                yield index, slice(index * size, (index + 1) * size)

    def _cancel_requested(self) -> bool:
        # In-process cancel is an Event; a cancel from another process shows up as the stored status.
        return (
            self.cancel.is_set() or self.store.bulk_run_state(self.run_id).record.status != BulkStatus.RUNNING
        )

    def _execute(self) -> tuple[BulkStatus, str | Text | None]:
        state = self.store.bulk_run_state(self.run_id)
        texts = StoredTexts(state)
        try:
            return self._classify_chunks(state, texts)
        finally:
            texts.close()

    def _classify_chunks(
        self, state: BulkRunState, texts: StoredTexts
    ) -> tuple[BulkStatus, str | Text | None]:
        for index, rows in self._pending_chunks(state, texts.rows):
            if self._cancel_requested():
                return BulkStatus.CANCELLED, None
            batch = texts[rows]
            # Blank cells are not texts: they are not sent, and come back without a label.
            sent = [text for text in batch if not is_blank(text)]
            answers = checked(
                self.backend, self.backend.classify(self.model, sent) if sent else [], sent, KEPT
            )
            given = iter(answers)
            predictions = [BLANK if is_blank(text) else next(given) for text in batch]
            self.store.add_chunk(self.run_id, encode_predictions(index, predictions, state.labels))
            self._report()
        return BulkStatus.SUCCEEDED, None


def wait_for(store: Store, run_id: str, timeout: float = 60.0, interval: float = 0.05) -> BulkRunRecord:
    """Block until the run leaves queued/running (tests, CLI); returns its record."""
    deadline = time.monotonic() + timeout
    while True:
        record = store.bulk_run_state(run_id).record
        key = (str(store.path), run_id)
        if not record.status.is_active and key not in _ACTIVE:
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"bulk run {run_id} still {record.status} after {timeout} s")
        time.sleep(interval)

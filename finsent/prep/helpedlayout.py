"""The first blocks of the training split laid out by the process that read the first lines.

`finsent prepare data.jsonl` reads a JSON Lines file with a child process (`finsent.ingest.prefetch`),
which then holds the cells of the file's first lines and has nothing to do while this process checks
the table and lays out the training files (Python work that holds the GIL: 0.3-0.45 s of 200,000 rows).
So the child lays out the first blocks of the training split, about half of all the rows, from its own
cells, while this process lays out the validation split and the rest of the training split: the bytes
are the ones `split_files` gives here (same function, same rows, texts, labels and flags), because this
process sends every model input that differs from the raw cell, and the labels and flags of each row.
The child puts each block into the memory both processes share and says where, so nothing is copied on
the way to the file writer.

The child only ever saves time: when it cannot take the job, stops, or runs out of room, the blocks it
did not deliver are laid out here.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import numpy as np

from finsent.prep import trainfiles
from finsent.prep.trainfiles import split_files
from finsent.support.frames import frame, put_frame, split_frames, take_frame

#: the child's job, as `JsonlPrefetch.run_job` names it
JOB = f"{__name__}:lay_out_in_child"
#: a share of the model inputs may differ from the raw cells (normalised whitespace...); beyond it
#: (--lowercase, a legacy separator cut off every text) sending them costs what the child would save
MAX_REPLACED = 0.05
_DONE, _FULL = b"done", b"full"


class CellsHelper(Protocol):
    """A process holding the cells of the table's first `child_rows` rows, which takes one job."""

    child_rows: int

    def run_job(self, job: str, order: bytes) -> tuple[BinaryIO, mmap.mmap] | None: ...


@dataclass
class SplitColumns:
    """One split's rows in file order: input row numbers (1-based), model inputs, raw cells, labels, flags."""

    rows: list[int]
    texts: list[str]
    raw: list[str]
    labels: list[str]
    json_escaped: np.ndarray
    csv_quoted: np.ndarray


def child_blocks(
    helper: CellsHelper | None,
    train: SplitColumns,
    total_rows: int,
    text_index: int,
    formats: Sequence[str],
    label_names: Sequence[str],
) -> tuple[int, Iterator[dict[str, Any]]] | None:
    """(rows, blocks): the first `rows` rows of the training split, handed to the child, and an iterator
    over their blocks ({format: bytes-like}) as the child delivers them, then laid out here from where it
    stopped; None when the child takes no share. `text_index`: the text column's place among the cells."""
    if helper is None:
        return None
    own = _child_share(train.rows, total_rows, helper.child_rows)
    if not own:
        return None
    replaced = [
        [place, text]
        for place, (text, raw) in enumerate(zip(train.texts[:own], train.raw[:own], strict=True))
        if text != raw
    ]
    if len(replaced) > MAX_REPLACED * own:
        return None
    code_of = {name: code for code, name in enumerate(label_names)}
    head = {"column": text_index, "formats": list(formats), "names": list(label_names), "rows": own}
    order = b"".join(
        [
            frame(json.dumps(head).encode("ascii")),
            frame((np.asarray(train.rows[:own], dtype=np.int64) - 1).tobytes()),
            frame(np.fromiter(map(code_of.__getitem__, train.labels[:own]), np.uint8, own).tobytes()),
            frame(
                (
                    train.json_escaped[:own].astype(np.uint8) | (train.csv_quoted[:own].astype(np.uint8) << 1)
                ).tobytes()
            ),
            frame(json.dumps(replaced).encode("ascii")),
        ]
    )
    job = helper.run_job(JOB, order)
    if job is None:
        return None
    answers, shared = job

    def here(start: int) -> Iterator[dict[str, Any]]:
        stop = own
        yield from split_files(
            train.rows[start:stop], train.texts[start:stop], train.labels[start:stop], formats,
            label_names, train.json_escaped[start:stop], train.csv_quoted[start:stop], header=start == 0,
        )  # fmt: skip

    def delivered() -> Iterator[dict[str, Any]]:
        done = 0
        view = memoryview(shared)  # the writer takes slices of it: no copy on the way to the file
        try:
            while done < own:
                answer = take_frame(answers)
                if answer in (_DONE, _FULL):
                    break
                places: dict[str, list[int]] = json.loads(answer)
                yield {kind: view[offset : offset + size] for kind, (offset, size) in places.items()}
                done += trainfiles.BLOCK_ROWS
        except (EOFError, OSError, ValueError):
            pass  # the child stopped: the rest is laid out here
        if done < own:
            yield from here(done)

    return own, delivered()


def _child_share(rows: list[int], total_rows: int, child_rows: int) -> int:
    """Rows of the training split for the child: whole blocks, about half of all the rows laid out, all
    of them among the rows it holds (rows are 1-based input rows, ascending)."""
    within = int(np.searchsorted(np.asarray(rows), child_rows, side="right"))  # rows <= child_rows
    blocks = min(within, total_rows // 2) // trainfiles.BLOCK_ROWS
    return blocks * trainfiles.BLOCK_ROWS if blocks >= 1 else 0


def lay_out_in_child(cells: Any, order: bytes, shared: mmap.mmap, answers: BinaryIO) -> None:
    """In the child: lay out the blocks the order asks for from its cells, each into `shared`."""
    frames = split_frames(order)
    head = json.loads(frames[0])
    places = np.frombuffer(frames[1], dtype=np.int64).tolist()
    codes = np.frombuffer(frames[2], dtype=np.uint8)
    flags = np.frombuffer(frames[3], dtype=np.uint8)
    column = cells.columns[head["column"]] if head["column"] < len(cells.columns) else None
    texts = [column[place] for place in places] if column is not None else [""] * len(places)
    for place, text in json.loads(frames[4]):
        texts[place] = text
    names = head["names"]
    labels = [names[code] for code in codes.tolist()]
    rows = [place + 1 for place in places]
    used = 0
    blocks = split_files(
        rows, texts, labels, head["formats"], names, (flags & 1) != 0, (flags & 2) != 0
    )  # fmt: skip
    for block in blocks:
        size = sum(map(len, block.values()))
        if used + size > len(shared):
            put_frame(answers, _FULL)
            return
        where = {}
        for kind, data in block.items():
            shared[used : used + len(data)] = data
            where[kind] = [used, len(data)]
            used += len(data)
        put_frame(answers, json.dumps(where).encode("ascii"))
        answers.flush()
    put_frame(answers, _DONE)

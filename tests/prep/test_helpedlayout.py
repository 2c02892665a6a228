"""The first blocks of the training split laid out by the JSONL reader's child (finsent.prep.helpedlayout):
the very files a preparation without it writes, also when model inputs differ from the raw cells, when
the child stops or runs out of room, and when the share is not worth sending."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fork_helpers import as_in_a_fresh_command

from finsent.ingest import prefetch as prefetch_module
from finsent.ingest.limits import InputLimits
from finsent.ingest.prefetch import start_jsonl_prefetch
from finsent.ingest.reading import read_table
from finsent.prep import helpedlayout, trainfiles
from finsent.prep.pipeline import PrepareOptions, prepare_dataset

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")

LIMITS = InputLimits()
LABELS = ("positive", "negative", "neutral")


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    as_in_a_fresh_command(monkeypatch)
    monkeypatch.setattr(trainfiles, "BLOCK_ROWS", 16)  # 300 rows: several blocks for the child
    monkeypatch.setattr(prefetch_module, "_SPLIT_BYTES", 0)  # the parent reads the last lines itself


def _news(path: Path, rows: int = 300, **extra: Any) -> Path:
    lines = []
    for i in range(rows):
        text = f'뉴스 {i}번, "인용"' if i % 40 else f"  띄어쓰기   {i}  "  # every 40th one is normalised
        record = {"id": i, "text": text, "label": LABELS[i % 3]} | extra
        lines.append(json.dumps(record, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _prepared(path: Path, out: Path, helped: bool, options: PrepareOptions | None = None) -> dict[str, bytes]:
    options = options or PrepareOptions()
    if not helped:
        prepare_dataset(read_table(path, limits=LIMITS), options, out)
    else:
        with start_jsonl_prefetch(path, LIMITS) as prefetch:  # type: ignore[union-attr]
            table = read_table(path, limits=LIMITS, prefetch=prefetch)
            assert prefetch.serving  # the child waits for the job
            prepare_dataset(table, options, out, helper=prefetch)
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _shares(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    taken: list[int | None] = []
    real = helpedlayout.child_blocks

    def recorded(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        taken.append(None if result is None else result[0])
        return result

    monkeypatch.setattr(helpedlayout, "child_blocks", recorded)
    return taken


@pytest.mark.parametrize("formats", [("completion", "chat"), ("completion",), ()])
def test_the_child_lays_out_the_first_blocks_of_the_files_a_preparation_here_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, formats: tuple[str, ...]
) -> None:
    path = _news(tmp_path / "news.jsonl")
    shares = _shares(monkeypatch)
    options = PrepareOptions(formats=formats)
    helped = _prepared(path, tmp_path / "helped", True, options)
    assert shares and shares[0] is not None and shares[0] >= 2 * trainfiles.BLOCK_ROWS  # it took a share
    assert helped == _prepared(path, tmp_path / "here", False, options)


def test_a_child_that_stops_or_runs_out_of_room_leaves_the_rest_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _news(tmp_path / "news.jsonl")
    expected = _prepared(path, tmp_path / "here", False)
    # Room for about two blocks in the shared map: the child says it is full, the rest is laid out here.
    with monkeypatch.context() as patch:
        patch.setattr(prefetch_module, "_map_bytes", lambda size: 3000)
        assert _prepared(path, tmp_path / "full", True) == expected
    real = helpedlayout.lay_out_in_child

    def dies_after_two_blocks(cells: Any, order: bytes, shared: Any, answers: Any) -> None:
        sent = []
        real_put = helpedlayout.put_frame

        def put(pipe: Any, data: bytes) -> None:
            if len(sent) == 2:
                answers.flush()
                os._exit(1)
            sent.append(data)
            real_put(pipe, data)

        helpedlayout.put_frame = put  # type: ignore[assignment]  # in the child only
        real(cells, order, shared, answers)

    monkeypatch.setattr(helpedlayout, "lay_out_in_child", dies_after_two_blocks)
    assert _prepared(path, tmp_path / "died", True) == expected


def test_no_share_when_most_texts_differ_from_the_cells_or_the_text_column_is_not_the_childs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "english.jsonl"
    path.write_text(
        "".join(json.dumps({"text": f"Shares Rose {i}", "label": LABELS[i % 3]}) + "\n" for i in range(300)),
        encoding="utf-8",
    )
    shares = _shares(monkeypatch)
    lowercase = PrepareOptions(lowercase=True)  # every model input is casefolded: not worth sending
    assert _prepared(path, tmp_path / "lower", True, lowercase) == _prepared(
        path, tmp_path / "lower-here", False, lowercase
    )
    assert shares == [None, None]  # helped, then here (no helper)
    # The text column appears only in the last lines (the parent's share): the child's cells have none of
    # it, so its rows are empty texts, dropped; its share is whatever rows remain among its own.
    late = tmp_path / "late.jsonl"
    records = [{"body": f"앞 {i}", "label": LABELS[i % 3]} for i in range(200)]
    records += [{"text": f"뒤 {i}", "label": LABELS[i % 3]} for i in range(200)]
    late.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    options = PrepareOptions(text_column="text")
    assert _prepared(late, tmp_path / "late-helped", True, options) == _prepared(
        late, tmp_path / "late-here", False, options
    )

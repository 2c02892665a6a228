"""JSON Lines read by a child process (finsent.ingest.prefetch): the very table a read in the process gives,
every cell exactly; and when the child fails, the very error, raised by the read in the process."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fork_helpers import as_in_a_fresh_command

from finsent.contract.errors import InputError
from finsent.ingest import prefetch as prefetch_module
from finsent.ingest.limits import InputLimits
from finsent.ingest.prefetch import start_jsonl_prefetch
from finsent.ingest.reading import LoadedTable, read_table

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")


@pytest.fixture(autouse=True)
def _fresh_command(monkeypatch: pytest.MonkeyPatch) -> None:
    as_in_a_fresh_command(monkeypatch)


LIMITS = InputLimits()

#: cells that each take another way through the pipe: NULs (sent with lengths), characters past U+FFFF
#: (UTF-16 surrogate pairs), Latin-1 only, values that are not strings, missing keys (a lone surrogate is an input error
#: of the reader, tested with the failing children below)
AWKWARD = [
    {"text": "삼성전자 영업이익 급증", "label": "positive", "note": "é"},
    {"text": "a\u0000b", "label": "negative", "note": None},
    {"text": "\U0001f600 smile", "label": "neutral", "note": 3.5},
    {"text": "\U0001f4c8 주가", "label": "positive", "note": {"a": [1, True, None]}},
    {"label": "neutral", "extra": "only here", "note": "\u2028"},
    {"text": "", "label": "", "note": 'quote " and \\ and \n'},
]


def _write(
    path: Path, records: list[dict[str, object]], *, bom: bool = False, ascii_only: bool = True
) -> Path:
    text = "\n".join(json.dumps(r, ensure_ascii=ascii_only) for r in records) + "\n"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass"))
    return path


def _same(left: LoadedTable, right: LoadedTable) -> None:
    assert list(left.frame.columns) == list(right.frame.columns)
    assert left.frame.to_dict("list") == right.frame.to_dict("list")
    assert all(left.frame[c].map(type).eq(str).all() for c in left.frame.columns)
    assert dataclasses.replace(left, frame=None) == dataclasses.replace(right, frame=None)  # type: ignore[arg-type]


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LoadedTable, LoadedTable]:
    """(the table read by a child, the table read here)."""
    here = read_table(path, limits=LIMITS)
    with start_jsonl_prefetch(path, LIMITS) as prefetch, monkeypatch.context() as patch:  # type: ignore[union-attr]
        # a read in this process fails: the table comes from the child
        patch.setattr("finsent.ingest.reading.read_jsonl_bytes", lambda *a: pytest.fail("read here"))
        return read_table(path, limits=LIMITS, prefetch=prefetch), here


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_the_child_reads_every_cell_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bom: bool, ascii_only: bool
) -> None:
    records = AWKWARD * 3
    path = _write(tmp_path / "awkward.jsonl", records, bom=bom, ascii_only=ascii_only)
    _same(*_both_ways(path, monkeypatch))
    # Sent in parts of 4 cells (the last one short): each part in its own codec, joined or with lengths.
    monkeypatch.setattr(prefetch_module, "_PART_ROWS", 4)
    _same(*_both_ways(path, monkeypatch))


def test_a_latin1_file_and_a_utf16_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    latin = _write(tmp_path / "latin.jsonl", [{"text": f"café {i}", "label": "positive"} for i in range(50)])
    _same(*_both_ways(latin, monkeypatch))
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_bytes("\n".join(json.dumps(r, ensure_ascii=False) for r in AWKWARD[:2]).encode("utf-16"))
    _same(*_both_ways(utf16, monkeypatch))


@pytest.mark.parametrize(
    ("lines", "limits", "message"),
    [
        (['{"text": "a", "label": "p"}', '{"text": "broken"'], LIMITS, "line 2 is not valid JSON"),
        (['{"text": "' + "x" * 50 + '"}'], InputLimits(max_cell_chars=10), "FINSENT_MAX_CELL_CHARS"),
        (['{"text": "a"}'] * 5, InputLimits(max_rows=3), "FINSENT_MAX_ROWS"),
        (['{"text": "a"}', "[" * 100_000 + "]" * 100_000], LIMITS, "line 2"),
        (['{"text": "a"}', '{"text": "half \\ud83d"}'], LIMITS, "line 2, column text holds"),
    ],
)
def test_a_failing_child_gives_the_error_of_a_read_here(
    tmp_path: Path, lines: list[str], limits: InputLimits, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as here:
        read_table(path, limits=limits)
    assert message in str(here.value) + str(here.value.what_to_do)
    with start_jsonl_prefetch(path, limits) as prefetch:  # type: ignore[union-attr]
        with pytest.raises(InputError) as there:
            read_table(path, limits=limits, prefetch=prefetch)
        assert prefetch.result(path, limits) is None  # already finished
    assert type(there.value) is type(here.value)
    assert str(there.value) == str(here.value) and there.value.what_to_do == here.value.what_to_do


def test_a_child_that_dies_mid_way_is_not_believed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "news.jsonl", [{"text": f"뉴스 {i}", "label": "positive"} for i in range(100)])

    def half_then_exit(pipe, read, shared):  # type: ignore[no-untyped-def]  # runs in the child
        prefetch_module.put_frame(
            pipe, json.dumps({"encoding": "utf-8", "sha256": "0", "names": ["text"], "rows": 100}).encode()
        )
        pipe.flush()
        os._exit(0)  # a clean exit status, a truncated answer

    monkeypatch.setattr(prefetch_module, "_send", half_then_exit)
    with start_jsonl_prefetch(path, LIMITS) as prefetch:  # type: ignore[union-attr]
        assert prefetch.result(path, LIMITS) is None

    def killed(pipe, read, shared):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), 9)

    monkeypatch.setattr(prefetch_module, "_send", killed)
    with start_jsonl_prefetch(path, LIMITS) as prefetch:  # type: ignore[union-attr]
        assert prefetch.result(path, LIMITS) is None
        _same(read_table(path, limits=LIMITS, prefetch=prefetch), read_table(path, limits=LIMITS))


def test_another_path_or_other_limits_read_here_and_the_child_is_stopped(tmp_path: Path) -> None:
    path = _write(tmp_path / "news.jsonl", AWKWARD[:1])
    other = _write(tmp_path / "other.jsonl", AWKWARD[1:2])
    for wanted, limits in ((other, LIMITS), (path, InputLimits(max_rows=5))):
        prefetch = start_jsonl_prefetch(path, LIMITS)
        assert prefetch is not None
        pid = prefetch._pid
        assert prefetch.result(wanted, limits) is None
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # type: ignore[arg-type]  # reaped


def test_closing_stops_a_child_whose_result_is_not_taken(tmp_path: Path) -> None:
    path = _write(tmp_path / "news.jsonl", [{"text": "뉴스 " * 1000, "label": "p"}] * 2000)
    with start_jsonl_prefetch(path, LIMITS) as prefetch:  # type: ignore[union-attr]
        pid = prefetch._pid
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # type: ignore[arg-type]


def test_no_child_for_other_formats_large_files_or_beside_other_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "news.csv"
    csv.write_text("text,label\na,p\n", encoding="utf-8")
    assert start_jsonl_prefetch(csv, LIMITS) is None
    assert start_jsonl_prefetch(tmp_path / "missing.jsonl", LIMITS) is None
    path = _write(tmp_path / "news.jsonl", AWKWARD[:1])
    with monkeypatch.context() as patch:
        patch.setattr(prefetch_module, "MAX_MB", 0)  # the cells would be in memory twice: read in the process
        assert start_jsonl_prefetch(path, LIMITS) is None
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert start_jsonl_prefetch(path, LIMITS) is None
    finally:
        release.set()
        other.join()


def test_the_child_needs_neither_pandas_nor_numpy() -> None:
    """It is forked before they are imported: what it runs must not import them."""
    code = (
        "import sys, finsent.ingest.prefetch, finsent.service.files\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'numpy')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("share", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_a_file_read_in_two_parts_gives_the_cells_of_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: float, bom: bool
) -> None:
    """The child reads the first lines, the parent the others: keys only in one part, in another order,
    values of every kind, blank lines on either side of the split."""
    records: list[dict[str, object]] = [{"text": f"뉴스 {i}", "label": "positive"} for i in range(6)]
    records += [{"label": "n", "late": i, "text": "a\u0000b"} for i in range(4)]
    records += [{"text": "\U0001f4c8", "nested": {"x": [1, None]}}, {"only": None}]
    path = tmp_path / "parts.jsonl"
    lines = [json.dumps(r) for r in records]
    text = "\n".join(lines[:5]) + "\n\n" + "\n".join(lines[5:]) + "\n"
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8")
    monkeypatch.setattr(prefetch_module, "_SPLIT_BYTES", 0)
    monkeypatch.setattr(prefetch_module, "CHILD_SHARE", share)
    _same(*_both_ways(path, monkeypatch))


@pytest.mark.parametrize("change", ["same size", "longer", "shorter"])
def test_a_file_that_changed_between_the_two_reads_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """The parent reads the last lines while the child reads the others: changed in between (the last
    line rewritten, or a line added or taken away), the two shares are not of one file and the file is
    read again, whole, in the process."""
    records = [{"text": f"뉴스 {i}", "label": "positive"} for i in range(100)]
    path = _write(tmp_path / "news.jsonl", records)
    monkeypatch.setattr(prefetch_module, "_SPLIT_BYTES", 0)
    changed = {
        "same size": [*records[:-1], {"text": "뉴스 X9", "label": "positive"}],
        "longer": [*records, {"text": "뉴스 100", "label": "negative"}],
        "shorter": records[:-1],
    }[change]
    read_end = prefetch_module._read_end
    started: list[prefetch_module.JsonlPrefetch] = []

    def after_a_change(*args: object) -> object:
        select.select([started[0]._pipe], [], [], 30)  # the child has read the file: it is answering
        _write(path, changed)  # type: ignore[arg-type]
        return read_end(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(prefetch_module, "_read_end", after_a_change)
    with start_jsonl_prefetch(path, LIMITS) as prefetch:  # type: ignore[union-attr]
        started.append(prefetch)
        assert prefetch.result(path, LIMITS) is None
        table = read_table(path, limits=LIMITS, prefetch=prefetch)  # read here: the file as it is now
    assert table.frame["text"].tolist() == [r["text"] for r in changed]


def test_parts_that_do_not_fit_in_the_shared_map_come_through_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "awkward.jsonl", AWKWARD * 3, ascii_only=False)
    monkeypatch.setattr(prefetch_module, "_PART_ROWS", 4)
    for room in (1, 60):  # none fits; the first parts fit, the others do not
        monkeypatch.setattr(prefetch_module, "_map_bytes", lambda size, room=room: room)
        _same(*_both_ways(path, monkeypatch))

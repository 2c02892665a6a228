"""The cycle collector paused while a table is read or prepared, and back as it was afterwards, also when
pauses nest, overlap between threads or end in an error."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finsent.support.gcpause import collector_paused


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_a_pause_turns_the_collector_off_and_back_on_even_after_an_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: still off when the inner one ends
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a bad file")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_of_two_threads_end_with_the_last() -> None:
    entered, release = threading.Event(), threading.Event()

    def other_session() -> None:
        with collector_paused():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_session)
    with collector_paused():
        thread.start()
        entered.wait(10)
    assert not gc.isenabled()  # the other thread's pause still runs
    release.set()
    thread.join(10)
    assert gc.isenabled()


def test_reading_and_preparing_run_without_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finsent.ingest import reading
    from finsent.prep import pipeline

    seen: list[tuple[str, bool]] = []
    source = tmp_path / "news.jsonl"
    source.write_text(
        "".join(
            f'{{"text": "뉴스 {i}", "label": "{("positive", "negative", "neutral")[i % 3]}"}}\n'
            for i in range(60)
        ),
        encoding="utf-8",
    )
    for module, name in ((reading, "_jsonl_frame"), (pipeline, "_analyse")):
        real = getattr(module, name)

        def recorded(*args: object, _real: Any = real, _name: str = name) -> object:
            seen.append((_name, gc.isenabled()))
            return _real(*args)

        monkeypatch.setattr(module, name, recorded)
    table = reading.read_table(source)
    assert gc.isenabled()
    pipeline.check_table(table)
    pipeline.prepare_dataset(table, None, tmp_path / "out")
    assert seen == [("_jsonl_frame", False), ("_analyse", False), ("_analyse", False)]
    assert gc.isenabled()


def test_a_freezing_pause_leaves_what_it_made_out_of_later_collections() -> None:
    before = gc.get_freeze_count()
    try:
        with collector_paused(freeze=True):
            made = [[index] for index in range(1000)]  # containers the collector tracks
        assert gc.get_freeze_count() >= before + 1000 and gc.isenabled()
        assert len(made) == 1000
    finally:
        gc.unfreeze()

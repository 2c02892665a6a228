"""For tests of the JSON Lines child (finsent.ingest.prefetch), which is forked only when no other thread
runs: threads that earlier tests of the session left behind (servers, AppTest) are not counted, as a CLI
command starts with none; a thread the test starts itself still is."""

from __future__ import annotations

import threading

import pytest


def as_in_a_fresh_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from finsent.ingest import prefetch

    before = set(threading.enumerate())
    monkeypatch.setattr(
        prefetch, "other_threads_running", lambda: any(t not in before for t in threading.enumerate())
    )

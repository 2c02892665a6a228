"""Python's cycle collector paused while a table is read or prepared.

Reading and preparing a table make hundreds of thousands of containers that live until the step ends
(a dict per JSON line, the lists of cells, the checks' tables): every 700 of them the collector walks
the young ones, and from time to time every object of the process, to find cycles that this work does
not make. On 200,000 JSON lines that was 0.25-0.3 s of a 2.9 s `finsent prepare` (both processes), for
nothing. So the collector is off while such a step runs and back on after it, when it collects what
cycles there were: memory is still freed by reference counting as before, only cycles wait. Pauses
may nest and overlap between threads (the dashboard's sessions): the collector is back on when the
last one ends, and only if it was on before the first.

A command of the CLI ends with its step: `freeze=True` moves what the step leaves alive (the modules it
imported, mostly: 100,000 objects after pandas) out of the collector's sight, where its next round
would walk them all for nothing (50 ms after preparing 200,000 rows).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_pauses = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused(freeze: bool = False) -> Iterator[None]:
    """Run the block with the cycle collector off; with `freeze`, what is alive when it ends is left out
    of later collections (`gc.freeze`: for a step the process ends with). See the module's docstring."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if freeze:
                gc.freeze()
            if _pauses == 0 and _was_enabled:
                gc.enable()

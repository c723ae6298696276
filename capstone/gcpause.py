"""Pausing Python's cyclic garbage collector for the length of one bulk operation.

A registry import of 100 000 rows keeps hundreds of thousands of small containers alive (rows,
drafts, events, records) while it makes millions more; every collection of the older generations
walks all of them again, which cost a quarter of the import's CPU time (issue 16: 40.6 s of CPU
with the collector, 31.0 s without, measured on the 100 000-row bench). What such an operation
allocates is acyclic and freed by reference counting, so the collector is paused while it runs
and resumes afterwards, as mypy and pip do for their bulk phases.

Nested and concurrent pauses (two imports in two threads of the web server) share one pause: the
collector resumes when the last one ends, and only if it was running before the first began.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_resume = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the ``with`` body with the cyclic garbage collector paused (reference counting goes on)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()

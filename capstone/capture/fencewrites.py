"""The vault writes of each lease, and a stop for them once the lease is lost (``vault.records_guard``).

A capture worker paused past its lease wakes up with record writes in hand: threads of
``asyncio.to_thread`` that cancelling their task does not stop, and sibling tasks ``asyncio.gather``
does not cancel. Its state commits are refused by the fence, but the vault has no fence: a segment
it writes is in the vault for good. So every record write under a fence passes here. Once the lease
is lost, :meth:`FencedWrites.stop` refuses every further write under that fence
(:class:`~capstone.capture.leases.LeaseLost` before the segment is written), waits for the writes
under way, and returns the runs they wrote into: the worker then lists what it wrote with one
manifest per run, and nothing it wrote can come after that manifest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from capstone.capture.leases import Fence, LeaseLost, current_fence


@dataclass
class _Writes:
    runs: set[str] = field(default_factory=set)  # the runs whose records were written under the fence
    under_way: int = 0
    stopped: bool = False


def _unnoted(runs: set[str]) -> None:
    return None


class FencedWrites:
    """One worker's record writes by fence (the lease they were made under)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._by_fence: dict[Fence, _Writes] = {}

    @contextmanager
    def __call__(self) -> Iterator[Callable[[set[str]], None]]:
        """``vault.records_guard``: a write outside any lease passes untouched."""
        fence = current_fence()
        if fence is None:
            yield _unnoted
            return
        with self._changed:
            writes = self._by_fence.setdefault(fence, _Writes())
            if writes.stopped:
                raise LeaseLost(fence.account, fence.token, None)
            writes.under_way += 1

        def note(runs: set[str]) -> None:
            with self._changed:
                writes.runs.update(runs)

        try:
            yield note
        finally:
            with self._changed:
                writes.under_way -= 1
                self._changed.notify_all()

    def refuse(self, fence: Fence) -> None:
        """Refuse every further record write under ``fence`` (the lease was found taken over)."""
        with self._changed:
            self._by_fence.setdefault(fence, _Writes()).stopped = True

    def stop(self, fence: Fence, timeout: float) -> tuple[set[str], bool]:
        """Refuse every further write under ``fence`` and wait (at most ``timeout`` seconds) for
        those under way. Returns the runs written into, and whether every write had ended."""
        with self._changed:
            writes = self._by_fence.setdefault(fence, _Writes())
            writes.stopped = True
            ended = self._changed.wait_for(lambda: writes.under_way == 0, timeout)
            return set(writes.runs), ended

    def forget(self, fence: Fence) -> None:
        """The lease was released in order: its writes all ended with its runs' own manifests."""
        with self._changed:
            self._by_fence.pop(fence, None)

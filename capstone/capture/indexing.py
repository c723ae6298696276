"""Index updates beside capture: the capture pass never waits for indexing.

The index is derived data; capture is what must not stop. :class:`IndexFollower` runs
:func:`capstone.index.indexer.update_index` in a process of its own (spawned, so it shares no
threads, connections or memory with the capture process). A capture pass only *kicks* it: when an
update is still running, the kick is remembered and a new update starts as soon as the running one
ends (it reads every segment not yet indexed, so nothing is missed). ``capture run --continuous``
keeps capturing every official on its interval however slow an update is; each attachment's
extraction is bounded besides (:mod:`capstone.index.sandbox`).

Only one update runs per installation at a time: an update takes ``index-update.lock`` under the
home (``capstone index update`` by hand as well), and one that finds it taken leaves the work to
the running one.

Example::

    follower = IndexFollower(settings)
    results = await capture_once(settings, indexer=follower)   # returns without waiting
    follower.wait()                                           # only where the caller wants to
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path

from capstone.logging import get_logger
from capstone.settings import Settings

log = get_logger("capture.indexing")


@contextlib.contextmanager
def update_lock(settings: Settings) -> Iterator[bool]:
    """True when this process holds the installation's index-update lock (False: another does)."""
    path = Path(settings.home) / "index-update.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def index_pass(settings: Settings) -> None:
    """Index what the vault holds and the index does not, with the installation's per-attachment
    limits. The index is derived data: a failure is logged as an error event (``capstone index
    update`` repairs it later) and never touches the capture."""
    from capstone.index import open_index, sandbox
    from capstone.index.indexer import update_index
    from capstone.services import open_vault

    try:
        with update_lock(settings) as held:
            if not held:
                log.info("index_update_skipped", reason="another update is running")
                return
            sandbox.configure_from_settings(settings)
            index = open_index(settings.search_index_url)
            try:
                vault = open_vault(settings)
                try:
                    update_index(vault, index)
                finally:
                    vault.close()
            finally:
                index.close()
                sandbox.current().close()
    except Exception as exc:  # whatever breaks the index must not fail the capture
        log.error("index_update_failed", error=type(exc).__name__, detail=str(exc)[:300])


class IndexFollower:
    """Starts index updates in their own process; never blocks the caller unless asked to wait."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._process: BaseProcess | None = None
        self._again = False
        self.started = 0  # updates started (for tests and status)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def kick(self) -> None:
        """New segments are in the vault: update the index now, or right after the running update."""
        if self.running:
            self._again = True
            return
        self._start()

    def poll(self) -> None:
        """Start the remembered update when the running one has ended."""
        if self._again and not self.running:
            self._again = False
            self._start()

    def _start(self) -> None:
        # spawn, not fork: the capture process holds threads (boto3, asyncio) and connections.
        context = multiprocessing.get_context("spawn")
        process = context.Process(target=index_pass, args=(self.settings,), name="capstone-index-update")
        process.start()
        self._process = process
        self.started += 1
        log.info("index_update_started_beside_capture", pid=process.pid)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running (and any remembered) update; False when ``timeout`` ran out."""
        while True:
            if self._process is not None:
                self._process.join(timeout)
                if self._process.is_alive():
                    return False
            if not self._again:
                return True
            self._again = False
            self._start()

    def stop(self) -> None:
        """End a running update (its work is repeated by the next one: updates are idempotent)."""
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._again = False

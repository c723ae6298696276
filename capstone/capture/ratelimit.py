"""Graph's app-wide limits across every capture worker: a token bucket row in the state database.

Graph limits each mailbox (4 concurrent requests, 10,000 per 10 minutes per app): the transport
paces that per mailbox, and a mailbox is leased to one worker at a time, so the per-mailbox limit
holds across workers by construction. Limits over the whole tenant (the app's requests per second
over all mailboxes) are shared: every worker takes tokens from one row in ``rate_buckets``, a
handful per statement (``batch``), refilled at ``rate`` per second up to ``burst``.

:class:`connectors.graph.ratelimit.SharedRateLimit` wraps the HTTP transport under the Graph
transport with such a bucket, so every round trip (also retries) costs a token. ``rate`` 0 switches
it off.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from capstone.capture.tables import rate_buckets
from capstone.db.engine import write_transaction


class SharedBucket:
    """A token bucket in the state database, shared by every process that names it."""

    def __init__(self, engine: Engine, name: str, *, rate: float, burst: float, batch: int = 10) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.engine = engine
        self.name = name
        self.rate = rate
        self.burst = max(burst, float(batch))
        self.batch = batch
        self._local = 0
        self._lock = threading.Lock()
        insert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(rate_buckets)
        with write_transaction(engine) as conn:
            conn.execute(
                insert.values(name=name, tokens=self.burst, updated=time.time()).on_conflict_do_nothing()
            )

    def _take(self, wanted: int) -> tuple[int, float]:
        """Take up to ``wanted`` tokens from the row: (taken, seconds until one is there if none)."""
        table = rate_buckets
        with write_transaction(self.engine) as conn:
            query = select(table.c.tokens, table.c.updated).where(table.c.name == self.name)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).one()
            now = time.time()
            tokens = min(self.burst, float(row.tokens) + max(0.0, now - float(row.updated)) * self.rate)
            taken = min(wanted, int(tokens))
            conn.execute(
                update(table).where(table.c.name == self.name).values(tokens=tokens - taken, updated=now)
            )
        return taken, 0.0 if taken else (1.0 - tokens) / self.rate

    def try_local(self) -> bool:
        """A token from those this process took already, without a database round trip."""
        with self._lock:
            if self._local > 0:
                self._local -= 1
                return True
            return False

    def acquire_blocking(self) -> float:
        """One token; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                if self._local > 0:
                    self._local -= 1
                    return waited
                taken, wait = self._take(self.batch)
                if taken:
                    self._local = taken - 1
                    return waited
            pause = max(wait, 0.01)
            time.sleep(pause)
            waited += pause

"""Leases on accounts in the state database: the work queue of ``capstone capture worker``.

A worker *takes* due accounts with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; on SQLite the
same statements run under ``BEGIN IMMEDIATE``, one writer at a time), in the scheduler's order:
accounts whose Teams chats are at risk of going stale first (soonest deadline first), then the
longest lag (oldest last complete capture first). Taking a lease raises the account's **fencing
token**; the worker renews the lease's expiry while it works and releases it when done.

Every state commit of a leased account (:class:`~capstone.capture.state.CaptureState` writes, in the
same transaction) checks that the account's token is still the one this worker took
(:func:`check_fence`). A worker paused past its lease (GC, SIGSTOP, a partition) may wake up after
another worker took the account over: its next commit finds a higher token and raises
:class:`LeaseLost`, so it never advances a cursor or closes a run it no longer owns. On PostgreSQL
the check reads the lease row ``FOR KEY SHARE``, so a take-over (``FOR UPDATE``) waits for a commit
in progress and a commit waits for a take-over in progress: the two never interleave; a renewal
(an ``UPDATE`` of non-key columns) waits for neither.

The fence of the running task is a context variable (:func:`fenced`): ``asyncio`` tasks and
``asyncio.to_thread`` carry it, so the capture code needs no extra parameter.

A worker stopped *inside* a transaction (SIGSTOP, a long GC pause, a partition) would hold its row
locks for as long as its connection lives: the lease row it reads ``FOR KEY SHARE`` (a take-over
waits for it) and, while it appends a manifest, the chain head (every other worker's append waits).
So on PostgreSQL a fenced transaction may idle no longer than the fence's ``stall_seconds`` (the
lease's length: ``SET LOCAL idle_in_transaction_session_timeout``): past that the server ends the
session and its locks go with it. The stalled worker, when it runs again, finds its connection
gone: :func:`session_lost_is_lease_lost` turns that into :class:`LeaseLost`, so it stops as a
worker whose lease was taken over does.
"""

from __future__ import annotations

import contextvars
import os
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy.exc
from sqlalchemy import Connection, Engine, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from capstone.capture.tables import capture_leases, capture_workers
from capstone.db.engine import write_transaction

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseLost(BaseException):
    """This worker's lease on ``account`` was taken over (its token is no longer the current one).

    A :class:`BaseException`, like :class:`asyncio.CancelledError`: it must pass through every
    ``except Exception`` of the capture code, which would otherwise record it as a failed run and
    write that run's manifest on behalf of a worker that no longer owns it.
    """

    def __init__(self, account: str, token: int, current: int | None) -> None:
        super().__init__(f"lease on {account} lost: token {token}, now {current}")
        self.account = account
        self.token = token
        self.current = current


@dataclass(frozen=True)
class Fence:
    account: str
    token: int
    holder: str
    # PostgreSQL: how long a transaction under this fence may idle before the server ends its
    # session (None: no limit). Not part of the fence's identity.
    stall_seconds: float | None = field(default=None, compare=False)


_FENCE: contextvars.ContextVar[Fence | None] = contextvars.ContextVar("capstone_capture_fence", default=None)


def current_fence() -> Fence | None:
    return _FENCE.get()


@contextmanager
def fenced(fence: Fence | None) -> Iterator[None]:
    """Run the block (and every task and thread it starts) under ``fence``."""
    reset = _FENCE.set(fence)
    try:
        yield
    finally:
        _FENCE.reset(reset)


def check_fence(conn: Connection, account: str | None = None) -> None:
    """Inside a write transaction: refuse it (:class:`LeaseLost`) unless the current task's lease
    is still the account's newest. A no-op outside a worker (``capture run``, tests)."""
    fence = _FENCE.get()
    if fence is None:
        return
    if account is not None and account != fence.account:
        raise LeaseLost(account, fence.token, None)  # a write for an account this task does not hold
    query = select(capture_leases.c.token, capture_leases.c.holder).where(
        capture_leases.c.account == fence.account
    )
    if conn.dialect.name == "postgresql":
        if fence.stall_seconds is not None:  # the locks of this transaction end with a stall
            milliseconds = max(1000, int(fence.stall_seconds * 1000))
            conn.exec_driver_sql(f"SET LOCAL idle_in_transaction_session_timeout = {milliseconds}")
        # FOR KEY SHARE: a take-over (SELECT ... FOR UPDATE) waits for this commit, a renewal (an
        # UPDATE of non-key columns) does not, so a slow commit never makes its own lease expire.
        query = query.with_for_update(read=True, key_share=True)
    row = conn.execute(query).first()
    if row is None or int(row.token) != fence.token or row.holder != fence.holder:
        raise LeaseLost(fence.account, fence.token, None if row is None else int(row.token))


@contextmanager
def session_lost_is_lease_lost() -> Iterator[None]:
    """Around a fenced transaction: the database connection lost (the server ended a session that
    stalled past the fence's ``stall_seconds``, or any other disconnect) is :class:`LeaseLost`, not
    an error of the capture. Under no fence, the error passes unchanged."""
    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        fence = current_fence()
        if fence is None or not exc.connection_invalidated:
            raise
        raise LeaseLost(fence.account, fence.token, None) from exc


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; every one the capture writes is UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    account: str
    designation_id: str | None
    token: int
    holder: str
    previous_holder: str | None  # None: the account was free; else a take-over after expiry

    @property
    def fence(self) -> Fence:
        return Fence(self.account, self.token, self.holder)


@dataclass(frozen=True)
class Due:
    """An account the plan wants captured, with what orders it (see :meth:`Leases.sync`)."""

    account: str
    designation_id: str
    last_success_at: datetime | None
    chat_deadline: datetime | None


@dataclass(frozen=True)
class Outcome:
    complete: bool
    chat_complete_at: datetime | None  # when this capture's complete chat run ended, if it had one


class Leases:
    """The lease table of one state database (PostgreSQL or SQLite: the same statements)."""

    def __init__(self, engine: Engine, *, ttl: float = 60.0, chat_risk: timedelta = timedelta(minutes=15)):
        self.engine = engine
        self.ttl = timedelta(seconds=ttl)
        self.chat_risk = chat_risk  # chats whose deadline is this close are captured first
        self._pg = engine.dialect.name == "postgresql"

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self._pg else sqlite.insert)(table)

    # -- the plan ----------------------------------------------------------------------------------

    def sync(self, due: Sequence[Due]) -> None:
        """Make the queue follow the plan: new accounts due now, accounts no longer planned inactive.

        Idempotent; any worker may run it at any time (new rows only, and ``active`` flips)."""
        wanted = {d.account: d for d in due}
        with write_transaction(self.engine) as conn:
            known = {
                r.account: bool(r.active)
                for r in conn.execute(select(capture_leases.c.account, capture_leases.c.active))
            }
            fresh = [d for a, d in wanted.items() if a not in known]
            if fresh:
                conn.execute(
                    self._insert(capture_leases).on_conflict_do_nothing(),
                    [
                        {
                            "account": d.account,
                            "designation_id": d.designation_id,
                            "active": True,
                            "due_at": EPOCH,
                            "last_success_at": d.last_success_at,
                            "chat_deadline": d.chat_deadline,
                            "token": 0,
                        }
                        for d in fresh
                    ],
                )
            back = [a for a, active in known.items() if a in wanted and not active]
            gone = [a for a, active in known.items() if a not in wanted and active]
            if back:
                conn.execute(
                    update(capture_leases).where(capture_leases.c.account.in_(back)).values(active=True)
                )
            if gone:
                conn.execute(
                    update(capture_leases).where(capture_leases.c.account.in_(gone)).values(active=False)
                )

    # -- taking, renewing, releasing ---------------------------------------------------------------

    def acquire(self, holder: str, limit: int, now: datetime | None = None) -> list[Lease]:
        """Take up to ``limit`` due accounts no live lease holds, in the scheduler's order."""
        if limit <= 0:
            return []
        now = now or utcnow()
        t = capture_leases.c
        at_risk = and_(t.chat_deadline.is_not(None), t.chat_deadline < now + self.chat_risk)
        query = (
            select(t.account, t.designation_id, t.token, t.holder, t.expires_at)
            .where(
                t.active.is_(True),
                t.due_at <= now,
                or_(t.holder.is_(None), t.expires_at < now),
            )
            .order_by(
                case((at_risk, 0), else_=1),
                case((at_risk, t.chat_deadline), else_=None).asc().nulls_last(),
                t.last_success_at.asc().nulls_first(),
                t.account,
            )
            .limit(limit)
        )
        if self._pg:
            query = query.with_for_update(skip_locked=True)
        taken: list[Lease] = []
        with write_transaction(self.engine) as conn:
            for row in conn.execute(query).all():
                token = int(row.token) + 1
                conn.execute(
                    update(capture_leases)
                    .where(t.account == row.account)
                    .values(
                        holder=holder,
                        token=token,
                        acquired_at=now,
                        renewed_at=now,
                        expires_at=now + self.ttl,
                        released_at=None,
                    )
                )
                taken.append(Lease(row.account, row.designation_id, token, holder, row.holder))
        return taken

    def renew(self, leases: Sequence[Lease], now: datetime | None = None) -> list[Lease]:
        """Push the expiry of ``leases`` forward; returns those that were lost (taken over)."""
        now = now or utcnow()
        lost: list[Lease] = []
        t = capture_leases.c
        for lease in leases:  # one short transaction each: a lease row busy for a moment delays no other
            with write_transaction(self.engine) as conn:
                done = conn.execute(
                    update(capture_leases)
                    .where(t.account == lease.account, t.token == lease.token, t.holder == lease.holder)
                    .values(renewed_at=now, expires_at=now + self.ttl)
                )
            if done.rowcount != 1:
                lost.append(lease)
        return lost

    def release(
        self,
        lease: Lease,
        *,
        outcome: Outcome | None,
        next_due: timedelta,
        chat_max_age: timedelta,
        now: datetime | None = None,
    ) -> bool:
        """Give the account back, due again after ``next_due``. False if the lease was lost already
        (nothing is changed then: the new holder owns the row)."""
        now = now or utcnow()
        t = capture_leases.c
        values: dict[str, Any] = {
            "holder": None,
            "expires_at": None,
            "released_at": now,
            "due_at": now + next_due,
        }
        if outcome is not None:
            values["last_outcome"] = "complete" if outcome.complete else "incomplete"
            if outcome.complete:
                values["last_success_at"] = now
            if outcome.chat_complete_at is not None:
                values["chat_deadline"] = outcome.chat_complete_at + chat_max_age
        else:
            values["last_outcome"] = "failed"
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(capture_leases)
                .where(t.account == lease.account, t.token == lease.token, t.holder == lease.holder)
                .values(**values)
            )
        return bool(done.rowcount == 1)

    # -- workers -----------------------------------------------------------------------------------

    def register_worker(self, worker_id: str, concurrency: int) -> None:
        now = utcnow()
        with write_transaction(self.engine) as conn:
            conn.execute(
                capture_workers.insert().values(
                    worker_id=worker_id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    concurrency=concurrency,
                    started_at=now,
                    heartbeat_at=now,
                    accounts_done=0,
                    leases_lost=0,
                )
            )

    def heartbeat(self, worker_id: str, *, done: int = 0, lost: int = 0, stopped: bool = False) -> None:
        now = utcnow()
        c = capture_workers.c
        values: dict[str, Any] = {
            "heartbeat_at": now,
            "accounts_done": c.accounts_done + done,
            "leases_lost": c.leases_lost + lost,
        }
        if stopped:
            values["stopped_at"] = now
        with write_transaction(self.engine) as conn:
            conn.execute(update(capture_workers).where(c.worker_id == worker_id).values(**values))

    # -- reporting ---------------------------------------------------------------------------------

    def snapshot(
        self, now: datetime | None = None, *, stale_after: timedelta = timedelta(minutes=5)
    ) -> dict[str, Any]:
        """Every worker seen lately (or still running) with its leases and their age; the queue."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            workers = [dict(r) for r in conn.execute(select(capture_workers)).mappings()]
            held = [
                dict(r)
                for r in conn.execute(
                    select(capture_leases).where(capture_leases.c.holder.is_not(None))
                ).mappings()
            ]
            counts = conn.execute(
                select(
                    func.count(),
                    func.sum(case((capture_leases.c.active.is_(True), 1), else_=0)),
                    func.sum(
                        case(
                            (and_(capture_leases.c.active.is_(True), capture_leases.c.due_at <= now), 1),
                            else_=0,
                        )
                    ),
                )
            ).first()
        by_worker: dict[str, list[dict[str, Any]]] = {}
        for lease in held:
            expires = aware(lease["expires_at"])
            acquired = aware(lease["acquired_at"])
            by_worker.setdefault(str(lease["holder"]), []).append(
                {
                    "account": lease["account"],
                    "token": int(lease["token"]),
                    "acquired_at": acquired.isoformat() if acquired else None,
                    "age_seconds": round((now - acquired).total_seconds(), 1) if acquired else None,
                    "expires_in_seconds": round((expires - now).total_seconds(), 1) if expires else None,
                    "expired": bool(expires and expires < now),
                }
            )
        shown = []
        for worker in sorted(workers, key=lambda w: aware(w["started_at"]) or EPOCH):
            beat = aware(worker["heartbeat_at"]) or EPOCH
            stopped = aware(worker["stopped_at"])
            leases = by_worker.pop(str(worker["worker_id"]), [])
            if stopped is not None and not leases and now - stopped > stale_after:
                continue
            if stopped is None and not leases and now - beat > stale_after:
                continue  # a worker that died long ago and holds nothing
            shown.append(
                {
                    "worker_id": worker["worker_id"],
                    "host": worker["host"],
                    "pid": worker["pid"],
                    "concurrency": worker["concurrency"],
                    "started_at": (aware(worker["started_at"]) or EPOCH).isoformat(),
                    "heartbeat_age_seconds": round((now - beat).total_seconds(), 1),
                    "state": "stopped" if stopped else ("alive" if now - beat < 3 * self.ttl else "silent"),
                    "accounts_done": int(worker["accounts_done"]),
                    "leases_lost": int(worker["leases_lost"]),
                    "leases": sorted(leases, key=lambda x: str(x["account"])),
                }
            )
        for holder, leases in sorted(by_worker.items()):  # held by a worker with no row (should not be)
            shown.append({"worker_id": holder, "state": "unknown", "leases": leases})
        total, active, due = (int(v or 0) for v in (counts or (0, 0, 0)))
        return {"workers": shown, "queue": {"accounts": total, "active": active, "due_now": due}}

"""``capstone capture worker``: one of any number of capture processes sharing a state database.

A worker loops: follow the registry's plan into the lease queue (:class:`~capstone.capture.leases.
Leases`), take as many due accounts as it has free slots (``--concurrency``), capture each under its
lease's fence, release it due again after the capture interval (at most the chat maximum age).
A thread renews the worker's leases every third of their lifetime, independent of the event loop;
a lease found taken over is cancelled at once, and its fence stops any commit that still comes.

Nothing here is a coordinator: PostgreSQL is the queue (``FOR UPDATE SKIP LOCKED``), the lock
(row locks) and the clock of record for leases; S3 is the vault. The same code runs on SQLite (the
embedded default), one worker at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from capstone.capture.engine import CaptureEngine, EngineOptions, RunResult
from capstone.capture.fencewrites import FencedWrites
from capstone.capture.leases import (
    EPOCH,
    Due,
    Lease,
    LeaseLost,
    Leases,
    Outcome,
    aware,
    fenced,
    new_worker_id,
)
from capstone.capture.mail import MailOptions
from capstone.capture.scheduler import mark_final_captures, plan
from capstone.capture.state import CaptureState
from capstone.capture.target import CaptureTarget
from capstone.logging import get_logger
from capstone.settings import Settings
from vault import Vault

log = get_logger("capture.worker")
FENCED_WRITES_WAIT_SECONDS = 300.0  # a record write under way when its lease is lost ends within this


@dataclass
class WorkerOptions:
    concurrency: int = 4
    interval: timedelta = timedelta(minutes=15)  # an account is due again this long after a capture
    chat_max_age: timedelta = timedelta(hours=1)
    lease_seconds: float = 60.0
    poll_seconds: float = 2.0  # when nothing is due: look again after this long
    plan_seconds: float = 60.0  # follow the registry's plan into the queue this often
    exit_when_idle: bool = False  # end when nothing is due and no lease is held (batch use, tests)


@dataclass
class WorkerReport:
    worker_id: str
    captured: int = 0
    lost: int = 0
    results: list[RunResult] = field(default_factory=list)


def due_accounts(
    engine: Engine, state: CaptureState, now: datetime, chat_max_age: timedelta
) -> tuple[list[Due], dict[str, list[CaptureTarget]]]:
    """The plan as queue rows (with what orders them) and the plan's targets by account."""
    schedule = plan(engine, now)
    for problem in schedule.problems:
        log.error("designation_unschedulable", designation_id=problem.designation_id, error=problem.error)
    by_account: dict[str, list[CaptureTarget]] = {}
    for target in schedule.targets:
        by_account.setdefault(target.account, []).append(target)
    complete: dict[tuple[str, str], datetime] = {}
    for latest in state.latest_runs():
        finished = aware((latest.last_complete or {}).get("finished_at"))
        if finished is not None:
            complete[(latest.account, latest.source)] = finished
    due = []
    for account, targets in by_account.items():
        sources = ["graph-mail"] if any(t.capture_mail for t in targets) else []
        if any(t.capture_chats for t in targets):
            sources.append("graph-teams")
        finishes = [complete.get((account, s)) for s in sources]
        last = None if not finishes or None in finishes else min(f for f in finishes if f is not None)
        chats = complete.get((account, "graph-teams"), EPOCH) if "graph-teams" in sources else None
        deadline = None if chats is None else chats + chat_max_age
        due.append(Due(account, targets[0].designation_id, last, deadline))
    return due, by_account


class CaptureWorker:
    def __init__(self, settings: Settings, options: WorkerOptions, *, worker_id: str | None = None) -> None:
        from capstone.services import state_engine

        self.settings = settings
        self.options = options
        self.worker_id = worker_id or new_worker_id()
        self.engine = state_engine(settings)
        self.state = CaptureState(self.engine)
        self.leases = Leases(
            self.engine, ttl=options.lease_seconds, chat_risk=max(options.chat_max_age / 4, options.interval)
        )
        from capstone.db.engine import make_engine

        # The renewer's own connection pool: a capture busy with every pooled connection never
        # delays a renewal.
        self._renewals = Leases(make_engine(settings.database_url, pool_size=1), ttl=options.lease_seconds)
        self.report = WorkerReport(self.worker_id)
        self._held: dict[str, tuple[Lease, asyncio.Task[list[RunResult]]]] = {}
        self._held_lock = threading.Lock()
        self._writes = FencedWrites()  # every record write of a capture, by lease (vault.records_guard)
        self._targets: dict[str, list[CaptureTarget]] = {}
        self._planned_at = 0.0
        self._stopping = asyncio.Event()
        self._renewer_stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done_since_beat = 0
        self._lost_since_beat = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Take no new accounts; finish those in hand, release them, end."""
        self._stopping.set()

    async def run(self) -> WorkerReport:
        from capstone.services import connector_factory, open_vault

        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._loop.add_signal_handler(sig, self.stop)
            except (RuntimeError, ValueError):  # not the main thread (tests): stop() is called instead
                break
        await asyncio.to_thread(self.leases.register_worker, self.worker_id, self.options.concurrency)
        log.info("worker_started", worker=self.worker_id, concurrency=self.options.concurrency)
        vault = await asyncio.to_thread(open_vault, self.settings)
        vault.records_guard = self._writes
        # Graph (with the tenant-wide rate shared across workers) or EWS, per account, chosen in services.
        connectors = connector_factory(self.settings, graph=self._connection())
        capture = CaptureEngine(
            vault=vault,
            state=self.state,
            connectors=connectors,
            options=EngineOptions(
                parallel_accounts=self.options.concurrency,
                mail=MailOptions(private_folder_names=tuple(self.settings.private_folders)),
            ),
        )
        renewer = threading.Thread(target=self._renew_loop, name="capstone-lease-renewer", daemon=True)
        renewer.start()
        try:
            await self._loop_until_stopped(capture, vault)
        finally:
            self._renewer_stop.set()
            renewer.join(timeout=10)
            await connectors.aclose()
            vault.close()
            await asyncio.to_thread(self._beat, stopped=True)
            log.info(
                "worker_stopped", worker=self.worker_id, captured=self.report.captured, lost=self.report.lost
            )
        return self.report

    def _connection(self) -> Any:
        from capstone.services import shared_graph_connection

        return shared_graph_connection(self.settings, self.engine)

    async def _loop_until_stopped(self, capture: CaptureEngine, vault: Vault) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            if loop.time() - self._planned_at >= self.options.plan_seconds or not self._targets:
                await self._plan()
                self._planned_at = loop.time()
            free = self.options.concurrency - len(self._held)
            taken = await asyncio.to_thread(self.leases.acquire, self.worker_id, free) if free > 0 else []
            for lease in taken:
                task = asyncio.create_task(self._work(capture, vault, lease), name=f"capture {lease.account}")
                with self._held_lock:
                    self._held[lease.account] = (lease, task)
            if not self._held:
                if self.options.exit_when_idle and await asyncio.to_thread(self._idle):
                    break
                await self._sleep(self.options.poll_seconds)
                continue
            tasks = [task for _, task in self._held.values()]
            await asyncio.wait(tasks, timeout=self.options.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        if self._held:  # stopping: let the accounts in hand finish (their leases stay renewed)
            await asyncio.wait([task for _, task in self._held.values()])

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _idle(self) -> bool:
        queue = self.leases.snapshot()
        held = sum(len(w.get("leases", [])) for w in queue["workers"])
        return bool(queue["queue"]["due_now"] == 0 and held == 0)

    async def _plan(self) -> None:
        due, targets = await asyncio.to_thread(
            due_accounts, self.engine, self.state, datetime.now(UTC), self.options.chat_max_age
        )
        await asyncio.to_thread(self.leases.sync, due)
        self._targets = targets

    # -- one account -------------------------------------------------------------------------------

    async def _work(self, capture: CaptureEngine, vault: Vault, lease: Lease) -> list[RunResult]:
        results: list[RunResult] = []
        outcome: Outcome | None = None
        lost = False
        try:
            targets = self._targets.get(lease.account)
            if targets is None:  # planned by another worker since our last look
                await self._plan()
                targets = self._targets.get(lease.account, [])
            # A transaction of this lease stalled longer than the lease itself ends on the server
            # (its locks with it): see capstone.capture.leases.
            with fenced(dataclasses.replace(lease.fence, stall_seconds=self.options.lease_seconds)):
                if lease.previous_holder is not None:
                    # A take-over: learn what the previous holder wrote (its own catalog) before
                    # resuming its run, so nothing it wrote stays outside the chain.
                    log.warning("lease_taken_over", account=lease.account, previous=lease.previous_holder)
                    await asyncio.to_thread(vault.sync_catalog)
                results = await self._capture(capture, targets)
            await asyncio.to_thread(mark_final_captures, self.engine, targets, results)
            chats = [r for r in results if r.source == "graph-teams" and r.status == "complete"]
            outcome = Outcome(
                complete=bool(results) and all(r.status == "complete" for r in results),
                chat_complete_at=datetime.now(UTC) if chats else None,
            )
            self.report.results.extend(results)
        except (LeaseLost, asyncio.CancelledError) as exc:
            lost = True
            log.warning("lease_lost", account=lease.account, token=lease.token, reason=type(exc).__name__)
            await asyncio.to_thread(self._close_fenced_writes, vault, lease)
        except Exception as exc:  # a capture that broke outside its runs: retried after the interval
            log.error(
                "worker_capture_failed", account=lease.account, error=f"{type(exc).__name__}: {exc}"[:500]
            )
        finally:
            with self._held_lock:
                self._held.pop(lease.account, None)
        if lost:
            self.report.lost += 1
            self._lost_since_beat += 1
            return results
        next_due = min(self.options.interval, self.options.chat_max_age)
        released = await asyncio.to_thread(
            self.leases.release,
            lease,
            outcome=outcome,
            next_due=next_due,
            chat_max_age=self.options.chat_max_age,
        )
        if released:
            self._writes.forget(lease.fence)
            self.report.captured += 1
            self._done_since_beat += 1
        else:  # taken over after the last commit: whatever it still wrote is listed all the same
            await asyncio.to_thread(self._close_fenced_writes, vault, lease)
            self.report.lost += 1
            self._lost_since_beat += 1
        return results

    async def _capture(self, capture: CaptureEngine, targets: Sequence[CaptureTarget]) -> list[RunResult]:
        """The account's mail and chats at once (as ``capture run`` does); a lost lease stops both."""
        results: list[RunResult] = []
        for target in targets:
            jobs = ([capture.capture_mail(target)] if target.capture_mail else []) + (
                [capture.capture_chats(target)] if target.capture_chats else []
            )
            tasks = [asyncio.create_task(job) for job in jobs]
            try:
                results.extend(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
        return results

    def _close_fenced_writes(self, vault: Vault, lease: Lease) -> None:
        """After a lost lease: the records this worker wrote into the vault under it get a manifest
        of their own (kind ``fenced-writes``), one per run, so they are in the chain; the state
        database (cursors, runs) never took them. First every further record write under the lease
        is refused and those under way are waited for (threads of cancelled tasks, siblings
        ``gather`` left running), so the manifest lists everything and nothing comes after it."""
        runs, ended = self._writes.stop(lease.fence, timeout=FENCED_WRITES_WAIT_SECONDS)
        if not ended:  # a write hanging for minutes: listed by the next writer of its run
            log.error("fenced_writes_still_under_way", account=lease.account, token=lease.token)
        with fenced(None):
            for run_id in sorted(runs):
                # Lines of records the new holder listed with other bytes (its own ``captured_at``)
                # stay unlisted in this catalog (see Catalog.mark_manifested): they are listed here.
                manifest = vault.list_unlisted(
                    run_id,
                    kind="fenced-writes",
                    summary={"account": lease.account, "worker": self.worker_id, "token": lease.token},
                )
                if manifest is None:  # the new holder listed the same lines (written before the pause)
                    continue
                log.warning(
                    "fenced_writes_listed",
                    account=lease.account,
                    run_id=run_id,
                    seq=manifest.seq,
                    records=manifest.record_count,
                )

    # -- renewal -----------------------------------------------------------------------------------

    def _renew_loop(self) -> None:
        every = max(self.options.lease_seconds / 3, 0.5)
        while not self._renewer_stop.wait(every):
            try:
                with self._held_lock:
                    held = list(self._held.values())
                # A lease found taken over: its further record writes are refused at once
                # (LeaseLost); its task stops there or at its next state write (the fence), and
                # :meth:`_close_fenced_writes` lists what it wrote.
                for lease in self._renewals.renew([lease for lease, _ in held]):
                    self._writes.refuse(lease.fence)
                    log.warning("lease_expired_and_taken", account=lease.account, token=lease.token)
                self._beat()
            except Exception as exc:  # the database away for a moment: the next round retries
                log.error("lease_renewal_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    def _beat(self, *, stopped: bool = False) -> None:
        done, lost = self._done_since_beat, self._lost_since_beat
        self._done_since_beat = self._lost_since_beat = 0
        self._renewals.heartbeat(self.worker_id, done=done, lost=lost, stopped=stopped)


def run_worker(settings: Settings, options: WorkerOptions) -> WorkerReport:
    return asyncio.run(CaptureWorker(settings, options).run())

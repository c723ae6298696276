"""Wires settings to a capture pass: vault, state database, Graph connection, due designations."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from capstone.capture.engine import CaptureEngine, EngineOptions, RunResult, account_spec
from capstone.capture.indexing import IndexFollower, index_pass
from capstone.capture.mail import MailOptions
from capstone.capture.progress import CaptureProgress
from capstone.capture.scheduler import Unschedulable, mark_final_captures, plan
from capstone.capture.state import CaptureState, kinds_of_source
from capstone.services import connector_factory, open_vault, state_engine
from capstone.settings import Settings

# Threads for the capture's blocking work (vault writes, state commits) run through asyncio.to_thread.
# asyncio's own default pool has min(32, CPUs + 4) threads: six on a 2-core host, which would cap the
# S3 PUTs in flight across all accounts at six. The S3 store's connection pool holds as many.
IO_THREADS = 32
_SIZED_LOOPS: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _size_io_pool() -> None:
    loop = asyncio.get_running_loop()
    if loop not in _SIZED_LOOPS:
        loop.set_default_executor(ThreadPoolExecutor(IO_THREADS, thread_name_prefix="capture-io"))
        _SIZED_LOOPS.add(loop)


async def capture_once(
    settings: Settings,
    *,
    designation_id: str | None = None,
    progress: bool = True,
    indexer: IndexFollower | None = None,
) -> list[RunResult]:
    """One capture pass. The index is updated after the pass's records and audit seal are safe:
    with ``indexer`` (what ``capture run`` uses) in a process beside capture, never waited for;
    without, in this call (each attachment bounded by the extraction sandbox)."""
    engine = state_engine(settings)
    schedule = plan(engine, datetime.now(UTC), designation_id=designation_id)
    targets = schedule.targets
    unscheduled = [r for problem in schedule.problems for r in unschedulable_results(problem)]
    if designation_id is not None and not targets and not unscheduled:
        raise ValueError(f"designation {designation_id} is not due for capture (unknown, withdrawn or ended)")
    if not targets:
        _seal_audit(settings)
        return unscheduled
    connectors = connector_factory(settings, [account_spec(t) for t in targets])
    vault = open_vault(settings)
    state = CaptureState(engine)
    display = CaptureProgress(connectors.wait_seconds, enabled=progress)
    options = EngineOptions(
        parallel_accounts=settings.capture_parallel_accounts,
        mail=MailOptions(private_folder_names=tuple(settings.private_folders)),
        on_progress=display.update,
    )
    capture = CaptureEngine(vault=vault, state=state, connectors=connectors, options=options)
    _size_io_pool()
    try:
        with display:
            results = await capture.run_once(targets)
    finally:
        await connectors.aclose()
        vault.close()
    mark_final_captures(engine, targets, results)
    _observe(results)
    _seal_audit(settings)  # before indexing: the seal never waits for the index
    if indexer is not None:
        indexer.kick()
    else:
        index_pass(settings)
    return results + unscheduled


def unschedulable_results(problem: Unschedulable) -> list[RunResult]:
    """A designation the scheduler could not plan, reported as a failed run of each of its accounts
    (no run was started, so nothing is in the vault); the other designations were captured."""
    counters = dict.fromkeys(("items", "bytes", "excluded", "moves", "deletions", "errors"), 0)
    return [
        RunResult(
            run_id="-",
            designation_id=problem.designation_id,
            account=account,
            status="failed",
            resumed=False,
            counters=dict(counters),
            reconciliation=None,
            uncapturable=[],
            manifest_key=None,
            seconds=0.0,
            requests=0,
            delta_requests=0,
            content_requests=0,
            throttle_waits=0.0,
            error=problem.message,
        )
        for account in problem.accounts
    ]


def _seal_audit(settings: Settings) -> None:
    """Seal the audit entries made since the last seal into the vault, so with a continuous capture
    the audit log is sealed at every pass (a no-op when nothing was audited)."""
    from capstone.logging import get_logger
    from capstone.services import audit_log

    try:
        vault = open_vault(settings)
        try:
            audit_log(settings).seal(vault, actor="capstone-capture")
        finally:
            vault.close()
    except Exception as exc:  # the audit log stays verifiable in the database; the next pass retries
        get_logger("capture").error("audit_seal_failed", error=type(exc).__name__, detail=str(exc)[:300])


def _observe(results: list[RunResult]) -> None:
    from capstone.capture import metrics

    for r in results:
        metrics.observe_run(
            r.account,
            items=r.counters.get("items", 0),
            size=r.counters.get("bytes", 0),
            errors=r.counters.get("errors", 0),
            throttle_waits=r.throttle_waits,
        )


@dataclass(frozen=True)
class RunCause:
    """Why a run did not complete, as counts and the engine's first error line (never message
    contents): the CLI words it in English (:meth:`english`), the web in Dutch."""

    error: str | None
    not_captured: int
    differences: int

    @classmethod
    def of(cls, summary: Mapping[str, Any] | None) -> RunCause:
        summary = summary or {}
        error = str(summary["error"]).splitlines()[0][:300] if summary.get("error") else None
        rec = summary.get("reconciliation") or {}
        differences = len(rec.get("differences") or []) if rec and not rec.get("complete", True) else 0
        return cls(error, len(summary.get("uncapturable") or []), differences)

    def english(self) -> str | None:
        if self.error:
            return self.error
        parts = []
        if self.not_captured:
            parts.append(
                f"{self.not_captured} item(s) or part(s) not captured (open errors, retried by the next run)"
            )
        if self.differences:
            parts.append(f"reconciliation found {self.differences} unexplained difference(s)")
        return "; ".join(parts) or None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_reason(status: str, summary: dict[str, Any]) -> str | None:
    """Why a run is not complete, in one line (None for a complete or running run)."""
    if status in ("complete", "running"):
        return None
    return RunCause.of(summary).english()


def capture_status(settings: Settings) -> dict[str, Any]:
    engine = state_engine(settings)
    state = CaptureState(engine)
    now = datetime.now(UTC)
    accounts: dict[tuple[str, str], dict[str, Any]] = {}
    for latest in state.latest_runs():
        run = latest.last
        summary = run.get("summary") or {}
        complete_summary = (latest.last_complete or {}).get("summary") or {}
        designation = summary.get("designation") or complete_summary.get("designation") or {}
        entry: dict[str, Any] = {
            "account": latest.account,
            "source": latest.source,
            "designation_id": run["designation_id"],
            "official": designation.get("official"),
            "last_run": {
                "run_id": run["run_id"],
                "status": run["status"],
                "started_at": run["started_at"],
                "finished_at": run.get("finished_at"),
                "reason": run_reason(run["status"], summary),
                "cause": RunCause.of(summary).to_json(),
                "not_captured": [
                    {k: u.get(k) for k in ("item_id", "folder", "status", "error")}
                    for u in summary.get("uncapturable") or []
                ],
            },
            "last_success": None,
            "lag_seconds": None,
            "last_reconciliation": None,
        }
        # The newest run that reconciled (a run still going or one that failed early has none).
        rec = summary.get("reconciliation") or complete_summary.get("reconciliation")
        if rec:
            entry["last_reconciliation"] = {
                k: rec[k] for k in ("complete", "source_items", "vault_items", "excluded", "differences")
            }
        if latest.last_complete is not None:
            finished = latest.last_complete["finished_at"]
            if finished.tzinfo is None:
                finished = finished.replace(tzinfo=UTC)
            entry["last_success"] = {
                "run_id": latest.last_complete["run_id"],
                "finished_at": finished.isoformat(),
            }
            entry["lag_seconds"] = round((now - finished).total_seconds(), 1)
        accounts[(latest.account, latest.source)] = entry
    for (account, source), entry in accounts.items():
        kinds = kinds_of_source(source)
        parts = {kind: state.totals(account, (kind,)) for kind in kinds}
        entry["items"] = sum(p["items"] for p in parts.values())
        entry["bytes"] = sum(p["bytes"] for p in parts.values())
        # The same calendar item is held twice: as an export stream and as Graph JSON.
        entry["by_kind"] = {kind: p for kind, p in parts.items() if p["items"]}
        paths = {kind: state.folder_paths(account, kind) for kind in kinds}
        entry["open_errors"] = [
            {
                "item_id": e["item_id"],
                "folder_id": e["folder_id"],
                "folder": paths[kind].get(e["folder_id"]),
                "kind": kind,
                "error": e["error"],
                "attempts": e["attempts"],
                "run_id": e["run_id"],
            }
            for kind in kinds
            for e in state.open_errors(account, kind)
        ]
    from capstone.capture.freshness import parse_duration, stale_chat_captures
    from capstone.imports.freshness import phone_import_warnings

    max_age = parse_duration(settings.chat_capture_max_age)
    warnings = [{"message": p.message, **asdict(p)} for p in plan(engine, now).problems]
    warnings.extend(s.to_json() for s in stale_chat_captures(engine, max_age, now))
    from capstone.capture.leases import Leases

    return {
        "at": now.isoformat(),
        "workers": Leases(engine, ttl=settings.capture_lease_seconds).snapshot(now),
        "chat_max_age_seconds": max_age.total_seconds(),
        "warnings": warnings + phone_import_warnings(settings, engine, now),
        "accounts": sorted(accounts.values(), key=lambda a: (a["account"], a["source"])),
    }

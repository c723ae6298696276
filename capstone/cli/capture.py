"""``capstone capture``: capture the mailboxes of every active designation into the vault."""

from __future__ import annotations

import asyncio
import errno
import re
import sqlite3
import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
import sqlalchemy.exc

from capstone.access import ARCHIVIST, AUDITOR
from capstone.cli.access import authorize
from capstone.cli.context import AppContext, fail, pass_app, print_json
from vault import VaultError

_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
_INTERVAL = re.compile(r"^(\d+)\s*([smhd]?)$")


def parse_interval(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds."""
    match = _INTERVAL.match(text.strip())
    if not match:
        raise click.BadParameter(f"{text!r} is not an interval like 15m, 1h or 900s")
    value, unit = int(match.group(1)), match.group(2) or "s"
    seconds = value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds <= 0:
        raise click.BadParameter("the interval must be positive")
    return float(seconds)


@click.group(name="capture")
def group() -> None:
    """Capture the complete mailboxes of designated key officials (Microsoft Graph)."""


def print_results(results: list[dict[str, Any]]) -> None:
    for r in results:
        rec = r.get("reconciliation") or {}
        what = {"graph-teams": "Teams chats", "ews-mail": "mailbox, on-premises Exchange (EWS)"}.get(
            str(r.get("source")), "mailbox"
        )
        protocol = "EWS" if r.get("source") == "ews-mail" else "Graph"
        click.echo(
            f"{r['account']} ({what}): {r['status'].upper()}  run {r['run_id']}"
            + (" (resumed after an interruption)" if r["resumed"] else "")
        )
        c = r["counters"]
        click.echo(
            f"  new items {c['items']:,}, {c['bytes'] / 1e6:,.1f} MB; private items excluded {c['excluded']}, "
            f"moves {c['moves']}, deletions in source {c['deletions']}, errors {c['errors']}"
        )
        if r["requests"]:
            click.echo(
                f"  {r['requests']:,} {protocol} requests in {r['seconds']:.1f} s, "
                f"throttle waits {r['throttle_waits']:.1f} s"
            )
        else:
            click.echo(f"  {r['seconds']:.1f} s")
        if rec:
            click.echo(
                f"  reconciliation: source {rec['source_items']:,} items, vault {rec['vault_items']:,}, "
                f"excluded {rec['excluded']}, outside window {rec['out_of_window']} -> "
                + ("complete" if rec["complete"] else "DIFFERENCES")
            )
            for diff in rec["differences"]:
                click.echo(
                    f"    {diff['folder']}: missing {len(diff['missing'])}, extra {len(diff['extra'])}, "
                    f"explained by open errors {len(diff['explained_by_open_errors'])}"
                )
        for item in r["uncapturable"]:
            click.echo(f"  not captured: {item['item_id']} in {item['folder']}: {item['error']}")
        if r.get("error"):
            click.echo(f"  run failed: {r['error']}")
        click.echo(f"  manifest: {r['manifest_key']}")


@group.command("run")
@click.option("--once", "mode", flag_value="once", default=True, help="One pass over the due designations.")
@click.option("--continuous", "mode", flag_value="continuous", help="Repeat every --interval until stopped.")
@click.option(
    "--interval", default=None, help="Interval for --continuous, e.g. 15m (CAPSTONE_CAPTURE_INTERVAL)."
)
@click.option("--designation", "designation_id", default=None, help="Capture only this designation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document with every run's result.")
@pass_app
def run_command(
    app: AppContext, mode: str, interval: str | None, designation_id: str | None, as_json: bool
) -> None:
    """Capture every active designation's mailbox; resumes interrupted runs; exit 1 if a run is
    incomplete or failed."""
    from capstone.capture import metrics
    from capstone.capture.runner import capture_once

    authorize(app, "capture-run", ARCHIVIST, designation=designation_id)
    settings = app.settings
    from capstone.capture.freshness import parse_duration

    seconds = min(
        parse_interval(interval or settings.capture_interval),
        parse_duration(settings.chat_capture_max_age).total_seconds(),
    )
    if settings.metrics_port:
        from capstone.capture.state import CaptureState
        from capstone.services import state_engine

        metrics.serve(settings.metrics_port, CaptureState(state_engine(settings)))
    from capstone.capture.indexing import IndexFollower

    # --continuous: index updates run in a process beside capture, never inside a pass; --once
    # indexes after its pass (each attachment bounded by the extraction sandbox) and ends.
    indexer = IndexFollower(settings) if mode == "continuous" else None
    while True:
        try:
            results = asyncio.run(
                capture_once(settings, designation_id=designation_id, progress=not as_json, indexer=indexer)
            )
        except (VaultError, ValueError, PermissionError) as exc:
            fail(str(exc))
        except (sqlite3.Error, sqlalchemy.exc.OperationalError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _DISK_ERRNOS:
                raise
            fail(storage_failure(exc))
        documents = [r.to_json() for r in results]
        if as_json:
            print_json({"at": datetime.now(UTC).isoformat(), "runs": documents})
        else:
            if not documents:
                click.echo("No designation is due for capture.")
            print_results(documents)
        if indexer is None:
            sys.exit(0 if all(r.status == "complete" for r in results) else 1)
        if settings.retention_lifecycle:  # issue 21: secure what left its window, remove lapsed exclusions
            from capstone.retention.service import run_quietly

            run_quietly(settings)
        time.sleep(seconds)
        indexer.poll()


@group.command("worker")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=None,
    help="Accounts this worker captures at once (default CAPSTONE_CAPTURE_PARALLEL_ACCOUNTS).",
)  # fmt: skip
@click.option(
    "--interval", default=None, help="An account is due again this long after its capture, e.g. 15m."
)
@click.option(
    "--exit-when-idle", is_flag=True, help="End when nothing is due and no worker holds an account."
)
@pass_app
def worker_command(
    app: AppContext, concurrency: int | None, interval: str | None, exit_when_idle: bool
) -> None:
    """Capture as one of many workers sharing the state database (PostgreSQL; SQLite: one worker).

    Takes leases on due accounts (longest lag first, Teams chats at risk before all), renews them
    while capturing, and stops cleanly on SIGTERM (accounts in hand are finished first)."""
    from datetime import timedelta

    from capstone.capture import metrics
    from capstone.capture.freshness import parse_duration
    from capstone.capture.workers import WorkerOptions, run_worker

    authorize(app, "capture-run", ARCHIVIST)
    settings = app.settings
    options = WorkerOptions(
        concurrency=concurrency or settings.capture_parallel_accounts,
        interval=timedelta(seconds=parse_interval(interval or settings.capture_interval)),
        chat_max_age=parse_duration(settings.chat_capture_max_age),
        lease_seconds=settings.capture_lease_seconds,
        exit_when_idle=exit_when_idle,
    )
    if settings.metrics_port:
        from capstone.capture.state import CaptureState
        from capstone.services import state_engine

        metrics.serve(settings.metrics_port, CaptureState(state_engine(settings)))
    try:
        report = run_worker(settings, options)
    except (VaultError, ValueError, PermissionError) as exc:
        fail(str(exc))
    click.echo(
        f"worker {report.worker_id}: {report.captured} account(s) captured, {report.lost} lease(s) lost"
    )


def storage_failure(exc: BaseException) -> str:
    """One line for a local write that failed (a full disk, a read-only or vanished directory)."""
    if isinstance(exc, sqlalchemy.exc.OperationalError) and exc.orig is not None:
        detail = str(exc.orig)
    else:
        detail = getattr(exc, "strerror", None) or str(exc)
    first = (detail.splitlines() or [type(exc).__name__])[0][:200]
    return (
        f"capture stopped: a local database or file could not be written ({first}); free disk space "
        "(the state database, the vault catalog under CAPSTONE_HOME) and run again: interrupted runs "
        "resume where they stopped"
    )


@group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def status_command(app: AppContext, as_json: bool) -> None:
    """Per designation and account: last successful run, items and bytes held, lag, open errors,
    last reconciliation."""
    from capstone.capture.runner import capture_status

    authorize(app, "capture-status", ARCHIVIST, AUDITOR)

    try:
        status = capture_status(app.settings)
    except (VaultError, ValueError) as exc:
        fail(str(exc))
    if as_json:
        print_json(status)
        return
    print_status(status)


def print_status(status: dict[str, Any]) -> None:
    for warning in status.get("warnings", []):
        click.echo(click.style(f"WARNING: {warning['message']}", fg="yellow"))
    workers = status.get("workers") or {}
    if workers.get("workers"):
        queue = workers["queue"]
        click.echo(
            f"Capture workers ({queue['active']} account(s) in the queue, {queue['due_now']} due now):"
        )
        for w in workers["workers"]:
            click.echo(
                f"  {w['worker_id']} {w['state']}"
                + (
                    f", heartbeat {w['heartbeat_age_seconds']:.0f} s ago"
                    if "heartbeat_age_seconds" in w
                    else ""
                )
                + f", {len(w['leases'])} lease(s)"
                + (f", {w['accounts_done']} done" if "accounts_done" in w else "")
            )
            for lease in w["leases"]:
                state = "EXPIRED" if lease["expired"] else f"expires in {lease['expires_in_seconds']:.0f} s"
                click.echo(
                    f"    {lease['account']} token {lease['token']}, held {lease['age_seconds']:.0f} s, {state}"
                )
    if not status["accounts"]:
        click.echo("Nothing captured yet.")
    for acc in status["accounts"]:
        what = {"graph-teams": "Teams chats", "ews-mail": "mailbox, on-premises Exchange (EWS)"}.get(
            acc["source"], "mailbox"
        )
        click.echo(f"{acc['account']} {what}  ({acc['official']}, designation {acc['designation_id']})")
        last = acc["last_success"]
        lag = f"{acc['lag_seconds'] / 60:,.0f} min ago" if acc["lag_seconds"] is not None else "never"
        click.echo(f"  last complete run: {last['run_id'] if last else '-'} ({lag})")
        parts = ", ".join(f"{kind} {p['items']:,}" for kind, p in (acc.get("by_kind") or {}).items())
        click.echo(
            f"  held in vault: {acc['items']:,} items, {acc['bytes'] / 1e6:,.1f} MB"
            + (f" ({parts})" if parts else "")
        )
        run = acc.get("last_run") or {}
        if run and (last is None or run.get("run_id") != last["run_id"]):
            reason = f": {run['reason']}" if run.get("reason") else ""
            click.echo(f"  last run: {run['run_id']} {str(run['status']).upper()}{reason}")
        click.echo(f"  open errors: {len(acc['open_errors'])}")
        for err in acc["open_errors"][:20]:
            click.echo(
                f"    {err['item_id']} in {err.get('folder') or err['folder_id'] or err.get('kind', '-')} "
                f"(attempts {err['attempts']}): {err['error']}"
            )
        if len(acc["open_errors"]) > 20:
            click.echo(f"    ... and {len(acc['open_errors']) - 20} more (capture status --json lists all)")
        rec = acc["last_reconciliation"]
        if rec:
            verdict = "complete" if rec["complete"] else f"{len(rec['differences'])} difference(s)"
            click.echo(
                f"  last reconciliation: source {rec['source_items']:,}, vault {rec['vault_items']:,}, "
                f"excluded {rec['excluded']} -> {verdict}"
            )

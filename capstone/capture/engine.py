"""Runs captures: one run per designated account, many accounts in parallel.

A run is resumed after a crash (same run id), reconciles the vault against the source, and ends
with its manifest in the vault's hash chain, also when it failed, so every record it wrote is
chained. Its status is ``complete`` only when reconciliation found no unexplained difference and
nothing was left uncaptured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from capstone.capture.chats import ChatCapture
from capstone.capture.failures import SOURCE_FAILURES, failure_reason, failure_status, source_error_id
from capstone.capture.mail import CaptureCounters, MailboxCapture, MailOptions
from capstone.capture.reconcile import reconcile_mailbox
from capstone.capture.state import CaptureState, ItemError
from capstone.capture.target import CaptureTarget
from capstone.logging import get_logger
from connectors.base import AccountSpec, Connector, ConnectorFactory, RequestStats
from vault import Vault

log = get_logger("capture.engine")


@dataclass
class RunResult:
    run_id: str
    designation_id: str
    account: str
    status: str  # complete, incomplete, failed
    resumed: bool
    counters: dict[str, int]
    reconciliation: dict[str, Any] | None
    uncapturable: list[dict[str, Any]]
    manifest_key: str | None
    seconds: float
    requests: int
    delta_requests: int
    content_requests: int
    throttle_waits: float
    round_trips: int = 0  # HTTP requests that carried ``requests`` ($batch carries up to 20)
    error: str | None = None
    source: str = "graph-mail"
    connector: str = "graph"  # which connector captured it ("graph", "ews")

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class EngineOptions:
    parallel_accounts: int = 4
    mail: MailOptions = field(default_factory=MailOptions)
    on_progress: Callable[[str, CaptureCounters], None] | None = None


class CaptureEngine:
    def __init__(
        self,
        *,
        vault: Vault,
        state: CaptureState,
        connectors: ConnectorFactory,
        options: EngineOptions | None = None,
    ) -> None:
        self.vault = vault
        self.state = state
        self.connectors = connectors
        self.options = options or EngineOptions()
        self.counters: dict[str, CaptureCounters] = {}

    async def run_once(self, targets: Sequence[CaptureTarget]) -> list[RunResult]:
        gate = asyncio.Semaphore(self.options.parallel_accounts)

        async def mail(target: CaptureTarget) -> RunResult:
            async with gate:
                return await self.capture_mail(target)

        async def chats(target: CaptureTarget) -> RunResult:
            async with gate:
                return await self.capture_chats(target)

        jobs = [mail(t) for t in targets if t.capture_mail] + [chats(t) for t in targets if t.capture_chats]
        return list(await asyncio.gather(*jobs))

    def connector(self, target: CaptureTarget) -> Connector:
        """The account's connector, as the factory chose it by the account's endpoint."""
        return self.connectors.connector(account_spec(target))

    async def capture_chats(self, target: CaptureTarget) -> RunResult:
        """The account's chats: every message version, hosted contents, chat metadata."""
        connector = self.connector(target)
        source = connector.chat_run_source
        run_id, resumed = self.state.start_or_resume_run(target.designation_id, target.account, source)
        log.info("chat_capture_started", run_id=run_id, account=target.account, resumed=resumed)
        counters = CaptureCounters()
        started = time.monotonic()
        captures: list[ChatCapture] = []
        status, error, reconciliation = "failed", None, None
        uncapturable: list[dict[str, Any]] = []
        try:
            chat_sources = connector.chat_sources()
            if len(chat_sources) != 1:  # one chat source per account today: they would share a cursor
                raise RuntimeError(
                    f"{connector.name} connector offers {len(chat_sources)} chat sources, not 1"
                )
            capture = ChatCapture(
                target=target, chats=chat_sources[0], vault=self.vault, state=self.state, run_id=run_id,
                counters=counters,
            )  # fmt: skip
            captures.append(capture)
            try:
                await capture.run()
            except SOURCE_FAILURES as exc:  # a page the source keeps refusing: retried next run
                uncapturable.append(self._source_failed(run_id, target.account, "teams", "teams", exc))
                raise _PartFailed(uncapturable[-1]["error"]) from exc
            self._source_recovered(run_id, target.account, "teams", "teams")
            per_chat = await capture.reconcile()
            complete = all(c.ok for c in per_chat)
            reconciliation = {
                "complete": complete,
                "source_items": sum(c.source_messages for c in per_chat),
                "vault_items": sum(c.source_messages - len(c.missing) for c in per_chat),
                "excluded": 0,
                "out_of_window": 0,
                "differences": [
                    {"folder": f"chat {c.topic or c.chat_id}", "missing": c.missing, "extra": [],
                     "explained_by_open_errors": []}
                    for c in per_chat
                    if c.missing
                ],
                "chats": [{"chat_id": c.chat_id, "topic": c.topic, "messages": c.source_messages,
                           "missing": c.missing} for c in per_chat],
            }  # fmt: skip
            status = "complete" if complete and not capture.uncapturable else "incomplete"
        except _PartFailed as exc:  # an open error of the run, not a failed run
            status, error = "incomplete", str(exc)
            log.warning("chat_capture_incomplete", run_id=run_id, account=target.account, error=error)
        except Exception as exc:  # recorded, reported, and the run's records still get their manifest
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.error("chat_capture_failed", run_id=run_id, account=target.account, error=error)
        return await self._finish(
            target=target,
            run_id=run_id,
            resumed=resumed,
            source=source,
            connector=connector,
            status=status,
            error=error,
            counters=counters,
            reconciliation=reconciliation,
            uncapturable=[u for c in captures for u in c.uncapturable] + uncapturable,
            started=started,
            chats=True,
        )

    def _source_failed(
        self, run_id: str, account: str, kind: str, part: str, exc: BaseException
    ) -> dict[str, Any]:
        """A part of the account the source would not give (after the transport's retries): an
        open error of the run, retried by the next one."""
        reason = f"{part}: {failure_reason(exc)}"[:500]
        item_id = source_error_id(part)
        self.state.commit_page(
            account=account, kind=kind, folder_id="", run_id=run_id,
            next_cursor=None, final_cursor=None, items=(), removals=(),
            errors=(ItemError(item_id, "", reason),),
        )  # fmt: skip
        log.warning("capture_part_failed", account=account, part=part, status=failure_status(exc))
        return {"item_id": item_id, "folder": part, "status": failure_status(exc), "error": reason}

    def _source_recovered(self, run_id: str, account: str, kind: str, part: str) -> None:
        item_id = source_error_id(part)
        if any(e["item_id"] == item_id for e in self.state.open_errors(account, kind)):
            self.state.commit_page(
                account=account, kind=kind, folder_id="", run_id=run_id,
                next_cursor=None, final_cursor=None, items=(), removals=(), errors=(),
                resolved_errors=(item_id,),
            )  # fmt: skip

    async def capture_mail(self, target: CaptureTarget) -> RunResult:
        connector = self.connector(target)
        source = connector.mail_run_source
        run_id, resumed = self.state.start_or_resume_run(target.designation_id, target.account, source)
        log.info(
            "capture_started",
            run_id=run_id,
            account=target.account,
            resumed=resumed,
            connector=connector.name,
        )
        counters = self.counters.setdefault(target.account, CaptureCounters())
        started = time.monotonic()
        before = connector.stats()
        mail_options = self.options.mail
        if self.options.on_progress is not None:
            callback = self.options.on_progress
            mail_options = replace(mail_options, on_progress=lambda c: callback(target.account, c))
        uncapturable: list[dict[str, Any]] = []
        reconciliations: list[dict[str, Any]] = []
        status, error = "failed", None
        try:
            try:
                found = await connector.mail_sources()
            except SOURCE_FAILURES as exc:  # no connector for the account, or it cannot be opened
                kind = connector.mail_kinds[0]
                uncapturable.append(self._source_failed(run_id, target.account, kind, "connector", exc))
                raise
            self._source_recovered(run_id, target.account, connector.mail_kinds[0], "connector")
            for failure in found.failed:  # e.g. Graph's export API: the mail is captured all the same
                uncapturable.append(
                    self._source_failed(run_id, target.account, failure.kind, failure.part, failure.error)
                )
            for opened_kind, opened_part in found.opened:
                self._source_recovered(run_id, target.account, opened_kind, opened_part)
            complete = True
            for mail_source in found.sources:
                capture = MailboxCapture(
                    target=target,
                    mailbox=mail_source,
                    vault=self.vault,
                    state=self.state,
                    run_id=run_id,
                    options=mail_options,
                    counters=counters,
                )
                source_started, items_before, bytes_before = time.monotonic(), counters.items, counters.bytes
                failed: BaseException | None = None
                try:
                    details = await capture.run()
                    run_seconds = round(time.monotonic() - source_started, 3)
                    rec = await reconcile_mailbox(mail_source, self.state, target.account, capture.kind)
                except SOURCE_FAILURES as exc:  # e.g. its folders could not be listed: the others go on
                    if mail_source.required:
                        raise  # the mailbox itself cannot be read (gone, no access): the run fails
                    failed = exc
                finally:
                    uncapturable.extend(capture.uncapturable)
                if failed is not None:
                    uncapturable.append(
                        self._source_failed(run_id, target.account, capture.kind, capture.kind, failed)
                    )
                    complete = False
                    continue
                self._source_recovered(run_id, target.account, capture.kind, capture.kind)
                captured = {  # what this part of the mailbox cost, for status and benchmarks
                    "seconds": run_seconds,
                    "items": counters.items - items_before,
                    "bytes": counters.bytes - bytes_before,
                }
                part = rec.to_json() | {"folder_events": details["folder_events"], "captured": captured}
                part.update(mail_source.notes())
                reconciliations.append(part)
                complete = complete and rec.complete
            status = "complete" if complete and not uncapturable else "incomplete"
        except Exception as exc:  # recorded, reported, and the run's records still get their manifest
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.error("capture_failed", run_id=run_id, account=target.account, error=error)
        return await self._finish(
            target=target,
            run_id=run_id,
            resumed=resumed,
            source=source,
            connector=connector,
            status=status,
            error=error,
            counters=counters,
            reconciliation=_combine(reconciliations),
            uncapturable=uncapturable,
            started=started,
            before=before,
        )

    async def _finish(
        self,
        *,
        target: CaptureTarget,
        run_id: str,
        resumed: bool,
        source: str,
        connector: Connector,
        status: str,
        error: str | None,
        counters: CaptureCounters,
        reconciliation: dict[str, Any] | None,
        uncapturable: list[dict[str, Any]],
        started: float,
        before: RequestStats | None = None,
        chats: bool = False,
    ) -> RunResult:
        """Every run ends the same way, failed or not: its manifest in the chain, its state row closed."""
        summary = {
            "account": target.account,
            "source": source,
            "designation": target.designation_record(),
            "status": status,
            "counters": counters.as_dict(),
            "reconciliation": reconciliation,
            "uncapturable": uncapturable,
            "error": error,
        }
        kind = "chat-capture-run" if chats else "capture-run"
        manifest = await asyncio.to_thread(self.vault.write_manifest, run_id, kind=kind, summary=summary)
        self.state.finish_run(
            run_id, status=status, errors=len(uncapturable), manifest_key=manifest.key, summary=summary
        )
        log.info("capture_finished", run_id=run_id, account=target.account, source=source, status=status)
        delta = connector.stats().minus(before) if before is not None else RequestStats()
        return RunResult(
            run_id=run_id,
            designation_id=target.designation_id,
            account=target.account,
            status=status,
            resumed=resumed,
            counters=counters.as_dict(),
            reconciliation=reconciliation,
            uncapturable=uncapturable,
            manifest_key=manifest.key,
            seconds=round(time.monotonic() - started, 3),
            requests=delta.requests,
            delta_requests=delta.delta_requests,
            content_requests=delta.content_requests,
            throttle_waits=round(delta.wait_seconds, 3),
            round_trips=delta.round_trips,
            error=error,
            source=source,
            connector=connector.name,
        )


def account_spec(target: CaptureTarget) -> AccountSpec:
    """What a connector is asked for: the target's account, endpoint and window."""
    return AccountSpec(
        account=target.account,
        exchange_endpoint=target.exchange_endpoint,
        address=target.address,
        content_from=target.content_from,
        content_until=target.content_until,
    )


class _PartFailed(Exception):
    """The run could not go on, and what stopped it is an open error of the run."""


def _combine(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One reconciliation for the account: totals over its mailboxes, details per mailbox."""
    if not parts:
        return None
    return {
        "complete": all(p["complete"] for p in parts),
        "source_items": sum(p["source_items"] for p in parts),
        "vault_items": sum(p["vault_items"] for p in parts),
        "excluded": sum(p["excluded"] for p in parts),
        "out_of_window": sum(p["out_of_window"] for p in parts),
        "differences": [d | {"mailbox_kind": p["mailbox_kind"]} for p in parts for d in p["differences"]],
        "mailboxes": parts,
    }

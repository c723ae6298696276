"""Guarded reads and checks the CLI runs with a role check in its command, as one service the web
application (and any later entry point) calls, so the check and its audit entry live in the service.

Example::

    ops = Operations(settings, guard, engine)
    ops.capture_status()                       # archivist or auditor; audited
    ops.registry_state(date(2026, 3, 1))       # registry-admin; audited
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from capstone.access import ARCHIVIST, AUDITOR, REGISTRY_ADMIN
from capstone.access.guard import Guard
from capstone.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from capstone.registry.csvio import CsvRow
    from capstone.registry.errors import RowError
    from capstone.registry.model import Designation, RegistryEvent
    from capstone.registry.service import Registry
    from vault.verify import VerifyReport


class Operations:
    def __init__(self, settings: Settings, guard: Guard, engine: Engine) -> None:
        self.settings = settings
        self.guard = guard
        self.engine = engine

    def registry(self) -> Registry:
        from capstone.registry.archive import settings_archive
        from capstone.registry.service import Registry

        return Registry(self.engine, archive=settings_archive(self.settings), guard=self.guard)

    def capture_status(self) -> dict[str, Any]:
        from capstone.capture.runner import capture_status

        role = self.guard.require("capture-status", None, ARCHIVIST, AUDITOR)
        status = capture_status(self.settings)
        self.guard.record("capture-status", None, "allowed", role, accounts=len(status["accounts"]))
        return status

    def registry_state(self, on: date | None) -> list[Designation]:
        """Who is designated on ``on`` (None: every designation), with addresses: registry-admin."""
        role = self.guard.require("registry-list", None, REGISTRY_ADMIN)
        registry = self.registry()
        found = registry.designations() if on is None else registry.state_at(on)
        self.guard.record("registry-list", None, "allowed", role, on=on.isoformat() if on else None)
        return found

    def registry_history(self, designation_id: str) -> list[RegistryEvent]:
        role = self.guard.require("registry-history", None, REGISTRY_ADMIN, designation_id=designation_id)
        events = self.registry().history(designation_id)
        self.guard.record("registry-history", None, "allowed", role, designation_id=designation_id)
        return events

    def vault_verify(self, progress: Callable[[int, int, str], None] | None = None) -> VerifyReport:
        from capstone.services import open_vault
        from vault.verify import verify_vault

        role = self.guard.require("vault-verify", None, ARCHIVIST, AUDITOR)
        vault = open_vault(self.settings)
        try:
            report = verify_vault(vault, progress=progress)
        finally:
            vault.close()
        self.guard.record("vault-verify", None, "allowed", role, all_well=report.all_well)
        return report

    def registry_preview(self, data: bytes) -> tuple[list[CsvRow], list[RowError]]:
        """Every row of a designation CSV with its errors, nothing written (registry-admin): what
        the web's import shows before the all-or-nothing import."""
        return self.registry().preview_csv(data)

    def capture_run(self, run_id: str) -> dict[str, Any] | None:
        """One capture run with its summary (reconciliation, errors): archivist or auditor."""
        from capstone.capture.state import CaptureState

        role = self.guard.require("capture-run-show", None, ARCHIVIST, AUDITOR, run_id=run_id)
        run = CaptureState(self.engine).run(run_id)
        self.guard.record("capture-run-show", None, "allowed", role, run_id=run_id, found=run is not None)
        return run

    def captured_per_day(self, days: int = 30) -> dict[str, dict[str, int]]:
        """Items captured per official (designation name) per day over the last ``days`` days, from
        the runs' new-item counts: archivist or auditor."""
        from datetime import UTC, datetime, timedelta

        from capstone.capture.state import CaptureState

        role = self.guard.require("capture-chart", None, ARCHIVIST, AUDITOR)
        names = {d.designation_id: d.name for d in self.registry().designations(include_withdrawn=True)}
        since = datetime.now(UTC) - timedelta(days=days)
        chart: dict[str, dict[str, int]] = {}
        for run in CaptureState(self.engine).runs():
            started = run["started_at"] if run["started_at"].tzinfo else run["started_at"].replace(tzinfo=UTC)
            if started < since:
                continue
            official = names.get(run["designation_id"], run["designation_id"])
            day = started.date().isoformat()
            chart.setdefault(official, {})
            chart[official][day] = chart[official].get(day, 0) + int(run["items_new"] or 0)
        self.guard.record("capture-chart", None, "allowed", role, days=days)
        return chart

    def last_vault_verify(self) -> dict[str, Any] | None:
        """The newest ``vault verify`` run through this service (time, who, result), from the audit
        log: archivist or auditor."""
        self.guard.require("vault-verify-last", None, ARCHIVIST, AUDITOR)
        last = None
        for entry in self.guard.audit.entries():
            if entry.action == "vault-verify" and entry.outcome == "allowed":
                last = {"at": entry.at, "actor": entry.actor, "all_well": entry.detail.get("all_well")}
        return last

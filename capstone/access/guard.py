"""The check every service runs before it acts: does this actor hold a role the action needs?

A refusal is an :class:`~capstone.access.AccessDenied` and an audit entry with its reason, so
wrong-role attempts are accountable whichever entry point (CLI, later API) they came through.

Example::

    guard = Guard(actor_from_settings(settings), AuditLog(engine))
    role = guard.require("capture-run", None, ARCHIVIST)   # raises AccessDenied, audited
    guard.record("chat-transcript", "WOO-2026-014", "allowed", role, chat_id=chat_id)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from capstone.access import AccessDenied, Actor
from capstone.audit.log import AuditLog


class Guard:
    """``audit`` may be a factory, so a check that passes opens no database."""

    def __init__(self, actor: Actor, audit: AuditLog | Callable[[], AuditLog]) -> None:
        self.actor = actor
        self._audit = audit

    @property
    def audit(self) -> AuditLog:
        if not isinstance(self._audit, AuditLog):
            self._audit = self._audit()
        return self._audit

    def record(
        self, action: str, case_ref: str | None, outcome: str, role: str | None, **detail: Any
    ) -> None:
        self.audit.append(
            actor=self.actor.name, role=role, action=action, case_ref=case_ref, outcome=outcome, detail=detail
        )

    def refuse(self, action: str, case_ref: str | None, exc: Exception, **detail: Any) -> None:
        self.record(action, case_ref, "refused", None, reason=str(exc), **detail)

    def require(self, action: str, case_ref: str | None, *roles: str, **detail: Any) -> str:
        """The first of ``roles`` the actor holds; otherwise the refusal is audited and raised."""
        held = [r for r in roles if self.actor.has(r)]
        if held:
            return held[0]
        denied = AccessDenied(
            f"{self.actor.name} may not {action}: it needs the role {' or '.join(roles)} "
            f"(has: {', '.join(sorted(self.actor.roles)) or 'none'}); an administrator grants it under "
            "[roles] in the configuration",
            code="role-missing",
            roles=roles,
        )
        self.refuse(action, case_ref, denied, **detail)
        raise denied

"""The identity of this invocation (the OS user, or the name an administrator's configuration gives,
with its configured roles; see :mod:`capstone.access.identity`) and the role check every command
that acts on the archive runs first. A refusal is audited and exits with code 3."""

from __future__ import annotations

from typing import Any

import click

from capstone.access import AccessDenied, actor_from_settings
from capstone.access.guard import Guard
from capstone.access.identity import ignored_variables
from capstone.cli.context import AppContext, fail
from capstone.cli.db import get_engine
from capstone.services import audit_log

EXIT_DENIED = 3


def guard_for(app: AppContext) -> Guard:
    """The guard of this invocation: its actor, and the audit log in the state database."""
    guard = app._cache.get("guard")
    if isinstance(guard, Guard):
        return guard
    ignored = ignored_variables()
    if ignored:
        click.echo(
            f"capstone: warning: {' and '.join(ignored)} grant nothing: this command acts as "
            f"{app.settings.user} with the roles the administrator's configuration gives that name",
            err=True,
        )
    try:
        actor = actor_from_settings(app.settings)
    except ValueError as exc:
        fail(str(exc))
    guard = Guard(actor, lambda: audit_log(app.settings, get_engine(app)))
    app._cache["guard"] = guard
    return guard


def authorize(app: AppContext, action: str, *roles: str, **detail: Any) -> str:
    """The role under which this command may run, or a clear refusal (audited, exit code 3)."""
    try:
        return guard_for(app).require(action, None, *roles, **detail)
    except AccessDenied as exc:
        fail(f"refused: {exc}", code=EXIT_DENIED)

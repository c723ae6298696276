"""What every request handler shares: settings, one migrated state database, the token validator,
the background jobs; and the services built for one principal (the same services the CLI calls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import Engine

from capstone.access import Actor
from capstone.access.guard import Guard
from capstone.access.operations import Operations
from capstone.audit.log import AuditLog
from capstone.services import audit_log
from capstone.settings import Settings
from capstone.web.config import WebSettings
from capstone.web.identity import Principal, TokenValidator
from capstone.web.jobs import JobRecord, Jobs
from capstone.woo.service import WooService

if TYPE_CHECKING:
    from capstone.retention.service import RetentionService

ANONYMOUS = "anoniem"


@dataclass
class WebContext:
    settings: Settings
    web: WebSettings
    engine: Engine
    validator: TokenValidator
    jobs: Jobs = field(init=False)  # kept in the state database: every worker process sees them
    oauth: Any = None  # Authlib's OAuth registry with the client "entra", when sign-in is configured

    def __post_init__(self) -> None:
        self.jobs = Jobs(self.engine, heartbeat_seconds=self.web.job_heartbeat_seconds)

    @property
    def jobs_dir(self) -> Path:
        return Path(self.web.jobs_dir) if self.web.jobs_dir else Path(self.settings.home) / "web-jobs"

    def audit(self) -> AuditLog:
        return audit_log(self.settings, self.engine)

    def guard(self, principal: Principal) -> Guard:
        return Guard(principal.actor(), self.audit())

    def woo(self, principal: Principal) -> WooService:
        return WooService(self.settings, principal.actor(), engine=self.engine)

    def retention(self, principal: Principal) -> RetentionService:
        """The retention lifecycle's service for one principal; the caller closes it (its vault)."""
        from capstone.retention.service import RetentionService

        return RetentionService(self.settings, principal.actor(), engine=self.engine)

    def operations(self, principal: Principal) -> Operations:
        return Operations(self.settings, self.guard(principal), self.engine)

    def job_for(self, principal: Principal, job_id: str) -> JobRecord | None:
        """The job ``job_id`` if ``principal`` started it (the job page, its download and the API's
        ``/jobs/{job_id}`` all ask here); anyone else's or an unknown id is None, and that refusal is
        audited. Polling one's own job is not (an export or verify is audited when it starts)."""
        record = self.jobs.get(job_id, principal.username)
        if record is None:
            self.guard(principal).refuse(
                "job-show", None, Exception("no job with this id of this user"), job_id=job_id
            )
        return record

    def refuse_anonymous(self, action: str, reason: str, **detail: Any) -> None:
        """An unauthenticated request that was refused: an audit entry with its reason."""
        Guard(Actor(ANONYMOUS, frozenset()), self.audit()).refuse(action, None, Exception(reason), **detail)


def context_of(request: Request) -> WebContext:
    ctx = request.app.state.capstone
    assert isinstance(ctx, WebContext)
    return ctx

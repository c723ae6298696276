"""Graph's URL space: match a request to a route, authenticate, throttle, run, answer OData errors.

Runs on plain :class:`GraphRequest` objects so that HTTP requests and ``$batch`` sub-requests take
exactly the same path (each sub-request is authenticated and throttled on its own, as on Graph).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capstone.logging import get_logger
from connectors.simulator.graph.common import (
    GraphError,
    GraphRequest,
    GraphResponse,
    error_response,
    resolve_user,
    retry_after_seconds,
    split_path,
)
from connectors.simulator.model import ConflictError, Mailbox, NotFoundError, Tenant, User
from connectors.simulator.state import Simulator

log = get_logger("simulator.graph")

Handler = Callable[["Ctx"], GraphResponse]


@dataclass
class Ctx:
    sim: Simulator
    req: GraphRequest
    params: dict[str, str]

    @property
    def tenant(self) -> Tenant:
        return self.sim.tenant

    def user(self) -> Any:
        return resolve_user(self.tenant, self.params["user"])

    def mailbox(self) -> Mailbox:
        """The primary mailbox of ``{user}``."""
        user = self.user()
        if user.mailbox is None:
            raise GraphError(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            )
        mailbox: Mailbox = user.mailbox
        return mailbox


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler
    throttle: str | None = None  # "mailbox" (Outlook limits) or "teams-export"


def route(method: str, path: str, handler: Handler, throttle: str | None = None) -> Route:
    return Route(method, tuple(p for p in path.split("/") if p), handler, throttle)


class GraphApi:
    def __init__(self, sim: Simulator, routes: list[Route]) -> None:
        self.sim = sim
        self.routes = routes

    def _match(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]]:
        method_mismatch = False
        for candidate in self.routes:
            if len(candidate.pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            for expected, actual in zip(candidate.pattern, segments, strict=True):
                if expected.startswith("{"):
                    params[expected[1:-1]] = actual
                elif expected.lower() != actual.lower():
                    break
            else:
                if candidate.method != method:
                    method_mismatch = True
                    continue
                return candidate, params
        if method_mismatch:
            raise GraphError(
                405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
            )
        last = segments[-1] if segments else ""
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{last}'.")

    def _throttle_key(self, kind: str, params: dict[str, str]) -> str:
        tenant = self.sim.tenant
        if "user" in params:
            user: User = resolve_user(tenant, params["user"])
            return user.mailbox.guid.hex() if user.mailbox else user.id
        if "mailbox" in params:
            return tenant.mailbox_by_graph_id(params["mailbox"]).guid.hex()
        return "-"

    def dispatch(self, req: GraphRequest, *, authenticated: bool = False) -> GraphResponse:
        started = time.monotonic()
        try:
            req.segments = split_path(req.path)
            if not authenticated:
                req.app_id = self.sim.tokens.authenticate(req.header("authorization"))
            if req.segments and req.segments[0].lower() == "me":
                raise GraphError(
                    400, "BadRequest", "/me request is only valid with delegated authentication flow."
                )
            found, params = self._match(req.method, req.segments)
            release: Callable[[], None] = lambda: None  # noqa: E731
            if found.throttle and req.app_id:
                if found.throttle == "mailbox":
                    verdict = self.sim.throttle.admit_mailbox(
                        req.app_id, self._throttle_key("mailbox", params)
                    )
                else:
                    verdict = self.sim.throttle.admit_teams_export(req.app_id)
                if not verdict.admitted:
                    assert verdict.retry_after is not None
                    message = (
                        "Application is over its MailboxConcurrency limit."
                        if verdict.reason == "MailboxConcurrency"
                        else "Application is over its request limit; please retry after the given time."
                    )
                    raise GraphError(
                        429,
                        "ApplicationThrottled",
                        message,
                        {"Retry-After": retry_after_seconds(verdict.retry_after)},
                    )
                release = verdict.release
            try:
                if self.sim.config.latency > 0:
                    time.sleep(self.sim.config.latency)
                response = found.handler(Ctx(self.sim, req, params))
            except BaseException:
                release()
                raise
            if response.stream is not None:
                response.on_close = release
            else:
                release()
            response.headers.setdefault("request-id", req.request_id)
            response.headers.setdefault(
                "client-request-id", req.header("client-request-id") or req.request_id
            )
            self.sim.count("graph")
            # per route (its pattern), for benchmarks and the capacity model (/_sim/stats)
            self.sim.count(f"graph:{found.method} /{'/'.join(found.pattern)}")
            log.debug(
                "graph_request",
                method=req.method,
                path=req.path,
                status=response.status,
                ms=round((time.monotonic() - started) * 1000, 1),
            )
            return response
        except GraphError as exc:
            return error_response(exc, req)
        except NotFoundError as exc:
            return error_response(
                GraphError(
                    404, "ErrorItemNotFound", f"The specified object was not found in the store. ({exc})"
                ),
                req,
            )
        except ConflictError as exc:
            return error_response(
                GraphError(409, "ErrorFolderExists" if "folder" in str(exc) else "Conflict", str(exc)), req
            )

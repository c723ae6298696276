"""The REST API under ``/api/v1``: bearer access tokens from the OpenID Provider, the same services
the CLI calls (they check roles and write the audit log), errors as RFC 9457 problem documents."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from capstone.access.operations import Operations
from capstone.index.model import DocumentKind, SearchQuery
from capstone.registry.csvio import public_entry
from capstone.web.api_schemas import (
    AuditEntryOut,
    AuditReportOut,
    CaptureStatus,
    DesignationOut,
    DocumentViewOut,
    PublicEntry,
    SearchOut,
    WooCaseOut,
)
from capstone.web.context import WebContext, context_of
from capstone.web.identity import Principal, TokenError, principal_from_claims
from capstone.woo.service import WooService, query_to_json

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(
        default="about:blank",
        description="urn:capstone:problem:<code> for a service refusal with a stable code, else about:blank",
    )
    title: str
    status: int
    detail: str | None = Field(default=None, description="What went wrong (English, as the CLI says it)")
    instance: str | None = None
    code: str | None = Field(
        default=None, description="The refusal's stable code (case-unknown, designation-unknown, ...)"
    )


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        code: str | None = None,
    ):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}
        self.code = code


PROBLEM_TITLES = {
    400: "Ongeldig verzoek: een parameter of de body klopt niet (detail noemt welke)",
    401: "Niet aangemeld of ongeldig token (ontbreekt, verlopen, verkeerde audience of issuer, vervalst)",
    403: "Geen toegang: de rol ontbreekt, of de zaak of reikwijdte staat het niet toe (geaudit)",
    404: "Niet gevonden", 409: "Conflict: de stand van zaken staat dit niet (meer) toe",
    413: "Het verzoek is te groot", 503: "Kluis niet beschikbaar",
}  # fmt: skip


def _problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error responses, each an RFC 9457 problem document (``application/problem+json``; the
    application's OpenAPI generator moves the schema under that media type)."""
    return {c: {"model": Problem, "description": PROBLEM_TITLES[c]} for c in codes}


def answers(
    model: Any, *problems: int, status: int = 200, description: str = "OK", media: str | None = None
) -> dict[int | str, Any]:
    """The responses of an operation: its typed success (the services' JSON, described by
    :mod:`capstone.web.api_schemas`, or a file of type ``media``) and the problems it really answers
    with. Secured operations also answer 401, 403 and 503 (every allowed or refused call is audited,
    and the audit log anchors in the vault)."""
    if media is not None:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {status: {"description": description, "content": {media: binary}}} | _problem_responses(
            *problems
        )
    return {status: {"model": model, "description": description}} | _problem_responses(*problems)


def secured(
    model: Any, *problems: int, status: int = 200, description: str = "OK", media: str | None = None
) -> dict[int | str, Any]:
    return answers(model, 401, 403, 503, *problems, status=status, description=description, media=media)


bearer = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="Access token of the OpenID Provider (Entra ID)"
)


def api_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    ctx = context_of(request)
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if credentials is None or credentials.scheme.lower() != "bearer":
        ctx.refuse_anonymous("api-authenticate", "no bearer token", path=request.url.path)
        raise ApiProblem(401, "Niet aangemeld", "Stuur een bearer-token mee.", {"WWW-Authenticate": "Bearer"})
    try:
        claims = ctx.validator.validate(credentials.credentials)
        return principal_from_claims(claims, ctx.web.group_roles)
    except TokenError as exc:
        ctx.refuse_anonymous("api-authenticate", str(exc), path=request.url.path)
        raise ApiProblem(401, "Ongeldig token", str(exc), challenge) from None


Caller = Annotated[Principal, Depends(api_principal)]
Context = Annotated[WebContext, Depends(context_of)]

router = APIRouter(prefix="/api/v1")


class Me(BaseModel):
    oid: str
    username: str
    name: str
    roles: list[str]


@router.get("/me", response_model=Me, responses=secured(Me), summary="Who the token belongs to")
def me(principal: Caller) -> Me:
    return Me(
        oid=principal.oid,
        username=principal.username,
        name=principal.display_name,
        roles=sorted(principal.roles),
    )


@router.get(
    "/registry/public", response_model=None, responses=answers(list[PublicEntry], 400),
    summary="The publishable register (no sign-in, no addresses)",
)  # fmt: skip
def registry_public(ctx: Context, on: date | None = None) -> list[dict[str, Any]]:
    registry = Operations(
        ctx.settings, ctx.guard(Principal("", "publiek", "publiek", frozenset())), ctx.engine
    ).registry()
    found = registry.state_at(on) if on else registry.designations()
    return [public_entry(d) for d in found]


@router.get(
    "/registry/designations", response_model=None, responses=secured(list[DesignationOut], 400),
    summary="Designations on a day (registry-admin)",
)  # fmt: skip
def registry_designations(ctx: Context, principal: Caller, on: date | None = None) -> list[dict[str, Any]]:
    return [d.to_json() for d in ctx.operations(principal).registry_state(on)]


@router.get(
    "/capture/status", response_model=None, responses=secured(CaptureStatus),
    summary="Capture status per account (archivist, auditor)",
)  # fmt: skip
def capture_status(ctx: Context, principal: Caller) -> dict[str, Any]:
    return ctx.operations(principal).capture_status()


@router.get(
    "/woo/cases", response_model=None, responses=secured(list[WooCaseOut]),
    summary="Woo cases (woo-officer, auditor)",
)  # fmt: skip
def woo_cases(ctx: Context, principal: Caller) -> list[dict[str, Any]]:
    return [c.to_json() for c in ctx.woo(principal).list_cases()]


@router.get(
    "/woo/cases/{ref}", response_model=None, responses=secured(WooCaseOut, 400, 404), summary="One Woo case"
)
def woo_case(ctx: Context, principal: Caller, ref: str) -> dict[str, Any]:
    return ctx.woo(principal).case(ref).to_json()


def search_query(
    q: str = "",
    official: Annotated[list[str] | None, Query()] = None,
    kind: Annotated[list[DocumentKind] | None, Query()] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    sender: str | None = None,
    recipient: str | None = None,
    folder: str | None = None,
    has_attachment: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SearchQuery:
    """The CLI's search filters (``capstone woo search``) as query parameters."""
    return SearchQuery(
        text=q, officials=tuple(official or ()), kinds=tuple(kind or ()),
        date_from=date_from, date_to=date_to, sender=sender, recipient=recipient, folder=folder,
        has_attachment=has_attachment, limit=limit, offset=offset,
    )  # fmt: skip


@router.get(
    "/woo/cases/{ref}/search", response_model=None, responses=secured(SearchOut, 400, 404),
    summary="Search inside a case (woo-officer)",
)  # fmt: skip
def woo_search(
    ctx: Context, principal: Caller, ref: str, query: Annotated[SearchQuery, Depends(search_query)]
) -> dict[str, Any]:
    result = ctx.woo(principal).search(ref, query)
    return {
        "query": query_to_json(query),
        "total": result.total,
        "metadata_only": result.metadata_only,
        "hits": [asdict(h) | {"date": h.date.isoformat() if h.date else None} for h in result.hits],
    }


@router.get(
    "/woo/cases/{ref}/documents/{doc_id}", response_model=None, responses=secured(DocumentViewOut, 400, 404),
    summary="Read one document (woo-officer)",
)  # fmt: skip
def woo_document(ctx: Context, principal: Caller, ref: str, doc_id: str) -> dict[str, Any]:
    return ctx.woo(principal).view(ref, doc_id).to_json()


@router.get(
    "/audit/entries", response_model=None, responses=secured(list[AuditEntryOut], 400),
    summary="Audit entries (auditor)",
)  # fmt: skip
def audit_entries(
    ctx: Context,
    principal: Caller,
    case: str | None = None,
    user: str | None = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> list[dict[str, Any]]:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ApiProblem(400, "Ongeldige invoer", "De periode begint na haar einde.", code="bad-period")
    return ctx.woo(principal).audit_entries(case, actor=user or None, since=date_from, until=date_to)


@router.post(
    "/audit/verify", response_model=None, responses=secured(AuditReportOut),
    summary="Verify the audit log's hash chain (auditor)",
)  # fmt: skip
def audit_verify(ctx: Context, principal: Caller) -> dict[str, Any]:
    return ctx.woo(principal).audit_verify().to_json()


__all__ = ["PROBLEM", "ApiProblem", "Problem", "WooService", "answers", "router", "secured"]

"""The retention lifecycle in the REST API (``/api/v1/retention``): exclusions (mark, confirm, refuse),
holds (place, release), the retention run and status, and destruction lists. The same
:class:`~capstone.retention.service.RetentionService` the CLI calls checks the roles, the four eyes
and writes the audit log; this module only translates HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from capstone.retention.objects import Scope
from capstone.retention.service import ExclusionCategory, RetentionService
from capstone.web.api import Caller, Context, secured
from capstone.web.api_schemas import (
    DestructionListOut,
    ExclusionOut,
    HoldOut,
    OwnItemOut,
    RetentionStatusOut,
    RunReportOut,
)


def retention_service(ctx: Context, principal: Caller) -> Iterator[RetentionService]:
    service = ctx.retention(principal)
    try:
        yield service
    finally:
        service.close()


Retention = Annotated[RetentionService, Depends(retention_service)]

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])


class MarkRequest(BaseModel):
    scope: Literal["record", "item", "conversation", "chat"] = "item"
    value: str = Field(min_length=1, description="Record id, source item id, conversation id or chat id")
    category: Literal["prive", "partijpolitiek"]
    reason: str = Field(min_length=1)


class DecisionRequest(BaseModel):
    note: str | None = None


class HoldRequest(BaseModel):
    ref: str = Field(min_length=1, description="Woo case or legal matter reference")
    kind: Literal["woo-case", "legal"]
    reason: str = Field(min_length=1)
    scope: Literal["record", "item", "conversation", "chat", "mailbox"] = "item"
    value: str = Field(min_length=1)


class ReleaseRequest(BaseModel):
    reason: str = Field(min_length=1)


class ApproveRequest(BaseModel):
    decision_ref: str = Field(min_length=1, description="Reference of the destruction decision")


@router.get(
    "/status",
    response_model=None,
    responses=secured(RetentionStatusOut),
    summary="Where every object stands (archivist, auditor)",
)
def status(service: Retention) -> dict[str, Any]:
    return service.status()


@router.post(
    "/run",
    response_model=None,
    responses=secured(RunReportOut, 409),
    summary="Secure what is due, remove lapsed exclusions (archivist)",
)
def run(service: Retention) -> dict[str, Any]:
    return service.run().to_json()


@router.get(
    "/own-items",
    response_model=None,
    responses=secured(list[OwnItemOut]),
    summary="The caller's own items inside their window (official)",
)
def own_items(service: Retention) -> list[dict[str, Any]]:
    return [item.to_json() for item in service.own_items()]


@router.get(
    "/exclusions",
    response_model=None,
    responses=secured(list[ExclusionOut], 400),
    summary="Exclusions and their decisions",
)
def exclusions(
    service: Retention, status: Literal["marked", "confirmed", "refused"] | None = None
) -> list[dict[str, Any]]:
    return [ex.to_json() for ex in service.exclusions(status)]


@router.post(
    "/exclusions",
    status_code=201,
    response_model=None,
    responses=secured(ExclusionOut, 400, 404, 413, status=201, description="Created"),
    summary="Mark privé/partijpolitiek (official)",
)
def mark(service: Retention, body: MarkRequest) -> dict[str, Any]:
    category = ExclusionCategory.parse(body.category)
    return service.mark(Scope(body.scope), body.value, category, body.reason).to_json()


@router.post(
    "/exclusions/{exclusion_id}/confirm",
    response_model=None,
    responses=secured(ExclusionOut, 400, 404, 409, 413),
    summary="Confirm a mark (archivist, four eyes)",
)
def confirm(service: Retention, exclusion_id: str, body: DecisionRequest | None = None) -> dict[str, Any]:
    return service.confirm(exclusion_id, body.note if body else None).to_json()


@router.post(
    "/exclusions/{exclusion_id}/refuse",
    response_model=None,
    responses=secured(ExclusionOut, 400, 404, 409, 413),
    summary="Refuse a mark (archivist, four eyes)",
)
def refuse(service: Retention, exclusion_id: str, body: DecisionRequest | None = None) -> dict[str, Any]:
    return service.refuse(exclusion_id, body.note if body else None).to_json()


@router.get(
    "/holds",
    response_model=None,
    responses=secured(list[HoldOut], 400),
    summary="Holds (archivist, woo-officer, auditor)",
)
def holds(service: Retention, active: bool = False) -> list[dict[str, Any]]:
    return [hold.to_json() for hold in service.holds(active_only=active)]


@router.post(
    "/holds",
    status_code=201,
    response_model=None,
    responses=secured(HoldOut, 400, 404, 413, status=201, description="Created"),
    summary="Place a hold (archivist, woo-officer)",
)
def place_hold(service: Retention, body: HoldRequest) -> dict[str, Any]:
    return service.place_hold(body.ref, body.kind, body.reason, Scope(body.scope), body.value).to_json()


@router.post(
    "/holds/{hold_id}/release",
    response_model=None,
    responses=secured(HoldOut, 400, 404, 409, 413),
    summary="Release a hold (archivist)",
)
def release_hold(service: Retention, hold_id: str, body: ReleaseRequest) -> dict[str, Any]:
    return service.release_hold(hold_id, body.reason).to_json()


@router.get(
    "/destruction-lists",
    response_model=None,
    responses=secured(list[DestructionListOut]),
    summary="Vernietigingslijsten (archivist, auditor)",
)
def destruction_lists(service: Retention) -> list[dict[str, Any]]:
    return [summary.to_json() for summary in service.destruction_lists()]


@router.post(
    "/destruction-lists",
    status_code=201,
    response_model=None,
    responses=secured(DestructionListOut, 409, status=201, description="Created"),
    summary="Draw up a vernietigingslijst (archivist)",
)
def propose(service: Retention) -> dict[str, Any]:
    return service.propose().to_json()


@router.post(
    "/destruction-lists/{list_id}/approve",
    response_model=None,
    responses=secured(DestructionListOut, 400, 404, 409, 413),
    summary="Approve a list (an archivist other than the proposer)",
)
def approve(service: Retention, list_id: str, body: ApproveRequest) -> dict[str, Any]:
    return service.approve(list_id, body.decision_ref).to_json()


@router.post(
    "/destruction-lists/{list_id}/destroy",
    response_model=None,
    responses=secured(DestructionListOut, 404, 409),
    summary="Destroy what an approved list names; store the verklaring van vernietiging (archivist)",
)
def destroy(service: Retention, list_id: str) -> dict[str, Any]:
    return service.destroy(list_id).to_json()

"""The Woo review and publication in the REST API under ``/api/v1``: the same service the CLI calls
(:class:`capstone.woo.review_service.WooReview`), which checks the roles and writes the audit log.

A case reference with ``/`` (``Z/2026/001234``) is written in a URL path as its slug
(``Z_2026_001234``); both name the same case.

tests/web/test_api.py's route inventory checks each route refuses a caller without the role (and
audits it); tests/woo/test_review.py walks the same service from search to package.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field

from capstone.web.api import Caller, Context, secured
from capstone.web.api_schemas import (
    AssessmentOut,
    AssessResultOut,
    EffectiveAssessment,
    MarkOut,
    ReviewStateOut,
)
from capstone.woo.review import MarkInput
from capstone.woo.review_service import WooReview

router = APIRouter(prefix="/api/v1")


class MarkBody(BaseModel):
    kind: Literal["text", "region"] = "text"
    ground: str
    text: str | None = None
    page: int | None = None
    rect: tuple[float, float, float, float] | None = None

    def mark(self) -> MarkInput:
        return MarkInput(self.kind, self.ground, text=self.text, page=self.page, rect=self.rect)


class AssessBody(BaseModel):
    doc_ids: list[str] = Field(default_factory=list)
    judgement: str = Field(description="openbaar, deels openbaar, niet openbaar or reeds openbaar")
    grounds: list[str] = Field(default_factory=list)
    toelichting: str = ""
    link: str | None = None
    family: bool = False
    marks: list[MarkBody] = Field(default_factory=list)


class DecisionBody(BaseModel):
    decision: Literal["accept", "reject", "withdraw"]
    ground: str | None = None


class PublishBody(BaseModel):
    out: str = Field(description="A new, empty directory on the server, under the web jobs directory")
    zip_limit: int | None = Field(default=None, ge=1024)


def review(ctx: Context, principal: Caller) -> WooReview:
    return WooReview(ctx.woo(principal))


Review = Annotated[WooReview, Depends(review)]


@router.post(
    "/woo/cases/{ref}/assessments",
    response_model=None,
    responses=secured(AssessResultOut, 400, 404, 413),
    summary="Assess documents (woo-officer)",
)
def assess(review: Review, ref: str, body: Annotated[AssessBody, Body()]) -> dict[str, Any]:
    result = review.assess(
        ref, body.doc_ids, body.judgement, grounds=body.grounds, toelichting=body.toelichting, link=body.link,
        family=body.family, marks=[m.mark() for m in body.marks],
    )  # fmt: skip
    return result.to_json()


@router.get(
    "/woo/cases/{ref}/assessments",
    response_model=None,
    responses=secured(list[EffectiveAssessment], 400, 404),
    summary="The case's documents as they count",
)
def assessments(review: Review, ref: str) -> list[dict[str, Any]]:
    return [
        e.assessment.to_json() | {"doc_id": e.doc_id, "follows": e.follows, "kind": e.document.kind}
        for e in review.assessments(ref)
    ]


@router.get(
    "/woo/cases/{ref}/documents/{doc_id}/assessments",
    response_model=None,
    responses=secured(list[AssessmentOut], 400, 404),
    summary="A document's history",
)
def history(review: Review, ref: str, doc_id: str) -> list[dict[str, Any]]:
    return [a.to_json() for a in review.history(ref, doc_id)]


@router.get(
    "/woo/cases/{ref}/documents/{doc_id}/redactions",
    response_model=None,
    responses=secured(list[MarkOut], 400, 404),
    summary="Redaction marks",
)
def marks(review: Review, ref: str, doc_id: str) -> list[dict[str, Any]]:
    return [m.to_json() for m in review.marks(ref, doc_id)]


@router.post(
    "/woo/cases/{ref}/documents/{doc_id}/redactions",
    response_model=None,
    responses=secured(list[MarkOut], 400, 404, 413),
    summary="Place marks",
)
def redact(
    review: Review, ref: str, doc_id: str, body: Annotated[list[MarkBody], Body()]
) -> list[dict[str, Any]]:
    return [m.to_json() for m in review.redact(ref, doc_id, [m.mark() for m in body])]


@router.post(
    "/woo/cases/{ref}/documents/{doc_id}/suggestions",
    response_model=None,
    responses=secured(list[MarkOut], 400, 404),
    summary="Suggest redactions",
)
def suggest(review: Review, ref: str, doc_id: str) -> list[dict[str, Any]]:
    return [m.to_json() for m in review.suggest(ref, doc_id)]


@router.post(
    "/woo/cases/{ref}/redactions/{mark_id}",
    response_model=None,
    responses=secured(MarkOut, 400, 404, 413),
    summary="Accept, reject, withdraw",
)
def decide(review: Review, ref: str, mark_id: str, body: Annotated[DecisionBody, Body()]) -> dict[str, Any]:
    return review.decide(ref, mark_id, body.decision, ground=body.ground).to_json()


@router.post(
    "/woo/cases/{ref}/review/require-approval",
    response_model=None,
    responses=secured(ReviewStateOut, 400, 404),
    summary="Require a collegiale toets",
)
def require_approval(review: Review, ref: str, required: bool = True) -> dict[str, Any]:
    return review.require_approval(ref, required).to_json()


class ApproveBody(BaseModel):
    note: str = ""


@router.post(
    "/woo/cases/{ref}/review/approve",
    response_model=None,
    responses=secured(ReviewStateOut, 400, 404, 413),
    summary="Approve (another officer)",
)
def approve(review: Review, ref: str, body: ApproveBody | None = None) -> dict[str, Any]:
    return review.approve(ref, body.note if body else "").to_json()


@router.get(
    "/woo/cases/{ref}/review",
    response_model=None,
    responses=secured(ReviewStateOut, 400, 404),
    summary="Where the collegiale toets stands",
)
def state(review: Review, ref: str) -> dict[str, Any]:
    return review.state(ref).to_json()

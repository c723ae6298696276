"""The Woo officer's review pages: the document review screen (the document's text and its rendition's
pages with the redaction marks drawn, the marks and suggestions to decide, forms to redact a text span
or a page region on a Woo ground, the assessment, the history), assessing a selection or every hit of
a search from the case page, the collegiale toets, and publication as a background job with the
package to download and its verification.

Every form carries a CSRF token and works without script; every act is a call of
:class:`capstone.woo.review_service.WooReview` (the service the CLI and the REST API call), which
checks the roles and writes the audit log. Input the service refuses is shown on the form again
(400), nothing written.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from capstone.access import AUDITOR, WOO_OFFICER, AccessDenied
from capstone.index.model import SearchQuery
from capstone.web.context import WebContext, context_of
from capstone.web.identity import Principal
from capstone.web.jobs import Job
from capstone.web.messages import FormError, dutch
from capstone.web.pages import check_csrf, error_page, needs, render, signed_in
from capstone.woo.cases import CaseError, WooCase, ref_slug
from capstone.woo.grounds import LABELS, WOO_GROUNDS
from capstone.woo.review import MarkInput, ReviewState
from capstone.woo.review_preview import ReviewPreview
from capstone.woo.review_service import ApprovalRequiredError, Effective, WooReview

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

MARK_STATUS = {
    "proposed": "voorgesteld", "accepted": "geaccepteerd", "rejected": "afgewezen", "withdrawn": "ingetrokken",
}  # fmt: skip
SUGGESTION_KINDS = {  # capstone.woo.pdf.suggest.CATEGORIES
    "email": "e-mailadres", "telefoon": "telefoonnummer", "iban": "IBAN", "bsn": "BSN",
    "adres": "postcode en huisnummer", "naam": "naam",
}  # fmt: skip
NOTICES = {
    "gelakt": "De lakmarkering is vastgelegd.",
    "besloten": "Het besluit over de lakmarkering is vastgelegd.",
    "beoordeeld": "De beoordeling is vastgelegd.",
    "suggesties": "De suggesties zijn gezocht; wat nog niet beslist is staat hieronder als voorgesteld.",
    "geen-suggesties": "Er zijn geen suggesties gevonden waarover nog besloten moet worden.",
    "goedgekeurd": "De collegiale toets is gegeven.",
    "regel": "De regel voor de collegiale toets is vastgelegd.",
}
SEARCH_FIELDS = ("q", "functionaris", "soort", "van", "tot", "afzender", "ontvanger", "map", "bijlage")


def _review(request: Request) -> WooReview:
    return WooReview(context_of(request).woo(signed_in(request)))


async def _call(request: Request, action: Callable[[WooReview], T]) -> T:
    review = _review(request)
    return await run_in_threadpool(lambda: action(review))


async def _form(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The posted form (CSRF checked first): single values stripped, and every value of each name."""
    raw = await request.form()
    lists: dict[str, list[str]] = {}
    for key, value in raw.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value.strip())
    check_csrf(request, lists.get("csrf", [""])[0])
    signed_in(request)
    needs(request, WOO_OFFICER)
    return {k: v[0] for k, v in lists.items()}, lists


def _grounds() -> list[tuple[str, str]]:
    return list(WOO_GROUNDS.items())


def _origin(origin: str) -> str:
    if origin == "officer":
        return "behandelaar"
    kind = origin.partition(":")[2]
    return f"suggestie ({SUGGESTION_KINDS.get(kind, kind)})" if kind else origin


def _review_url(case_slug: str, doc_id: str, notice: str | None = None) -> str:
    url = f"/woo/{case_slug}/document/{doc_id}/beoordelen"
    return f"{url}?{urlencode({'melding': notice})}" if notice else url


# -- the review screen -------------------------------------------------------------------------------


@dataclass
class ReviewScreen:
    case: WooCase
    view: Any  # capstone.woo.service.DocumentView
    preview: Any  # capstone.woo.review_preview.DocumentPreview
    marks: list[Any]
    history: list[Any]
    effective: Effective | None
    state: ReviewState


def _screen(review: WooReview, ref: str, doc_id: str) -> ReviewScreen:
    view = review.woo.view(ref, doc_id)  # refuses (audited) first: role, case, scope
    case = review.woo.cases.get(ref)
    preview = ReviewPreview(review).document(ref, doc_id)
    marks = review.marks(ref, doc_id)
    history = review.history(ref, doc_id)
    effective = next((e for e in review.assessments(ref) if e.doc_id == doc_id), None)
    return ReviewScreen(case, view, preview, marks, history, effective, review.state(ref))


async def _review_page(
    request: Request, ref: str, doc_id: str, code: int = 200, error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    signed_in(request)
    needs(request, WOO_OFFICER)
    screen = await _call(request, lambda r: _screen(r, ref, doc_id))
    notice = NOTICES.get(request.query_params.get("melding", ""))
    return render(
        request, "woo_review.html", code, title=f"Beoordelen: {screen.view.document.subject or doc_id}",
        s=screen, case=screen.case, doc=screen.view.document, grounds=_grounds(), judgements=LABELS,
        mark_status=MARK_STATUS, origin=_origin, error=error, notice=None if error else notice,
        form=form or {},
    )  # fmt: skip


@router.get("/woo/{ref}/document/{doc_id}/beoordelen")
async def review_screen(request: Request, ref: str, doc_id: str) -> Response:
    return await _review_page(request, ref, doc_id)


@router.get("/woo/{ref}/document/{doc_id}/pagina/{page}.png")
async def page_image(request: Request, ref: str, doc_id: str, page: int) -> Response:
    signed_in(request)
    needs(request, WOO_OFFICER)
    data = await _call(request, lambda r: ReviewPreview(r).page_png(ref, doc_id, page))
    if data is None:
        return error_page(request, 404, f"Het document heeft geen pagina {page}.")
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/woo/{ref}/document/{doc_id}/rendition.pdf")
async def rendition_pdf(request: Request, ref: str, doc_id: str) -> Response:
    signed_in(request)
    needs(request, WOO_OFFICER)
    data = await _call(request, lambda r: ReviewPreview(r).pdf(ref, doc_id))
    if data is None:
        return error_page(
            request, 404, "Van dit document is geen PDF gemaakt; de reden staat op het beoordelingsscherm."
        )
    safe = "".join(c if c.isalnum() else "-" for c in doc_id)
    return Response(
        data, media_type="application/pdf",
        headers={"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{safe}.pdf"'},
    )  # fmt: skip


def _float(value: str, name: str) -> float:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        raise FormError(f"{name}: vul een getal in (punten)") from None


@router.post("/woo/{ref}/document/{doc_id}/lakken")
async def redact(request: Request, ref: str, doc_id: str) -> Response:
    form, _ = await _form(request)
    ground = form.get("grond", "")
    try:
        if form.get("soort") == "region":
            try:
                page = int(form.get("pagina", ""))
            except ValueError:
                raise FormError("pagina: vul een paginanummer in (vanaf 1)") from None
            rect = tuple(_float(form.get(k, ""), k) for k in ("x0", "y0", "x1", "y1"))
            mark = MarkInput("region", ground, page=page, rect=(rect[0], rect[1], rect[2], rect[3]))
        else:
            mark = MarkInput("text", ground, text=form.get("tekst", ""))
        placed = await _call(request, lambda r: r.redact(ref, doc_id, [mark]))
    except CaseError as exc:
        return await _review_page(request, ref, doc_id, 400, "Niet vastgelegd: " + dutch(exc), form)
    slug = placed[0].ref if placed else ref
    return RedirectResponse(_review_url(ref_slug(slug), doc_id, "gelakt"), status_code=303)


@router.post("/woo/{ref}/document/{doc_id}/lakken/{mark_id}")
async def decide(request: Request, ref: str, doc_id: str, mark_id: str) -> Response:
    form, _ = await _form(request)
    decision = form.get("besluit", "")
    try:
        mark = await _call(
            request, lambda r: r.decide(ref, mark_id, decision, ground=form.get("grond") or None)
        )
    except CaseError as exc:
        return await _review_page(request, ref, doc_id, 400, "Niet vastgelegd: " + dutch(exc))
    return RedirectResponse(_review_url(ref_slug(mark.ref), mark.doc_id, "besloten"), status_code=303)


@router.post("/woo/{ref}/document/{doc_id}/suggesties")
async def suggest(request: Request, ref: str, doc_id: str) -> Response:
    """Run the suggestions over the document; what is found waits as proposed marks."""
    await _form(request)
    try:
        found = await _call(request, lambda r: r.suggest(ref, doc_id))
    except CaseError as exc:
        return await _review_page(request, ref, doc_id, 400, "Geen suggesties: " + dutch(exc))
    proposed = sum(1 for m in found if m.status == "proposed")
    url = _review_url(ref_slug(ref), doc_id, "suggesties" if proposed else "geen-suggesties")
    return RedirectResponse(f"{url}&{urlencode({'voorgesteld': proposed})}#lakmarkeringen", status_code=303)


def _assess_args(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "grounds": [g for g in lists.get("grond", []) if g],
        "toelichting": form.get("toelichting", ""),
        "link": form.get("link") or None,
        "family": form.get("familie") == "ja",
    }


@router.post("/woo/{ref}/document/{doc_id}/beoordelen")
async def assess_document(request: Request, ref: str, doc_id: str) -> Response:
    form, lists = await _form(request)
    args = _assess_args(form, lists)
    judgement = form.get("beoordeling", "")
    try:
        result = await _call(request, lambda r: r.assess(ref, [doc_id], judgement, **args))
    except CaseError as exc:
        return await _review_page(
            request,
            ref,
            doc_id,
            400,
            "Niet vastgelegd: " + dutch(exc),
            form | {"grounds": lists.get("grond", [])},
        )
    return RedirectResponse(_review_url(ref_slug(result.case), doc_id, "beoordeeld"), status_code=303)


def _search_query(form: dict[str, str]) -> SearchQuery:
    from capstone.web.pages import _query

    try:
        return _query({k: form.get(k, "") for k in SEARCH_FIELDS})
    except ValueError:
        raise FormError("vul datums in als JJJJ-MM-DD") from None


@router.post("/woo/{ref}/beoordelen")
async def assess_many(request: Request, ref: str) -> Response:
    """From the case page: the selected hits, or every hit of the search shown (all its pages)."""
    form, lists = await _form(request)
    args = _assess_args(form, lists)
    judgement = form.get("beoordeling", "")
    search = {k: form.get(k, "") for k in SEARCH_FIELDS if form.get(k)}
    back = f"/woo/{ref_slug(ref)}?" + urlencode(search | {"q": form.get("q", "")})
    try:
        if form.get("bereik") == "zoekopdracht":
            query = _search_query(form)
            result = await _call(request, lambda r: r.assess_search(ref, query, judgement, **args))
        else:
            chosen = [d for d in lists.get("doc", []) if d]
            if not chosen:
                raise FormError("kies eerst documenten (vink ze aan in de resultaten)")
            result = await _call(request, lambda r: r.assess(ref, chosen, judgement, **args))
    except CaseError as exc:
        return render(request, "message.html", 400, title="Ongeldige invoer", message="Niet vastgelegd: " + dutch(exc),
                      link=(back + "#beoordelen", "Terug naar de zoekresultaten"))  # fmt: skip
    count = len(result.assessments)
    return RedirectResponse(f"{back}&{urlencode({'beoordeeld': count})}#beoordelen", status_code=303)


# -- collegiale toets and publication ------------------------------------------------------------------


@router.post("/woo/{ref}/collegiale-toets")
async def approve(request: Request, ref: str) -> Response:
    form, _ = await _form(request)
    try:
        state = await _call(request, lambda r: r.approve(ref, form.get("opmerking", "")))
    except AccessDenied as exc:
        if exc.code != "approval-own-work":
            raise
        message = (
            "De collegiale toets is geweigerd: u heeft zelf documenten in deze zaak beoordeeld of gelakt. "
            "Een andere Woo-behandelaar van deze zaak geeft de toets."
        )
        return render(request, "message.html", 403, title="Geen toegang", message=message,
                      link=(f"/woo/{ref_slug(ref)}#publicatie", "Terug naar de zaak"))  # fmt: skip
    return RedirectResponse(f"/woo/{ref_slug(state.ref)}?melding=goedgekeurd#publicatie", status_code=303)


@router.post("/woo/{ref}/collegiale-toets/vereisen")
async def require_approval(request: Request, ref: str) -> Response:
    form, _ = await _form(request)
    required = form.get("vereist") == "ja"
    state = await _call(request, lambda r: r.require_approval(ref, required))
    return RedirectResponse(f"/woo/{ref_slug(state.ref)}?melding=regel#publicatie", status_code=303)


@router.post("/woo/{ref}/publiceren")
async def publish(request: Request, ref: str) -> Response:
    await _form(request)
    principal = signed_in(request)
    ctx = context_of(request)
    review = _review(request)

    def check() -> WooCase:  # refuse now (audited), not inside the job
        case = review.woo.case_for("publish", ref)
        review.check_approval(case)
        return case

    try:
        case = await run_in_threadpool(check)
    except ApprovalRequiredError:
        message = (
            "Publiceren is geweigerd: deze zaak vraagt een collegiale toets, en die is nog niet gegeven of de "
            "beoordeling is daarna gewijzigd. Een andere Woo-behandelaar van deze zaak geeft de toets op de zaakpagina."
        )
        return render(request, "message.html", 409, title="Nog niet te publiceren", message=message,
                      link=(f"/woo/{ref_slug(ref)}#publicatie", "Terug naar de zaak"))  # fmt: skip
    base = ctx.jobs_dir / secrets.token_hex(8)

    def work(job: Job) -> None:
        out = base / f"publicatie-{case.slug}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        report = review.publish(case.ref, out)
        job.progress(report.documents, report.documents)
        check = review.verify_package(out)
        archive = shutil.make_archive(str(out), "zip", root_dir=out.parent, base_dir=out.name)
        job.download = Path(archive)
        job.result = {
            "documenten": report.documents, "pdf's": report.pdfs, "zip-bundels": len(report.zips),
            "bestanden gecontroleerd": check.files, "verified": check.ok, "problems": check.problems,
        }  # fmt: skip

    job = ctx.jobs.start(principal.username, "publish", f"Publicatie van {case.ref}", work)
    return RedirectResponse(f"/taken/{job.job_id}", status_code=303)


# -- the case page's review part -----------------------------------------------------------------------


@dataclass
class CaseReview:
    state: ReviewState
    assessed: dict[str, Effective]  # doc_id -> as it counts (empty for whoever may not see it)
    can_act: bool  # a Woo officer assigned to the open case
    may_approve: bool  # can act and has not assessed or redacted in the case
    judgements: tuple[str, ...] = LABELS

    @property
    def grounds(self) -> list[tuple[str, str]]:
        return _grounds()

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for entry in self.assessed.values():
            label = "dubbel (volgt het origineel)" if entry.follows else entry.assessment.judgement.label
            found[label] = found.get(label, 0) + 1
        return found


def case_review(ctx: WebContext, principal: Principal, case: WooCase) -> CaseReview | None:
    """The review's state for the case page (None for a role that may not see it)."""
    if not principal.roles & {WOO_OFFICER, AUDITOR}:
        return None
    review = WooReview(ctx.woo(principal))
    state = review.state(case.ref)
    can_act = WOO_OFFICER in principal.roles and case.is_open and principal.username in case.officers
    assessed = {e.doc_id: e for e in review.assessments(case.ref)} if can_act else {}
    return CaseReview(state, assessed, can_act, can_act and principal.username not in state.assessors)


def case_notice(params: dict[str, str]) -> str | None:
    if params.get("beoordeeld", "").isdigit():
        return f"{params['beoordeeld']} document(en) beoordeeld."
    return NOTICES.get(params.get("melding", ""))


__all__ = ["CaseReview", "case_notice", "case_review", "router"]

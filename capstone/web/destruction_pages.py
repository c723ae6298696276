"""The destruction lifecycle's Dutch pages under "Bewaren": draw up a vernietigingslijst (what is due
per designation and category, counts, periods), approve it with the decision's reference (another
archivist than its proposer: four eyes), "Vernietigen" executing an approved list, and the verklaring
van vernietiging read back from the vault. The same :class:`~capstone.retention.service.RetentionService`
methods the CLI (``capstone retention propose|approve|destroy|lists|certificate``) and the REST API
call check the roles, the four eyes and write the audit log; an auditor reads everything."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from capstone.access import ARCHIVIST, AUDITOR, AccessDenied
from capstone.retention.service import Certificate, DestructionSummary, RetentionService
from capstone.web.pages import error_page, needs, render, signed_in
from capstone.web.retention_common import posted_form, service_call

router = APIRouter(include_in_schema=False)

LIST_STATUS = {"proposed": "voorgesteld", "approved": "goedgekeurd", "destroyed": "vernietigd"}
# The service's reasons for not destroying a listed object, in Dutch (anything else is shown as is).
REFUSALS = {
    "on hold": "geblokkeerd (hold): wordt niet vernietigd",
    "its lock has not expired": "het slot in de kluis is nog niet verlopen",
    "its term has not ended": "de bewaartermijn is nog niet verstreken",
    "B (permanent): never destroyed, transferred": "B (blijvend te bewaren): nooit vernietigd, wordt overgebracht",
    "an exclusion, removed by `retention run`": "uitgesloten (privé/partijpolitiek): de bewaarrun verwijdert het",
    "absent without a record": "ontbreekt zonder verantwoording",
}  # fmt: skip
FOUR_EYES = (
    "Geweigerd: u heeft deze vernietigingslijst zelf opgesteld. Een andere archivaris moet haar "
    "goedkeuren (vier ogen). De weigering is vastgelegd in het auditlog."
)
SHOWN_OBJECTS = 500  # rows of destroyed objects on the page; the download holds them all


def _path(list_id: str) -> str:
    return f"/bewaren/vernietigingslijsten/{list_id}"


def refusal_label(reason: str) -> str:
    if reason.startswith("the store refused:"):
        return "de opslag weigerde het verwijderen:" + reason.removeprefix("the store refused:")
    return REFUSALS.get(reason, reason)


def when(moment: datetime | str | None) -> str:
    """A moment as dd-mm-jjjj uu:mm (UTC), from a datetime or an ISO string; empty for None."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.strftime("%d-%m-%Y %H:%M")


def day(moment: str | None) -> str:
    return datetime.fromisoformat(moment).strftime("%d-%m-%Y") if moment else ""


def size(value: int | None) -> str:
    amount: float = value or 0
    if amount < 1000:
        return f"{amount} bytes"
    for unit in ("kB", "MB", "GB", "TB"):
        amount /= 1000
        if amount < 1000 or unit == "TB":
            break
    return f"{amount:.1f} {unit}".replace(".", ",")


FORMATTING: dict[str, Any] = {
    "list_status": LIST_STATUS,
    "when": when,
    "day": day,
    "size": size,
    "refusal_label": refusal_label,
}


async def _show(request: Request, list_id: str, code: int = 200, refusal: str | None = None) -> Response:
    principal = signed_in(request)

    def load(service: RetentionService) -> tuple[DestructionSummary, Certificate | None]:
        summary = service.show_list(list_id)
        return summary, service.certificate(list_id) if summary.status == "destroyed" else None

    summary, certificate = await service_call(request, load)
    return render(
        request, "destruction.html", code, title=f"Vernietigingslijst {list_id[:8]}", summary=summary,
        certificate=certificate, document=certificate.document() if certificate else None,
        archivist=ARCHIVIST in principal.roles, me=principal.username, refusal=refusal,
        shown_objects=SHOWN_OBJECTS, **FORMATTING,
    )  # fmt: skip


@router.post("/bewaren/vernietigingslijsten")
async def propose(request: Request) -> Response:
    await posted_form(request)
    needs(request, ARCHIVIST)
    summary = await service_call(request, lambda s: s.propose())
    return RedirectResponse(_path(summary.list_id), status_code=303)


@router.get("/bewaren/vernietigingslijsten/{list_id}")
async def show(request: Request, list_id: str) -> Response:
    signed_in(request)
    needs(request, ARCHIVIST, AUDITOR)
    return await _show(request, list_id)


@router.post("/bewaren/vernietigingslijsten/{list_id}/goedkeuren")
async def approve(request: Request, list_id: str) -> Response:
    form = await posted_form(request)
    needs(request, ARCHIVIST)
    principal = signed_in(request)
    try:
        await service_call(request, lambda s: s.approve(list_id, form.get("besluit", "")))
    except AccessDenied:
        if ARCHIVIST not in principal.roles:
            raise  # no role: the general Dutch refusal
        # An archivist refused by the four eyes (the service audited it): say so on the list itself.
        return await _show(request, list_id, 403, refusal=FOUR_EYES)
    return RedirectResponse(_path(list_id) + "#besluit", status_code=303)


@router.post("/bewaren/vernietigingslijsten/{list_id}/vernietigen")
async def destroy(request: Request, list_id: str) -> Response:
    form = await posted_form(request)
    needs(request, ARCHIVIST)
    if form.get("bevestigd") != "ja":
        return error_page(request, 400, "Vink aan dat u de vernietiging bevestigt; er is niets vernietigd.")
    await service_call(request, lambda s: s.destroy(list_id))
    return RedirectResponse(_path(list_id) + "#verklaring", status_code=303)


@router.get("/bewaren/vernietigingslijsten/{list_id}/verklaring")
async def certificate(request: Request, list_id: str) -> Response:
    signed_in(request)
    needs(request, ARCHIVIST, AUDITOR)
    found: Certificate = await service_call(request, lambda s: s.certificate(list_id))
    return Response(
        found.data,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="verklaring-van-vernietiging-{list_id}.json"',
            "X-Capstone-SHA256": found.sha256,
        },
    )

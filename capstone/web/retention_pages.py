"""The retention lifecycle's Dutch pages: the archivist's overview ("Bewaren": where every object
stands, exclusions to decide on, holds, the retention run and its report) and the official's own
"Privé markeren" view of their items inside the exclusion window. Forms carry a CSRF token; the
:class:`~capstone.retention.service.RetentionService` the CLI calls checks roles and audits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from capstone.access import ARCHIVIST, AUDITOR, OFFICIAL, WOO_OFFICER
from capstone.retention.objects import Scope
from capstone.retention.service import ExclusionCategory, RetentionService
from capstone.web.destruction_pages import FORMATTING
from capstone.web.pages import error_page, needs, render, signed_in
from capstone.web.retention_common import posted_form, service_call

router = APIRouter(include_in_schema=False)

CATEGORIES = (("prive", "Privé"), ("partijpolitiek", "Partijpolitiek"))
STATUS_LABELS = {"marked": "gemarkeerd", "confirmed": "bevestigd", "refused": "geweigerd"}
SCOPE_LABELS = {
    "item": "bericht (item-id)", "record": "record (record-id)", "conversation": "gesprek (conversation-id)",
    "chat": "chat (chat-id)", "mailbox": "hele mailbox",
}  # fmt: skip
KIND_LABELS = {
    "mail-message": "e-mail", "archive-export-item": "e-mail (archiefexport)",
    "mailbox-export-item": "e-mail (export)", "chat-message-version": "chatbericht",
    "chat-metadata": "chat (gegevens)", "hosted-content": "afbeelding in chat", "calendar-event": "agenda-item",
    "task": "taak", "contact": "contactpersoon",
}  # fmt: skip
STATUS_ROWS = (
    ("objects", "Objecten in de kluis"), ("in_window", "Binnen het uitsluitingsvenster"),
    ("secured", "Vastgezet voor de volle termijn"), ("past_window_not_secured", "Venster voorbij, nog niet vastgezet"),
    ("excluded_pending_removal", "Uitgesloten, wacht op verwijdering"), ("held", "Geblokkeerd (hold)"),
    ("due_for_destruction", "Termijn verstreken (V), te vernietigen"),
    ("removed_with_record", "Verwijderd, met verantwoording"), ("missing", "Ontbreekt zonder verantwoording"),
)  # fmt: skip
RUN_ROWS = (
    ("objects", "Objecten bekeken"), ("in_window", "Nog binnen het venster"), ("secured", "Nu vastgezet"),
    ("already_secured", "Al vastgezet"), ("excluded_waiting", "Uitgesloten, slot nog niet verlopen"),
    ("excluded_deleted", "Uitgesloten en nu verwijderd"), ("held", "Geblokkeerd (hold)"),
    ("accounted", "Eerder verwijderd, verantwoord"),
)  # fmt: skip


# -- the archivist's overview ------------------------------------------------------------------------


@router.get("/bewaren")
async def overview(request: Request) -> Response:
    principal = signed_in(request)
    needs(request, ARCHIVIST, AUDITOR)

    def load(service: RetentionService) -> tuple[object, ...]:
        status = service.status()
        return status, service.exclusions(), service.holds(), service.destruction_lists()

    status, exclusions, holds, lists = await service_call(request, load)
    return render(
        request, "retention.html", title="Bewaren en vernietigen", status=status, exclusions=exclusions,
        holds=holds, lists=lists, status_rows=STATUS_ROWS, status_labels=STATUS_LABELS,
        scope_labels=SCOPE_LABELS, archivist=ARCHIVIST in principal.roles, **FORMATTING,
    )  # fmt: skip


@router.post("/bewaren/run")
async def retention_run(request: Request) -> Response:
    await posted_form(request)
    needs(request, ARCHIVIST)
    report = await service_call(request, lambda s: s.run())
    return render(request, "retention_run.html", title="Bewaarrun uitgevoerd", report=report, rows=RUN_ROWS)


@router.post("/bewaren/uitsluitingen/{exclusion_id}/besluiten")
async def decide(request: Request, exclusion_id: str) -> Response:
    form = await posted_form(request)
    needs(request, ARCHIVIST)
    note = form.get("toelichting") or None
    decision = form.get("besluit", "")
    if decision == "bevestigen":
        await service_call(request, lambda s: s.confirm(exclusion_id, note))
    elif decision == "weigeren":
        await service_call(request, lambda s: s.refuse(exclusion_id, note))
    else:
        return error_page(request, 400, "Kies bevestigen of weigeren.")
    return RedirectResponse("/bewaren#uitsluitingen", status_code=303)


@router.post("/bewaren/blokkades")
async def place_hold(request: Request) -> Response:
    form = await posted_form(request)
    needs(request, ARCHIVIST, WOO_OFFICER)
    scope = form.get("scope", "item")
    if scope not in SCOPE_LABELS:
        return error_page(request, 400, "Onbekende reikwijdte.")
    kind = form.get("soort", "")
    await service_call(
        request,
        lambda s: s.place_hold(
            form.get("kenmerk", ""), kind, form.get("reden", ""), Scope(scope), form.get("waarde", "")
        ),
    )
    return RedirectResponse("/bewaren#blokkades", status_code=303)


@router.post("/bewaren/blokkades/{hold_id}/opheffen")
async def release_hold(request: Request, hold_id: str) -> Response:
    form = await posted_form(request)
    needs(request, ARCHIVIST)
    await service_call(request, lambda s: s.release_hold(hold_id, form.get("reden", "")))
    return RedirectResponse("/bewaren#blokkades", status_code=303)


# -- the official's own view -------------------------------------------------------------------------


@router.get("/prive")
async def own_items(request: Request) -> Response:
    principal = signed_in(request)
    needs(request, OFFICIAL)

    def load(service: RetentionService) -> tuple[object, ...]:
        items = service.own_items()
        mine = [ex for ex in service.exclusions() if ex.marked_by == principal.username]
        return items, mine, service.policy.window

    items, marks, window = await service_call(request, load)
    return render(
        request, "retention_own.html", title="Privé markeren", items=items, marks=marks, window=window,
        categories=CATEGORIES, status_labels=STATUS_LABELS, scope_labels=SCOPE_LABELS, kind_labels=KIND_LABELS,
        marked=request.query_params.get("gemarkeerd"),
    )  # fmt: skip


@router.post("/prive/markeren")
async def mark(request: Request) -> Response:
    form = await posted_form(request)
    needs(request, OFFICIAL)
    scope, value = form.get("scope", "item"), form.get("waarde", "")
    if "doel" in form:  # a row of the own items: this message, its whole conversation or chat
        scope, _, value = form["doel"].partition(":")
    if scope not in ("item", "record", "conversation", "chat"):
        return error_page(request, 400, "Onbekende reikwijdte.")
    category = ExclusionCategory.parse(form.get("categorie", ""))
    exclusion = await service_call(
        request, lambda s: s.mark(Scope(scope), value, category, form.get("reden", ""))
    )
    return RedirectResponse(f"/prive?gemarkeerd={exclusion.exclusion_id}", status_code=303)

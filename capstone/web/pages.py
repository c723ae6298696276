"""The Dutch web pages: server-rendered (Jinja2, autoescaped), no script, forms that work without
JavaScript. Sign-in through the OpenID Provider (Authlib, authorization code with PKCE, discovery
only); the session is a signed cookie with an idle and an absolute timeout; every form that changes
something carries a CSRF token. Every page calls the same services as the CLI."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
import warnings
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, FastAPI, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from capstone.access import ARCHIVIST, AUDITOR, OFFICIAL, REGISTRY_ADMIN, WOO_OFFICER, AccessDenied
from capstone.capture.runner import RunCause
from capstone.index.model import DocumentKind, SearchQuery
from capstone.logging import get_logger
from capstone.registry.csvio import public_entry
from capstone.registry.errors import CsvImportError, DuplicateImportError, FieldError
from capstone.web.context import WebContext, context_of
from capstone.web.identity import Principal, TokenError, principal_from_claims
from capstone.web.jobs import Job
from capstone.web.messages import (
    EVENT_NAMES,
    RUN_STATUS_NAMES,
    capture_warning,
    dutch,
    dutch_code,
    field_label,
    field_message,
    job_error,
    kind_name,
    row_text,
    run_reason,
)

with warnings.catch_warnings():  # Authlib points at httpx2, not released for this stack yet
    warnings.simplefilter("ignore")
    from authlib.integrations.starlette_client import OAuth, OAuthError

HERE = Path(__file__).parent
templates = Jinja2Templates(
    env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
)
templates.env.filters["kind_name"] = kind_name  # a document kind in Dutch, on every page
router = APIRouter(include_in_schema=False)

ROLE_LABELS = {
    REGISTRY_ADMIN: "registerbeheerder (registry-admin)",
    ARCHIVIST: "archivaris (archivist)",
    WOO_OFFICER: "Woo-behandelaar (woo-officer)",
    AUDITOR: "auditor (auditor)",
    OFFICIAL: "sleutelfunctionaris of gemachtigde (official)",
}
KINDS: tuple[DocumentKind, ...] = ("mail", "attachment", "chat-message", "event", "contact", "task", "item")


def _log() -> Any:
    return get_logger("capstone.web")


class LoginRequired(Exception):
    pass


def install(app: FastAPI, ctx: WebContext) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    if ctx.web.metadata_url and ctx.web.client_id:
        ctx.oauth = OAuth()  # one per application: Authlib caches a registered client for good
        ctx.oauth.register(
            "entra",
            client_id=ctx.web.client_id,
            client_secret=ctx.web.client_secret.get_secret_value() if ctx.web.client_secret else None,
            server_metadata_url=ctx.web.metadata_url,
            client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
        )

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/aanmelden?next=" + request.url.path, status_code=303)


# -- session ---------------------------------------------------------------------------------------


def current(request: Request) -> Principal | None:
    """The signed-in principal, or None; a session past its idle or absolute timeout ends here."""
    session = request.session
    if "principal" not in session:
        return None
    web = context_of(request).web
    now = time.time()
    if now - float(session.get("since", 0)) > web.absolute_timeout_seconds or (
        now - float(session.get("seen", 0)) > web.idle_timeout_seconds
    ):
        session.clear()
        return None
    session["seen"] = now
    return Principal.from_session(session["principal"])


def signed_in(request: Request) -> Principal:
    principal = current(request)
    if principal is None:
        raise LoginRequired()
    return principal


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf(request: Request, token: str) -> None:
    expected = request.session.get("csrf")
    if not expected or not hmac.compare_digest(str(expected), token):
        raise AccessDenied("CSRF")


def needs(request: Request, *roles: str) -> None:
    """The roles this page's service call needs, for the Dutch refusal (the service checks them)."""
    request.state.needed_roles = roles


def render(request: Request, name: str, code: int = 200, **values: Any) -> HTMLResponse:
    principal = current(request)
    values.update(
        principal=principal,
        csrf=csrf_token(request),
        roles=sorted(principal.roles) if principal else [],
        role_labels=ROLE_LABELS,
        path=request.url.path,
    )
    response: HTMLResponse = templates.TemplateResponse(request, name, values, status_code=code)
    return response


def refused(request: Request, exc: AccessDenied) -> Response:
    principal = current(request)
    roles: Sequence[str] = getattr(request.state, "needed_roles", ())
    if str(exc) == "CSRF":
        message = (
            "Het formulier is verlopen of niet van deze site. Laad de pagina opnieuw en probeer het nog eens."
        )
        if principal is not None:
            context_of(request).guard(principal).refuse("web-csrf", None, exc, path=request.url.path)
    elif principal is not None and roles and not any(principal.roles & set(roles)):
        message = "U heeft hiervoor de rol " + " of ".join(ROLE_LABELS[r] for r in roles) + " nodig."
    elif exc.code is not None:  # a Woo refusal (case, assignment, scope): in Dutch
        message = dutch(exc)
    else:
        message = "U heeft geen toegang: " + str(exc)
    return render(request, "message.html", 403, title="Geen toegang", message=message)


def error_page(request: Request, status: int, detail: str) -> Response:
    titles = {
        400: "Ongeldige invoer", 404: "Niet gevonden", 405: "Niet toegestaan", 409: "Niet (meer) mogelijk",
        413: "Bestand te groot", 503: "Kluis niet beschikbaar",
    }  # fmt: skip
    return render(request, "message.html", status, title=titles.get(status, "Fout"), message=detail)


# -- sign-in ---------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "home.html", title="Capstone")


@router.get("/aanmelden")
async def login(request: Request, next: str = "/") -> Response:
    oauth = context_of(request).oauth
    if oauth is None:
        return error_page(request, 400, "Aanmelden is niet ingesteld (CAPSTONE_WEB_METADATA_URL).")
    local = next.startswith("/") and not next.startswith(("//", "/\\")) and "\\" not in next
    request.session["next"] = next if local else "/"  # only a path on this site: no open redirect
    redirect_uri = str(request.url_for("auth_callback"))
    response: Response = await oauth.entra.authorize_redirect(request, redirect_uri)
    return response


@router.get("/auth/callback", name="auth_callback")
async def auth_callback(request: Request) -> Response:
    ctx = context_of(request)
    try:
        if ctx.oauth is None:
            raise KeyError("sign-in is not configured")
        token = await ctx.oauth.entra.authorize_access_token(request)
        principal = principal_from_claims(token["userinfo"], ctx.web.group_roles)
    except (OAuthError, TokenError, KeyError) as exc:
        ctx.refuse_anonymous("web-sign-in", f"sign-in failed: {type(exc).__name__}: {exc}")
        return error_page(request, 400, "Aanmelden is mislukt. Probeer het opnieuw.")
    target = str(request.session.get("next", "/"))
    request.session.clear()  # a fresh session (and CSRF token) after sign-in
    now = time.time()
    request.session.update(principal=principal.to_session(), since=now, seen=now)
    ctx.guard(principal).record("web-sign-in", None, "allowed", None, roles=sorted(principal.roles))
    _log().info("web_sign_in", user=principal.username, roles=sorted(principal.roles))
    return RedirectResponse(target, status_code=303)


@router.post("/afmelden")
async def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    principal = current(request)
    request.session.clear()
    if principal is not None:
        context_of(request).guard(principal).record("web-sign-out", None, "allowed", None)
    end = None
    oauth = context_of(request).oauth
    if oauth is not None:
        metadata = await oauth.entra.load_server_metadata()
        end = metadata.get("end_session_endpoint")
    if end:
        back = str(request.url_for("home"))
        return RedirectResponse(f"{end}?{urlencode({'post_logout_redirect_uri': back})}", status_code=303)
    return RedirectResponse("/", status_code=303)


# -- register --------------------------------------------------------------------------------------


@router.get("/openbaar/register")
def public_register(request: Request, op: date | None = None) -> Response:
    ctx = context_of(request)
    registry = ctx.operations(Principal("", "publiek", "publiek", frozenset())).registry()
    found = registry.state_at(op) if op else registry.designations()
    entries = [public_entry(d) for d in found]
    return render(
        request, "public_register.html", title="Register van sleutelfunctionarissen", entries=entries, on=op
    )


@router.get("/register")
def register(request: Request, op: date | None = None) -> Response:
    principal = signed_in(request)
    needs(request, REGISTRY_ADMIN)
    day = op or date.today()
    found = context_of(request).operations(principal).registry_state(day)
    return render(
        request, "register.html", title="Register van sleutelfunctionarissen", designations=found, on=day
    )


@router.get("/register/{designation_id}/historie")
def register_history(request: Request, designation_id: str) -> Response:
    signed_in(request)
    needs(request, REGISTRY_ADMIN)
    return _history_page(request, designation_id)


def _history_page(request: Request, designation_id: str, code: int = 200, **values: Any) -> Response:
    """The history with the forms to end, correct or withdraw; after a refused change ``action``
    names the form, ``form`` what was entered and ``field_errors`` the Dutch message per field."""
    ops = context_of(request).operations(signed_in(request))
    events = ops.registry_history(designation_id)
    current = ops.registry().get(designation_id)
    values.setdefault("action", "")
    values.setdefault("form", {})
    values.setdefault("field_errors", {})
    return render(
        request, "register_history.html", code, title="Historie van een aanwijzing", events=events,
        designation_id=designation_id, current=current, field_label=field_label, event_names=EVENT_NAMES, **values,
    )  # fmt: skip


DESIGNATION_FIELDS = (
    ("name", "Naam", "text", True), ("mail", "E-mailadres (primair)", "email", True),
    ("function", "Functie", "text", True), ("organisation_unit", "Organisatieonderdeel", "text", True),
    ("category", "Categorie", "select", True), ("start_date", "Aangewezen vanaf", "date", True),
    ("end_date", "Aangewezen tot en met (leeg: onbepaald)", "date", False),
    ("deciding_body", "Besluitvormend orgaan", "text", True), ("decision_date", "Datum besluit", "date", True),
    ("decision_reference", "Kenmerk besluit", "text", True),
)  # fmt: skip


def _designation_form(request: Request, code: int = 200, **values: Any) -> HTMLResponse:
    from capstone.registry.model import Category

    values.setdefault("form", {})
    values.setdefault("field_errors", {})
    values.setdefault("field_label", field_label)
    return render(
        request, "register_designate.html", code, title="Sleutelfunctionaris aanwijzen",
        fields=DESIGNATION_FIELDS, categories=[(c.value, c.label) for c in Category], **values,
    )  # fmt: skip


@router.get("/register/aanwijzen")
def designate_form(request: Request) -> Response:
    principal = signed_in(request)
    needs(request, REGISTRY_ADMIN)
    context_of(request).guard(principal).require("registry-designate-form", None, REGISTRY_ADMIN)
    return _designation_form(request)


@router.post("/register/aanwijzen")
async def designate(request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool

    from capstone.registry.csvio import draft_from_cells
    from capstone.registry.errors import OverlapError, ValidationError

    form = {k: str(v).strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.pop("csrf", ""))
    principal = signed_in(request)
    needs(request, REGISTRY_ADMIN)
    registry = context_of(request).operations(principal).registry()
    cells = {k: v for k, v in form.items() if k in {f[0] for f in DESIGNATION_FIELDS} and v}
    for flag in ("capture_mail", "capture_chats", "capture_history"):
        cells[flag] = "yes" if form.get(flag) else "no"
    try:
        draft = draft_from_cells(cells, today=registry.today())
        designation = await run_in_threadpool(
            lambda: registry.designate(draft, actor=principal.username, reason=form.get("reason") or None)
        )
    except ValidationError as exc:
        errors = _field_errors(exc.errors)
        return _designation_form(request, 400, form=form, field_errors=errors)
    except OverlapError as exc:
        return _designation_form(request, 409, form=form, field_errors={exc.field: dutch_code(exc) or ""})
    return RedirectResponse(f"/register/{designation.designation_id}/historie", status_code=303)


def _field_errors(errors: Sequence[FieldError]) -> dict[str, str]:
    """Per field its first error, in Dutch (the form shows it next to the field's label)."""
    shown: dict[str, str] = {}
    for error in errors:
        shown.setdefault(error.field, field_message(error))
    return shown


@router.post("/register/{designation_id}/wijzigen")
async def change_designation(request: Request, designation_id: str) -> Response:
    """End, correct (name, function, unit, decision reference) or withdraw a designation. A refused
    change shows the history page again with the Dutch message at the field of the form it came from."""
    from starlette.concurrency import run_in_threadpool

    from capstone.registry.errors import OverlapError, ValidationError
    from capstone.registry.validation import parse_date

    form = {k: str(v).strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    check_csrf(request, form.pop("csrf", ""))
    principal = signed_in(request)
    needs(request, REGISTRY_ADMIN)
    registry = context_of(request).operations(principal).registry()
    action, reason = form.get("actie", ""), form.get("reason", "")
    try:
        if action == "beeindigen":
            end = parse_date(form.get("end_date", ""), "end_date")
            await run_in_threadpool(
                lambda: registry.end(designation_id, end, actor=principal.username, reason=reason)
            )
        elif action == "intrekken":
            await run_in_threadpool(
                lambda: registry.withdraw(designation_id, actor=principal.username, reason=reason)
            )
        elif action == "corrigeren":
            changes = {
                k: form[k]
                for k in ("name", "function", "organisation_unit", "decision_reference")
                if form.get(k)
            }
            await run_in_threadpool(
                lambda: registry.correct(designation_id, actor=principal.username, reason=reason, **changes)
            )
        else:
            return error_page(request, 400, "Onbekende actie.")
    except (ValidationError, FieldError, OverlapError) as exc:
        if isinstance(exc, ValidationError):
            errors = _field_errors(exc.errors)
        elif isinstance(exc, FieldError):
            errors = _field_errors([exc])
        else:
            errors = {exc.field: dutch_code(exc) or ""}
        return await run_in_threadpool(
            lambda: _history_page(request, designation_id, 400, action=action, form=form, field_errors=errors)
        )
    return RedirectResponse(f"/register/{designation_id}/historie", status_code=303)


@router.get("/register/import")
def register_import_form(request: Request) -> Response:
    principal = signed_in(request)
    needs(request, REGISTRY_ADMIN)
    context_of(request).guard(principal).require("registry-import-form", None, REGISTRY_ADMIN)
    return render(request, "register_import.html", title="Aanwijzingen importeren (CSV)")


async def _read_upload(request: Request, upload: UploadFile) -> bytes:
    """The uploaded CSV, size-limited, read in memory (spooled to a temporary directory by the
    multipart parser, never elsewhere on disk)."""
    limit = context_of(request).web.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"Het bestand is groter dan {limit // 1024} kB.")
    return data


@router.post("/register/import")
async def register_import_preview(
    request: Request, bestand: UploadFile, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    principal = signed_in(request)
    needs(request, REGISTRY_ADMIN)
    try:
        data = await _read_upload(request, bestand)
    except ValueError as exc:
        return render(
            request, "register_import.html", 413, title="Aanwijzingen importeren (CSV)", upload_error=str(exc)
        )
    from starlette.concurrency import run_in_threadpool

    rows, errors = await run_in_threadpool(context_of(request).operations(principal).registry_preview, data)
    return render(
        request, "register_import.html", title="Aanwijzingen importeren (CSV)", rows=rows, errors=errors,
        filename=bestand.filename or "import.csv", payload=base64.b64encode(data).decode(),
        field_label=field_label, row_message=row_text,
    )  # fmt: skip


@router.post("/register/import/bevestigen")
def register_import_confirm(
    request: Request,
    payload: Annotated[str, Form()],
    filename: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf)
    principal = signed_in(request)
    needs(request, REGISTRY_ADMIN)
    ctx = context_of(request)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return error_page(request, 400, "Het bestand is onleesbaar; upload het opnieuw.")
    if len(data) > ctx.web.max_upload_bytes:
        return error_page(request, 413, "Het bestand is te groot.")
    registry = ctx.operations(principal).registry()
    try:
        result = registry.import_csv(data, filename=filename, actor=principal.username)
    except CsvImportError as exc:
        return render(
            request,
            "register_import.html",
            400,
            title="Aanwijzingen importeren (CSV)",
            errors=exc.errors,
            rows=[],
            filename=filename,
            field_label=field_label,
            row_message=row_text,
        )
    except DuplicateImportError as exc:
        return render(
            request,
            "register_import.html",
            409,
            title="Aanwijzingen importeren (CSV)",
            upload_error=dutch(exc),
        )
    return render(request, "message.html", title="Import voltooid",
                  message=f"{len(result.designations)} aanwijzingen zijn vastgelegd (import {result.import_id}).",
                  link=("/register", "Naar het register"))  # fmt: skip


# -- capture ---------------------------------------------------------------------------------------


@router.get("/vastlegging")
def capture(request: Request) -> Response:
    principal = signed_in(request)
    needs(request, ARCHIVIST, AUDITOR)
    ops = context_of(request).operations(principal)
    status = ops.capture_status()
    chart = ops.captured_per_day()
    return render(
        request, "capture.html", title="Vastlegging", status=status, chart=_bars(chart),
        last_verify=ops.last_vault_verify(), warning_text=capture_warning, run_status=RUN_STATUS_NAMES,
        reasons=run_reason,
    )  # fmt: skip


def _bars(chart: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Per official, the days with their counts and bar widths (0-100) for an SVG drawn without
    script or inline style."""
    peak = max((n for days in chart.values() for n in days.values()), default=0) or 1
    return [
        {"official": official, "days": [(day, n, round(100 * n / peak)) for day, n in sorted(days.items())]}
        for official, days in sorted(chart.items())
    ]


@router.get("/vastlegging/run/{run_id}")
def capture_run(request: Request, run_id: str) -> Response:
    principal = signed_in(request)
    needs(request, ARCHIVIST, AUDITOR)
    run = context_of(request).operations(principal).capture_run(run_id)
    if run is None:
        return error_page(request, 404, f"Geen run {run_id}.")
    return render(
        request, "capture_run.html", title=f"Run {run_id}", run=run, run_status=RUN_STATUS_NAMES,
        reasons=run_reason, cause=RunCause.of(run.get("summary")),
    )  # fmt: skip


@router.post("/vastlegging/verifieren")
def capture_verify(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    principal = signed_in(request)
    needs(request, ARCHIVIST, AUDITOR)
    ctx = context_of(request)
    ops = ctx.operations(principal)
    ops.guard.require("vault-verify", None, ARCHIVIST, AUDITOR)  # refuse now, not inside the job

    def work(job: Job) -> None:
        report = ops.vault_verify(progress=lambda done, total, _key: job.progress(done, total))
        job.result = report.to_json() | {"all_well": report.all_well}

    job = ctx.jobs.start(principal.username, "vault-verify", "Kluis verifiëren", work)
    return RedirectResponse(f"/taken/{job.job_id}", status_code=303)


# -- Woo -------------------------------------------------------------------------------------------


def urgency(due: date, today: date) -> tuple[str, str]:
    days = (due - today).days
    if days < 0:
        return "te-laat", f"termijn verstreken ({-days} dagen)"
    if days <= 7:
        return "dringend", f"nog {days} dagen"
    if days <= 21:
        return "binnenkort", f"nog {days} dagen"
    return "op-tijd", f"nog {days} dagen"


@router.get("/woo")
def woo_cases(request: Request) -> Response:
    principal = signed_in(request)
    needs(request, WOO_OFFICER, AUDITOR)
    cases = context_of(request).woo(principal).list_cases()
    today = date.today()
    rows = [
        (c, urgency(c.decision_due, today), urgency(c.extended_due, today), urgency(c.zienswijze_by, today))
        for c in cases
        if principal.username in c.officers or AUDITOR in principal.roles
    ]
    return render(request, "woo_cases.html", title="Woo-verzoeken", rows=rows)


def _query(params: dict[str, str]) -> SearchQuery:
    def day(key: str) -> date | None:
        value = params.get(key, "").strip()
        return date.fromisoformat(value) if value else None

    def text(key: str) -> str | None:
        return params.get(key, "").strip() or None

    kind = params.get("soort", "")
    official = params.get("functionaris", "").strip()
    attachment = {"ja": True, "nee": False}.get(params.get("bijlage", ""))
    return SearchQuery(
        text=params.get("q", ""), officials=(official,) if official else (),
        kinds=tuple(k for k in KINDS if k == kind),
        date_from=day("van"), date_to=day("tot"), sender=text("afzender"), recipient=text("ontvanger"),
        folder=text("map"), has_attachment=attachment, limit=25,
        offset=max(0, int(params.get("vanaf", "0") or 0)),
    )  # fmt: skip


@router.get("/woo/{ref}")
def woo_case(request: Request, ref: str) -> Response:
    principal = signed_in(request)
    needs(request, WOO_OFFICER, AUDITOR)
    woo = context_of(request).woo(principal)
    case = woo.case(ref)
    from capstone.web.woo_review_pages import case_notice, case_review

    review = case_review(context_of(request), principal, case)
    params = dict(request.query_params)
    result = facets = None
    query_error = None
    if "q" in params:
        needs(request, WOO_OFFICER)
        try:
            query = _query(params)
        except ValueError:
            query_error = "Vul datums in als JJJJ-MM-DD."
        else:
            result = woo.search(ref, query)
            facets = _facets(context_of(request), principal, woo, ref, query)
    return render(
        request, "woo_case.html", title=f"Woo-verzoek {case.ref}", case=case, params=params, result=result,
        facets=facets, kinds=KINDS, query_error=query_error, facet_link=_facet_link(params), review=review,
        notice=case_notice(params),
    )  # fmt: skip


def _facet_link(params: dict[str, str]) -> Any:
    def link(*pairs: str) -> str:
        narrowed = {k: v for k, v in params.items() if k != "vanaf"}
        narrowed.update(zip(pairs[::2], pairs[1::2], strict=True))
        return urlencode(narrowed)

    return link


def _facets(
    ctx: WebContext, principal: Principal, woo: Any, ref: str, query: SearchQuery
) -> dict[str, list[tuple[str, int]]]:
    """Counts per kind, official and year of the query's matches (one audited service call)."""
    officials = sorted({d.name for d in ctx.operations(principal).registry().designations()})
    this_year = date.today().year
    counts: dict[str, list[tuple[str, int]]] = woo.facets(
        ref, query, officials, range(this_year - 9, this_year + 1)
    )
    return counts


@router.get("/woo/{ref}/document/{doc_id}")
def woo_document(request: Request, ref: str, doc_id: str) -> Response:
    principal = signed_in(request)
    needs(request, WOO_OFFICER)
    view = context_of(request).woo(principal).view(ref, doc_id)
    return render(request, "woo_document.html", title=view.document.subject or "Document", ref=ref, view=view)


@router.post("/woo/{ref}/exporteren")
def woo_export(request: Request, ref: str, csrf: Annotated[str, Form()] = "") -> Response:
    from capstone.web.export_job import start_export

    check_csrf(request, csrf)
    principal = signed_in(request)
    needs(request, WOO_OFFICER)
    job = start_export(context_of(request), principal, ref)
    return RedirectResponse(f"/taken/{job.job_id}", status_code=303)


# -- jobs ------------------------------------------------------------------------------------------


@router.get("/taken/{job_id}")
def job_page(request: Request, job_id: str) -> Response:
    principal = signed_in(request)
    job = context_of(request).job_for(principal, job_id)
    if job is None:
        return error_page(request, 404, "Deze taak bestaat niet of is niet van u.")
    return render(request, "job.html", title=job.title, job=job, job_error=job_error(job.error_kind))


@router.get("/taken/{job_id}/download")
def job_download(request: Request, job_id: str) -> Response:
    principal = signed_in(request)
    job = context_of(request).job_for(principal, job_id)
    if job is None or job.download is None:
        return error_page(request, 404, "Er is (nog) niets te downloaden.")
    return FileResponse(job.download, media_type="application/zip", filename=job.download.name)


# -- audit -----------------------------------------------------------------------------------------


@router.get("/audit")
def audit(request: Request) -> Response:
    principal = signed_in(request)
    needs(request, AUDITOR)
    params = dict(request.query_params)
    case = params.get("zaak", "").strip() or None
    user = params.get("gebruiker", "").strip() or None
    field_errors: dict[str, str] = {}
    period: dict[str, date | None] = {}
    for name in ("van", "tot"):
        text = params.get(name, "").strip()
        try:
            period[name] = date.fromisoformat(text) if text else None
        except ValueError:
            field_errors[name] = "Vul een datum in als JJJJ-MM-DD."
    since, until = period.get("van"), period.get("tot")
    if since and until and since > until:
        field_errors["tot"] = "De einddatum ligt vóór de begindatum."
    if field_errors:
        return render(
            request,
            "audit.html",
            400,
            title="Audit",
            entries=[],
            total=0,
            params=params,
            field_errors=field_errors,
        )
    shown = context_of(request).woo(principal).audit_entries(case, actor=user, since=since, until=until)
    return render(
        request,
        "audit.html",
        title="Audit",
        entries=shown[-500:],
        total=len(shown),
        params=params,
        field_errors={},
    )


@router.post("/audit/verifieren")
def audit_verify(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    principal = signed_in(request)
    needs(request, AUDITOR)
    report = context_of(request).woo(principal).audit_verify()
    return render(request, "audit_verify.html", title="Audit-log geverifieerd", report=report)

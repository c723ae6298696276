"""The ASGI application of ``capstone serve``: pages, ``/api/v1``, sign-in, security headers.

Example::

    app = create_app(Settings(), WebSettings())    # CAPSTONE_WEB_METADATA_URL, _CLIENT_ID, ...
    uvicorn.run(app, host="127.0.0.1", port=8080)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from capstone.access import AccessDenied
from capstone.coded import is_not_found
from capstone.logging import get_logger
from capstone.registry.errors import (
    ConcurrentChangeError,
    DuplicateImportError,
    OverlapError,
    RegistryError,
    StateError,
    UnknownDesignationError,
)
from capstone.retention.service import RetentionConflict, RetentionError, RetentionNotFound
from capstone.services import state_engine
from capstone.settings import Settings
from capstone.web.api import PROBLEM, ApiProblem
from capstone.web.api import router as api_router
from capstone.web.config import WebSettings
from capstone.web.context import WebContext
from capstone.web.identity import TokenValidator
from capstone.web.messages import dutch
from capstone.woo.cases import CaseError, UnknownCaseError
from vault import VaultError

SESSION_COOKIE = "capstone_sessie"


class SecurityHeaders:
    """Headers on every response: CSP without inline script, no framing, no sniffing, no referrer
    leaks; HSTS when the request came over TLS."""

    def __init__(self, app: ASGIApp, form_targets: str) -> None:
        self.app = app
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"form-action 'self' {form_targets}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        ).replace("  ", " ")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                extra = {
                    b"content-security-policy": self.csp.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"no-referrer",
                    b"x-frame-options": b"DENY",
                    b"cross-origin-opener-policy": b"same-origin",
                }
                if tls:
                    extra[b"strict-transport-security"] = b"max-age=31536000; includeSubDomains"
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in extra.items() if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse a request body larger than ``limit`` bytes (413) before anything parses or spools it:
    by its Content-Length, or while it streams in when it has none."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, send)
            return
        seen, too_large, refused = 0, False, False

        async def limited() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # stop reading: the app sees a truncated body, the client a 413
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if too_large:
                if not refused:
                    refused = True
                    await self._refuse(scope, send)
                return
            await send(message)

        await self.app(scope, limited, guarded_send)
        if too_large and not refused:
            await self._refuse(scope, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        path = str(scope.get("path", ""))
        if path.startswith("/api/"):  # the API's one error format
            problem = {"type": "about:blank", "title": "Het verzoek is te groot", "status": 413,
                       "detail": None, "instance": path}  # fmt: skip
            body, media = json.dumps(problem).encode(), PROBLEM.encode()
        else:
            body, media = b"Het verzoek is te groot.", b"text/plain; charset=utf-8"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", media), (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem(
    status: int,
    title: str,
    detail: str | None,
    request: Request,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response:
    """An RFC 9457 problem document. A service refusal with a stable ``code`` has the type
    ``urn:capstone:problem:<code>`` and the extension member ``code``; others are ``about:blank``."""
    body: dict[str, Any] = {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if code:
        body["code"] = code
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def problem_type(code: str | None) -> str:
    return f"urn:capstone:problem:{code}" if code else "about:blank"


def _code(exc: BaseException) -> str | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


def _dutch_invalid(errors: Sequence[Any]) -> str:
    """A request a page cannot read (a date that is no date, a missing field), in Dutch."""
    said: list[str] = []
    for error in errors:
        name = str(error.get("loc", ("", "?"))[-1])
        kind = str(error.get("type", ""))
        if kind == "missing":
            said.append(f"Vul '{name}' in.")
        elif kind.startswith("date") or kind.startswith("datetime"):
            said.append(f"'{name}' is geen datum; schrijf JJJJ-MM-DD.")
        elif kind.startswith("int") or kind.startswith("float"):
            said.append(f"'{name}' is geen getal.")
        else:
            said.append(f"De invoer bij '{name}' is niet geldig.")
    return "Ongeldige invoer: " + " ".join(dict.fromkeys(said))


def _install_errors(app: FastAPI) -> None:
    from capstone.web import pages

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> Response:
        return problem(exc.status, exc.title, exc.detail, request, exc.headers, code=exc.code)

    @app.exception_handler(AccessDenied)
    async def denied(request: Request, exc: AccessDenied) -> Response:
        # the service has audited the refusal already
        if _is_api(request):
            return problem(403, "Geen toegang", str(exc), request, code=_code(exc))
        return pages.refused(request, exc)

    @app.exception_handler(CaseError)
    @app.exception_handler(RegistryError)
    async def bad_request(request: Request, exc: Exception) -> Response:
        # by the error's type and code (capstone.coded), never by its English message
        if isinstance(exc, (UnknownCaseError, UnknownDesignationError)) or is_not_found(exc):
            status, title = 404, "Niet gevonden"
        elif isinstance(exc, (StateError, ConcurrentChangeError, OverlapError, DuplicateImportError)):
            status, title = 409, "Conflict"
        else:
            status, title = 400, "Ongeldig verzoek"
        if _is_api(request):
            return problem(status, title, str(exc), request, code=_code(exc))
        return pages.error_page(request, status, dutch(exc))

    @app.exception_handler(RetentionError)
    async def retention_refused(request: Request, exc: RetentionError) -> Response:
        status, title = 400, "Ongeldig verzoek"
        if isinstance(exc, RetentionNotFound):
            status, title = 404, "Niet gevonden"
        elif isinstance(exc, RetentionConflict):
            status, title = 409, "Conflict"
        if _is_api(request):
            return problem(status, title, str(exc), request, code=_code(exc))
        return pages.error_page(request, status, dutch(exc))

    @app.exception_handler(VaultError)
    async def vault_failed(request: Request, exc: VaultError) -> Response:
        if _is_api(request):
            return problem(503, "Kluis niet beschikbaar", str(exc), request)
        get_logger("capstone.web").warning("web_vault_error", path=request.url.path, error=str(exc))
        return pages.error_page(request, 503, dutch(exc))  # the English cause is in the log

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        if _is_api(request):
            return problem(400, "Ongeldig verzoek", detail, request)
        return pages.error_page(request, 400, _dutch_invalid(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return problem(exc.status_code, str(exc.detail), None, request)
        return pages.error_page(request, exc.status_code, str(exc.detail))


def create_app(settings: Settings, web: WebSettings, *, secure_cookies: bool = True) -> FastAPI:
    """``secure_cookies=False`` only for plain http on a loopback address (tests, demo)."""
    from capstone.web import (
        api_jobs,
        api_review,
        destruction_pages,
        pages,
        retention_api,
        retention_pages,
        woo_review_pages,
    )

    ctx = WebContext(settings=settings, web=web, engine=state_engine(settings), validator=TokenValidator(web))
    app = FastAPI(
        title="Capstone API",
        version="1.0.0",
        summary="Register van sleutelfunctionarissen, vastlegging, Woo-verzoeken en audit",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI needs inline script; the OpenAPI document is enough
        redoc_url=None,
    )
    app.state.capstone = ctx
    app.include_router(api_router)
    app.include_router(retention_api.router)
    app.include_router(api_review.router)
    app.include_router(api_jobs.router)
    app.include_router(pages.router)
    app.include_router(retention_pages.router)
    app.include_router(destruction_pages.router)
    app.include_router(woo_review_pages.router)
    pages.install(app, ctx)
    _install_errors(app)
    _install_openapi(app)
    idp = urlsplit(web.metadata_url)
    app.add_middleware(
        SessionMiddleware,
        secret_key=web.session_secret.get_secret_value(),
        session_cookie=SESSION_COOKIE,
        max_age=web.absolute_timeout_seconds,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.add_middleware(BodyLimit, limit=web.max_upload_bytes * 2 + 64 * 1024)  # base64 preview form
    app.add_middleware(SecurityHeaders, form_targets=f"{idp.scheme}://{idp.netloc}" if idp.netloc else "")
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _install_openapi(app: FastAPI) -> None:
    """FastAPI's document, made to say what the API really answers: every error is an RFC 9457
    problem (``application/problem+json``), and a request that fails validation is answered 400
    (see ``invalid`` above), so FastAPI's own 422 and its schemas are not in it."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes,
            description="Errors are RFC 9457 problem documents; see the Problem schema.",
        )  # fmt: skip
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                responses.pop("422", None)
                for code, response in responses.items():
                    content = response.get("content", {})
                    if code[0] in "45" and "application/json" in content:
                        content[PROBLEM] = content.pop("application/json")
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]

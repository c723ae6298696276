"""The simulator as one ASGI application.

- ``POST /{tenant}/oauth2/v2.0/token``: client-credentials tokens
- ``/v1.0/...`` and ``/beta/...``: Microsoft Graph (mail, archive mailbox, Teams, ``$batch``)
- ``POST /EWS/Exchange.asmx``: Exchange Web Services (SOAP)
- ``/_sim/...``: admin endpoints (health, truth, mutations, faults, throttle, tokens, stats);
  never throttled, never faulted, not part of any Microsoft API
"""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from capstone.logging import get_logger
from connectors.simulator import mutations
from connectors.simulator.faults import FaultMiddleware, FaultSpec
from connectors.simulator.graph import archive as graph_archive
from connectors.simulator.graph import calendar as graph_calendar
from connectors.simulator.graph import contacts as graph_contacts
from connectors.simulator.graph import mail as graph_mail
from connectors.simulator.graph import teams as graph_teams
from connectors.simulator.graph import todo as graph_todo
from connectors.simulator.graph import users as graph_users
from connectors.simulator.graph.batch import run_batch
from connectors.simulator.graph.common import GraphRequest, GraphResponse
from connectors.simulator.graph.router import GraphApi
from connectors.simulator.state import Simulator
from connectors.simulator.truth import truth

log = get_logger("simulator.app")

# A streamed body (MIME, export streams) is generated in a worker thread piece by piece (a header, a
# line of base64); it crosses to the event loop in chunks of about this size, so the simulator does
# one thread hand-off per chunk rather than per line. Memory per response stays bounded by it.
STREAM_CHUNK = 64 * 1024


def coalesced(pieces: Iterable[bytes], size: int = STREAM_CHUNK) -> Iterator[bytes]:
    """The bytes of ``pieces`` unchanged, joined into chunks of at least ``size`` bytes (the last one
    may be shorter); nothing is held beyond one chunk."""
    pending: list[bytes] = []
    held = 0
    for piece in pieces:
        pending.append(piece)
        held += len(piece)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def graph_routes() -> list[Any]:
    return [
        *graph_users.routes(),
        *graph_mail.routes(),
        *graph_calendar.routes(),
        *graph_contacts.routes(),
        *graph_todo.routes(),
        *graph_archive.routes(),
        *graph_teams.routes(),
    ]


def _to_http(response: GraphResponse) -> Response:
    headers = {k: v for k, v in response.headers.items() if v}
    headers["OData-Version"] = "4.0"
    if response.stream is not None:
        release = response.on_close or (lambda: None)
        stream = response.stream

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in iterate_in_threadpool(coalesced(stream)):
                    yield chunk
            finally:
                release()

        if response.length is not None:
            headers["Content-Length"] = str(response.length)
        return StreamingResponse(
            body(), status_code=response.status, headers=headers, media_type=response.content_type
        )
    return Response(
        response.body_bytes(), status_code=response.status, headers=headers, media_type=response.content_type
    )


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"


def oidc_routes(sim: Simulator) -> list[Route]:
    """Entra ID's OpenID Connect endpoints (see :mod:`connectors.simulator.oidc`)."""
    oidc = sim.oidc

    def known(request: Request) -> bool:
        return str(request.path_params.get("tenant", oidc.tenant_id)) in (oidc.tenant_id, oidc.domain)

    async def discovery(request: Request) -> Response:
        if not known(request):
            return JSONResponse({"error": "invalid_tenant"}, status_code=400)
        return JSONResponse(oidc.discovery(_base_url(request)))

    async def keys(request: Request) -> Response:
        return JSONResponse(oidc.jwks(), headers={"Cache-Control": "max-age=86400"})

    async def authorize(request: Request) -> Response:
        if request.method == "POST":
            params = {k: str(v) for k, v in (await request.form()).items()}
        else:
            params = dict(request.query_params)
        problem = oidc.check_authorize(params) if known(request) else "AADSTS90002: tenant not found"
        if problem:
            return HTMLResponse(f"<!doctype html><title>Fout</title><p>{html.escape(problem)}</p>", 400)
        username = params.pop("login_hint", "")
        if request.method == "POST" and oidc.user(username) is not None:
            return RedirectResponse(oidc.issue_code(params, username, _base_url(request)), status_code=302)
        return HTMLResponse(oidc.login_page(params, str(request.url.path)))

    async def logout(request: Request) -> Response:
        target = request.query_params.get("post_logout_redirect_uri")
        if target and urlsplit(target).hostname in ("127.0.0.1", "localhost"):
            return RedirectResponse(target, status_code=302)
        return HTMLResponse("<!doctype html><title>Afgemeld</title><p>U bent afgemeld.</p>")

    async def test_token(request: Request) -> Response:
        document = json.loads(await request.body() or b"{}")
        try:
            token = oidc.test_token(
                str(document.get("username", "")),
                _base_url(request),
                str(document.get("audience") or next(iter(oidc.clients))),
                document.get("failure"),
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"access_token": token, "token_type": "Bearer"})

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", discovery),
        Route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=["GET", "POST"]),
        Route("/{tenant}/oauth2/v2.0/logout", logout, methods=["GET", "POST"]),
        Route("/{tenant}/discovery/v2.0/keys", keys),
        Route("/discovery/v2.0/keys", keys),
        Route("/_sim/oidc/token", test_token, methods=["POST"]),
    ]


def build_app(sim: Simulator) -> Any:
    """The ASGI app for ``sim`` (wrapped in the fault injector)."""
    api = GraphApi(sim, graph_routes())
    from connectors.simulator.ews.service import EwsService

    ews = EwsService(sim)
    sim.ews_service = ews  # its NTLM acceptor's counters, for tests and /_sim/ews

    def graph_endpoint(version: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await graph(request, version)

        return endpoint

    async def graph(request: Request, version: str) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1").split("?", 1)[0][len(version) + 1 :]
        host = request.headers.get("host", "localhost")
        req = GraphRequest(
            method=request.method,
            path=path,
            query=dict(parse_qsl(request.url.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
            base_url=f"{request.url.scheme}://{host}/{version}",
            version=version,
        )
        if path.strip("/") == "$batch" and request.method == "POST":
            result = await run_in_threadpool(run_batch, api, req)
        else:
            result = await run_in_threadpool(api.dispatch, req)
        return _to_http(result)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        if (
            form.get("grant_type") == "authorization_code"
            and sim.oidc.tenant_id == request.path_params["tenant"]
        ):
            status, payload = sim.oidc.token_endpoint(form, request.headers.get("authorization"))
        else:
            status, payload = sim.tokens.token_endpoint(request.path_params["tenant"], form)
        sim.count("token")
        return JSONResponse(payload, status_code=status, headers={"Cache-Control": "no-store, no-cache"})

    async def ews_endpoint(request: Request) -> Response:
        body = await request.body()
        client = request.scope.get("client")
        connection = tuple(client) if client else None
        status, payload, headers = await run_in_threadpool(
            ews.handle, body, {k.lower(): v for k, v in request.headers.items()}, connection
        )
        return Response(payload, status_code=status, headers=headers, media_type="text/xml; charset=utf-8")

    # -- admin -----------------------------------------------------------------------------------

    async def health(request: Request) -> Response:
        tenant = sim.tenant
        return JSONResponse(
            {
                "status": "ok",
                "tenantId": tenant.tenant_id,
                "domain": tenant.domain,
                "seed": tenant.seed,
                "profile": tenant.profile,
                "clientId": sim.config.client_id,
                "position": tenant.seq,
            }
        )

    async def truth_endpoint(request: Request) -> Response:
        host = request.headers.get("host", "localhost")
        hashes = request.query_params.get("hashes", "true").lower() != "false"
        document = await run_in_threadpool(
            lambda: truth(
                sim.tenant,
                graph_base=f"{request.url.scheme}://{host}/v1.0",
                hashes=hashes,
                mailbox=request.query_params.get("mailbox"),
            )
        )
        return JSONResponse(document)

    async def mutation_endpoint(request: Request) -> Response:
        try:
            document = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            return JSONResponse({"error": f"invalid JSON: {exc}"}, status_code=400)
        docs = (
            document.get("mutations")
            if isinstance(document, dict) and "mutations" in document
            else [document]
        )
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            return JSONResponse(
                {"error": "expected a mutation object or {'mutations': [...]}"}, status_code=400
            )
        try:
            results = await run_in_threadpool(lambda: [mutations.apply(sim.tenant, d) for d in docs])
        except mutations.MutationError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            results[0] if len(results) == 1 and "mutations" not in document else {"results": results}
        )

    async def faults_endpoint(request: Request) -> Response:
        if request.method == "POST":
            document = json.loads(await request.body() or b"{}")
            try:
                spec = FaultSpec.parse(str(document.get("spec") or ""))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            sim.faults.configure(spec)
        return JSONResponse(sim.faults.stats())

    async def throttle_endpoint(request: Request) -> Response:
        cfg = sim.throttle.config
        if request.method == "POST":
            document = json.loads(await request.body() or b"{}")
            for name, attr in (
                ("enabled", "enabled"),
                ("mailboxConcurrency", "mailbox_concurrency"),
                ("mailboxBudget", "mailbox_budget"),
                ("mailboxWindow", "mailbox_window"),
                ("teamsBudget", "teams_budget"),
                ("teamsWindow", "teams_window"),
                ("timeScale", "time_scale"),
            ):
                if name in document:
                    setattr(cfg, attr, type(getattr(cfg, attr))(document[name]))
            if document.get("reset"):
                sim.throttle.reset()
        return JSONResponse(
            {
                "enabled": cfg.enabled,
                "mailboxConcurrency": cfg.mailbox_concurrency,
                "mailboxBudget": cfg.mailbox_budget,
                "mailboxWindow": cfg.mailbox_window,
                "teamsBudget": cfg.teams_budget,
                "teamsWindow": cfg.teams_window,
                "timeScale": cfg.time_scale,
                "buckets": sim.throttle.stats(),
            }
        )

    async def ews_admin(request: Request) -> Response:
        """EWS throttling: ``{"maxConcurrency": 10, "backOffMs": 200, "enabled": true}`` and a storm
        of throttling errors, ``{"storm": {"count": N, "code": "ErrorServerBusy", "backOffMs": M}}``."""
        throttle = sim.ews_throttle
        if request.method == "POST":
            document = json.loads(await request.body() or b"{}")
            if "enabled" in document:
                throttle.config.enabled = bool(document["enabled"])
            if "maxConcurrency" in document:
                throttle.config.max_concurrency = int(document["maxConcurrency"])
            if "backOffMs" in document:
                throttle.config.back_off_ms = int(document["backOffMs"])
            storm = document.get("storm")
            if isinstance(storm, dict):
                try:
                    throttle.storm(
                        int(storm.get("count", 0)),
                        str(storm.get("code", "ErrorServerBusy")),
                        int(storm.get("backOffMs", 100)),
                    )
                except ValueError as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {**throttle.stats(), "ntlm": {"handshakes": ews.ntlm.handshakes, "refusals": ews.ntlm.refusals}}
        )

    async def token_mint(request: Request) -> Response:
        document = json.loads(await request.body() or b"{}")
        lifetime = document.get("lifetime")
        client_id = str(document.get("clientId") or sim.config.client_id)
        if client_id not in sim.tokens.apps:
            return JSONResponse({"error": f"unknown client {client_id}"}, status_code=400)
        token = sim.tokens.mint(client_id, lifetime=float(lifetime) if lifetime is not None else None)
        return JSONResponse({"access_token": token, "token_type": "Bearer"})

    async def stats(request: Request) -> Response:
        return JSONResponse(
            {
                "requests": dict(sim.request_counts),
                "throttle": sim.throttle.stats(),
                "ews": sim.ews_throttle.stats(),
                "faults": sim.faults.stats(),
                "position": sim.tenant.seq,
            }
        )

    routes = [
        Route("/_sim/health", health),
        Route("/_sim/truth", truth_endpoint),
        Route("/_sim/mutations", mutation_endpoint, methods=["POST"]),
        Route("/_sim/faults", faults_endpoint, methods=["GET", "POST"]),
        Route("/_sim/throttle", throttle_endpoint, methods=["GET", "POST"]),
        Route("/_sim/token", token_mint, methods=["POST"]),
        Route("/_sim/ews", ews_admin, methods=["GET", "POST"]),
        Route("/_sim/stats", stats),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        *oidc_routes(sim),
        Route("/EWS/Exchange.asmx", ews_endpoint, methods=["POST"]),
        Route("/ews/exchange.asmx", ews_endpoint, methods=["POST"]),
        Route("/v1.0/{path:path}", graph_endpoint("v1.0"), methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
        Route("/beta/{path:path}", graph_endpoint("beta"), methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    wrapped: Callable[[Any, Any, Any], Awaitable[None]] = FaultMiddleware(app, sim.faults)
    return wrapped

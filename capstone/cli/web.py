"""``capstone serve``: the web application and REST API (people sign in through Entra ID)."""

from __future__ import annotations

import click

from capstone.cli.context import AppContext, fail, pass_app


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any).")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64),
    help="uvicorn worker processes; more than 1 needs CAPSTONE_WEB_SESSION_SECRET.",
)  # fmt: skip
@pass_app
def command(app: AppContext, host: str, port: int, workers: int) -> None:
    """Serve the Dutch web pages and /api/v1. Sign-in: CAPSTONE_WEB_METADATA_URL (the OpenID
    Provider's discovery document), CAPSTONE_WEB_CLIENT_ID and CAPSTONE_WEB_CLIENT_SECRET."""
    from pydantic import ValidationError

    from capstone.web.config import WebSettings
    from capstone.web.server import WorkersError, check_workers, serve

    try:
        web = WebSettings()
    except ValidationError as exc:
        fail(f"invalid CAPSTONE_WEB_* setting: {exc.errors()[0]['msg']}")
    if not web.metadata_url or not web.client_id:
        fail("set CAPSTONE_WEB_METADATA_URL and CAPSTONE_WEB_CLIENT_ID (the app registration for sign-in)")
    try:
        check_workers(web, workers)
    except WorkersError as exc:
        fail(str(exc))
    try:
        serve(app.settings, web, host=host, port=port, workers=workers)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")

"""The web application on the demo's data: what ``make demo`` prints at its end, and
``capstone demo --serve`` (the simulated tenant with its OpenID Provider plus the web application,
until Ctrl-C)."""

from __future__ import annotations

import os
import time

import click
from pydantic import SecretStr

from capstone.settings import Settings

WEB_PORT = int(os.environ.get("CAPSTONE_DEMO_WEB_PORT", "8080"))


def demo_users(domain: str) -> list[str]:
    from connectors.simulator.oidc import DEMO_USERS

    return [f"{u.username + '@' + domain:<32}{', '.join(u.roles) or '(geen rol)'}" for u in DEMO_USERS]


def print_web_instructions(settings: Settings, simulator_port: int) -> None:
    from connectors.simulator.generator import DOMAIN

    click.echo("")
    click.echo(click.style("== The web application on this data", bold=True))
    click.echo(
        f"  capstone demo --serve      # the simulated tenant's sign-in on 127.0.0.1:{simulator_port} and"
    )
    click.echo(f"                             # the web app on http://127.0.0.1:{WEB_PORT}/ until Ctrl-C")
    click.echo("Sign in on the tenant's login page as one of the demo users:")
    for line in demo_users(DOMAIN):
        click.echo(f"  {line}")
    click.echo(
        "Against Entra ID: CAPSTONE_WEB_METADATA_URL, CAPSTONE_WEB_CLIENT_ID, CAPSTONE_WEB_CLIENT_SECRET,"
    )
    click.echo(
        "then `capstone serve --host 127.0.0.1 --port 8080` behind a TLS proxy (see README, Web application)."
    )


def assign_demo_officer(settings: Settings, case_ref: str, officer: str) -> None:
    """The web's demo Woo officer works on the demo's case (assigned by the demo's own officer)."""
    from capstone.access import WOO_OFFICER, Actor
    from capstone.woo.cases import CaseError
    from capstone.woo.service import WooService

    woo = WooService(settings, actor=Actor(settings.user, frozenset({WOO_OFFICER})))
    try:
        if officer not in woo.cases.get(case_ref).officers:
            woo.assign(case_ref, officer)
    except (CaseError, PermissionError) as exc:
        click.echo(f"note: {officer} is not assigned to {case_ref}: {exc}")


def serve_demo(settings: Settings, *, simulator_port: int, web_port: int = WEB_PORT) -> None:
    from capstone.demo import DEMO_PROFILE, DEMO_SEED
    from capstone.web.config import WebSettings
    from capstone.web.server import run_web
    from connectors.simulator.oidc import WEB_CLIENT_ID, WEB_CLIENT_SECRET
    from connectors.simulator.server import run_simulator

    with run_simulator(DEMO_SEED, DEMO_PROFILE, port=simulator_port) as sim:
        for officer in ("woo", "collega"):  # the second gives the collegiale toets
            assign_demo_officer(settings, "WOO-2026-001", f"{officer}@{sim.tenant.domain}")
        web = WebSettings(
            metadata_url=f"{sim.base_url}/{sim.tenant_id}/v2.0/.well-known/openid-configuration",
            client_id=WEB_CLIENT_ID,
            client_secret=SecretStr(WEB_CLIENT_SECRET),
        )
        with run_web(settings, web, port=web_port) as url:
            click.echo(f"Simulated tenant (sign-in): {sim.base_url}")
            click.echo(f"Web application:            {url}/   (plain http on 127.0.0.1 only; Ctrl-C stops)")
            for line in demo_users(sim.tenant.domain):
                click.echo(f"  {line}")
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                click.echo("stopping")

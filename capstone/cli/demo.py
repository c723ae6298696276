"""``capstone demo``: the whole job on the embedded default, for a person to read (``make demo``)."""

from __future__ import annotations

import click

from capstone.cli.context import AppContext, fail, pass_app
from vault import VaultError


@click.command(name="demo")
@click.option(
    "--serve",
    is_flag=True,
    help="Serve the web application on the demo's data (with the tenant's sign-in) until Ctrl-C.",
)
@pass_app
def command(app: AppContext, serve: bool) -> None:
    """Run the demonstration on the embedded default and print a readable summary."""
    from capstone.demo import DEMO_PORT, run_demo

    if serve:
        from capstone.web.demo import serve_demo

        try:
            serve_demo(app.settings, simulator_port=DEMO_PORT)
        except OSError as exc:
            fail(f"cannot listen: {exc.strerror}")
        return

    try:
        run_demo(app.settings)
    except VaultError as exc:
        fail(str(exc))

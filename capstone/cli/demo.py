"""``capstone demo``: the whole job on the embedded default, for a person to read (``make demo``)."""

from __future__ import annotations

import click

from capstone.cli.context import AppContext, fail, pass_app
from vault import VaultError


@click.command(name="demo")
@pass_app
def command(app: AppContext) -> None:
    """Run the demonstration on the embedded default and print a readable summary."""
    from capstone.demo import run_demo

    try:
        run_demo(app.settings)
    except VaultError as exc:
        fail(str(exc))

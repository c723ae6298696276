"""``capstone demo``: the whole job on the embedded default, for a person to read (``make demo``)."""

from __future__ import annotations

import click

from capstone.cli.context import AppContext, fail, pass_app
from vault import VaultError

EXIT_REFUSED = 3


@click.command(name="demo")
@click.option(
    "--s3-demo-bucket",
    is_flag=True,
    help="The S3 vault (CAPSTONE_VAULT) is a bucket for demonstrations: the demo may write into it.",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Serve the web application on the demo's data (with the tenant's sign-in) until Ctrl-C.",
)
@pass_app
def command(app: AppContext, s3_demo_bucket: bool, serve: bool) -> None:
    """Run the demonstration on the embedded default and print a readable summary.

    Runs only in a home it created itself (absent or empty before the first run)."""
    from capstone.demo import DEMO_PORT, DemoHomeRefused, run_demo

    if serve:
        from capstone.web.demo import serve_demo

        try:
            serve_demo(app.settings, simulator_port=DEMO_PORT)
        except OSError as exc:
            fail(f"cannot listen: {exc.strerror}")
        return

    try:
        run_demo(app.settings, s3_demo_bucket=s3_demo_bucket)
    except DemoHomeRefused as exc:
        fail(f"refused: {exc}", code=EXIT_REFUSED)
    except VaultError as exc:
        fail(str(exc))

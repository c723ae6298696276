"""The ``capstone`` command: one entry point, one module per command group (as borg keeps one file
per command). Each group lives in ``capstone/cli/<group>.py`` and is registered below."""

from __future__ import annotations

import sys
from typing import Any

import click

from capstone import __version__
from capstone.cli.context import AppContext, fail
from capstone.logging import configure_logging
from capstone.settings import load_settings

_EPILOG = """\b
Typical first steps:
  capstone vault init                 create or validate the write-once vault
  capstone registry import dt.csv     register the key officials designated by the DT
  capstone capture run --once         capture every active designation into the vault
  capstone vault verify               re-read every object and walk the manifest chain

Configuration comes from CAPSTONE_* environment variables or a TOML file
(CAPSTONE_CONFIG, default $CAPSTONE_HOME/capstone.toml); see README.md.
"""


@click.group(epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="capstone")
@click.option("--home", type=click.Path(), help="Data directory (CAPSTONE_HOME, default ./capstone-data).")
@click.option(
    "--vault", "vault_url", help="Vault URL: file:///path or s3://bucket[/prefix] (CAPSTONE_VAULT)."
)
@click.option("--db-url", help="State database URL (CAPSTONE_DB_URL, default SQLite under the home).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default=None)
@click.pass_context
def cli(
    ctx: click.Context, home: str | None, vault_url: str | None, db_url: str | None, log_level: str | None
) -> None:
    """Capstone archives the complete mailboxes and Teams chats of key officials
    (sleutelfunctionarissen) into a write-once vault, and serves them for Woo requests."""
    overrides: dict[str, Any] = {}
    if home:
        overrides["home"] = home
    if vault_url:
        overrides["vault"] = vault_url
    if db_url:
        overrides["db_url"] = db_url
    if log_level:
        overrides["log_level"] = log_level
    try:
        settings = load_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError or a bad config file path
        fail(f"invalid configuration: {exc}")
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = AppContext(settings=settings)


def _register() -> None:
    from capstone.cli import audit as audit_cmd
    from capstone.cli import capture as capture_cmd
    from capstone.cli import chats as chats_cmd
    from capstone.cli import db as db_cmd
    from capstone.cli import demo as demo_cmd
    from capstone.cli import imports as imports_cmd
    from capstone.cli import index as index_cmd
    from capstone.cli import registry as registry_cmd
    from capstone.cli import simulator as simulator_cmd
    from capstone.cli import vault as vault_cmd
    from capstone.cli import woo as woo_cmd
    from capstone.cli import woo_review  # noqa: F401  (adds the review and publish commands to woo)

    cli.add_command(vault_cmd.group)
    cli.add_command(demo_cmd.command)
    cli.add_command(simulator_cmd.group)
    cli.add_command(registry_cmd.group)
    cli.add_command(db_cmd.group)
    cli.add_command(capture_cmd.group)
    cli.add_command(chats_cmd.group)
    cli.add_command(index_cmd.group)
    cli.add_command(woo_cmd.group)
    cli.add_command(audit_cmd.group)
    cli.add_command(imports_cmd.group)

    from capstone.cli import retention as retention_cmd

    retention_cmd.register(cli)

    from capstone.cli import web as web_cmd

    cli.add_command(web_cmd.command)


_register()


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

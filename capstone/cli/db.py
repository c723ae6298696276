"""``capstone db``: the state database's schema (Alembic migrations shipped inside the package)."""

from __future__ import annotations

import click
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.db import current_revision, head_revision, make_engine, open_database, upgrade


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def get_engine(app: AppContext) -> Engine:
    """The state database of this invocation, its schema brought up to date on first use."""
    engine = app._cache.get("db_engine")
    if engine is None:
        url = app.settings.database_url
        try:
            engine = open_database(url)
        except (SQLAlchemyError, OSError) as exc:
            fail(f"cannot open the state database {_safe_url(url)}: {exc}")
        app._cache["db_engine"] = engine
    assert isinstance(engine, Engine)
    return engine


@click.group(name="db")
def group() -> None:
    """The state database (SQLite under the home, or CAPSTONE_DB_URL): schema migrations."""


@group.command("upgrade")
@pass_app
def upgrade_command(app: AppContext) -> None:
    """Bring the schema to the newest revision (every command also does this when it opens the DB)."""
    url = app.settings.database_url
    try:
        engine = make_engine(url)
        before = current_revision(engine)
        after = upgrade(engine)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot upgrade the state database {_safe_url(url)}: {exc}")
    if before == after:
        click.echo(f"{_safe_url(url)}: already at revision {after}")
    else:
        click.echo(f"{_safe_url(url)}: upgraded from {before or '(empty)'} to {after}")


@group.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def current_command(app: AppContext, as_json: bool) -> None:
    """Show the schema revision of the database and the newest one this Capstone knows."""
    url = app.settings.database_url
    try:
        current = current_revision(make_engine(url))
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot read the state database {_safe_url(url)}: {exc}")
    head = head_revision()
    if as_json:
        print_json(
            {"database": _safe_url(url), "current": current, "head": head, "up_to_date": current == head}
        )
        return
    click.echo(f"database: {_safe_url(url)}")
    click.echo(f"current:  {current or '(empty: no schema yet)'}")
    click.echo(f"head:     {head}{'  (up to date)' if current == head else '  (run: capstone db upgrade)'}")

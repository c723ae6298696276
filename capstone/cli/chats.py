"""``capstone chats``: the Teams chats in the vault, and a readable transcript of one of them.

Listing needs an archivist or a Woo officer; a transcript shows content, so it is only made inside a
Woo case the officer is assigned to (``--case``), and audited like a search."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from capstone.access import AccessDenied
from capstone.cli.access import EXIT_DENIED
from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.cli.woo import woo_service
from vault import VaultError

if TYPE_CHECKING:
    from capstone.chats.transcript import TranscriptInfo

T = TypeVar("T")


_case_option = click.option(
    "--case", "ref", default=None, help="The open Woo case this view belongs to (required)."
)


def _guarded(action: Callable[[], T]) -> T:
    """Run a service call; a refusal exits 3 (audited by the service), a vault problem exits 2."""
    from capstone.woo.cases import CaseError, UnknownCaseError

    try:
        return action()
    except (AccessDenied, UnknownCaseError) as exc:
        fail(f"refused: {exc}", code=EXIT_DENIED)
    except CaseError as exc:
        fail(str(exc))
    except (VaultError, OSError) as exc:
        fail(str(exc))


@click.group(name="chats")
def group() -> None:
    """Archived Teams chats, read from the vault alone."""


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_command(app: AppContext, as_json: bool) -> None:
    """Every chat the vault holds, with its message and version counts."""
    from capstone.chats.transcript import format_moment

    chats = _guarded(lambda: woo_service(app).list_chats())
    if as_json:
        print_json({"chats": [c.to_json() for c in chats]})
        return
    if not chats:
        click.echo("The vault holds no Teams chats.")
        return
    for chat in chats:
        title = chat.topic or ", ".join(chat.members) or "(geen onderwerp)"
        click.echo(f"{chat.chat_id}")
        click.echo(f"  {chat.chat_type or '?'}: {title}")
        click.echo(
            f"  {chat.messages} messages, {chat.versions} versions, {chat.images} images; "
            f"last change {format_moment(chat.last_change) if chat.last_change else '-'}"
        )


@group.command("transcript")
@click.argument("chat_id")
@_case_option
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the HTML transcript to this file.",
)
@click.option("--force", is_flag=True, help="Replace the file --out names when it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document about the transcript.")
@pass_app
def transcript_command(
    app: AppContext, chat_id: str, ref: str | None, out: Path, force: bool, as_json: bool
) -> None:
    """Write a self-contained HTML transcript of CHAT_ID (every version, images inline)."""
    from capstone.chats.archive import ChatNotFoundError

    try:
        [info] = _guarded(lambda: woo_service(app).chat_transcripts(ref, out, chat_id, overwrite=force))
    except ChatNotFoundError as exc:
        fail(str(exc), code=1)
    if as_json:
        print_json(info.to_json())
        return
    click.echo(
        f"Transcript of {info.title!r}: {info.messages} messages, {info.versions} versions, "
        f"{info.images} images"
    )
    click.echo(f"  open {out.resolve().as_uri()}")


@group.command("transcripts")
@_case_option
@click.option(
    "--out-dir",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Write one HTML transcript per chat into this directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def transcripts_command(app: AppContext, ref: str | None, out_dir: Path, as_json: bool) -> None:
    """Write a transcript of every chat in the vault."""
    infos = _guarded(lambda: woo_service(app).chat_transcripts(ref, out_dir))
    if as_json:
        print_json({"transcripts": [i.to_json() for i in infos]})
        return
    print_transcripts(infos, out_dir)


def print_transcripts(infos: list[TranscriptInfo], out_dir: Path) -> None:
    """Where a person can open each transcript (``make demo`` prints this too)."""
    if not infos:
        click.echo("The vault holds no Teams chats.")
        return
    click.echo(f"{len(infos)} chat transcripts in {out_dir.resolve()}:")
    for info in infos:
        click.echo(
            f"  {info.title}: {info.messages} messages, {info.versions} versions, {info.images} images"
        )
        click.echo(f"    open {Path(info.path or '').resolve().as_uri()}")

"""``capstone chats``: the Teams chats in the vault, and a readable transcript of one of them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.services import open_vault
from vault import Vault, VaultError

if TYPE_CHECKING:
    from capstone.chats.transcript import TranscriptInfo


@click.group(name="chats")
def group() -> None:
    """Archived Teams chats, read from the vault alone."""


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def list_command(app: AppContext, as_json: bool) -> None:
    """Every chat the vault holds, with its message and version counts."""
    from capstone.chats.archive import list_chats
    from capstone.chats.transcript import format_moment

    try:
        vault = open_vault(app.settings)
        chats = list_chats(vault)
    except VaultError as exc:
        fail(str(exc))
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
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the HTML transcript to this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document about the transcript.")
@pass_app
def transcript_command(app: AppContext, chat_id: str, out: Path, as_json: bool) -> None:
    """Write a self-contained HTML transcript of CHAT_ID (every version, images inline)."""
    from capstone.chats.archive import ChatNotFoundError
    from capstone.chats.transcript import write_transcript

    try:
        vault = open_vault(app.settings)
        info = write_transcript(vault, chat_id, out)
    except ChatNotFoundError as exc:
        fail(str(exc), code=1)
    except (VaultError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json(info.to_json())
        return
    click.echo(
        f"Transcript of {info.title!r}: {info.messages} messages, {info.versions} versions, "
        f"{info.images} images"
    )
    click.echo(f"  open {out.resolve().as_uri()}")


@group.command("transcripts")
@click.option(
    "--out-dir",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Write one HTML transcript per chat into this directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def transcripts_command(app: AppContext, out_dir: Path, as_json: bool) -> None:
    """Write a transcript of every chat in the vault."""
    try:
        infos = write_all_transcripts(open_vault(app.settings), out_dir)
    except (VaultError, OSError) as exc:
        fail(str(exc))
    if as_json:
        print_json({"transcripts": [i.to_json() for i in infos]})
        return
    print_transcripts(infos, out_dir)


def write_all_transcripts(vault: Vault, out_dir: Path) -> list[TranscriptInfo]:
    from capstone.chats.transcript import write_transcripts

    return write_transcripts(vault, out_dir)


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

"""``capstone import``: business chats exported from officials' phones, and historic mailboxes.

Each file is one import run (all or nothing): the original is stored in the vault first, then every
message as a record with provenance, a reconciliation and a manifest. Role archivist; audited."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from capstone.access import AccessDenied
from capstone.cli.access import EXIT_DENIED, guard_for
from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.cli.db import get_engine
from vault import VaultError

if TYPE_CHECKING:
    from capstone.imports.service import ImportService

T = TypeVar("T")


def _service(app: AppContext) -> ImportService:
    from capstone.imports.service import ImportService
    from capstone.registry.service import Registry
    from capstone.services import open_vault

    try:
        vault = open_vault(app.settings)
    except VaultError as exc:
        fail(str(exc))
    return ImportService(
        vault,
        Registry(get_engine(app)),
        guard_for(app),
        writer_processes=app.settings.import_writer_processes,
    )


def _run(action: Callable[[], T]) -> T:
    from capstone.imports.model import ImportRefused

    try:
        return action()
    except AccessDenied as exc:
        fail(f"refused: {exc}", code=EXIT_DENIED)
    except ImportRefused as exc:
        fail(f"refused, nothing written: {exc}")
    except (VaultError, ValueError, OSError) as exc:
        fail(str(exc))


def _progress(as_json: bool) -> Callable[[str, int, int], None] | None:
    if as_json or not sys.stderr.isatty():
        return None

    def show(name: str, done: int, total: int) -> None:
        click.echo(f"\r  {Path(name).name}: {done:,}/{total:,} messages", err=True, nl=done >= total)

    return show


def _index(app: AppContext) -> None:
    from capstone.capture.indexing import index_pass as _update_index

    _update_index(app.settings)


def _print_report(doc: dict[str, Any]) -> None:
    rec = doc.get("reconciliation") or {}
    click.echo(
        f"{doc['path']} ({doc['format']}): {'COMPLETE' if doc['complete'] else 'DIFFERENCES'}  run {doc['run_id']}"
    )
    click.echo(f"  official {doc['official']} (designation {doc['designation_id']})" + (
        f", device {doc['device']}" if doc.get("device") else ""))  # fmt: skip
    if "new" in doc:
        click.echo(
            f"  messages: new {doc['new']:,}, known {doc['known']:,}, changed {doc['changed']:,}, "
            f"excluded {doc['excluded']:,}; chats {doc.get('chats', 0)}"
        )
    else:
        click.echo(
            f"  messages: new {doc['new_messages']:,}, known {doc['known']:,}, "
            f"already captured (same SHA-256) {doc['duplicates_of_capture']:,}, folders {doc['folders']}"
        )
    if rec:
        declared = f", declared {rec['declared']:,}" if rec.get("declared") is not None else ""
        media = (
            f"; media referenced {rec['media_referenced']:,}, stored {rec['media_stored']:,}, "
            f"not in the export {len(rec['media_missing'])}"
            if "media_referenced" in rec
            else ""
        )
        click.echo(
            f"  reconciliation: source {rec['source_messages']:,}{declared}, read {rec['parsed']:,}, "
            f"vault {rec['held']:,}{media}"
        )
    if doc["source_sha256"]:
        click.echo(f"  original SHA-256: {', '.join(s[:16] + '…' for s in doc['source_sha256'][:3])}"
                   + (f" (+{len(doc['source_sha256']) - 3} files)" if len(doc["source_sha256"]) > 3 else ""))  # fmt: skip
    else:
        click.echo("  originals: each message byte-exact (MBOX/EML), From_ lines and offsets in the records")
    click.echo(f"  manifest: {doc['manifest_key']}")


@click.group(name="import")
def group() -> None:
    """Import phone chat exports (WhatsApp, Signal, SMS) and historic mailboxes (MBOX, EML, MSG, PST)."""


@group.command("phone")
@click.option(
    "--official", required=True, help="Designation id, personnel number or name of the key official."
)
@click.option(
    "--device",
    required=True,
    help="Which phone/number the export comes from, e.g. 'iPhone dienst 06-12345678'.",
)
@click.option(
    "--timezone", default="Europe/Amsterdam", show_default=True, help="Time zone of the phone's local times."
)
@click.option(
    "--chat", "chat_title", default=None, help="WhatsApp: the chat's name when the file name does not say it."
)
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_app
def phone_command(
    app: AppContext, official: str, device: str, timezone: str, chat_title: str | None, no_index: bool,
    as_json: bool, files: tuple[Path, ...],
) -> None:  # fmt: skip
    """Import WhatsApp exports (.txt, .zip or folder), SMS Backup & Restore XML or a signal-export
    folder for one official. Each FILE is all or nothing; exit 1 if a reconciliation differs."""
    service = _service(app)
    try:
        reports = _run(
            lambda: service.import_phone(
                official,
                device,
                list(files),
                timezone=timezone,
                chat_title=chat_title,
                progress=_progress(as_json),
            )
        )
    finally:
        service.close()
        service.vault.close()
    if not no_index:
        _index(app)
    documents = [r.to_json() for r in reports]
    if as_json:
        print_json({"imports": documents})
    else:
        for doc in documents:
            _print_report(doc)
    sys.exit(0 if all(r.complete for r in reports) else 1)


@group.command("mailbox")
@click.option(
    "--designation", "designation", required=True, help="Designation id (or personnel number/name)."
)
@click.option(
    "--folder",
    "folder_prefix",
    default=None,
    help="Folder path to file the messages under (default: from the files).",
)
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.argument("source", type=click.Path(path_type=Path))
@pass_app
def mailbox_command(
    app: AppContext, designation: str, folder_prefix: str | None, no_index: bool, as_json: bool, source: Path
) -> None:
    """Import a historic mailbox: an MBOX file, a folder of EML/MBOX/MSG files, an MSG or a PST file.
    Each message byte-exact (PST/MSG: converted to MIME, the original file kept); exit 1 if the
    reconciliation differs."""
    service = _service(app)
    try:
        report = _run(
            lambda: service.import_mailbox(
                designation, source, folder_prefix=folder_prefix, progress=_progress(as_json)
            )
        )
    finally:
        service.close()
        service.vault.close()
    if not no_index:
        _index(app)
    doc = report.to_json()
    if as_json:
        print_json(doc)
    else:
        _print_report(doc)
    sys.exit(0 if report.complete else 1)

"""The imports' part of ``make demo``: the mayor hands in a WhatsApp export (generated: a zip with
photos) and an SMS backup of her business phone; they are imported, indexed, found in the Woo case
and exported there with their transcripts. A second demo run finds every message already held."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from capstone.settings import Settings

if TYPE_CHECKING:
    from capstone.woo.service import WooService

DEMO_OFFICIAL = "Marieke van Dalen"
DEMO_DEVICE = "iPhone dienst 06-12345678"
DEMO_QUERY = "begroting"


def _heading(text: str) -> None:
    click.echo("")
    click.echo(click.style(f"== {text}", bold=True))


def run_phone_import_demo(settings: Settings) -> None:
    from capstone.access import ARCHIVIST, Actor
    from capstone.access.guard import Guard
    from capstone.capture.indexing import index_pass as _update_index
    from capstone.cli.imports import _print_report
    from capstone.imports.generate import sms_backup, whatsapp_android
    from capstone.imports.service import ImportService
    from capstone.registry import open_registry
    from capstone.services import audit_log, open_vault

    folder = settings.home / "imports-demo"
    whatsapp = folder / "WhatsApp Chat met Projectgroep Fietsbrug.zip"
    if not whatsapp.exists():  # the same export again on a second run: nothing new
        whatsapp = whatsapp_android(folder, messages=240, official=DEMO_OFFICIAL, media_every=40, zipped=True)
    sms = folder / "sms-20260201100000.xml"
    if not sms.exists():
        sms = sms_backup(folder)
    registry = open_registry(settings)
    guard = Guard(Actor(settings.user, frozenset({ARCHIVIST})), lambda: audit_log(settings, registry.engine))
    vault = open_vault(settings)
    service = ImportService(vault, registry, guard)
    files: list[Path] = [whatsapp, sms]
    _heading(f'capstone import phone --official "{DEMO_OFFICIAL}" --device "{DEMO_DEVICE}" '
             + " ".join(p.name for p in files))  # fmt: skip
    try:
        reports = service.import_phone(DEMO_OFFICIAL, DEMO_DEVICE, files)
    finally:
        service.close()
        vault.close()
    for report in reports:
        _print_report(report.to_json())
    _update_index(settings)
    if not all(r.complete for r in reports):
        raise click.ClickException("a phone import did not reconcile: see above")


def search_phone_chats(woo: WooService, case_ref: str) -> None:
    """Inside the demo's Woo case: the imported phone chats among the results."""
    from capstone.index.model import SearchQuery

    _heading(f'capstone woo search --case {case_ref} --kind phone-chat "{DEMO_QUERY}"')
    result = woo.search(case_ref, SearchQuery(text=DEMO_QUERY, kinds=("phone-chat",), limit=5))
    click.echo(f"{result.total} phone chat hits; the newest {len(result.hits)}:")
    for hit in result.hits:
        day = hit.date.date().isoformat() if hit.date else "?"
        click.echo(
            f"  {day}  {hit.kind:<10} {hit.official} <{hit.account}> {hit.folder_path}: {hit.snippet[:60]}"
        )


def print_phone_transcripts(out: Path) -> None:
    """Where the export put the phone chats' transcripts."""
    pages = [
        p for p in sorted(out.glob("documents/*/*.html")) if (p.parent / "media").is_dir() or _is_phone(p)
    ]
    click.echo(f"phone chat transcripts in the export: {len(pages)}")
    for page in pages:
        click.echo(f"  open {page.resolve().as_uri()}")


def _is_phone(page: Path) -> bool:
    with page.open(encoding="utf-8") as handle:
        head = handle.read(2000)
    return any(f"<title>{label}-chat" in head for label in ("WhatsApp", "Signal", "SMS"))

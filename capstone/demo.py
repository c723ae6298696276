"""``make demo``: the whole job on the embedded default, for a person to read.

Each step prints what it does; the vault is a local directory under ``CAPSTONE_HOME`` unless
``CAPSTONE_VAULT`` points elsewhere (e.g. an S3 bucket with Object Lock).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import click

from capstone import __version__
from capstone.services import open_vault
from capstone.settings import Settings
from vault import Record, Vault
from vault.verify import verify_vault


def _heading(text: str) -> None:
    click.echo("")
    click.echo(click.style(f"== {text}", bold=True))


def sample_messages() -> list[tuple[str, bytes]]:
    """A few deterministic sample messages (folder, MIME bytes)."""
    messages: list[tuple[str, bytes]] = []
    subjects = [
        ("Inbox", "Collegevoorstel herinrichting Marktplein", "Bijgaand het concept voor het college."),
        ("Sent Items", "Re: Woo-verzoek parkeerbeleid", "Dank, ik stuur het door naar de Woo-coördinator."),
        ("Inbox", "Uitnodiging: overleg gemeentesecretaris", "Graag bespreken we de begroting 2027."),
    ]
    for n, (folder, subject, body) in enumerate(subjects):
        msg = EmailMessage()
        msg["From"] = "gemeentesecretaris@gemeente-demo.nl"
        msg["To"] = "burgemeester@gemeente-demo.nl"
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime(2026, 3, 2 + n, 9, 30, tzinfo=UTC))
        msg["Message-ID"] = make_msgid(idstring=f"demo{n}", domain="gemeente-demo.nl")
        msg.set_content(body)
        messages.append((folder, msg.as_bytes()))
    return messages


def store_samples(vault: Vault) -> None:
    run_id = f"demo-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    records = []
    for n, (folder, mime) in enumerate(sample_messages()):
        blob = vault.put_blob(mime, media_type="message/rfc822")
        record = Record(
            kind="sample",
            source={
                "system": "capstone-demo",
                "mailbox": "burgemeester@gemeente-demo.nl",
                "folder_path": folder,
                "item_id": f"sample-{n}",
            },
            capture={
                "run_id": run_id,
                "connector": "capstone-demo",
                "connector_version": __version__,
                "captured_at": datetime.now(UTC).isoformat(),
                "host": socket.gethostname(),
            },
            blob_sha256=blob.sha256,
            size=blob.size,
            media_type="message/rfc822",
        )
        records.append(record)
    refs = vault.put_records(records)  # one write-once segment for the batch
    new = sum(1 for r in refs if r.created)
    manifest = vault.write_manifest(run_id, refs, kind="demo", summary={"messages": len(refs), "new": new})
    click.echo(f"stored {len(refs)} sample messages ({new} new) - manifest #{manifest.seq} {manifest.key}")


def run_demo(settings: Settings) -> None:
    from capstone.cli.vault import print_report, print_stats

    _heading(f"Vault: {settings.vault_url}")
    vault = open_vault(settings, create=True)
    for note in vault.store.capabilities.notes:
        click.echo(f"note: {note}")

    _heading("Storing sample messages with provenance records and a manifest")
    store_samples(vault)

    _heading("capstone vault stats")
    print_stats(vault.stats())

    _heading("capstone vault verify")
    report = verify_vault(vault)
    print_report(report)
    if not report.all_well:
        raise click.ClickException("the vault did not verify")

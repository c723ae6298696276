"""``make demo``: the whole job on the embedded default, for a person to read.

1. a local vault under ``CAPSTONE_HOME`` (or the vault ``CAPSTONE_VAULT`` names, e.g. S3);
2. the DT's list of key officials registered, and the publishable list printed;
3. a simulated Microsoft 365 tenant started as a separate process on 127.0.0.1;
4. every designated mailbox and its Teams chats captured, with a live progress display;
5. capture status and reconciliation, vault statistics and a full ``vault verify``;
6. a sample Woo-verzoek: a case, a search inside it, an export with its inventarislijst, verified.

A second run on the same home captures only what changed (nothing, on an unchanged tenant).
"""

from __future__ import annotations

import asyncio
import os

import click
from pydantic import SecretStr

from capstone.services import open_vault
from capstone.settings import Settings

DEMO_SEED = 1
DEMO_PROFILE = "demo"
DEMO_PORT = int(os.environ.get("CAPSTONE_DEMO_SIMULATOR_PORT", "18765"))


def heading(text: str) -> None:
    click.echo("")
    click.echo(click.style(f"== {text}", bold=True))


def grant_demo_roles(settings: Settings) -> None:
    """Give the demo's user every role in the demo home's ``capstone.toml`` (only when there is no
    configuration yet), so the commands the demo prints can be tried by hand afterwards."""
    import json

    from capstone.access import ROLES

    path = settings.home / "capstone.toml"
    if os.environ.get("CAPSTONE_CONFIG") or path.exists() or settings.roles:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `capstone demo`: the demo's user holds every role, so the printed commands can be\n"
        "# tried by hand. In production give each person only their own role (see README, Roles).\n"
        f"[roles]\n{json.dumps(settings.user)} = {json.dumps(list(ROLES))}\n",
        encoding="utf-8",
    )
    click.echo(f"roles: {settings.user} holds {', '.join(ROLES)} in this demo ({path})")


def run_demo(settings: Settings) -> None:
    from capstone.capture.runner import capture_once, capture_status
    from capstone.cli.capture import print_results, print_status
    from capstone.cli.vault import print_report, print_stats
    from capstone.logging import configure_logging
    from capstone.registry.demo import run_registry_demo
    from connectors.simulator.server import run_simulator_process
    from vault.verify import verify_vault

    if "CAPSTONE_LOG_LEVEL" not in os.environ:  # the demo's own output is the readable summary
        configure_logging("warning", settings.log_format)
    heading(f"Vault: {settings.vault_url}")
    vault = open_vault(settings, create=True)
    click.echo("write-once: " + ("yes (S3 Object Lock, compliance mode)" if vault.worm else "no"))
    for note in vault.store.capabilities.notes:
        click.echo(f"note: {note}")
    vault.close()
    grant_demo_roles(settings)

    run_registry_demo(settings)
    renew_outdated_index(settings)

    heading(
        f"Simulated Microsoft 365 tenant (seed {DEMO_SEED}, profile {DEMO_PROFILE}) on 127.0.0.1:{DEMO_PORT}"
    )
    with run_simulator_process(DEMO_SEED, DEMO_PROFILE, extra_args=["--port", str(DEMO_PORT)]) as tenant:
        click.echo(f"Graph: {tenant.graph_url}   EWS: {tenant.ews_url}")
        configured = settings.model_copy(
            update={
                "graph_base_url": tenant.graph_url,
                "graph_token_url": tenant.token_url,
                "graph_client_id": tenant.client_id,
                "graph_client_secret": SecretStr(tenant.client_secret),
                "graph_tenant_id": tenant.tenant_id,
            }
        )
        heading("capstone capture run --once")
        results = asyncio.run(capture_once(configured, progress=True))
        print_results([r.to_json() for r in results])

    heading("capstone capture status")
    print_status(capture_status(settings))

    vault = open_vault(settings)
    heading("capstone vault stats")
    print_stats(vault.stats())
    heading("capstone vault verify")
    report = verify_vault(vault)
    print_report(report)
    if not report.all_well:
        raise click.ClickException("the vault did not verify")
    vault.close()
    run_woo_demo(settings)
    if not all(r.status == "complete" for r in results):
        raise click.ClickException("a capture run was incomplete: see the reconciliation above")
    heading("Done")
    click.echo(f"Everything lives under {settings.home.resolve()}; run `capstone --help` to explore.")
    from capstone.web.demo import print_web_instructions

    print_web_instructions(settings, DEMO_PORT)


def renew_outdated_index(settings: Settings) -> None:
    """A demo home from an earlier version may hold an index of an older layout: empty it, so the
    capture run's index update below indexes the whole vault again (what `index rebuild` does)."""
    from capstone.index import IndexOutdatedError, open_index

    index = open_index(settings.search_index_url)
    try:
        index.check_layout()
    except IndexOutdatedError:
        heading("Search index")
        click.echo("written by an earlier version in another layout: emptied, the capture run below indexes")
        click.echo("the whole vault again (outside the demo: `capstone index rebuild`)")
        index.clear()
    finally:
        index.close()


DEMO_CASE = "WOO-2026-001"
DEMO_QUERY = "begroting"


def run_woo_demo(settings: Settings) -> None:
    """A Woo officer opens a case, searches inside it and exports what was found."""
    from datetime import UTC, date, datetime, timedelta

    from capstone.access import AUDITOR, WOO_OFFICER, Actor
    from capstone.index.model import SearchQuery
    from capstone.woo.cases import CaseError
    from capstone.woo.service import WooService

    # The demo acts as a Woo officer (and auditor); outside the demo, roles come from [roles].
    actor = Actor(settings.user, frozenset({WOO_OFFICER, AUDITOR}))
    woo = WooService(settings, actor=actor)
    heading(f"capstone woo case open --ref {DEMO_CASE}   (as {actor.name}, woo-officer)")
    try:
        case = woo.open_case(
            ref=DEMO_CASE,
            received=date.today() - timedelta(days=7),
            subject="Begroting en aanbestedingen 2026",
        )
    except CaseError:
        case = woo.case(DEMO_CASE)  # a second demo run reuses the case
    click.echo(f"{case.ref}: {case.subject}; received {case.received}, decision due {case.decision_due}, "
               f"extended {case.extended_due}, ask zienswijzen by {case.zienswijze_by}")  # fmt: skip
    heading(f'capstone woo search --case {DEMO_CASE} "{DEMO_QUERY}"')
    result = woo.search(DEMO_CASE, SearchQuery(text=DEMO_QUERY, limit=5))
    click.echo(f"{result.total} hits; the newest {len(result.hits)}:")
    for hit in result.hits:
        day = hit.date.date().isoformat() if hit.date else "?"
        click.echo(f"  {day}  {hit.kind:<10} {hit.official} <{hit.account}>  {hit.title[:60]}")
    if result.hits:
        from capstone.cli.woo import print_view

        first = next((h for h in result.hits if h.kind == "mail"), result.hits[0])
        heading(f"capstone woo view --case {DEMO_CASE} {first.doc_id}")
        print_view(woo.view(DEMO_CASE, first.doc_id), body_chars=400)
    out = settings.home / "woo" / DEMO_CASE / datetime.now(UTC).strftime("export-%Y%m%dT%H%M%SZ")
    heading(f"capstone woo export --case {DEMO_CASE} --out {out}")
    report = woo.export(DEMO_CASE, out)
    click.echo(
        f"{report.documents} documents ({report.duplicates} more listed as dubbel), {len(report.files)} files"
    )
    from capstone.cli.chats import print_transcripts

    transcripts = settings.home / "woo" / DEMO_CASE / "transcripts"
    heading(f"capstone chats transcripts --case {DEMO_CASE} --out-dir {transcripts}")
    print_transcripts(woo.chat_transcripts(DEMO_CASE, transcripts), transcripts)
    check = woo.verify_export(out)
    click.echo(f"verify-export: {'ALL WELL' if check.ok else check.problems}")
    audit = woo.audit_verify()
    click.echo(f"audit log: {audit.entries} entries, sealed into the vault through entry {audit.sealed_through}: "
               + ("ALL WELL" if audit.ok else "PROBLEMS"))  # fmt: skip
    click.echo(f"open the inventarislijst: {out / 'inventarislijst.xlsx'}  (or inventarislijst.csv)")
    if not (check.ok and audit.ok):
        raise click.ClickException("the Woo export or the audit log did not verify")

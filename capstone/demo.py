"""``make demo``: the whole job on the embedded default, for a person to read.

1. a local vault under ``CAPSTONE_HOME`` (or the vault ``CAPSTONE_VAULT`` names, e.g. S3);
2. the DT's list of key officials registered, and the publishable list printed;
3. a simulated Microsoft 365 tenant started as a separate process on 127.0.0.1;
4. every designated mailbox and its Teams chats captured, with a live progress display: the
   mailboxes in Exchange Online through Graph, and one official's on premises (``ON_PREMISES``,
   registered with the simulator's EWS URL) through EWS, primary mailbox and online archive;
5. capture status and reconciliation, vault statistics and a full ``vault verify``;
6. a sample Woo-verzoek: a case, a search inside it, an export with its inventarislijst, verified;
7. its Woo decision: documents assessed (openbaar, deels openbaar with an e-mail address and a phone
   number redacted from the suggestions, niet openbaar), a colleague's collegiale toets, the
   publication package with its productierapport, verified (:mod:`capstone.woo.demo`).

A second run on the same home captures only what changed (nothing, on an unchanged tenant).

The demo grants its user every role and writes a Woo case, exports and registry entries, so it runs
only in a home it created itself: a fresh (absent or empty) directory, which it marks with
``.capstone-demo``. Any other home (configuration, a vault, a state database or an index without that
marker), a configuration file named by ``CAPSTONE_CONFIG``, a state database or index elsewhere, or
an S3 vault not declared a demo bucket (``capstone demo --s3-demo-bucket``) is refused before
anything is written.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import click
from pydantic import SecretStr

from capstone.services import open_vault
from capstone.settings import Settings

DEMO_SEED = 1
DEMO_PROFILE = "demo"
DEMO_PORT = int(os.environ.get("CAPSTONE_DEMO_SIMULATOR_PORT", "18765"))
ON_PREMISES = "gemeentesecretaris@gemeente-demo.nl"  # an on-premises Exchange mailbox, with an archive


def demo_ews_url() -> str:
    return f"http://127.0.0.1:{DEMO_PORT}/EWS/Exchange.asmx"


def port_busy(port: int) -> str | None:
    """Why ``127.0.0.1:port`` cannot be listened on (as the simulator's server would), or None."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


DEMO_MARKER = ".capstone-demo"


class DemoHomeRefused(Exception):
    """The demo would write into configuration or data it did not create; nothing was written."""


def claim_demo_home(settings: Settings, *, s3_demo_bucket: bool = False) -> Path:
    """Check that ``settings`` point at the demo's own home, and mark a fresh home as the demo's.

    Refuses (:class:`DemoHomeRefused`, nothing written) a home that exists, holds anything and
    carries no marker; a configuration file from ``CAPSTONE_CONFIG``; a state database or search
    index outside the home; an S3 vault unless ``s3_demo_bucket`` says it is a demo bucket. Returns
    the marker's path.
    """
    home = settings.home
    marker = home / DEMO_MARKER
    where = home.resolve()
    if os.environ.get("CAPSTONE_CONFIG"):
        raise DemoHomeRefused(
            f"the demo uses only its own configuration, but CAPSTONE_CONFIG names {os.environ['CAPSTONE_CONFIG']}"
        )
    if settings.db_url or settings.index_url:
        raise DemoHomeRefused(
            "the demo keeps its state database and index inside its own home; unset CAPSTONE_DB_URL and "
            "CAPSTONE_INDEX_URL"
        )
    if settings.vault_url.startswith("s3://") and not s3_demo_bucket:
        raise DemoHomeRefused(
            f"the demo writes write-once objects into {settings.vault_url}; run it against an S3 bucket "
            "only when that bucket is a demo bucket, and say so with --s3-demo-bucket"
        )
    if home.is_symlink() or (home.exists() and not home.is_dir()):
        raise DemoHomeRefused(f"{where} is not a directory the demo created")
    if home.is_dir() and not marker.is_file() and any(home.iterdir()):
        raise DemoHomeRefused(
            f"{where} holds configuration or data the demo did not create (no {DEMO_MARKER} marker); "
            "run the demo with a new or empty --home"
        )
    if not marker.is_file():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        marker.write_text(
            json.dumps({"created_by": "capstone demo", "vault": settings.vault_url}, indent=2) + "\n",
            encoding="utf-8",
        )
    return marker


def heading(text: str) -> None:
    click.echo("")
    click.echo(click.style(f"== {text}", bold=True))


def grant_demo_roles(settings: Settings) -> None:
    """Give the demo's user every role in the demo home's ``capstone.toml`` (only when there is no
    configuration yet), so the commands the demo prints can be tried by hand afterwards. Only ever
    called on the demo's own home (:func:`claim_demo_home`)."""
    from capstone.access import ROLES, WOO_OFFICER
    from capstone.woo.demo import colleague_of

    path = settings.home / "capstone.toml"
    if os.environ.get("CAPSTONE_CONFIG") or path.exists() or settings.roles:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `capstone demo`: the demo's user holds every role, so the printed commands can be\n"
        "# tried by hand. In production give each person only their own role (see README, Roles).\n"
        f"[roles]\n{json.dumps(settings.user)} = {json.dumps(list(ROLES))}\n"
        "# The colleague who gives the collegiale toets (CAPSTONE_USER=... capstone woo approve).\n"
        f"{json.dumps(colleague_of(settings.user))} = {json.dumps([WOO_OFFICER])}\n",
        encoding="utf-8",
    )
    click.echo(f"roles: {settings.user} holds {', '.join(ROLES)} in this demo, {colleague_of(settings.user)} "
               f"is a second woo-officer ({path})")  # fmt: skip


def run_demo(settings: Settings, *, s3_demo_bucket: bool = False) -> None:
    from capstone.capture.runner import capture_once, capture_status
    from capstone.cli.capture import print_results, print_status
    from capstone.cli.vault import print_report, print_stats
    from capstone.logging import configure_logging
    from capstone.registry.demo import run_registry_demo
    from connectors.simulator.server import run_simulator_process
    from connectors.simulator.state import SimulatorConfig
    from vault.verify import verify_vault

    busy = port_busy(DEMO_PORT)
    if busy:
        from capstone.cli.context import fail

        fail(
            f"the demo's simulator port 127.0.0.1:{DEMO_PORT} is in use ({busy}): choose another with "
            f"CAPSTONE_DEMO_SIMULATOR_PORT=<port>, e.g. CAPSTONE_DEMO_SIMULATOR_PORT={DEMO_PORT + 1} make demo"
        )
    claim_demo_home(settings, s3_demo_bucket=s3_demo_bucket)  # before anything is written
    if "CAPSTONE_LOG_LEVEL" not in os.environ:  # the demo's own output is the readable summary
        configure_logging("warning", settings.log_format)
    heading(f"Vault: {settings.vault_url}")
    vault = open_vault(settings, create=True)
    click.echo("write-once: " + ("yes (S3 Object Lock, compliance mode)" if vault.worm else "no"))
    for note in vault.store.capabilities.notes:
        click.echo(f"note: {note}")
    vault.close()
    grant_demo_roles(settings)

    run_registry_demo(settings, on_premises={ON_PREMISES: demo_ews_url()})
    renew_outdated_index(settings)

    heading(
        f"Simulated Microsoft 365 tenant (seed {DEMO_SEED}, profile {DEMO_PROFILE}) on 127.0.0.1:{DEMO_PORT}"
    )
    from capstone.demo_mail import write_demo_mail

    ews_user, ews_password = next(iter(SimulatorConfig().ews_users.items()))
    imports = write_demo_mail(settings.home / "demo-mail")  # real-world mail: bounce, charset, Message-ID
    with run_simulator_process(
        DEMO_SEED, DEMO_PROFILE, extra_args=["--port", str(DEMO_PORT), *imports]
    ) as tenant:
        click.echo(f"Graph: {tenant.graph_url}   EWS: {tenant.ews_url}")
        configured = settings.model_copy(
            update={
                "graph_base_url": tenant.graph_url,
                "graph_token_url": tenant.token_url,
                "graph_client_id": tenant.client_id,
                "graph_client_secret": SecretStr(tenant.client_secret),
                "graph_tenant_id": tenant.tenant_id,
                # the on-premises Exchange server's service account (ApplicationImpersonation)
                "ews_username": ews_user,
                "ews_password": SecretStr(ews_password),
                "ews_allow_insecure_http": True,  # the simulator speaks plain HTTP on 127.0.0.1
            }
        )
        click.echo(f"on premises (Exchange Server, EWS at {tenant.ews_url}): {ON_PREMISES}")
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
    from capstone.imports.demo import run_phone_import_demo  # issue 22: phone chat imports

    run_phone_import_demo(settings)
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

    # The demo acts as a Woo officer (and auditor) in its own home only (run_demo claimed it first);
    # outside the demo, roles come from [roles].
    if not (settings.home / DEMO_MARKER).is_file():
        raise DemoHomeRefused(f"{settings.home.resolve()} is not the demo's own home")
    actor = Actor(settings.user, frozenset({WOO_OFFICER, AUDITOR}))
    woo = WooService(settings, actor=actor)
    heading(f"capstone woo case open --ref {DEMO_CASE}   (as {actor.name}, woo-officer)")
    from capstone.registry.service import Registry

    # The case's scope: every official of the demo registry, any period (a real request names fewer).
    officials = sorted({d.name for d in Registry(woo.engine).designations()})
    try:
        case = woo.open_case(
            ref=DEMO_CASE,
            received=date.today() - timedelta(days=7),
            subject="Begroting en aanbestedingen 2026",
            scope=woo.resolve_scope(officials=officials),
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
    from capstone.imports.demo import print_phone_transcripts, search_phone_chats

    search_phone_chats(woo, DEMO_CASE)
    from capstone.woo.demo import new_directory

    stamp = datetime.now(UTC).strftime("export-%Y%m%dT%H%M%SZ")
    out = new_directory(settings.home / "woo" / DEMO_CASE / stamp)  # a run in the same second: -2
    heading(f"capstone woo export --case {DEMO_CASE} --out {out}")
    report = woo.export(DEMO_CASE, out)
    click.echo(
        f"{report.documents} documents ({report.duplicates} more listed as dubbel), {len(report.files)} files"
    )
    from capstone.cli.chats import print_transcripts

    transcripts = settings.home / "woo" / DEMO_CASE / "transcripts"
    heading(f"capstone chats transcripts --case {DEMO_CASE} --out-dir {transcripts}")
    print_transcripts(woo.chat_transcripts(DEMO_CASE, transcripts), transcripts)
    print_phone_transcripts(out)
    check = woo.verify_export(out)
    click.echo(f"verify-export: {'ALL WELL' if check.ok else check.problems}")
    audit = woo.audit_verify()
    click.echo(f"audit log: {audit.entries} entries, sealed into the vault through entry {audit.sealed_through}: "
               + ("ALL WELL" if audit.ok else "PROBLEMS"))  # fmt: skip
    click.echo(f"open the inventarislijst: {out / 'inventarislijst.xlsx'}  (or inventarislijst.csv)")
    if not (check.ok and audit.ok):
        raise click.ClickException("the Woo export or the audit log did not verify")
    from capstone.woo.demo import run_woo_review_demo

    run_woo_review_demo(settings, woo, DEMO_CASE)

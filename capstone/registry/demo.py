"""The registry's part of ``make demo``: register the sample key officials of Gemeente Demo (a CSV
shipped with Capstone) and print the publishable list. Call it after the vault exists::

    from capstone.registry.demo import run_registry_demo
    run_registry_demo(settings, on_premises={"gemeentesecretaris@gemeente-demo.nl": ews_url})

``on_premises`` registers those officials' mailboxes on an on-premises Exchange server (the
registry's ``exchange_endpoint``: their EWS URL), so they are captured through EWS.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from importlib import resources

import click

from capstone.registry import DuplicateImportError, open_registry
from capstone.settings import Settings

SAMPLE_CSV = "samples/sleutelfunctionarissen.csv"


def sample_csv(on_premises: Mapping[str, str] | None = None) -> bytes:
    """The sample designation list of the fictional municipality Gemeente Demo; with
    ``on_premises`` (mail address -> EWS URL) an ``exchange_endpoint`` column names those."""
    data = resources.files("capstone.registry").joinpath(SAMPLE_CSV).read_bytes()
    if not on_premises:
        return data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    unknown = set(on_premises) - {row["mail"] for row in rows}
    if unknown:
        raise ValueError(f"not in the sample list: {', '.join(sorted(unknown))}")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*rows[0].keys(), "exchange_endpoint"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row | {"exchange_endpoint": on_premises.get(row["mail"], "")})
    return out.getvalue().encode("utf-8")


def run_registry_demo(settings: Settings, *, on_premises: Mapping[str, str] | None = None) -> None:
    from capstone.cli.registry import print_designations, print_publication
    from capstone.registry.csvio import public_entry
    from capstone.registry.model import local_day

    registry = open_registry(settings)
    click.echo("")
    click.echo(
        click.style(
            "== Registry: importing the DT's list of key officials (sleutelfunctionarissen)", bold=True
        )
    )
    try:
        result = registry.import_csv(
            sample_csv(on_premises), filename="sleutelfunctionarissen.csv", actor=settings.user
        )
    except DuplicateImportError:
        click.echo("the sample list was registered by an earlier demo run")
    else:
        click.echo(f"registered {len(result.designations)} designations (import {result.import_id})")
        print_designations(result.designations, local_day(registry.clock()))
    status = registry.last_archive
    click.echo(
        f"registry events in the vault: {len(registry.events()) - len(registry.pending_events())}"
        f" of {len(registry.events())}" + (f" (pending: {status.error})" if status.error else "")
    )
    click.echo("")
    click.echo(click.style("== capstone registry publish", bold=True))
    entries = [public_entry(d) for d in registry.designations()]
    print_publication(
        entries,
        with_addresses=False,
        title=f"Register van sleutelfunctionarissen (stand {local_day(registry.clock())})",
    )
    registry.engine.dispose()

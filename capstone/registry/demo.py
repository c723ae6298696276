"""The registry's part of ``make demo``: register the sample key officials of Gemeente Demo (a CSV
shipped with Capstone) and print the publishable list. Call it after the vault exists::

    from capstone.registry.demo import run_registry_demo
    run_registry_demo(settings)
"""

from __future__ import annotations

from importlib import resources

import click

from capstone.registry import DuplicateImportError, open_registry
from capstone.settings import Settings

SAMPLE_CSV = "samples/sleutelfunctionarissen.csv"


def sample_csv() -> bytes:
    """The sample designation list of the fictional municipality Gemeente Demo."""
    return resources.files("capstone.registry").joinpath(SAMPLE_CSV).read_bytes()


def run_registry_demo(settings: Settings) -> None:
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
        result = registry.import_csv(sample_csv(), filename="sleutelfunctionarissen.csv", actor=settings.user)
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

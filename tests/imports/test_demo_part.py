"""The imports' part of ``make demo`` on its own: a generated WhatsApp zip and SMS backup of the
mayor's phone are imported (a second run finds them held), found in a Woo case and exported with
their transcripts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from capstone.access import WOO_OFFICER, Actor
from capstone.imports.demo import print_phone_transcripts, run_phone_import_demo, search_phone_chats
from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.settings import Settings
from capstone.woo.service import WooService
from tests.imports.conftest import World


def test_demo_imports_and_shows_phone_chats(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    settings = Settings(home=world.home, user="ali")
    run_phone_import_demo(settings)
    first = capsys.readouterr().out
    assert first.count("COMPLETE") == 2 and "new 240" in first and "new 4" in first
    run_phone_import_demo(settings)
    second = capsys.readouterr().out
    assert "known 240" in second and "known 4" in second and "new 0" in second

    woo = WooService(
        settings.model_copy(update={"user": "anna"}), actor=Actor("anna", frozenset({WOO_OFFICER}))
    )
    everyone = sorted({d.name for d in Registry(state_engine(settings)).designations()})
    woo.open_case(
        ref="WOO-2026-001", received=date(2026, 11, 2), subject="Begroting",
        scope=woo.resolve_scope(officials=everyone),
    )  # fmt: skip
    search_phone_chats(woo, "WOO-2026-001")
    shown = capsys.readouterr().out
    assert (
        "phone chat hits" in shown
        and "WhatsApp/Projectgroep Fietsbrug" in shown
        and "SMS/Gerrit Smit" in shown
    )
    out = tmp_path / "export"
    woo.export("WOO-2026-001", out)
    print_phone_transcripts(out)
    listed = capsys.readouterr().out
    assert "phone chat transcripts in the export: 2" in listed

"""Capture never waits for indexing; an attachment over an extraction limit is indexed by its
metadata with a note (hostile documents from :mod:`tests.index.hostile`)."""

from __future__ import annotations

import base64

import pytest

from capstone.capture.indexing import IndexFollower
from capstone.index import open_index
from capstone.index.model import SearchQuery
from capstone.index.sandbox import NOTE_PREFIX
from tests.capture.conftest import CaptureWorld, run_capture
from tests.index.helpers import mime
from tests.index.hostile import XLSX_TYPE, padded_xlsx

pytestmark = pytest.mark.slow
MAYOR = "burgemeester@gemeente-demo.nl"  # a designated official of the sample registry


def _plant_hostile_mail(world: CaptureWorld, attachment: tuple[str, str, bytes], subject: str) -> None:
    data = mime(
        subject=subject,
        body="Zie bijlage.",
        sender="Marieke van Dalen <burgemeester@gemeente-demo.nl>",
        to="Sanne Visser <griffier@gemeente-demo.nl>",
        message_id=f"<{subject.replace(' ', '-')}@gemeente-demo.nl>",
        attachments=[attachment],
    )
    world.sim.mutate(
        {"op": "add-message", "mailbox": MAYOR, "folder": "Inbox", "mime": base64.b64encode(data).decode()}
    )


def test_an_attachment_over_the_limit_is_indexed_by_metadata_with_its_note(world: CaptureWorld) -> None:
    world.settings = world.settings.model_copy(update={"index_extract_seconds": 2.0})
    _plant_hostile_mail(world, ("begroting.xlsx", XLSX_TYPE, padded_xlsx()), "Begroting haven")
    runs = world.capture(source=None)
    assert runs and all(r.status == "complete" for r in runs)

    index = open_index(world.settings.search_index_url)
    try:
        [mail] = index.search(SearchQuery(text="Begroting haven", kinds=("mail",))).hits
        [attachment] = index.children_of(mail.doc_id)
        assert attachment.filename == "begroting.xlsx" and attachment.size > 0
        assert attachment.duplicate_key.startswith("sha256:")
        assert attachment.notes == (f"{NOTE_PREFIX}tijdslimiet van 2 s overschreden",)
    finally:
        index.close()
    assert (world.settings.home / "extraction-refusals.sqlite3").exists()


def test_capture_passes_complete_while_an_index_update_is_busy(world: CaptureWorld) -> None:
    """An update stuck on a slow attachment (limit 10 minutes here) does not hold up capture."""
    world.settings = world.settings.model_copy(update={"index_extract_seconds": 600.0})
    _plant_hostile_mail(world, ("groot.xlsx", XLSX_TYPE, padded_xlsx(rows=1500)), "Grote begroting")
    follower = IndexFollower(world.settings)
    try:
        first = run_capture(world.settings, indexer=follower)
        assert first and all(r.status == "complete" for r in first)
        assert follower.running  # indexing, beside capture
        for _ in range(2):
            world.sim.mutate({"op": "add-message", "mailbox": MAYOR, "folder": "Inbox", "subject": "Nog een"})
            later = run_capture(world.settings, indexer=follower)
            assert later and all(r.status == "complete" for r in later)
            assert any(r.counters.get("items", 0) >= 1 for r in later)  # the new mail was captured
        assert follower.running and follower.started == 1  # the same update, still busy
    finally:
        follower.stop()
    assert not follower.running

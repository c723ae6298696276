"""Feeding the index from a vault: incremental updates index only new records and end up equal to a
rebuild; unreadable content is noted, never fatal; the CLI maintains the index."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from capstone.cli.main import cli
from capstone.index import SearchIndex, SearchQuery, open_index
from capstone.index.indexer import rebuild_index, update_index
from tests.access import admin_config
from tests.index.helpers import (
    DOCX,
    PDF,
    VaultWriter,
    chat_message_json,
    chat_meta,
    mime,
    pdf_bytes,
)
from vault import layout
from vault.local import LocalStore
from vault.vault import Vault


def make_vault(root: Path) -> Vault:
    return Vault.initialise(LocalStore(root / "vault"), catalog_path=root / "cache" / "vault.sqlite")


def blob_file(root: Path, sha256: str) -> Path:
    """Where the local vault made by :func:`make_vault` keeps a blob."""
    return LocalStore(root / "vault").path_of(layout.blob_key(sha256))


def snapshot(index: SearchIndex) -> dict[str, tuple[str, str, int]]:
    result = index.search(SearchQuery(limit=1000))
    assert result.total == len(result.hits)
    return {h.doc_id: (h.duplicate_key, h.title, h.duplicates) for h in result.hits}


def test_incremental_update_indexes_only_new_records_and_equals_a_rebuild(
    tmp_path: Path, index: SearchIndex
) -> None:
    vault = make_vault(tmp_path)
    writer = VaultWriter(vault)
    chat_id = "19:college@thread.v2"
    same = mime(subject="Kademuur", body="Herstel van de kademuur.", message_id="<same@x>")
    writer.write(
        [
            writer.meta(chat_meta(chat_id)),
            writer.mail(same, item_id="a1"),
            writer.mail(same, who="clerk", item_id="b1"),
            writer.mail(
                mime(
                    subject="Stukken",
                    message_id="<stukken@x>",
                    attachments=[
                        ("notulen.pdf", PDF, pdf_bytes("Notulen sluiscomplex")),
                        ("kapot.docx", DOCX, b"PK broken"),
                    ],
                ),
                item_id="a2",
            ),
            writer.chat(chat_message_json(chat_id, "1", "<p>Eerste versie over de sluis</p>")),
        ]
    )
    assert index.completed_at() is None
    first = update_index(vault, index)
    assert index.completed_at() is not None  # one pass over the whole vault: searches may trust it
    assert (first.records_seen, first.records_indexed, first.records_skipped, first.records_failed) == (
        4,
        4,
        0,
        0,
    )
    assert first.documents == 6  # 3 mails + 2 attachments + 1 chat version
    assert first.notes == 1  # the broken DOCX
    assert len(index.indexed_records()) == 4
    kademuur = index.search(SearchQuery(text="kademuur")).hits
    assert len(kademuur) == 2 and {h.duplicates for h in kademuur} == {2}
    assert {h.official for h in kademuur} == {"Marieke van Dalen", "Sanne Visser"}
    [chat] = index.search(SearchQuery(text="sluis", kinds=["chat-message"])).hits
    got = index.get(chat.doc_id)
    assert got is not None and got.participants and got.folder_path == "Collegeoverleg"

    again = update_index(vault, index)
    assert (again.records_seen, again.records_indexed, again.documents) == (0, 0, 0)

    writer.write(
        [
            writer.chat(
                chat_message_json(
                    chat_id, "1", "<p>Tweede versie over de sluisdeur</p>", edited="2026-03-05T09:00:00Z"
                )
            ),
            writer.mail(mime(subject="Nieuw", body="Over het gemaal.", message_id="<nieuw@x>"), item_id="a3"),
        ]
    )
    second = update_index(vault, index)
    assert (second.records_indexed, second.records_skipped, second.documents) == (2, 0, 2)
    versions = index.search(SearchQuery(text="versie")).hits
    assert len(versions) == 2 and {h.duplicate_key for h in versions} == {f"chat:{chat_id}:1"}
    # two versions of one chat message share the key but not the bytes: related, not exact duplicates
    assert {h.duplicates for h in versions} == {1}
    incremental = snapshot(index)
    records = index.indexed_records()

    rebuilt = rebuild_index(vault, index)
    assert rebuilt.rebuilt and rebuilt.records_indexed == 6 and rebuilt.documents == 8
    assert snapshot(index) == incremental
    assert index.indexed_records() == records


def test_unreadable_blob_is_retried_next_time(tmp_path: Path, index: SearchIndex) -> None:
    vault = make_vault(tmp_path)
    writer = VaultWriter(vault)
    record = writer.mail(mime(subject="Verdwenen", body="tekst"), item_id="gone")
    writer.write([record])
    assert record.blob_sha256 is not None
    blob = blob_file(tmp_path, record.blob_sha256)
    assert blob.exists()
    blob.chmod(0o600)
    moved = blob.with_suffix(".away")
    blob.rename(moved)
    report = update_index(vault, index)
    assert (report.records_failed, report.records_indexed) == (1, 0)
    assert index.indexed_records() == set()
    moved.rename(blob)
    report = update_index(vault, index)
    assert (report.records_failed, report.records_indexed, report.documents) == (0, 1, 1)
    assert index.search(SearchQuery(text="verdwenen")).total == 1


def test_rebuild_with_extraction_workers_equals_one_process(tmp_path: Path, index: SearchIndex) -> None:
    """Blobs read and text extracted in two spawned processes: the same documents, counts and
    finished segments as in one process; an unreadable blob is still a failure retried next time."""
    vault = make_vault(tmp_path)
    writer = VaultWriter(vault)
    chat_id = "19:werk@thread.v2"
    for n in range(6):  # six segments, so the pool has several in flight
        writer.write(
            [
                writer.meta(chat_meta(chat_id))
                if n == 0
                else writer.chat(chat_message_json(chat_id, str(n), f"<p>Bericht {n} over de brug</p>")),
                writer.mail(
                    mime(
                        subject=f"Brug {n}",
                        body=f"Onderhoud van brug {n}.",
                        message_id=f"<brug{n}@x>",
                        attachments=[("verslag.pdf", PDF, pdf_bytes(f"Verslag brugdek {n}"))],
                    ),
                    item_id=f"m{n}",
                ),
            ]
        )
    single = rebuild_index(vault, index, workers=0)
    expected = snapshot(index)
    segments = index.indexed_segments() if hasattr(index, "indexed_segments") else None
    parallel = rebuild_index(vault, index, workers=2)
    assert snapshot(index) == expected and len(expected) == single.documents == 17
    assert (parallel.records_indexed, parallel.documents, parallel.records_failed) == (
        single.records_indexed,
        single.documents,
        0,
    )
    if segments is not None:
        assert index.indexed_segments() == segments
    assert index.search(SearchQuery(text="brugdek")).total == 6  # the PDFs' text, extracted elsewhere

    late = writer.mail(mime(subject="Later", body="Na de bouw."), item_id="late")
    writer.write([late])
    assert late.blob_sha256 is not None
    blob = blob_file(tmp_path, late.blob_sha256)
    blob.chmod(0o600)
    blob.rename(blob.with_suffix(".away"))
    report = update_index(vault, index, workers=2)
    assert (report.records_failed, report.records_indexed) == (1, 0)
    blob.with_suffix(".away").rename(blob)
    report = update_index(vault, index, workers=2)
    assert (report.records_failed, report.records_indexed) == (0, 1)


def test_sqlite_stemmer_conflates_more_dutch_forms(tmp_path: Path) -> None:
    from tests.index.helpers import document

    index = open_index(f"sqlite:///{tmp_path / 'i.sqlite3'}")
    index.add([document("a", body="de nieuwe fietsbruggen"), document("b", body="samen werken")])
    assert {h.doc_id for h in index.search(SearchQuery(text="fietsbrug")).hits} == {"a"}
    assert {h.doc_id for h in index.search(SearchQuery(text="werkt")).hits} == {"b"}
    assert {h.doc_id for h in index.search(SearchQuery(text="sluis OR fietsbr*")).hits} == {"a"}
    index.close()


def test_cli_rebuild_update_stats(tmp_path: Path, monkeypatch: object) -> None:
    home = tmp_path / "home"
    vault = make_vault(home)
    writer = VaultWriter(vault)
    writer.write([writer.mail(mime(subject="Gemaal", body="Onderhoud gemaal"), item_id="x1")])
    vault.close()
    env = {"CAPSTONE_HOME": str(home), "CAPSTONE_VAULT": "", "CAPSTONE_CONFIG": "", "CAPSTONE_DB_URL": ""}
    env.update(CAPSTONE_CONFIG=str(admin_config(home, "ops", {"ops": ["archivist"]})))
    env = {k: v for k, v in env.items() if v}
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "index", "update", "--json"], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["records_indexed"] == 1 and doc["documents"] == 1 and doc["index"].startswith("sqlite:///")
    result = runner.invoke(cli, ["--home", str(home), "index", "rebuild", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rebuilt"] is True
    result = runner.invoke(cli, ["--home", str(home), "index", "stats", "--json"], env=env)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["documents"] == 1 and stats["records"] == 1 and stats["completed_at"]
    result = runner.invoke(cli, ["--home", str(home), "index", "stats"], env=env)
    assert result.exit_code == 0 and "documents: 1" in result.output
    assert (home / "index.sqlite3").exists()
    # an index of an older layout: update refuses with the way out, rebuild renews it
    with sqlite3.connect(home / "index.sqlite3") as db:
        db.execute("UPDATE meta SET value = '1' WHERE name = 'schema'")
    result = runner.invoke(cli, ["--home", str(home), "index", "update"], env=env)
    assert result.exit_code == 2 and "capstone index rebuild" in result.output
    result = runner.invoke(cli, ["--home", str(home), "index", "rebuild", "--json"], env=env)
    assert result.exit_code == 0 and json.loads(result.stdout)["records_indexed"] == 1, result.output
    result = runner.invoke(cli, ["--home", str(home), "index", "update", "--json"], env=env)
    assert result.exit_code == 0 and json.loads(result.stdout)["records_indexed"] == 0, result.output

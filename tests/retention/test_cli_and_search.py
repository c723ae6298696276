"""The commands (role checks, exit codes) and the search/export hook: a confirmed exclusion leaves
Woo search, view and export at once (issue 21). Local backend, a one-hour window: no waiting."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from capstone.access import Actor
from capstone.cli.main import cli
from capstone.index import open_index
from capstone.index.indexer import update_index
from capstone.index.model import SearchQuery
from capstone.retention.objects import Scope
from capstone.retention.service import ExclusionCategory, RetentionService
from capstone.services import open_vault
from capstone.settings import Settings
from capstone.woo.cases import CaseError
from capstone.woo.scope import CaseScope
from capstone.woo.service import WooService
from tests.access import admin_config
from tests.index.helpers import mail_record, mime
from tests.retention.conftest import ROLES

OFFICIAL = "Marieke van Dalen"  # the official of tests.index.helpers' mayor


@pytest.fixture(params=["sqlite", "postgresql"])
def configured(request: pytest.FixtureRequest, settings: Settings, capstone_home: Path) -> Settings:
    """The state database on SQLite and on PostgreSQL (migration 0011 on both)."""
    update: dict[str, object] = {"roles": ROLES, "exclusion_window": "1h", "user": "ali"}
    if request.param == "postgresql":
        update["db_url"] = request.getfixturevalue("pg_db_url")
    return settings.model_copy(update=update)


def _store_mail(settings: Settings, subject: str, item_id: str) -> str:
    vault = open_vault(settings, create=True)
    try:
        data = mime(subject=subject, body=f"Over de fietsbrug: {subject}", message_id=f"<{item_id}@test>")
        blob = vault.put_blob(data, media_type="message/rfc822")
        record = mail_record(blob.sha256, blob.size, item_id=item_id)  # the mayor: OFFICIAL
        record = replace(record, capture={**record.capture, "captured_at": datetime.now(UTC).isoformat()})
        vault.write_manifest("t", vault.put_records([record]))
        return record.record_id
    finally:
        vault.close()


def test_confirmed_exclusion_leaves_search_view_and_export(configured: Settings, tmp_path: Path) -> None:
    kept = _store_mail(configured, "Fietsbrug besluit", "item-kept")
    private = _store_mail(configured, "Fietsbrug verjaardag", "item-private")
    vault = open_vault(configured)
    index = open_index(configured.search_index_url)
    try:
        update_index(vault, index)
        index.mark_completed(datetime.now(UTC))
    finally:
        index.close()
        vault.close()
    woo = WooService(configured.model_copy(update={"user": "wim"}), Actor("wim", frozenset({"woo-officer"})))
    woo.open_case(
        ref="WOO-2026-21",
        received=date(2026, 11, 1),
        subject="fietsbrug",
        scope=CaseScope(officials=(OFFICIAL,)),
    )
    before = woo.search("WOO-2026-21", SearchQuery(text="fietsbrug"))
    assert {h.record_id for h in before.hits} == {kept, private}

    olga = RetentionService(configured, Actor("olga", frozenset({"official"})))
    mark = olga.mark(Scope.ITEM, "item-private", ExclusionCategory.PRIVE, "birthday party")
    assert {h.record_id for h in woo.search("WOO-2026-21", SearchQuery(text="fietsbrug")).hits} == {
        kept,
        private,
    }
    RetentionService(configured, Actor("ali", frozenset({"archivist"}))).confirm(mark.exclusion_id)

    after = woo.search("WOO-2026-21", SearchQuery(text="fietsbrug"))
    assert [h.record_id for h in after.hits] == [kept] and after.total == 1
    private_doc = next(h.doc_id for h in before.hits if h.record_id == private)
    with pytest.raises(CaseError):
        woo.view("WOO-2026-21", private_doc)
    report = woo.export("WOO-2026-21", tmp_path / "export", SearchQuery(text="fietsbrug"))
    assert report.documents == 1


def _invoke(settings: Settings, user: str, *args: str) -> tuple[int, str]:
    """Exit code and output: stdout only for --json (logs go to stderr), else stdout and stderr."""
    env = {
        "CAPSTONE_HOME": str(settings.home),
        "CAPSTONE_CONFIG": str(admin_config(settings.home, user, ROLES)),
        "CAPSTONE_EXCLUSION_WINDOW": "1h",
    }
    if settings.db_url:
        env["CAPSTONE_DB_URL"] = settings.db_url
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_commands(configured: Settings) -> None:
    _store_mail(configured, "Partijoverleg", "item-party")
    code, out = _invoke(configured, "olga", "exclusion", "mark", "--value", "item-party",
                        "--category", "partijpolitiek", "--reason", "party meeting", "--json")  # fmt: skip
    assert code == 0, out
    exclusion_id = json.loads(out)["exclusion_id"]
    code, out = _invoke(configured, "olga", "exclusion", "confirm", exclusion_id)
    assert code == 3 and "refused" in out  # the official holds no archivist role
    code, out = _invoke(configured, "zed", "exclusion", "mark", "--value", "item-party",
                        "--category", "prive", "--reason", "x", "--json")  # fmt: skip
    own = json.loads(out)["exclusion_id"]
    code, out = _invoke(configured, "zed", "exclusion", "confirm", own)
    assert code == 3 and "four eyes" in out
    code, out = _invoke(configured, "ali", "exclusion", "confirm", exclusion_id)
    assert code == 0 and "confirmed" in out
    code, out = _invoke(configured, "ali", "exclusion", "confirm", exclusion_id)
    assert code == 2 and "already confirmed" in out
    code, out = _invoke(configured, "olga", "exclusion", "mark", "--value", "x", "--category", "vakantie",
                        "--reason", "x")  # fmt: skip
    assert code == 2 and "unknown exclusion category" in out
    code, out = _invoke(configured, "otto", "exclusion", "list", "--json")
    assert code == 0 and {e["status"] for e in json.loads(out)} == {"confirmed", "marked"}
    code, out = _invoke(configured, "ali", "retention", "run", "--json")
    assert code == 0 and json.loads(out)["excluded_waiting"] == 1
    code, out = _invoke(configured, "ali", "retention", "status", "--json")
    status = json.loads(out)
    assert code == 0 and status["excluded_pending_removal"] == 1 and "NOT WORM" in status["note"]
    code, out = _invoke(configured, "wim", "retention", "run")
    assert code == 3
    code, out = _invoke(configured, "wim", "hold", "place", "--ref", "WOO-1", "--kind", "woo-case",
                        "--reason", "request", "--value", "item-party", "--json")  # fmt: skip
    assert code == 0, out
    hold_id = json.loads(out)["hold_id"]
    code, out = _invoke(configured, "ali", "hold", "release", hold_id, "--reason", "closed")
    assert code == 0 and "released by ali" in out
    code, out = _invoke(configured, "ali", "hold", "list", "--json")
    assert code == 0 and json.loads(out)[0]["released_by"] == "ali"
    code, out = _invoke(configured, "ali", "retention", "propose", "--json")
    assert code == 0 and json.loads(out)["items"] == 0
    list_id = json.loads(out)["list_id"]
    code, out = _invoke(configured, "otto", "retention", "lists", "--json")
    assert code == 0 and [(s["list_id"], s["status"], s["proposed_by"]) for s in json.loads(out)] == [
        (list_id, "proposed", "ali")
    ]
    assert json.loads(out)[0]["proposed_at"] and json.loads(out)[0]["approved_at"] is None
    code, out = _invoke(configured, "wim", "retention", "lists")
    assert code == 3  # the Woo officer reads no vernietigingslijsten
    code, out = _invoke(configured, "otto", "retention", "certificate", list_id)
    assert code == 2 and "no verklaring yet" in out


def test_term_comes_from_the_registry_category(configured: Settings) -> None:
    """A record names only its designation; the registry's category picks the term (V or B)."""
    import time

    from capstone.registry import Registry
    from capstone.registry.model import Category
    from capstone.services import state_engine
    from tests.registry.conftest import make_draft
    from vault.layout import blob_key

    settings = configured.model_copy(
        update={"exclusion_window": "1s", "exclusion_margin": "1s", "retention_terms": {"overig": "V:1h"}}
    )
    registry = Registry(state_engine(settings))
    other = registry.designate(make_draft(category=Category.OVERIG, mail="a@gemeente-demo.nl"), actor="rita")
    mayor = registry.designate(make_draft(mail="b@gemeente-demo.nl"), actor="rita")
    vault = open_vault(settings, create=True)
    shas = {}
    for designation in (other, mayor):
        blob = vault.put_blob(designation.designation_id.encode(), media_type="text/plain")
        record = replace(
            mail_record(blob.sha256, blob.size, item_id=designation.designation_id),
            capture={"run_id": "t", "captured_at": datetime.now(UTC).isoformat()},
            designation={"designation_id": designation.designation_id},
        )
        vault.write_manifest("t", vault.put_records([record]))
        shas[designation.designation_id] = blob.sha256
    vault.close()
    time.sleep(1.5)
    ali = RetentionService(settings, Actor("ali", frozenset({"archivist"})))
    assert ali.status()["past_window_not_secured"] == 2  # what an auditor looks for
    report = ali.run()
    assert report.secured == 2
    assert ali.status()["past_window_not_secured"] == 0 and ali.status()["secured"] == 2
    vault = open_vault(settings)
    try:
        v_lock = vault.store.head(blob_key(shas[other.designation_id])).retain_until  # type: ignore[union-attr]
        b_lock = vault.store.head(blob_key(shas[mayor.designation_id])).retain_until  # type: ignore[union-attr]
    finally:
        vault.close()
    now = datetime.now(UTC)
    assert v_lock is not None and now < v_lock < now + timedelta(hours=1, seconds=5)
    assert b_lock is not None and b_lock > now + timedelta(days=3640)


def test_continuous_capture_hook_runs_at_most_hourly(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from capstone.retention import service as retention_service

    monkeypatch.setattr(retention_service, "_last_quiet_run", None)
    _store_mail(configured, "Hook", "item-hook")
    first = retention_service.run_quietly(configured)
    assert first is not None and first.objects == 1
    assert retention_service.run_quietly(configured) is None  # within the hour: skipped
    assert retention_service.run_quietly(configured, every=timedelta(0)) is not None
    refused = retention_service.run_quietly(configured.model_copy(update={"user": "wim"}), every=timedelta(0))
    assert refused is None  # a capture user without the archivist role: logged, capture goes on

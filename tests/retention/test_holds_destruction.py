"""Holds and destruction (issue 21) on Ceph RGW and the local backend, with terms of seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from capstone.access import AccessDenied
from capstone.retention.objects import Scope
from capstone.retention.service import ExclusionCategory, RetentionError
from tests.retention.conftest import V_TERM, WINDOW, Env, capture, retain_until, wait_until
from vault.layout import blob_key
from vault.removals import DESTRUCTION_KIND, EXCLUSION_KIND
from vault.verify import verify_vault

pytestmark = pytest.mark.slow


def test_hold_survives_exclusion_and_term_then_follows_lifecycle(env: Env) -> None:
    vault = env.vault()
    held_private, _ = capture(vault, b"private but asked for in a Woo case", item="h1")
    held_v, _ = capture(vault, b"a V record under a legal hold", item="h2", category="overig")
    written = datetime.now(UTC)
    vault.close()
    olga, ali, bea, wim = (env.service(u) for u in ("olga", "ali", "bea", "wim"))
    mark = olga.mark(Scope.ITEM, "h1", ExclusionCategory.PRIVE, "private")
    bea.confirm(mark.exclusion_id)
    hold = wim.place_hold("WOO-2026-7", "woo-case", "requested documents", Scope.ITEM, "h1")
    legal = ali.place_hold("ZAAK-12", "legal", "pending litigation", Scope.ITEM, "h2")
    assert hold.blobs == (held_private,) and legal.blobs == (held_v,)
    with pytest.raises(AccessDenied):
        wim.release_hold(hold.hold_id, "done")  # release: archivists only

    vault = env.vault()
    try:
        assert vault.store.head(blob_key(held_private)).legal_hold  # type: ignore[union-attr]
        holds = [r.extra["hold_id"] for r in vault.iter_records("retention-hold")]
        assert sorted(holds) == sorted([hold.hold_id, legal.hold_id])  # recorded in the vault
    finally:
        vault.close()

    wait_until(written + timedelta(seconds=V_TERM + 1))
    ali.run()
    vault = env.vault()
    lapse = max(retain_until(vault, held_private), retain_until(vault, held_v))
    vault.close()
    wait_until(lapse + timedelta(seconds=1))
    report = ali.run()
    assert report.held == 1 and report.excluded_deleted == 0
    assert ali.propose().items == 0  # the V record's term ended, but it is held
    if env.s3 is not None:  # the server itself refuses: legal hold
        target = env.bucket_target(held_private)
        version = env.s3.list_object_versions(Bucket=target["Bucket"], Prefix=target["Key"])["Versions"][0]
        with pytest.raises(ClientError):
            env.s3.delete_object(**target, VersionId=version["VersionId"])

    ali.release_hold(hold.hold_id, "case closed")
    ali.release_hold(legal.hold_id, "matter settled")
    with pytest.raises(RetentionError):
        ali.release_hold(hold.hold_id, "again")
    report = ali.run()
    assert report.excluded_deleted == 1
    listing = ali.propose()
    assert listing.items == 1 and listing.groups[0]["category"] == "overig"
    actions = [(e.actor, e.action, e.outcome) for e in ali.guard.audit.entries()]
    assert ("ali", "hold-release", "allowed") in actions and ("wim", "hold-release", "refused") in actions


def test_destruction_deletes_exactly_the_approved_expired_v_objects(env: Env) -> None:
    vault = env.vault()
    v_one, v_one_rid = capture(vault, b"V record one", item="v1", category="overig")
    v_two, _ = capture(vault, b"V record two", item="v2", category="overig")
    b_rec, _ = capture(vault, b"B record of a college member", item="b1", category="college")
    written = datetime.now(UTC)
    vault.close()
    ali, bea = env.service("ali"), env.service("bea")
    wait_until(written + timedelta(seconds=WINDOW))
    ali.run()
    early = ali.propose()
    assert early.items == 0  # terms have not ended
    wait_until(written + timedelta(seconds=V_TERM + 1))
    vault = env.vault()
    late_v, _ = capture(vault, b"V record captured later", item="v3", category="overig")
    vault.close()

    listing = ali.propose()
    assert listing.items == 2  # v1 and v2: not the B record, not the fresh V record
    group = listing.groups[0]
    assert group["objects"] == 2 and group["term"] == f"V:{V_TERM}s" and group["from"] and group["until"]
    with pytest.raises(AccessDenied):
        ali.approve(listing.list_id, "BESLUIT-2026-3")  # the proposer cannot approve
    with pytest.raises(RetentionError):
        ali.destroy(listing.list_id)  # not approved yet
    approved = bea.approve(listing.list_id, "BESLUIT-2026-3")
    assert approved.status == "approved" and approved.approved_by == "bea"

    done = ali.destroy(listing.list_id)
    assert done.status == "destroyed" and done.destroyed == 2 and not done.refused
    vault = env.vault()
    try:
        assert vault.store.head(blob_key(v_one)) is None and vault.store.head(blob_key(v_two)) is None
        assert vault.store.head(blob_key(b_rec)) is not None
        assert vault.store.head(blob_key(late_v)) is not None
        assert done.certificate_sha256
        certificate = json.loads(vault.read_blob(done.certificate_sha256))
        assert certificate["decision_ref"] == "BESLUIT-2026-3" and certificate["approved_by"] == "bea"
        assert sorted(d["sha256"] for d in certificate["destroyed"]) == sorted([v_one, v_two])
        assert v_one_rid in {rid for d in certificate["destroyed"] for rid in d["record_ids"]}
        assert len(list(vault.iter_records(DESTRUCTION_KIND))) == 2
        records = list(vault.iter_records("destruction-certificate"))
        assert len(records) == 1
        report = verify_vault(vault)
        assert report.all_well, report.to_json()
        assert report.removed_with_record == 2
    finally:
        vault.close()
    assert ali.destroy(listing.list_id).destroyed == 2  # idempotent: nothing more
    kept = env.service("otto").certificate(listing.list_id)  # the auditor reads it back, verified
    assert kept.sha256 == done.certificate_sha256 and kept.document()["decision_ref"] == "BESLUIT-2026-3"
    assert kept.record_id is not None and kept.record_id in {r.record_id for r in records}
    assert [s.list_id for s in env.service("otto").destruction_lists()] == [listing.list_id, early.list_id]
    with pytest.raises(AccessDenied):
        env.service("wim").certificate(listing.list_id)


def test_destruction_refuses_b(env: Env) -> None:
    vault = env.vault()
    sha, _ = capture(vault, b"V at proposal, B by approval", item="x1", category="overig")
    written = datetime.now(UTC)
    vault.close()
    ali, bea = env.service("ali"), env.service("bea")
    wait_until(written + timedelta(seconds=V_TERM + 1))
    listing = ali.propose()
    assert listing.items == 1
    bea.approve(listing.list_id, "BESLUIT-2026-4")
    # The category became permanent (B) after approval: destroy checks again and refuses.
    strict = env.service("ali", retention_terms={})
    done = strict.destroy(listing.list_id)
    assert done.destroyed == 0 and "B (permanent)" in done.refused[0]["reason"]
    vault = env.vault()
    try:
        assert vault.store.head(blob_key(sha)) is not None
        assert not list(vault.iter_records(DESTRUCTION_KIND)) and not list(vault.iter_records(EXCLUSION_KIND))
    finally:
        vault.close()

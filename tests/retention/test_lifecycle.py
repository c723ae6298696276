"""Proof of the retention lifecycle (issue 21) on Ceph RGW (server-enforced Object Lock) and on the
local backend (enforced by Capstone only), with a 4-second exclusion window."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from capstone.access import AccessDenied
from capstone.retention.objects import Scope
from capstone.retention.service import ExclusionCategory, RetentionError, excluded_record_ids
from tests.retention.conftest import MARGIN, WINDOW, Env, capture, retain_until, wait_until
from vault import VaultConflictError
from vault.errors import VaultLockedError
from vault.layout import blob_key
from vault.removals import EXCLUSION_KIND
from vault.verify import verify_vault

pytestmark = pytest.mark.slow


def _server_refuses_delete(env: Env, sha: str) -> None:
    """Even with the vault's own credentials the object cannot be deleted."""
    if env.s3 is not None:
        target = env.bucket_target(sha)
        versions = env.s3.list_object_versions(Bucket=target["Bucket"], Prefix=target["Key"])["Versions"]
        assert versions
        for version in versions:
            with pytest.raises(ClientError) as refused:
                env.s3.delete_object(**target, VersionId=version["VersionId"])
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
    vault = env.vault()
    try:
        with pytest.raises(VaultLockedError):
            vault.store.delete_all_versions(blob_key(sha))
        assert vault.store.head(blob_key(sha)) is not None
    finally:
        vault.close()


def test_locked_from_first_write_provisionally(env: Env) -> None:
    vault = env.vault()
    before = datetime.now(UTC)
    sha, _ = capture(vault, b"provisional", item="m1")
    until = retain_until(vault, sha)
    vault.close()
    # Locked until write + window + margin, not for ten years.
    assert (
        before + timedelta(seconds=WINDOW + MARGIN)
        <= until
        <= before + timedelta(seconds=WINDOW + MARGIN + 3)
    )
    _server_refuses_delete(env, sha)
    vault = env.vault()
    try:
        with pytest.raises(VaultConflictError):  # a different object under the key: never
            vault.store.put_bytes(
                blob_key(sha), b"other", sha256=hashlib.sha256(b"other").hexdigest(),
                md5=hashlib.md5(b"other").digest(), media_type="text/plain",
                retention=vault.retention.for_class(),
            )  # fmt: skip
    finally:
        vault.close()


def test_exclusion_lifecycle(env: Env) -> None:
    vault = env.vault()
    private, private_rid = capture(vault, b"my holiday booking", item="p1")
    refused, _ = capture(vault, b"a business mail someone called private", item="r1")
    kept, _ = capture(vault, b"a council decision", item="k1")
    shared_content = b"a shared attachment"
    shared, shared_excluded_rid = capture(vault, shared_content, item="s1")
    _, shared_kept_rid = capture(vault, shared_content, item="s2", mailbox="dirk@gemeente.example")
    written = datetime.now(UTC)
    vault.close()

    olga, ali, bea = env.service("olga"), env.service("ali"), env.service("bea")
    mark = olga.mark(Scope.ITEM, "p1", ExclusionCategory.PRIVE, "own holiday booking")
    assert mark.record_ids == (private_rid,) and mark.status == "marked"
    assert excluded_record_ids(olga.engine) == set()  # not before a second person confirms
    with pytest.raises(AccessDenied):  # the official cannot confirm
        olga.confirm(mark.exclusion_id)
    ali.confirm(mark.exclusion_id, "checked: private")
    assert excluded_record_ids(olga.engine) == {private_rid}  # search and exports drop it at once

    wrong = olga.mark(Scope.ITEM, "r1", ExclusionCategory.PARTIJPOLITIEK, "campaign")
    bea.refuse(wrong.exclusion_id, "this is business mail")
    shared_mark = olga.mark(Scope.ITEM, "s1", ExclusionCategory.PRIVE, "forwarded to my own address")
    bea.confirm(shared_mark.exclusion_id)
    assert excluded_record_ids(olga.engine) == {private_rid, shared_excluded_rid}
    assert shared_kept_rid not in excluded_record_ids(olga.engine)

    # The marker cannot also confirm, whatever their roles.
    with pytest.raises(AccessDenied):
        ali.mark(Scope.ITEM, "k1", ExclusionCategory.PRIVE, "x")

    wait_until(written + timedelta(seconds=WINDOW))
    with pytest.raises(RetentionError):  # the window has passed: too late to mark
        olga.mark(Scope.ITEM, "k1", ExclusionCategory.PRIVE, "late")
    report = ali.run()
    assert report.secured == 3  # refused, kept, shared (for the kept record)
    assert report.excluded_waiting == 1 and report.excluded_deleted == 0

    vault = env.vault()
    ten_years = datetime.now(UTC) + timedelta(days=3650 - 2)
    for sha in (refused, kept, shared):
        assert retain_until(vault, sha) > ten_years, sha  # B: to the transfer date
    assert retain_until(vault, private) < datetime.now(UTC) + timedelta(seconds=MARGIN + 2)
    lapse = retain_until(vault, private)
    vault.close()
    _server_refuses_delete(env, kept)

    wait_until(lapse + timedelta(seconds=1))
    report = ali.run()
    assert report.excluded_deleted == 1 and report.secured == 0 and report.already_secured == 3

    vault = env.vault()
    try:
        assert vault.store.head(blob_key(private)) is None  # every version gone
        assert vault.store.head(blob_key(shared)) is not None  # the kept record's copy stays
        exclusions = list(vault.iter_records(EXCLUSION_KIND))
        assert len(exclusions) == 1
        extra = exclusions[0].extra
        assert extra["sha256"] == private and extra["record_ids"] == [private_rid]
        assert extra["categories"] == ["prive"]
        assert (
            extra["exclusions"][0]["marked_by"] == "olga" and extra["exclusions"][0]["confirmed_by"] == "ali"
        )
        assert extra["records"][0]["mailbox"] == "olga@gemeente.example"
        assert "my holiday booking" not in str(exclusions[0].to_document())  # never the content
        report_v = verify_vault(vault)
        assert report_v.all_well, report_v.to_json()
        assert report_v.removed_with_record == 1
    finally:
        vault.close()

    again = ali.run()  # idempotent
    assert again.excluded_deleted == 0 and again.accounted == 1 and not again.missing


def test_missing_without_record_is_still_an_error(env: Env) -> None:
    if env.backend != "local":
        pytest.skip("removing a locked object behind the vault's back needs file access (local backend)")
    vault = env.vault()
    sha, _ = capture(vault, b"tampered away", item="x1")
    path = vault.store.path_of(blob_key(sha))  # type: ignore[attr-defined]
    path.unlink()
    try:
        report = verify_vault(vault)
        assert not report.all_well and blob_key(sha) in report.missing
    finally:
        vault.close()


def test_four_eyes_and_roles(env: Env) -> None:
    vault = env.vault()
    capture(vault, b"item", item="i1")
    vault.close()
    olga = env.service("olga")
    mark = olga.mark(Scope.ITEM, "i1", ExclusionCategory.PRIVE, "private")
    with pytest.raises(AccessDenied):
        env.service("wim").confirm(mark.exclusion_id)  # a Woo officer may not decide
    # An archivist who is also an official marked it: cannot confirm their own mark.
    both = env.service("zed")
    own = both.mark(Scope.ITEM, "i1", ExclusionCategory.PARTIJPOLITIEK, "party")
    with pytest.raises(AccessDenied):
        both.confirm(own.exclusion_id)
    entries = [e for e in olga.guard.audit.entries() if e.action.startswith("exclusion-")]
    outcomes = [(e.actor, e.action, e.outcome) for e in entries]
    assert ("olga", "exclusion-mark", "allowed") in outcomes
    assert ("wim", "exclusion-confirm", "refused") in outcomes
    assert ("zed", "exclusion-confirm", "refused") in outcomes
    with pytest.raises(RetentionError):
        olga.mark(Scope.ITEM, "nothing-like-this", ExclusionCategory.PRIVE, "x")

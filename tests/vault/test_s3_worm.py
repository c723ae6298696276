"""Write-once proofs on a real S3 server with Object Lock (Ceph RGW on 127.0.0.1).

Every test runs against the real gateway in its own bucket; nothing is mocked except, where a test
says so, a failure injected into one client call.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.ceph import S3Server
from vault import RetentionPolicy, Vault
from vault.errors import (
    VaultConfigError,
    VaultConflictError,
    VaultNotInitialisedError,
    VaultUnavailableError,
    VaultWriteError,
)
from vault.s3 import MULTIPART_THRESHOLD, PART_SIZE, S3Store, default_client
from vault.store import PutResult, Retention

MiB = 1024 * 1024


def _retention(*, legal_hold: bool = False, years: int = 10) -> Retention:
    now = datetime.now(UTC).replace(microsecond=0)
    return Retention("archiefwet-overbrenging", now.replace(year=now.year + years), legal_hold)


def _store(server: S3Server, bucket: str, tmp_path: Path, prefix: str = "v", **config: Any) -> S3Store:
    return S3Store(bucket, prefix, staging_dir=tmp_path / "staging", client=server.client(**config))


def _put(
    store: S3Store,
    key: str,
    data: bytes,
    *,
    retention: Retention | None = None,
    media_type: str = "text/plain",
) -> PutResult:
    return store.put_bytes(
        key,
        data,
        sha256=hashlib.sha256(data).hexdigest(),
        md5=hashlib.md5(data, usedforsecurity=False).digest(),
        media_type=media_type,
        retention=retention or _retention(),
    )


def _blob_key(data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    return f"blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}"


def _versions(client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    listing = client.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in listing.get("Versions", []) if v["Key"] == key]


def _refused(call: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    return refused.value


def _write_random_file(path: Path, size: int) -> tuple[str, bytes]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "wb") as handle:
        for _ in range(size // MiB):
            chunk = os.urandom(MiB)
            sha.update(chunk)
            md5.update(chunk)
            handle.write(chunk)
    return sha.hexdigest(), md5.digest()


# -- initialise and check ----------------------------------------------------------------------------


def test_initialise_creates_a_lock_bucket_and_proves_what_the_server_does(
    s3_server: S3Server, s3_client: Any, tmp_path: Path
) -> None:
    bucket = f"init-{uuid.uuid4().hex[:20]}"
    store = _store(s3_server, bucket, tmp_path)
    with pytest.raises(VaultNotInitialisedError, match="capstone vault init"):
        store.check()
    capabilities = store.initialise()
    assert capabilities.worm
    config = s3_client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config["ObjectLockEnabled"] == "Enabled"
    assert config["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 1}
    assert s3_client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    # The checksum capability is what the server does, checked here independently of the store.
    try:
        s3_client.put_object(
            Bucket=bucket,
            Key="wrong-checksum",
            Body=b"x",
            ChecksumSHA256=base64.b64encode(bytes(32)).decode(),
        )
        verified = False
    except ClientError:
        verified = True
    assert capabilities.checksum_sha256 is verified
    notes = " | ".join(capabilities.notes)
    assert "deleting a locked version was refused" in notes
    if not verified:
        assert "does not verify x-amz-checksum-sha256" in notes
    assert "multipart" in notes
    # Idempotent; the probes are under capstone/probes/, outside the vault's own key space.
    assert store.initialise().worm
    assert all(info.key.startswith("capstone/probes/") for info in store.list(""))
    store.check()


def test_bucket_without_object_lock_is_refused(s3_server: S3Server, s3_client: Any, tmp_path: Path) -> None:
    bucket = f"nolock-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=bucket)
    store = _store(s3_server, bucket, tmp_path)
    with pytest.raises(VaultConfigError, match=r"has no S3 Object Lock.*created") as refused:
        store.check()
    assert bucket in str(refused.value)
    with pytest.raises(VaultConfigError, match="no S3 Object Lock"):
        store.initialise()
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket)  # nothing was written


def test_wrong_secret_is_refused_without_showing_it(
    s3_server: S3Server, s3_lock_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-xyzzy")
    store = S3Store(s3_lock_bucket, staging_dir=tmp_path, client=default_client(attempts=1))
    with pytest.raises(VaultUnavailableError, match="refused our credentials") as refused:
        store.check()
    assert "xyzzy" not in str(refused.value) and s3_server.secret_key not in str(refused.value)
    with pytest.raises(VaultUnavailableError, match="refused our credentials"):
        store.head("anything")


def test_unreachable_endpoint_is_named_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-secret-y")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = S3Store("any", staging_dir=tmp_path, client=default_client(connect_timeout=1, attempts=1))
    started = time.monotonic()
    with pytest.raises(
        VaultUnavailableError, match=r"cannot reach the S3 server at http://127\.0\.0\.1:1"
    ) as e:
        store.check()
    assert time.monotonic() - started < 5
    assert "the-secret-y" not in str(e.value)


# -- write once ----------------------------------------------------------------------------------------


def test_locked_version_cannot_be_deleted_or_shortened(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    data = b"Archiefwet: te bewaren"
    retention = _retention()
    assert _put(store, _blob_key(data), data, retention=retention).created
    key = f"v/{_blob_key(data)}"
    (version,) = _versions(s3_client, s3_lock_bucket, key)
    head = s3_client.head_object(Bucket=s3_lock_bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == retention.retain_until
    assert head["Metadata"] == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "media-type": "text/plain",
        "retention-class": "archiefwet-overbrenging",
        "retain-until": retention.retain_until.isoformat(),
    }
    target = {"Bucket": s3_lock_bucket, "Key": key, "VersionId": version["VersionId"]}
    for extra in ({}, {"BypassGovernanceRetention": True}):
        refused = _refused(s3_client.delete_object, **target, **extra)
        assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    soon = datetime.now(UTC) + timedelta(days=1)
    _refused(
        s3_client.put_object_retention, **target, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": soon}
    )
    _refused(
        s3_client.put_object_retention,
        **target,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": retention.retain_until},
        BypassGovernanceRetention=True,
    )
    later = retention.retain_until + timedelta(days=1)  # extending is allowed
    s3_client.put_object_retention(**target, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
    assert s3_client.head_object(**target)["ObjectLockRetainUntilDate"] == later
    assert store.open(_blob_key(data)).read() == data
    assert [(i.key, i.size) for i in store.list("blobs/")] == [(_blob_key(data), len(data))]


def test_plain_delete_only_adds_a_marker_and_the_store_still_reads_it(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    data, manifest = b"nog steeds hier", b'{"seq": 1}'
    _put(store, _blob_key(data), data)
    _put(store, "manifests/000000000001.json", manifest, media_type="application/json")
    for key in (_blob_key(data), "manifests/000000000001.json"):
        marker = s3_client.delete_object(Bucket=s3_lock_bucket, Key=f"v/{key}")  # no version id
        assert marker["DeleteMarker"] is True
        assert (
            _refused(s3_client.head_object, Bucket=s3_lock_bucket, Key=f"v/{key}").response[
                "ResponseMetadata"
            ]["HTTPStatusCode"]
            == 404
        )
    info = store.head(_blob_key(data))
    assert info is not None and info.sha256 == hashlib.sha256(data).hexdigest() and info.size == len(data)
    assert info.retain_until is not None and info.media_type == "text/plain"
    assert store.open(_blob_key(data)).read() == data
    assert store.open("manifests/000000000001.json").read() == manifest
    assert [i.key for i in store.list("")] == [_blob_key(data), "manifests/000000000001.json"]
    # Writing again finds the hidden version: no second version, no silent overwrite.
    assert not _put(store, _blob_key(data), data).created
    assert not _put(store, "manifests/000000000001.json", manifest).created
    with pytest.raises(VaultConflictError, match=r"manifests/000000000001\.json"):
        _put(store, "manifests/000000000001.json", b'{"seq": 1, "forged": true}')
    for key in (_blob_key(data), "manifests/000000000001.json"):
        assert len(_versions(s3_client, s3_lock_bucket, f"v/{key}")) == 1
    with pytest.raises(KeyError):
        store.open("manifests/000000000002.json")
    assert store.head("manifests/000000000002.json") is None


def test_same_bytes_again_is_a_no_op(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    data = b"een keer is genoeg"
    first = _put(store, _blob_key(data), data)
    again = _put(store, _blob_key(data), data)
    spooled = tmp_path / "spooled"
    spooled.write_bytes(data)
    from_file = store.put_file(
        _blob_key(data),
        spooled,
        sha256=first.sha256,
        md5=hashlib.md5(data, usedforsecurity=False).digest(),
        size=len(data),
        media_type="text/plain",
        retention=_retention(),
    )
    assert (first.created, again.created, from_file.created) == (True, False, False)
    assert again.size == len(data)
    assert len(_versions(s3_client, s3_lock_bucket, f"v/{_blob_key(data)}")) == 1


def test_different_bytes_under_an_existing_key_are_refused(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    _put(store, "manifests/000000000001.json", b"origineel")
    with pytest.raises(VaultConflictError, match=r"'manifests/000000000001\.json' already holds different"):
        _put(store, "manifests/000000000001.json", b"vervalst")
    # An object the vault did not write (no sha256 metadata) is never taken for ours.
    s3_client.put_object(Bucket=s3_lock_bucket, Key="v/manifests/000000000002.json", Body=b"vreemd")
    with pytest.raises(VaultConflictError, match="000000000002"):
        _put(store, "manifests/000000000002.json", b"vreemd")
    assert len(_versions(s3_client, s3_lock_bucket, "v/manifests/000000000001.json")) == 1
    assert store.open("manifests/000000000001.json").read() == b"origineel"


def test_a_racing_writer_of_the_same_key_loses(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two hosts append manifest 1 at once: both look (nothing there), both write. The server keeps
    # both versions (it ignores If-None-Match); the first one written is the manifest, the second
    # writer must learn that it lost rather than count its manifest as stored.
    winner, loser = _store(s3_server, s3_lock_bucket, tmp_path), _store(s3_server, s3_lock_bucket, tmp_path)
    key, key2 = "manifests/000000000001.json", "manifests/000000000002.json"
    assert _put(winner, key, b"manifest of host A").created
    assert _put(winner, key2, b"same").created
    with monkeypatch.context() as patched:
        patched.setattr(loser, "_head", lambda key: None)  # the loser looked before the winner wrote
        with pytest.raises(VaultConflictError, match="stored first by another writer"):
            _put(loser, key, b"manifest of host B")
        # Racing with the same bytes is no conflict: the second writer simply did not create it.
        assert not _put(loser, key2, b"same").created
    assert len(_versions(s3_client, s3_lock_bucket, f"v/{key}")) == 2  # locked: it cannot be removed
    for store in (winner, loser):
        assert store.open(key).read() == b"manifest of host A"
        info = store.head(key)
        assert info is not None and info.sha256 == hashlib.sha256(b"manifest of host A").hexdigest()
    assert [i.key for i in winner.list("manifests/")] == [key, key2]


# -- multipart -------------------------------------------------------------------------------------


def test_large_file_goes_multipart_locked_and_reads_back(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    size = 40 * MiB
    path = tmp_path / "big"
    sha, md5 = _write_random_file(path, size)
    key = f"blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    retention = _retention(legal_hold=True)
    tracemalloc.start()
    try:
        result = store.put_file(
            key,
            path,
            sha256=sha,
            md5=md5,
            size=size,
            media_type="application/octet-stream",
            retention=retention,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == PutResult(key=key, sha256=sha, size=size, created=True)
    assert peak < PART_SIZE + 8 * MiB < size  # one part in memory at a time, never the whole file
    head = s3_client.head_object(Bucket=s3_lock_bucket, Key=f"v/{key}")
    assert head["ETag"].strip('"').endswith(f"-{-(-size // PART_SIZE)}")  # 16 + 16 + 8 MiB parts
    assert head["ContentLength"] == size
    # Ceph ignores the lock on CreateMultipartUpload: the store locked the version itself.
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == retention.retain_until
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    (version,) = _versions(s3_client, s3_lock_bucket, f"v/{key}")
    _refused(s3_client.delete_object, Bucket=s3_lock_bucket, Key=f"v/{key}", VersionId=version["VersionId"])
    digest, read = hashlib.sha256(), 0
    with store.open(key) as stream:
        for chunk in iter(lambda: stream.read(MiB), b""):
            digest.update(chunk)
            read += len(chunk)
    assert (digest.hexdigest(), read) == (sha, size)
    assert s3_client.list_multipart_uploads(Bucket=s3_lock_bucket).get("Uploads", []) == []
    assert not store.put_file(
        key, path, sha256=sha, md5=md5, size=size, media_type="application/octet-stream", retention=retention
    ).created


def test_a_failed_multipart_upload_is_aborted(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    size = MULTIPART_THRESHOLD + 4 * MiB
    path = tmp_path / "big"
    sha, md5 = _write_random_file(path, size)
    key = f"blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    real_upload_part = store.client.upload_part

    def upload_part(**kwargs: Any) -> Any:
        if kwargs["PartNumber"] == 2:  # injected: the connection breaks on the second part
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "UploadPart")
        return real_upload_part(**kwargs)

    monkeypatch.setattr(store.client, "upload_part", upload_part)
    with pytest.raises(VaultWriteError, match="refused to store"):
        store.put_file(
            key,
            path,
            sha256=sha,
            md5=md5,
            size=size,
            media_type="application/octet-stream",
            retention=_retention(),
        )
    assert s3_client.list_multipart_uploads(Bucket=s3_lock_bucket).get("Uploads", []) == []
    assert store.head(key) is None
    monkeypatch.undo()
    assert store.put_file(
        key,
        path,
        sha256=sha,
        md5=md5,
        size=size,
        media_type="application/octet-stream",
        retention=_retention(),
    ).created


def test_an_upload_that_does_not_match_its_md5_is_refused(
    s3_server: S3Server, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    data = b"onderweg beschadigd"
    with pytest.raises(VaultWriteError, match="BadDigest"):
        store.put_bytes(
            _blob_key(data),
            data,
            sha256=hashlib.sha256(data).hexdigest(),
            md5=hashlib.md5(b"something else", usedforsecurity=False).digest(),
            media_type="text/plain",
            retention=_retention(),
        )
    assert store.head(_blob_key(data)) is None


# -- legal hold and repair -------------------------------------------------------------------------


def test_legal_hold_blocks_deletion(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path, prefix="held")
    data = b"onder juridische bewaring"
    _put(store, _blob_key(data), data, retention=_retention(legal_hold=True))
    key = f"held/{_blob_key(data)}"
    (version,) = _versions(s3_client, s3_lock_bucket, key)
    target = {"Bucket": s3_lock_bucket, "Key": key, "VersionId": version["VersionId"]}
    assert s3_client.get_object_legal_hold(**target)["LegalHold"]["Status"] == "ON"
    _refused(s3_client.delete_object, **target)
    _refused(s3_client.delete_object, **target, BypassGovernanceRetention=True)
    assert store.open(_blob_key(data)).read() == data


def test_a_crash_before_the_explicit_lock_is_repaired_on_the_next_write(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    # Between completing a multipart upload and locking it, the object carries only the bucket's
    # default retention (1 day after `vault init`); the next write of the same bytes finishes the job.
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    store.initialise()
    data = b"halverwege onderbroken"
    sha, retention = hashlib.sha256(data).hexdigest(), _retention()
    key = f"v/{_blob_key(data)}"
    meta = {"sha256": sha, "retain-until": retention.retain_until.isoformat()}
    s3_client.put_object(Bucket=s3_lock_bucket, Key=key, Body=data, Metadata=meta)
    short = s3_client.head_object(Bucket=s3_lock_bucket, Key=key)["ObjectLockRetainUntilDate"]
    assert short < datetime.now(UTC) + timedelta(days=2)
    assert not _put(store, _blob_key(data), data, retention=retention).created
    head = s3_client.head_object(Bucket=s3_lock_bucket, Key=key)
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == (
        "COMPLIANCE",
        retention.retain_until,
    )
    # An older, unlocked leftover without a declared date (a bucket without default retention) too.
    other = _store(s3_server, s3_lock_bucket, tmp_path, prefix="w")
    s3_client.put_object_lock_configuration(
        Bucket=s3_lock_bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    s3_client.put_object(
        Bucket=s3_lock_bucket, Key=f"w/{_blob_key(data)}", Body=data, Metadata={"sha256": sha}
    )
    assert "ObjectLockMode" not in s3_client.head_object(Bucket=s3_lock_bucket, Key=f"w/{_blob_key(data)}")
    assert not _put(other, _blob_key(data), data, retention=retention).created
    assert (
        s3_client.head_object(Bucket=s3_lock_bucket, Key=f"w/{_blob_key(data)}")["ObjectLockMode"]
        == "COMPLIANCE"
    )


# -- through the vault -----------------------------------------------------------------------------


def test_the_vault_on_s3_survives_a_plain_delete_of_everything(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    store = _store(s3_server, s3_lock_bucket, tmp_path)
    vault = Vault.initialise(store, catalog_path=tmp_path / "c1.sqlite3", retention=RetentionPolicy())
    ref = vault.put_blob(b"Woo-verzoek: alles bewaard", media_type="text/plain")
    assert vault.store.capabilities.worm
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_lock_bucket, Prefix="v/")["Contents"]]
    for key in keys:
        s3_client.delete_object(Bucket=s3_lock_bucket, Key=key)
    assert "Contents" not in s3_client.list_objects_v2(Bucket=s3_lock_bucket, Prefix="v/")
    reopened = Vault.open(
        _store(s3_server, s3_lock_bucket, tmp_path),
        catalog_path=tmp_path / "c2.sqlite3",
        retention=RetentionPolicy(),
    )
    assert reopened.read_blob(ref.sha256) == b"Woo-verzoek: alles bewaard"

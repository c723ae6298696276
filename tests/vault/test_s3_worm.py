"""Write-once proofs on a real S3 server with Object Lock (Ceph RGW on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.ceph import S3Server
from vault import (
    RetentionPolicy,
    Vault,
    VaultConfigError,
    VaultConflictError,
    VaultNotInitialisedError,
    VaultUnavailableError,
)
from vault.records import sha256_hex
from vault.s3 import S3Store, default_client


@pytest.fixture
def s3_vault(s3_server: S3Server, s3_lock_bucket: str, tmp_path: Path) -> Vault:
    store = S3Store(s3_lock_bucket, "v", staging_dir=tmp_path / "staging", client=s3_server.client())
    return Vault.initialise(store, catalog_path=tmp_path / "catalog.sqlite3", retention=RetentionPolicy())


def _versions(client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    listing = client.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in listing.get("Versions", []) if v["Key"] == key]


def test_locked_version_cannot_be_deleted_or_shortened(
    s3_vault: Vault, s3_client: Any, s3_lock_bucket: str
) -> None:
    ref = s3_vault.put_blob(b"Archiefwet: te bewaren", media_type="text/plain")
    key = f"v/{ref.key}"
    (version,) = _versions(s3_client, s3_lock_bucket, key)
    head = s3_client.head_object(Bucket=s3_lock_bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=365 * 9)
    assert head["Metadata"]["sha256"] == ref.sha256
    for extra in ({}, {"BypassGovernanceRetention": True}):
        with pytest.raises(ClientError) as refused:
            s3_client.delete_object(Bucket=s3_lock_bucket, Key=key, VersionId=version["VersionId"], **extra)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError):
        s3_client.put_object_retention(
            Bucket=s3_lock_bucket,
            Key=key,
            VersionId=version["VersionId"],
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)},
        )
    with pytest.raises(ClientError):
        s3_client.put_object_retention(
            Bucket=s3_lock_bucket,
            Key=key,
            VersionId=version["VersionId"],
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": head["ObjectLockRetainUntilDate"]},
        )
    assert s3_vault.read_blob(ref.sha256) == b"Archiefwet: te bewaren"


def test_plain_delete_only_adds_a_marker_and_the_vault_still_reads(
    s3_vault: Vault, s3_client: Any, s3_lock_bucket: str
) -> None:
    ref = s3_vault.put_blob(b"nog steeds hier", media_type="text/plain")
    key = f"v/{ref.key}"
    s3_client.delete_object(Bucket=s3_lock_bucket, Key=key)  # no version: a delete marker
    with pytest.raises(ClientError):
        s3_client.head_object(Bucket=s3_lock_bucket, Key=key)
    assert s3_vault.read_blob(ref.sha256) == b"nog steeds hier"
    info = s3_vault.store.head(ref.key)
    assert info is not None and info.sha256 == ref.sha256
    # Writing again finds the hidden version: no second version, no silent overwrite.
    again = s3_vault.put_blob(b"nog steeds hier", media_type="text/plain")
    assert not again.created
    assert len(_versions(s3_client, s3_lock_bucket, key)) == 1
    forged = b"vervalst"
    with pytest.raises(VaultConflictError):
        s3_vault.store.put_bytes(
            ref.key,
            forged,
            sha256=sha256_hex(forged),
            md5=hashlib.md5(forged, usedforsecurity=False).digest(),
            media_type="text/plain",
            retention=s3_vault.retention.for_class(),
        )
    assert len(_versions(s3_client, s3_lock_bucket, key)) == 1


def test_legal_hold_blocks_deletion(
    s3_server: S3Server, s3_lock_bucket: str, tmp_path: Path, s3_client: Any
) -> None:
    store = S3Store(s3_lock_bucket, "held", staging_dir=tmp_path / "s", client=s3_server.client())
    vault = Vault.initialise(
        store, catalog_path=tmp_path / "c.sqlite3", retention=RetentionPolicy(legal_hold=True)
    )
    ref = vault.put_blob(b"onder juridische bewaring", media_type="text/plain")
    key = f"held/{ref.key}"
    assert s3_client.get_object_legal_hold(Bucket=s3_lock_bucket, Key=key)["LegalHold"]["Status"] == "ON"
    (version,) = _versions(s3_client, s3_lock_bucket, key)
    with pytest.raises(ClientError):
        s3_client.delete_object(Bucket=s3_lock_bucket, Key=key, VersionId=version["VersionId"])


def test_large_blob_goes_multipart_and_reads_back(
    s3_vault: Vault, s3_client: Any, s3_lock_bucket: str
) -> None:
    data = os.urandom(1 << 20) * 40  # 40 MiB
    ref = s3_vault.put_blob(io.BytesIO(data), media_type="application/octet-stream")
    head = s3_client.head_object(Bucket=s3_lock_bucket, Key=f"v/{ref.key}")
    assert head["ETag"].strip('"').endswith("-3")  # three 16 MiB parts
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert hashlib.sha256(s3_vault.read_blob(ref.sha256)).hexdigest() == ref.sha256 == sha256_hex(data)


def test_bucket_without_object_lock_is_refused(s3_server: S3Server, s3_client: Any, tmp_path: Path) -> None:
    bucket = f"nolock-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=bucket)
    store = S3Store(bucket, staging_dir=tmp_path, client=s3_server.client())
    with pytest.raises(VaultConfigError, match="no S3 Object Lock"):
        store.check()
    with pytest.raises(VaultConfigError, match="no S3 Object Lock"):
        Vault.initialise(store, catalog_path=tmp_path / "c.sqlite3")


def test_missing_bucket_says_run_init(s3_server: S3Server, tmp_path: Path) -> None:
    store = S3Store(f"absent-{uuid.uuid4().hex[:12]}", staging_dir=tmp_path, client=s3_server.client())
    with pytest.raises(VaultNotInitialisedError, match="vault init"):
        store.check()


def test_wrong_credentials_are_named(
    s3_server: S3Server, s3_lock_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    store = S3Store(s3_lock_bucket, staging_dir=tmp_path, client=default_client(attempts=1))
    with pytest.raises(VaultUnavailableError, match="credentials") as refused:
        store.check()
    assert "not-the-secret" not in str(refused.value)


def test_unreachable_server_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = S3Store("any", staging_dir=tmp_path, client=default_client(connect_timeout=1, attempts=1))
    with pytest.raises(VaultUnavailableError, match=r"cannot reach the S3 server at http://127\.0\.0\.1:9"):
        store.check()


def test_an_unlocked_leftover_is_locked_when_written_again(
    s3_vault: Vault, s3_client: Any, s3_lock_bucket: str
) -> None:
    # A crash between completing a multipart upload and locking it leaves an identical, unlocked object.
    data = b"halverwege onderbroken"
    sha = sha256_hex(data)
    key = f"v/blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
    s3_client.put_object(Bucket=s3_lock_bucket, Key=key, Body=data, Metadata={"sha256": sha})
    assert "ObjectLockMode" not in s3_client.head_object(Bucket=s3_lock_bucket, Key=key)
    assert not s3_vault.put_blob(data, media_type="text/plain").created
    assert s3_client.head_object(Bucket=s3_lock_bucket, Key=key)["ObjectLockMode"] == "COMPLIANCE"

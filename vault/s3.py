"""S3 backend with Object Lock (compliance mode): the production vault.

Small, composable pieces around boto3, in the manner of s3transfer. Endpoint and credentials come
from the standard variables boto3 reads (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``), so the same code runs against AWS, Ceph RGW,
MinIO or any other S3 store that implements Object Lock.

Every object is written with Object Lock mode COMPLIANCE and its retain-until date, optionally under
legal hold, with ``Content-MD5`` (so every implementation verifies the upload) and its SHA-256 in the
object's metadata; ``x-amz-checksum-sha256`` only where ``vault init`` proved the server checks it.
Nothing relies on conditional writes: some servers (Ceph RGW 16) ignore ``If-None-Match``, so each
write first looks for an existing version of the key, including one hidden by a delete marker.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
)

from vault.errors import (
    VaultConfigError,
    VaultConflictError,
    VaultNotInitialisedError,
    VaultUnavailableError,
    VaultWriteError,
)
from vault.store import ObjectInfo, PutResult, Retention, StoreCapabilities

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
_PROBE_PREFIX = "capstone/probes/checksum-sha256/"
_CREDENTIAL_ERRORS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken"}


def default_client(*, connect_timeout: float = 10, read_timeout: float = 120, attempts: int = 5) -> Any:
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
        # Newer boto3 sends CRC32 trailers by default; older S3 servers reject them. We send
        # Content-MD5 ourselves and SHA-256 only where the server is known to check it.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
    )
    # A session of its own: boto3's default session caches credentials for the whole process.
    return boto3.session.Session().client("s3", config=config)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class S3Store:
    """A write-once object store in one S3 bucket (under an optional key prefix)."""

    def __init__(
        self, bucket: str, prefix: str = "", *, staging_dir: Path, client: Any | None = None
    ) -> None:
        if not bucket:
            raise VaultConfigError("the S3 vault URL names no bucket (want s3://bucket[/prefix])")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._staging = Path(staging_dir)
        self._client = client
        self._capabilities = StoreCapabilities(worm=True)

    @classmethod
    def from_url(cls, url: str, *, staging_dir: Path, client: Any | None = None) -> S3Store:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise VaultConfigError(f"not an S3 vault URL (want s3://bucket[/prefix]): {url}")
        return cls(parsed.netloc, parsed.path, staging_dir=staging_dir, client=client)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = default_client()
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _endpoint(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", "") or "the default AWS endpoint")

    def _unavailable(self, exc: Exception) -> VaultUnavailableError:
        if isinstance(exc, ClientError) and _code(exc) in _CREDENTIAL_ERRORS:
            return VaultUnavailableError(
                f"the S3 server at {self._endpoint()} refused our credentials ({_code(exc)}): check "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        if isinstance(exc, NoCredentialsError):
            return VaultUnavailableError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
            return VaultUnavailableError(f"cannot reach the S3 server at {self._endpoint()}: {exc}")
        return VaultUnavailableError(f"S3 request to {self._endpoint()} failed: {exc}")

    # -- lifecycle ---------------------------------------------------------------------------------

    def initialise(self) -> StoreCapabilities:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _status(exc) != 404 and _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._unavailable(exc) from exc
            try:
                self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
            except ClientError as create_exc:
                raise self._unavailable(create_exc) from create_exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc
        self.check()
        self._capabilities = StoreCapabilities(
            worm=True,
            checksum_sha256=self._server_checks_sha256(),
            notes=self._notes(),
        )
        return self._capabilities

    def _notes(self) -> tuple[str, ...]:
        return ("S3 Object Lock, compliance mode: the server refuses deletion and retention shortening",)

    def _server_checks_sha256(self) -> bool:
        """Detect, don't assume: upload a probe with a deliberately wrong x-amz-checksum-sha256.
        A server that checks refuses it; one that does not stores the probe (harmless, tiny)."""
        data = b"capstone checksum probe"
        wrong = _b64(b"\x00" * 32)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(f"{_PROBE_PREFIX}{uuid.uuid4().hex}"),
                Body=data,
                ChecksumSHA256=wrong,
            )
        except ClientError as exc:
            return _status(exc) == 400 or _code(exc) in (
                "BadDigest",
                "InvalidRequest",
                "XAmzContentChecksumMismatch",
            )
        except (BotoCoreError, OSError):
            return False
        return False

    def check(self) -> None:
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            code = _code(exc)
            if code in ("NoSuchBucket", "404") or (
                _status(exc) == 404 and code != "ObjectLockConfigurationNotFoundError"
            ):
                raise VaultNotInitialisedError(
                    f"the bucket {self.bucket!r} does not exist at {self._endpoint()}; run `capstone vault init`"
                ) from exc
            if code == "ObjectLockConfigurationNotFoundError" or _status(exc) == 404:
                raise VaultConfigError(self._no_lock_message()) from exc
            raise self._unavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc
        if config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise VaultConfigError(self._no_lock_message())

    def _no_lock_message(self) -> str:
        return (
            f"the bucket {self.bucket!r} has no S3 Object Lock: Capstone refuses to use it. Object Lock can "
            "only be enabled when a bucket is created: create a new bucket with Object Lock enabled "
            "(or let `capstone vault init` create it)"
        )

    def use_capabilities(self, capabilities: StoreCapabilities) -> None:
        self._capabilities = StoreCapabilities(
            worm=True, checksum_sha256=capabilities.checksum_sha256, notes=capabilities.notes or self._notes()
        )

    @property
    def capabilities(self) -> StoreCapabilities:
        return self._capabilities

    def staging_dir(self) -> Path:
        self._staging.mkdir(parents=True, exist_ok=True)
        return self._staging

    # -- reads -------------------------------------------------------------------------------------

    def _head_version(self, key: str) -> dict[str, Any] | None:
        """HEAD of the key; behind a delete marker, HEAD of the newest real version."""
        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
        except ClientError as exc:
            if _status(exc) not in (404, 405) and _code(exc) not in (
                "404",
                "NoSuchKey",
                "NotFound",
                "MethodNotAllowed",
            ):
                raise self._unavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc
        version = self._latest_real_version(key)
        if version is None:
            return None
        head = self.client.head_object(Bucket=self.bucket, Key=self._key(key), VersionId=version)
        return cast(dict[str, Any], head)

    def _latest_real_version(self, key: str) -> str | None:
        full = self._key(key)
        try:
            listing = self.client.list_object_versions(Bucket=self.bucket, Prefix=full, MaxKeys=100)
        except ClientError as exc:
            raise self._unavailable(exc) from exc
        versions = [v for v in listing.get("Versions", []) if v.get("Key") == full]
        if not versions:
            return None
        versions.sort(key=lambda v: v["LastModified"])
        return str(versions[0]["VersionId"])  # the first one written is the vault's object

    def head(self, key: str) -> ObjectInfo | None:
        head = self._head_version(key)
        if head is None:
            return None
        meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        retain = head.get("ObjectLockRetainUntilDate")
        return ObjectInfo(
            key=key,
            size=int(head.get("ContentLength", 0)),
            sha256=meta.get("sha256"),
            media_type=meta.get("media-type") or head.get("ContentType"),
            retain_until=retain if isinstance(retain, datetime) else None,
            metadata=meta,
        )

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) not in ("NoSuchKey", "404") and _status(exc) != 404:
                raise self._unavailable(exc) from exc
            version = self._latest_real_version(key)
            if version is None:
                raise KeyError(key) from None
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key), VersionId=version)
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return cast(BinaryIO, response["Body"])

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for entry in page.get("Contents", []):
                    yield ObjectInfo(key=entry["Key"][len(self.prefix) :], size=int(entry["Size"]))
        except ClientError as exc:
            raise self._unavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc

    # -- writes ------------------------------------------------------------------------------------

    def _existing(self, key: str, sha256: str, retention: Retention) -> PutResult | None:
        info = self.head(key)
        if info is None:
            return None
        if info.sha256 != sha256:
            raise VaultConflictError(
                f"{key!r} already holds different bytes (sha256 {info.sha256}); the vault never overwrites"
            )
        if info.retain_until is None:  # a crash between a multipart upload and its lock: lock it now
            self._lock_explicitly(self._key(key), retention)
        return PutResult(key=key, sha256=sha256, size=info.size, created=False)

    def _lock_args(self, sha256: str, media_type: str, retention: Retention) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Metadata": {
                "sha256": sha256,
                "media-type": media_type,
                "retention-class": retention.retention_class,
            },
            "ContentType": media_type,
            "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": retention.retain_until,
        }
        if retention.legal_hold:
            args["ObjectLockLegalHoldStatus"] = "ON"
        return args

    def put_bytes(
        self, key: str, data: bytes, *, sha256: str, md5: bytes, media_type: str, retention: Retention
    ) -> PutResult:
        existing = self._existing(key, sha256, retention)
        if existing is not None:
            return existing
        args = self._lock_args(sha256, media_type, retention)
        if self._capabilities.checksum_sha256:
            args["ChecksumSHA256"] = _b64(bytes.fromhex(sha256))
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentMD5=_b64(md5), **args
            )
        except ClientError as exc:
            if _code(exc) in _CREDENTIAL_ERRORS:
                raise self._unavailable(exc) from exc
            raise VaultWriteError(
                f"the S3 server refused {key!r}: {_code(exc)}; nothing was written"
            ) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return PutResult(key=key, sha256=sha256, size=len(data), created=True)

    def put_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        md5: bytes,
        size: int,
        media_type: str,
        retention: Retention,
    ) -> PutResult:
        if size < MULTIPART_THRESHOLD:
            return self.put_bytes(
                key,
                Path(path).read_bytes(),
                sha256=sha256,
                md5=md5,
                media_type=media_type,
                retention=retention,
            )
        existing = self._existing(key, sha256, retention)
        if existing is not None:
            return existing
        full = self._key(key)
        args = self._lock_args(sha256, media_type, retention)
        try:
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=full, **args)
        except ClientError as exc:
            raise VaultWriteError(
                f"the S3 server refused {key!r}: {_code(exc)}; nothing was written"
            ) from exc
        except (BotoCoreError, OSError) as exc:
            raise self._unavailable(exc) from exc
        upload_id = upload["UploadId"]
        parts = []
        try:
            with open(path, "rb") as handle:
                number = 1
                while chunk := handle.read(PART_SIZE):
                    part_md5 = hashlib.md5(chunk, usedforsecurity=False).digest()
                    answer = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        ContentMD5=_b64(part_md5),
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                    number += 1
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException as exc:
            with contextlib.suppress(ClientError, BotoCoreError, OSError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            if isinstance(exc, ClientError):
                raise VaultWriteError(f"the S3 server refused a part of {key!r}: {_code(exc)}") from exc
            if isinstance(exc, BotoCoreError | OSError):
                raise self._unavailable(exc) from exc
            raise
        self._lock_explicitly(full, retention)
        stored = self.head(key)
        if stored is None or stored.size != size or stored.sha256 != sha256:
            raise VaultWriteError(f"{key!r} did not arrive whole on the S3 server")
        return PutResult(key=key, sha256=sha256, size=size, created=True)

    def _lock_explicitly(self, full_key: str, retention: Retention) -> None:
        """Some servers (Ceph RGW 16) ignore Object Lock parameters on CreateMultipartUpload: set the
        retention (and legal hold) on the completed version, and verify the server holds it."""
        version = self.client.head_object(Bucket=self.bucket, Key=full_key).get("VersionId")
        target: dict[str, Any] = {"Bucket": self.bucket, "Key": full_key}
        if version:
            target["VersionId"] = version
        head = self.client.head_object(**target)
        if head.get("ObjectLockMode") != "COMPLIANCE":
            self.client.put_object_retention(
                **target, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retention.retain_until}
            )
        if retention.legal_hold and head.get("ObjectLockLegalHoldStatus") != "ON":
            self.client.put_object_legal_hold(**target, LegalHold={"Status": "ON"})
        head = self.client.head_object(**target)
        if head.get("ObjectLockMode") != "COMPLIANCE" or head.get("ObjectLockRetainUntilDate") is None:
            raise VaultWriteError(
                f"the S3 server did not lock {full_key!r} in compliance mode: refusing to count it as archived"
            )

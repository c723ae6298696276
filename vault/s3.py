"""S3 backend with Object Lock (compliance mode): the production vault.

Endpoint and credentials come from the standard variables boto3 reads (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, or any other source in
boto3's credential chain), so the same code runs against AWS, Ceph RGW, MinIO or any other S3 store
that implements Object Lock.

Every object is written with Object Lock mode COMPLIANCE and its retain-until date, optionally under
legal hold, with ``Content-MD5`` (so every implementation verifies the upload) and its SHA-256 in the
object's metadata; ``x-amz-checksum-sha256`` only where ``vault init`` proved the server checks it.

What the S3 API does not guarantee everywhere, this store does not rely on (measured on Ceph RGW 16):

* Conditional writes (``If-None-Match: *``) are ignored, so a write first makes sure no version of
  the key exists, including one hidden by a delete marker; a key that is not content-addressed (the
  descriptor, manifests) is checked again after the write, so two writers racing for it cannot both
  believe they stored it. The *canonical* version of a key is its oldest real version.

What a write costs (issue 20): for a content-addressed key (blobs, segments) the vault's catalog is
the store's presence index (:meth:`S3Store.use_presence`). One listing of those keys (1 request per
1,000 keys, seeing through delete markers), taken when a writer first needs it and again once it is
older than :data:`LISTING_MAX_AGE`, vouches for absence: a key it did not show and no writer stored
since is written with one PUT, no HEAD, no version listing; a key this host stored or checked costs no
request at all; a key only the listing showed is checked with a HEAD (which also repairs a lock a crash
left short). Without the index (or for other keys) the store asks the server before every write.

Never a second version: within a process one writer per key at a time (:class:`~vault.store.KeyLocks`),
so the second finds the key stored. Two *processes* (capture workers) with listings that both show a
key absent may both write it (RGW ignores conditional writes): both versions hold the same bytes and
are locked, nothing is lost, and the next listing and ``vault verify`` (``second_versions``) report
the key. Detecting this per write would cost a version listing per object.
* A plain DELETE in a versioned bucket adds a delete marker; the locked version stays. Reads and
  listings look behind delete markers, so the vault still sees every object it wrote.
* Object Lock parameters on CreateMultipartUpload are ignored; a bucket's default retention is
  applied. ``vault init`` gives the bucket a short default retention (COMPLIANCE, 1 day) so a
  multipart object is never unlocked, and every multipart object is then locked explicitly to its
  full retain-until date, and verified.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, cast
from urllib.parse import urlparse

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
)

from vault import layout
from vault.errors import (
    VaultConfigError,
    VaultConflictError,
    VaultLockedError,
    VaultNotInitialisedError,
    VaultUnavailableError,
    VaultWriteError,
)
from vault.store import (
    BatchItem,
    KeyLocks,
    ObjectInfo,
    PresenceIndex,
    PutResult,
    Retention,
    StoreCapabilities,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024
DEFAULT_RETENTION_DAYS = 1  # the bucket's safety net; every object is locked explicitly for longer
_PROBE_PREFIX = "capstone/probes/"
_CREDENTIAL_ERRORS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken"}
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion", "MethodNotAllowed"}
_CHECKSUM_REFUSED = {"BadDigest", "InvalidRequest", "XAmzContentChecksumMismatch", "InvalidDigest"}
_UNLOCKED_NOTE = "the server does not enforce"
# Requests a store may have in flight: writers of several accounts, each with several PUTs. The
# connection pool holds as many connections, so no thread waits for one (botocore's default is 10).
MAX_CONNECTIONS = 32
# A listing of the store's content-addressed keys vouches for their absence this long (seconds), or
# LISTING_SHARE times as long as the listing took, whichever is longer: listing stays a small share of
# the work even for a vault of millions of objects (1 request per 1,000 keys).
LISTING_MAX_AGE = 600.0
LISTING_SHARE = 20.0
LISTING_WAIT = 5.0  # seconds a writer waits for another thread's listing before asking the server
_VERIFIED, _ABSENT, _ASK = "verified", "absent", "ask"


def client_config(
    *,
    connect_timeout: float = 10,
    read_timeout: float = 120,
    attempts: int = 5,
    max_connections: int = MAX_CONNECTIONS,
) -> Config:
    """botocore settings for every S3 client of the vault."""
    return Config(
        max_pool_connections=max_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
        # Newer boto3 sends CRC32 aws-chunked trailers by default; older S3 servers reject them. We
        # send Content-MD5 ourselves, and SHA-256 only where the server is known to check it.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
    )


# botocore's data loader parses (and caches) the S3 service model: one loader for every client of the
# process, so opening a vault again (a capture pass opens it for the capture and for the audit seal)
# does not parse the model again. Credentials stay per session.
_LOADER = botocore.loaders.create_loader()


def default_client(
    *,
    connect_timeout: float = 10,
    read_timeout: float = 120,
    attempts: int = 5,
    max_connections: int = MAX_CONNECTIONS,
) -> S3Client:
    """An S3 client configured from the standard AWS environment variables and config files. One per
    store: boto3 clients are thread-safe, and its pool is shared by every thread of the store."""
    config = client_config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        attempts=attempts,
        max_connections=max_connections,
    )
    # A session of its own: boto3's default session caches credentials for the whole process.
    session = botocore.session.get_session()
    session.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=session).client("s3", config=config)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _not_found(exc: ClientError) -> bool:
    return _status(exc) in (404, 405) or _code(exc) in _NOT_FOUND


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _content_addressed(key: str) -> bool:
    """Keys named by the SHA-256 of their bytes: every version of such a key is interchangeable."""
    return layout.sha_of_blob_key(key) is not None or layout.sha_of_segment_key(key) is not None


def _named_sha(key: str) -> str | None:
    """The SHA-256 a content-addressed key names (None for other keys)."""
    return layout.sha_of_blob_key(key) or layout.sha_of_segment_key(key)


def _metadata(head: Mapping[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}


def _declared_until(head: Mapping[str, Any]) -> datetime | None:
    """The retain-until date the vault wrote into the object's metadata (None for older objects)."""
    value = _metadata(head).get("retain-until")
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _locked_until(head: Mapping[str, Any], until: datetime) -> bool:
    """Whether a HEAD response shows a COMPLIANCE lock lasting at least until ``until``."""
    current = head.get("ObjectLockRetainUntilDate")
    if head.get("ObjectLockMode") != "COMPLIANCE" or not isinstance(current, datetime):
        return False
    # Servers may round the date they store to the second or millisecond.
    return current >= until - timedelta(seconds=1)


PUT_MANY_THREADS = 8  # concurrent PUTs of one batch (put_many)


class S3Store:
    """A write-once object store in one S3 bucket with Object Lock (under an optional key prefix)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        staging_dir: Path,
        client: Any | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if not bucket:
            raise VaultConfigError("the S3 vault URL names no bucket (want s3://bucket[/prefix])")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._staging = Path(staging_dir)
        self._client: S3Client | None = client
        self._client_lock = threading.Lock()
        self._max_connections = max_connections
        self._capabilities = StoreCapabilities(worm=True)
        self._writers = KeyLocks()  # one writer per key at a time in this process
        self._presence: PresenceIndex | None = None
        self._listing = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, staging_dir: Path, client: Any | None = None) -> S3Store:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise VaultConfigError(f"not an S3 vault URL (want s3://bucket[/prefix]): {url}")
        return cls(parsed.netloc, parsed.path, staging_dir=staging_dir, client=client)

    @property
    def client(self) -> S3Client:
        if self._client is None:
            with self._client_lock:  # one client for every thread: one connection pool
                if self._client is None:
                    self._client = default_client(max_connections=self._max_connections)
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def _endpoint(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", "") or "the default AWS endpoint")

    # -- errors ------------------------------------------------------------------------------------

    def _unavailable(self, exc: Exception) -> VaultUnavailableError:
        """A clear error for a failed request. Never includes credentials (botocore's don't either)."""
        if isinstance(exc, ClientError) and _code(exc) in _CREDENTIAL_ERRORS:
            return VaultUnavailableError(
                f"the S3 server at {self._endpoint()} refused our credentials ({_code(exc)}) for bucket "
                f"{self.bucket!r}: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        if isinstance(exc, NoCredentialsError):
            return VaultUnavailableError("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if isinstance(exc, EndpointConnectionError | ConnectionClosedError):
            return VaultUnavailableError(f"cannot reach the S3 server at {self._endpoint()}: {exc}")
        return VaultUnavailableError(f"S3 request to {self._endpoint()} failed: {exc}")

    def _fail(self, exc: Exception, *, writing: str | None = None) -> NoReturn:
        """Raise the vault error for a failed request (``writing``: the key a write was refused for)."""
        if writing is not None and isinstance(exc, ClientError) and _code(exc) not in _CREDENTIAL_ERRORS:
            raise VaultWriteError(
                f"the S3 server refused to store {writing!r} ({_code(exc)}: {exc}); the vault did not count it"
            ) from exc
        raise self._unavailable(exc) from exc

    @contextlib.contextmanager
    def _requests(self, *, writing: str | None = None) -> Iterator[None]:
        try:
            yield
        except (ClientError, BotoCoreError) as exc:
            self._fail(exc, writing=writing)

    # -- lifecycle ---------------------------------------------------------------------------------

    def initialise(self) -> StoreCapabilities:
        """Create the bucket with Object Lock if missing, give it a default retention if it has none,
        and prove by probes what the server does: enforce COMPLIANCE locks (required), verify
        x-amz-checksum-sha256, honour lock parameters on multipart uploads."""
        self._create_bucket_if_missing()
        self.check()
        notes = [self._ensure_default_retention()]
        notes.append(self._probe_worm())
        checks_sha256 = self._probe_checksum_sha256()
        notes.append(
            "the server verifies x-amz-checksum-sha256: it is sent with every upload"
            if checks_sha256
            else "the server does not verify x-amz-checksum-sha256 (a wrong value was accepted): uploads "
            "are verified by Content-MD5, content by the SHA-256 in each object's metadata, re-checked on read"
        )
        notes.append(self._probe_multipart_lock())
        self._capabilities = StoreCapabilities(worm=True, checksum_sha256=checks_sha256, notes=tuple(notes))
        return self._capabilities

    def _create_bucket_if_missing(self) -> None:
        with self._requests():
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as exc:
                if not _not_found(exc):
                    raise
        region = self.client.meta.region_name
        args: dict[str, Any] = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
        if region and region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with self._requests():
            try:
                self.client.create_bucket(**args)
            except ClientError as exc:
                # S3 servers other than AWS may not know the region name as a location constraint.
                if "CreateBucketConfiguration" not in args or "LocationConstraint" not in _code(exc):
                    raise
                self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)

    def _ensure_default_retention(self) -> str:
        with self._requests():
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
            rule = config.get("Rule", {}).get("DefaultRetention")
            if rule:
                period = f"{rule.get('Days') or rule.get('Years')} {'days' if rule.get('Days') else 'years'}"
                return f"bucket default retention: {rule.get('Mode')}, {period} (kept as configured)"
            self.client.put_object_lock_configuration(
                Bucket=self.bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": DEFAULT_RETENTION_DAYS}},
                },
            )
        return (
            f"bucket default retention set to COMPLIANCE, {DEFAULT_RETENTION_DAYS} day: no object is ever "
            "unlocked, even before its own retention is set"
        )

    def _probe_key(self, kind: str) -> str:
        return self._key(f"{_PROBE_PREFIX}{kind}/{uuid.uuid4().hex}")

    def _probe_worm(self) -> str:
        """Write a probe locked for one day and try to delete its version: the server must refuse."""
        key = self._probe_key("worm")
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        with self._requests(writing=key):
            put = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=b"capstone worm probe",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=until,
            )
            version = put.get("VersionId")
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        if not version or not _locked_until(head, until):
            raise VaultConfigError(
                f"the S3 server at {self._endpoint()} did not lock a probe object in compliance mode: "
                f"{_UNLOCKED_NOTE} S3 Object Lock, so it cannot hold a write-once vault"
            )
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
        except ClientError as exc:
            if _status(exc) == 403 or _code(exc) == "AccessDenied":
                return (
                    "S3 Object Lock, compliance mode, proven at init: deleting a locked version was refused"
                )
            self._fail(exc)
        except BotoCoreError as exc:
            self._fail(exc)
        raise VaultConfigError(
            f"the S3 server at {self._endpoint()} deleted a COMPLIANCE-locked probe version: "
            f"{_UNLOCKED_NOTE} S3 Object Lock, so it cannot hold a write-once vault"
        )

    def _probe_checksum_sha256(self) -> bool:
        """Detect, don't assume: upload a probe with a deliberately wrong x-amz-checksum-sha256.
        A server that checks refuses it; one that does not stores the probe (tiny, locked a day)."""
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._probe_key("checksum-sha256"),
                Body=b"capstone checksum probe",
                ChecksumSHA256=_b64(b"\x00" * 32),
            )
        except ClientError as exc:
            if _code(exc) in _CREDENTIAL_ERRORS:
                self._fail(exc)
            return _status(exc) == 400 or _code(exc) in _CHECKSUM_REFUSED
        except BotoCoreError as exc:
            self._fail(exc)
        return False

    def _probe_multipart_lock(self) -> str:
        """Whether the server applies lock parameters given to CreateMultipartUpload (for the notes:
        multipart objects are locked explicitly after completion either way)."""
        key = self._probe_key("multipart-lock")
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        with self._requests(writing=key):
            upload = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
            )
            body = b"capstone multipart probe"
            part = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload["UploadId"],
                PartNumber=1,
                Body=body,
                ContentMD5=_b64(hashlib.md5(body, usedforsecurity=False).digest()),
            )
            done = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload["UploadId"],
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            )
            head = self._head_version(key, done.get("VersionId"))
        applied = head.get("ObjectLockRetainUntilDate")
        if (
            head.get("ObjectLockMode") == "COMPLIANCE"
            and isinstance(applied, datetime)
            and (abs(applied - until) < timedelta(minutes=1))
        ):
            return "the server applies Object Lock parameters of multipart uploads"
        return (
            "the server ignores Object Lock parameters of multipart uploads: each multipart object is "
            "locked explicitly after completion, and verified"
        )

    def check(self) -> None:
        """Refuse a bucket without Object Lock, a missing bucket, refused credentials, no server."""
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            code = _code(exc)
            if code == "ObjectLockConfigurationNotFoundError":
                raise VaultConfigError(self._no_lock_message()) from exc
            if code in ("NoSuchBucket", "404") or _status(exc) == 404:
                raise VaultNotInitialisedError(
                    f"the bucket {self.bucket!r} does not exist at {self._endpoint()}; run "
                    "`capstone vault init` to create it (with Object Lock)"
                ) from exc
            self._fail(exc)
        except BotoCoreError as exc:
            self._fail(exc)
        if config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise VaultConfigError(self._no_lock_message())

    def _no_lock_message(self) -> str:
        return (
            f"the bucket {self.bucket!r} at {self._endpoint()} has no S3 Object Lock: Capstone refuses to "
            "use it. Object Lock can only be enabled when a bucket is created: create a new bucket with "
            "Object Lock enabled (or let `capstone vault init` create it)"
        )

    def use_capabilities(self, capabilities: StoreCapabilities) -> None:
        self._capabilities = StoreCapabilities(
            worm=True,
            checksum_sha256=capabilities.checksum_sha256,
            notes=capabilities.notes or ("S3 Object Lock, compliance mode",),
        )

    @property
    def capabilities(self) -> StoreCapabilities:
        return self._capabilities

    def staging_dir(self) -> Path:
        self._staging.mkdir(parents=True, exist_ok=True)
        return self._staging

    # -- versions ----------------------------------------------------------------------------------

    def _versions(self, key: str) -> list[dict[str, Any]]:
        """The real versions of ``key`` (no delete markers), oldest first."""
        full = self._key(key)
        found: list[dict[str, Any]] = []
        with self._requests():
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                found.extend(dict(v) for v in page.get("Versions", []) if v.get("Key") == full)
        found.reverse()  # servers list the versions of a key newest first
        found.sort(key=lambda v: v["LastModified"])  # stable: keeps the server's order for equal times
        return found

    def _head_version(self, full_key: str, version: str | None) -> dict[str, Any]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": full_key}
        if version:
            args["VersionId"] = version
        return cast(dict[str, Any], self.client.head_object(**args))

    def _canonical_head(self, key: str) -> dict[str, Any] | None:
        """HEAD of the key's oldest real version: the one the vault wrote, even behind a delete
        marker or another writer's later version."""
        versions = self._versions(key)
        if not versions:
            return None
        with self._requests():
            return self._head_version(self._key(key), str(versions[0]["VersionId"]))

    def _head(self, key: str) -> dict[str, Any] | None:
        if _content_addressed(key):  # every version has the same bytes: the plain HEAD will do
            try:
                return self._head_version(self._key(key), None)
            except ClientError as exc:
                if not _not_found(exc):  # else: absent, or hidden by a delete marker
                    self._fail(exc)
            except BotoCoreError as exc:
                self._fail(exc)
        return self._canonical_head(key)

    # -- reads -------------------------------------------------------------------------------------

    def head(self, key: str) -> ObjectInfo | None:
        head = self._head(key)
        if head is None:
            return None
        meta = _metadata(head)
        retain = head.get("ObjectLockRetainUntilDate")
        return ObjectInfo(
            key=key,
            size=int(head.get("ContentLength", 0)),
            sha256=meta.get("sha256"),
            media_type=meta.get("media-type") or head.get("ContentType"),
            retain_until=retain if isinstance(retain, datetime) else None,
            metadata=meta,
            legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def open(self, key: str) -> BinaryIO:
        full = self._key(key)
        if _content_addressed(key):
            try:
                return cast(BinaryIO, self.client.get_object(Bucket=self.bucket, Key=full)["Body"])
            except ClientError as exc:
                if not _not_found(exc):
                    self._fail(exc)
            except BotoCoreError as exc:
                self._fail(exc)
        versions = self._versions(key)
        if not versions:
            raise KeyError(key)
        with self._requests():
            response = self.client.get_object(
                Bucket=self.bucket, Key=full, VersionId=str(versions[0]["VersionId"])
            )
        return cast(BinaryIO, response["Body"])

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every key under ``prefix`` that has a real version, in key order, also those a plain
        DELETE hid behind a delete marker (size: of the key's oldest version; ``versions``: how many
        real versions the key has)."""
        current: tuple[str, int] | None = None
        versions = 0
        with self._requests():
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for version in page.get("Versions", []):
                    key, size = version["Key"][len(self.prefix) :], int(version.get("Size", 0))
                    if current is not None and current[0] != key:
                        yield ObjectInfo(key=current[0], size=current[1], versions=versions)
                        versions = 0
                    current = (key, size)  # versions of a key come newest first: keep the last
                    versions += 1
        if current is not None:
            yield ObjectInfo(key=current[0], size=current[1], versions=versions)

    # -- what the store knows exists (the presence index) ------------------------------------------

    def use_presence(self, index: PresenceIndex) -> None:
        """Remember content-addressed keys in ``index`` (the vault's catalog): a key a fresh listing
        did not show and no writer stored since is absent, so it is written without asking the
        server first; a key this host stored or checked is not written again."""
        self._presence = index

    def _known(self, key: str, sha256: str) -> str:
        """``_VERIFIED``: stored (or checked) by a writer of this host and seen by the last listing or
        since; ``_ABSENT``: a fresh listing vouches that no version exists; ``_ASK``: ask the server."""
        index = self._presence
        if index is None or _named_sha(key) != sha256 or not self._listing_fresh(index):
            return _ASK  # not content-addressed, or bytes that do not belong under this key
        state = index.store_key_state(key)
        if state is None:
            return _ABSENT
        return _VERIFIED if state == 1 else _ASK

    def _remember(self, key: str) -> None:
        if self._presence is not None and _content_addressed(key):
            self._presence.add_store_key(key)

    @staticmethod
    def _fresh(last: tuple[float, float] | None) -> bool:
        return last is not None and time.time() - last[0] <= max(LISTING_MAX_AGE, LISTING_SHARE * last[1])

    def _listing_fresh(self, index: PresenceIndex) -> bool:
        """Whether the index holds a listing fresh enough to vouch for absence; takes a new one when it
        does not. One thread lists; the others wait for it a little (a small vault lists in one
        request), then ask the server rather than wait for a long listing."""
        if self._fresh(index.last_listing()):
            return True
        if not self._listing.acquire(timeout=LISTING_WAIT):
            return False
        try:
            if not self._fresh(index.last_listing()):
                self.relist(index)
        finally:
            self._listing.release()
        return True

    def relist(self, index: PresenceIndex) -> dict[str, int]:
        """List every content-addressed key (blobs and segments, behind delete markers too) into
        ``index``, with its number of versions; returns the keys with more than one version (two
        writers in different processes raced for them: reported, the bytes are the same)."""
        started = time.time()
        doubled: dict[str, int] = {}
        for prefix in (layout.BLOB_PREFIX, layout.SEGMENT_PREFIX):
            batch: list[tuple[str, int]] = []
            for info in self.list(prefix):
                batch.append((info.key, info.versions))
                if info.versions > 1:
                    doubled[info.key] = info.versions
                if len(batch) >= 1000:
                    index.add_listed_keys(batch, started)
                    batch = []
            index.add_listed_keys(batch, started)
        index.finish_listing(started, time.time() - started)
        return doubled

    # -- writes ------------------------------------------------------------------------------------

    def _existing(self, key: str, sha256: str, retention: Retention) -> PutResult | None:
        """Put-if-absent without conditional writes: None if no version of ``key`` exists."""
        head = self._head(key)
        if head is None:
            return None
        stored = _metadata(head).get("sha256")
        if stored != sha256:
            raise VaultConflictError(
                f"{key!r} already holds different bytes (sha256 {stored}); the vault never overwrites"
            )
        # A crash between completing a multipart upload and locking it leaves the object short of the
        # retention it declares (or, on a bucket without default retention, unlocked): finish it now.
        declared = _declared_until(head)
        if not _locked_until(head, declared or retention.retain_until) and (
            declared is not None or head.get("ObjectLockMode") is None
        ):
            self._lock(key, head.get("VersionId"), declared or retention.retain_until, retention.legal_hold)
        return PutResult(key=key, sha256=sha256, size=int(head.get("ContentLength", 0)), created=False)

    def _object_args(self, sha256: str, media_type: str, retention: Retention) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Metadata": {
                "sha256": sha256,
                "media-type": media_type,
                "retention-class": retention.retention_class,
                "retain-until": retention.retain_until.isoformat(),
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
        with self._writers.hold(key):  # the second writer of a key waits, then finds it stored
            known = self._known(key, sha256)
            if known == _VERIFIED:
                return PutResult(key=key, sha256=sha256, size=len(data), created=False)
            if known == _ASK:
                existing = self._existing(key, sha256, retention)
                if existing is not None:
                    self._remember(key)
                    return existing
            result = self._put_single(
                key, data, sha256=sha256, md5=md5, media_type=media_type, retention=retention
            )
            self._remember(key)
            return result

    def _put_single(
        self, key: str, data: bytes, *, sha256: str, md5: bytes, media_type: str, retention: Retention
    ) -> PutResult:
        """One PutObject, locked by its own parameters (``vault init`` proved the server honours them);
        its answer (the new version's id) is all the store needs to know."""
        args = self._object_args(sha256, media_type, retention)
        if self._capabilities.checksum_sha256:
            args["ChecksumSHA256"] = _b64(bytes.fromhex(sha256))
        with self._requests(writing=key):
            put = self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentMD5=_b64(md5), **args
            )
        return self._claimed(key, sha256, len(data), put.get("VersionId"))

    def put_many(self, items: Sequence[BatchItem]) -> builtins.list[PutResult]:
        """A batch as concurrent single PUTs: each is durable when the server answers it, so the
        batch is durable when the last one returns (no group commit to gain)."""

        def put(item: BatchItem) -> PutResult:
            md5 = hashlib.md5(item.data, usedforsecurity=False).digest()
            return self.put_bytes(
                item.key, item.data, sha256=item.sha256, md5=md5, media_type=item.media_type,
                retention=item.retention,
            )  # fmt: skip

        if len(items) <= 1:
            return [put(item) for item in items]
        with ThreadPoolExecutor(min(PUT_MANY_THREADS, len(items)), thread_name_prefix="s3-put-many") as pool:
            return list(pool.map(put, items))

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
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise VaultWriteError(f"cannot read the spooled file for {key!r}: {exc}") from exc
            return self.put_bytes(
                key, data, sha256=sha256, md5=md5, media_type=media_type, retention=retention
            )
        with self._writers.hold(key):
            known = self._known(key, sha256)
            if known == _VERIFIED:
                return PutResult(key=key, sha256=sha256, size=size, created=False)
            if known == _ASK:
                existing = self._existing(key, sha256, retention)
                if existing is not None:
                    self._remember(key)
                    return existing
            version = self._multipart_upload(key, path, sha256, media_type, retention)
            self._lock_new(key, version, size, sha256, retention)
            result = self._claimed(key, sha256, size, version)
            self._remember(key)
            return result

    def _lock_new(self, key: str, version: str | None, size: int, sha256: str, retention: Retention) -> None:
        """Lock a just completed multipart object (the server may have ignored the lock parameters of
        CreateMultipartUpload) and read it back once: whole, ours, locked, held if asked."""
        full = self._key(key)
        target: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if version:
            target["VersionId"] = version
        with self._requests(writing=key):
            try:
                self.client.put_object_retention(
                    **target, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retention.retain_until}
                )
                if retention.legal_hold:
                    self.client.put_object_legal_hold(**target, LegalHold={"Status": "ON"})
            except ClientError:
                # e.g. a server that already applied a longer lock and refuses to "shorten" it: lock
                # the careful way (read the lock first, extend only where needed).
                self._lock(key, version, retention.retain_until, retention.legal_hold)
            head = self._head_version(full, version)
        if int(head.get("ContentLength", -1)) != size or _metadata(head).get("sha256") != sha256:
            raise VaultWriteError(
                f"{key!r} did not arrive whole on the S3 server ({head.get('ContentLength')} of {size} bytes)"
            )
        if not _locked_until(head, retention.retain_until) or (
            retention.legal_hold and head.get("ObjectLockLegalHoldStatus") != "ON"
        ):
            raise VaultWriteError(
                f"the S3 server did not lock {key!r} in compliance mode until "
                f"{retention.retain_until.isoformat()}: refusing to count it as archived"
            )

    def _multipart_upload(
        self, key: str, path: Path, sha256: str, media_type: str, retention: Retention
    ) -> str | None:
        """Upload ``path`` part by part (never whole in memory), each part with its own Content-MD5;
        abort the upload on any failure. Returns the new version's id."""
        full = self._key(key)
        with self._requests(writing=key):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=full, **self._object_args(sha256, media_type, retention)
            )["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            with open(path, "rb") as handle:
                while chunk := handle.read(PART_SIZE):
                    answer = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=len(parts) + 1,
                        Body=chunk,
                        ContentMD5=_b64(hashlib.md5(chunk, usedforsecurity=False).digest()),
                    )
                    parts.append({"PartNumber": len(parts) + 1, "ETag": answer["ETag"]})
                    del chunk  # one part in memory at a time: free it before reading the next
            done = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException as exc:
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            if isinstance(exc, ClientError | BotoCoreError):
                self._fail(exc, writing=key)
            if isinstance(exc, OSError):
                raise VaultWriteError(f"cannot read the spooled file for {key!r}: {exc}") from exc
            raise
        return done.get("VersionId")

    def _lock(self, key: str, version: str | None, until: datetime, legal_hold: bool) -> None:
        """Lock a version in COMPLIANCE mode until ``until`` (extending, never shortening) and put it
        under legal hold if asked; verify that the server holds it so."""
        full = self._key(key)
        target: dict[str, Any] = {"Bucket": self.bucket, "Key": full}
        if version:
            target["VersionId"] = version
        with self._requests(writing=key):
            head = self._head_version(full, version)
            if not _locked_until(head, until):
                self.client.put_object_retention(
                    **target, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until}
                )
            if legal_hold and head.get("ObjectLockLegalHoldStatus") != "ON":
                self.client.put_object_legal_hold(**target, LegalHold={"Status": "ON"})
            head = self._head_version(full, version)
        if not _locked_until(head, until) or (legal_hold and head.get("ObjectLockLegalHoldStatus") != "ON"):
            raise VaultWriteError(
                f"the S3 server did not lock {key!r} in compliance mode until {until.isoformat()}: "
                "refusing to count it as archived"
            )

    def _claimed(self, key: str, sha256: str, size: int, version: str | None) -> PutResult:
        """After writing a key that is not content-addressed, make sure no other writer stored it first
        (the server may not honour conditional writes): the oldest version is the key's content."""
        if _content_addressed(key) or not version:
            return PutResult(key=key, sha256=sha256, size=size, created=True)
        first = self._canonical_head(key)
        if first is None or first.get("VersionId") == version:
            return PutResult(key=key, sha256=sha256, size=size, created=True)
        stored = _metadata(first).get("sha256")
        if stored == sha256:
            return PutResult(key=key, sha256=sha256, size=size, created=False)
        raise VaultConflictError(
            f"{key!r} was stored first by another writer with different bytes (sha256 {stored}); "
            "the vault never overwrites"
        )

    # -- the retention lifecycle (issue 21) --------------------------------------------------------

    def extend_retention(self, key: str, until: datetime) -> datetime:
        """Extend the COMPLIANCE lock of every version of ``key`` to at least ``until`` (the server
        refuses to shorten one); verified by reading each version's lock back."""
        versions = self._versions(key)
        if not versions:
            raise KeyError(key)
        held: list[datetime] = []
        full = self._key(key)
        for version in versions:
            version_id = str(version["VersionId"])
            self._lock(key, version_id, until, False)
            with self._requests():
                current = self._head_version(full, version_id).get("ObjectLockRetainUntilDate")
            if isinstance(current, datetime):
                held.append(current)
        return min(held) if held else until

    def set_legal_hold(self, key: str, on: bool) -> None:
        versions = self._versions(key)
        if not versions:
            raise KeyError(key)
        status: Any = "ON" if on else "OFF"
        with self._requests(writing=key):
            for version in versions:
                self.client.put_object_legal_hold(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    VersionId=str(version["VersionId"]),
                    LegalHold={"Status": status},
                )

    def delete_all_versions(self, key: str) -> int:
        """Delete every version and delete marker of ``key``; the server refuses a locked or held
        version (raised as VaultLockedError: nothing further is attempted)."""
        full = self._key(key)
        versions: list[str] = []
        markers: list[str] = []
        with self._requests():
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                versions += [str(v["VersionId"]) for v in page.get("Versions", []) if v.get("Key") == full]
                markers += [
                    str(m["VersionId"]) for m in page.get("DeleteMarkers", []) if m.get("Key") == full
                ]
        if self._presence is not None:
            self._presence.forget_store_key(key)  # from now on: ask the server again
        deleted = 0
        for version_id in versions + markers:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=full, VersionId=version_id)
            except ClientError as exc:
                if _status(exc) == 403 or _code(exc) == "AccessDenied":
                    raise VaultLockedError(
                        f"the S3 server refused to delete {key!r}: it is still locked or on legal hold"
                    ) from exc
                self._fail(exc)
            except BotoCoreError as exc:
                self._fail(exc)
            if version_id in versions:
                deleted += 1
        return deleted

"""Key layout of a vault: identical on every backend.

::

    capstone-vault.json                 the vault's descriptor (format, created, capabilities)
    blobs/sha256/ab/cd/<sha256>         content-addressed bytes (MIME, JSON, attachments...)
    segments/ab/<sha256>.jsonl          write-once batches of provenance records (content-addressed)
    manifests/<seq:012d>.json           capture-run manifests, a hash chain ordered by seq
    anchors/<name>/...                  small named write-once objects (e.g. the audit chain's head)
"""

from __future__ import annotations

import re

DESCRIPTOR_KEY = "capstone-vault.json"
BLOB_PREFIX = "blobs/sha256/"
SEGMENT_PREFIX = "segments/"
MANIFEST_PREFIX = "manifests/"
ANCHOR_PREFIX = "anchors/"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BLOB_KEY = re.compile(r"^blobs/sha256/[0-9a-f]{2}/[0-9a-f]{2}/([0-9a-f]{64})$")
_SEGMENT_KEY = re.compile(r"^segments/[0-9a-f]{2}/([0-9a-f]{64})\.jsonl$")
_MANIFEST_KEY = re.compile(r"^manifests/(\d{12})\.json$")
_ANCHOR_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9._-]*)+$")


def _check_sha(sha256: str) -> str:
    if not _HEX64.match(sha256):
        raise ValueError(f"not a lower-case hex SHA-256: {sha256!r}")
    return sha256


def blob_key(sha256: str) -> str:
    sha256 = _check_sha(sha256)
    return f"{BLOB_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def segment_key(sha256: str) -> str:
    sha256 = _check_sha(sha256)
    return f"{SEGMENT_PREFIX}{sha256[:2]}/{sha256}.jsonl"


def manifest_key(seq: int) -> str:
    if seq < 1:
        raise ValueError("manifest sequence numbers start at 1")
    return f"{MANIFEST_PREFIX}{seq:012d}.json"


def sha_of_blob_key(key: str) -> str | None:
    match = _BLOB_KEY.match(key)
    return match.group(1) if match else None


def sha_of_segment_key(key: str) -> str | None:
    match = _SEGMENT_KEY.match(key)
    return match.group(1) if match else None


def seq_of_manifest_key(key: str) -> int | None:
    match = _MANIFEST_KEY.match(key)
    return int(match.group(1)) if match else None


def anchor_key(name: str) -> str:
    """The key of the anchor ``name`` (lower-case path segments, e.g. ``audit/heads/000000000042``)."""
    if not _ANCHOR_NAME.match(name) or ".." in name:
        raise ValueError(f"not a valid anchor name: {name!r}")
    return f"{ANCHOR_PREFIX}{name}"

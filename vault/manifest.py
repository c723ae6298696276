"""Capture-run manifests: write-once documents that chain the vault's history.

Each manifest lists the records its run created (id, SHA-256 of the canonical line, segment) and
carries the SHA-256 of the previous manifest, so a missing or altered manifest or record breaks the
chain and is detected by ``verify``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MANIFEST_FORMAT = "capstone-manifest/1"


@dataclass(frozen=True)
class ManifestRef:
    seq: int
    key: str
    sha256: str
    run_id: str
    record_count: int


def build_manifest(
    *,
    seq: int,
    run_id: str,
    kind: str,
    created_at: str,
    host: str,
    previous: dict[str, Any] | None,
    records: list[list[str]],
    blobs: list[str],
    summary: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format": MANIFEST_FORMAT,
        "seq": seq,
        "run_id": run_id,
        "kind": kind,
        "created_at": created_at,
        "host": host,
        "previous": previous,
        "record_count": len(records),
        "records": records,  # [record_id, record_sha256, segment_key]
        "blobs": blobs,
        "summary": summary,
    }

"""The retention lifecycle on both backends, with windows and terms of seconds.

Every test gets a Settings of its own (local directory or a fresh Ceph RGW bucket with Object Lock),
a state database under its home, and helpers to capture content the way capture does: a blob with
its provisional lock, a record naming mailbox, folder, item and designation, and a manifest.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from capstone.access import Actor
from capstone.retention.service import RetentionService
from capstone.settings import Settings
from vault import Record, Vault
from vault.layout import blob_key

WINDOW = 7  # seconds: the exclusion window in these tests (the shared Ceph can be slow)
MARGIN = 3
V_TERM = 14  # seconds: the term of category "overig" (V) in these tests
ROLES = {
    "olga": ["official"],
    "dirk": ["official"],
    "ali": ["archivist"],
    "bea": ["archivist"],
    "wim": ["woo-officer"],
    "otto": ["auditor"],
    "zed": ["official", "archivist"],
}


@dataclass
class Env:
    settings: Settings
    backend: str
    s3: Any | None  # a raw S3 client (vault credentials) on the s3 backend

    def service(self, user: str, **overrides: Any) -> RetentionService:
        settings = self.settings.model_copy(update={"user": user, **overrides})
        return RetentionService(settings, Actor(user, frozenset(ROLES.get(user, []))))

    def vault(self) -> Vault:
        from capstone.services import open_vault

        return open_vault(self.settings)

    def bucket_target(self, sha: str) -> dict[str, str]:
        bucket, _, prefix = self.settings.vault_url.removeprefix("s3://").partition("/")
        return {"Bucket": bucket, "Key": f"{prefix}/{blob_key(sha)}" if prefix else blob_key(sha)}


@pytest.fixture(params=["local", "s3"])
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for name in ("CAPSTONE_VAULT", "CAPSTONE_DB_URL", "CAPSTONE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    s3 = None
    if request.param == "local":
        url = f"file://{tmp_path / 'vault'}"
    else:
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_lock_bucket")
        for key, value in server.environment().items():
            monkeypatch.setenv(key, value)
        url = f"s3://{bucket}/r-{uuid.uuid4().hex[:8]}"
        s3 = request.getfixturevalue("s3_client")
    settings = Settings(
        home=home,
        vault=url,
        exclusion_window=f"{WINDOW}s",
        exclusion_margin=f"{MARGIN}s",
        retention_terms={"overig": f"V:{V_TERM}s"},
        roles=ROLES,
        user="ali",
    )
    from capstone.services import open_vault

    open_vault(settings, create=True).close()
    yield Env(settings, request.param, s3)


def capture(
    vault: Vault,
    content: bytes,
    *,
    item: str,
    mailbox: str = "olga@gemeente.example",
    category: str = "college",
    chat: str | None = None,
    conversation: str | None = None,
) -> tuple[str, str]:
    """Store content as capture does; returns (blob sha256, record id)."""
    blob = vault.put_blob(content, media_type="message/rfc822")
    source = {
        "system": "test",
        "mailbox": mailbox,
        "folder_path": "Inbox",
        "item_id": item,
        "received": datetime.now(UTC).isoformat(),
    }
    if chat:
        source["chat_id"] = chat
    if conversation:
        source["conversation_id"] = conversation
    record = Record(
        kind="mail-message",
        source=source,
        source_identity={"system": "test", "mailbox": mailbox, "item_id": item},
        capture={"run_id": "t", "captured_at": datetime.now(UTC).isoformat()},
        designation={"designation_id": f"d-{category}", "category": category},
        blob_sha256=blob.sha256,
        size=blob.size,
        media_type="message/rfc822",
    )
    refs = vault.put_records([record])
    vault.write_manifest("t", refs)
    return blob.sha256, record.record_id


def wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.2)


def retain_until(vault: Vault, sha: str) -> datetime:
    info = vault.store.head(blob_key(sha))
    assert info is not None and info.retain_until is not None
    moment = info.retain_until
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Waiter = Callable[[datetime], None]

"""Where the local store keeps an object's metadata: an extended attribute of the object's own file
(set while it is staged, durable with its bytes), or, on a file system without user extended
attributes, a sidecar file; a sidecar (the lifecycle's later changes, or a store made before) takes
precedence over the attribute."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.vault.conftest import require_user_xattrs
from vault import layout, open_vault
from vault.local import LocalStore
from vault.records import sha256_hex
from vault.store import BatchItem, Retention
from vault.verify import verify_vault

ATTRIBUTE = "user.capstone.meta"
ROOT = Path(__file__).resolve().parents[2]


def _store(root: Path) -> LocalStore:
    store = LocalStore(root)
    store.initialise()
    return store


def _retention(days: int = 30, hold: bool = False) -> Retention:
    return Retention("permanent", datetime.now(UTC).replace(microsecond=0) + timedelta(days=days), hold)


def _item(data: bytes, media_type: str = "message/rfc822", hold: bool = False) -> BatchItem:
    return BatchItem(
        layout.blob_key(sha256_hex(data)), data, sha256_hex(data), media_type, _retention(hold=hold)
    )


def _sidecar(store: LocalStore, key: str) -> Path:
    return store.root / ".meta" / f"{store.path_of(key).relative_to(store.root)}.json"


def _no_xattrs(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOTSUP, "Operation not supported")


def test_metadata_is_an_attribute_of_the_object_file(tmp_path: Path, xattrs: None) -> None:
    store = _store(tmp_path / "vault")
    batch = [_item(f"bericht {i}\n".encode() * 20, hold=i == 1) for i in range(3)]
    results = store.put_many(batch)
    single = _item(b"een los bericht", media_type="text/plain")
    store.put_bytes(
        single.key,
        single.data,
        sha256=single.sha256,
        md5=b"",
        media_type="text/plain",
        retention=single.retention,
    )
    for item, result in [*zip(batch, results, strict=True), (single, None)]:
        assert result is None or result.created
        path = store.path_of(item.key)
        assert stat.S_IMODE(path.stat().st_mode) == 0o400  # read-only, as before
        assert not _sidecar(store, item.key).exists()
        meta = json.loads(os.getxattr(path, ATTRIBUTE))
        assert meta["sha256"] == item.sha256 and meta["size"] == str(len(item.data))
        head = store.head(item.key)
        assert head is not None
        assert (head.sha256, head.size, head.media_type) == (item.sha256, len(item.data), item.media_type)
        assert head.retain_until == item.retention.retain_until
        assert head.legal_hold is item.retention.legal_hold
    assert not (store.root / ".meta" / "blobs").exists()  # no sidecar directories made either


def test_the_lifecycle_writes_a_sidecar_that_takes_precedence(tmp_path: Path, xattrs: None) -> None:
    store = _store(tmp_path / "vault")
    item = _item(b"te bewaren\n" * 10)
    store.put_many([item])
    later = item.retention.retain_until + timedelta(days=365)
    assert store.extend_retention(item.key, later) == later
    store.set_legal_hold(item.key, True)
    assert _sidecar(store, item.key).exists()
    head = store.head(item.key)
    assert head is not None and head.retain_until == later and head.legal_hold
    # the attribute still says what the object was written with; the sidecar wins
    assert json.loads(os.getxattr(store.path_of(item.key), ATTRIBUTE))["legal-hold"] == "OFF"
    store.set_legal_hold(item.key, False)
    head = store.head(item.key)
    assert head is not None and not head.legal_hold and head.retain_until == later


def test_a_file_system_without_attributes_gets_sidecars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "setxattr", _no_xattrs)
    vault = open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)
    refs = vault.put_blobs(
        [b"zonder attributen %d\n" % i * 30 for i in range(5)], media_type="message/rfc822"
    )
    single = vault.put_blob(b"los, zonder attributen", media_type="text/plain")
    store = vault.store
    assert isinstance(store, LocalStore)
    for ref in [*refs, single]:
        sidecar = _sidecar(store, ref.key)
        assert json.loads(sidecar.read_text())["sha256"] == ref.sha256
        head = store.head(ref.key)
        assert head is not None and head.sha256 == ref.sha256 and head.size == ref.size
    assert verify_vault(vault).all_well


def test_a_sidecar_of_a_store_made_before_is_still_read(tmp_path: Path, xattrs: None) -> None:
    store = _store(tmp_path / "vault")
    item = _item(b"van vroeger\n" * 10, media_type="text/plain")
    store.put_many([item])
    path = store.path_of(item.key)
    path.chmod(0o600)
    os.removexattr(path, ATTRIBUTE)
    path.chmod(0o400)
    sidecar = _sidecar(store, item.key)
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(json.dumps({"sha256": item.sha256, "size": "120", "media-type": "text/plain"}))
    head = store.head(item.key)
    assert head is not None and head.media_type == "text/plain" and head.sha256 == item.sha256


SERVICE_ACCOUNT = 65534  # nobody


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to an unprivileged account, which needs root")
def test_an_unprivileged_service_account_sets_the_attribute(request: pytest.FixtureRequest) -> None:
    # Root may set an attribute on a read-only file; a service account may not: the staged file is
    # writable for its owner until its attribute is set. A forked child drops to an unprivileged
    # account and writes a batch and a single object; the parent checks where their metadata went.
    # pytest's own directories are its user's alone: the account gets one in /tmp (world-searchable)
    root = Path(tempfile.mkdtemp(prefix="capstone-service-account-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    require_user_xattrs(root)
    os.chown(root, SERVICE_ACCOUNT, SERVICE_ACCOUNT)
    items = [_item(b"een\n"), _item(b"twee\n", media_type="text/plain")]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(SERVICE_ACCOUNT)
            os.setuid(SERVICE_ACCOUNT)
            store = _store(root)
            store.put_many(items[:1])
            single = items[1]
            store.put_bytes(
                single.key, single.data, sha256=single.sha256, md5=b"", media_type=single.media_type,
                retention=single.retention,
            )  # fmt: skip
            code = 0
        except BaseException as exc:  # told to the parent, which fails the test with it
            os.write(write_end, repr(exc).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as told:
        error = told.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, error
    store = LocalStore(root)
    for item in items:
        assert store.path_of(item.key).stat().st_uid == SERVICE_ACCOUNT
        assert json.loads(os.getxattr(store.path_of(item.key), ATTRIBUTE))["media-type"] == item.media_type
        assert not _sidecar(store, item.key).exists()

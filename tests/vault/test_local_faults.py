"""Local backend: tampering is detected exactly, and faults never leave half-written objects."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vault.conftest import require_user_xattrs
from vault import Record, Vault, VaultWriteError, layout, open_vault
from vault.local import LocalStore
from vault.verify import verify_vault


def _fill(vault: Vault, runs: int = 3) -> list[str]:
    blob_keys = []
    for run in range(runs):
        blob = vault.put_blob(f"message body {run}".encode() * 50, media_type="message/rfc822")
        blob_keys.append(blob.key)
        record = Record(
            kind="mail-message",
            source={"system": "test", "item_id": f"i{run}"},
            capture={"run_id": f"run-{run}"},
            blob_sha256=blob.sha256,
            size=blob.size,
        )
        vault.write_manifest(f"run-{run}", vault.put_records([record]))
    return blob_keys


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)


def local(vault: Vault) -> LocalStore:
    assert isinstance(vault.store, LocalStore)
    return vault.store


def _writable(path: Path) -> None:
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    path.parent.chmod(path.parent.stat().st_mode | stat.S_IWUSR)


def test_flipped_byte_is_reported_as_that_blob(vault: Vault, tmp_path: Path) -> None:
    keys = _fill(vault)
    target = local(vault).path_of(keys[1])
    _writable(target)
    data = bytearray(target.read_bytes())
    data[10] ^= 0x01
    target.write_bytes(bytes(data))
    report = verify_vault(vault)
    assert report.corrupted == [keys[1]]
    assert report.missing == [] and report.chain_breaks == []
    assert not report.all_well


def test_deleted_blob_is_reported_missing(vault: Vault, tmp_path: Path) -> None:
    keys = _fill(vault)
    target = local(vault).path_of(keys[0])
    _writable(target)
    target.unlink()
    report = verify_vault(vault)
    assert report.missing == [keys[0]]
    assert report.corrupted == [] and report.chain_breaks == []


def test_deleted_manifest_is_reported_missing_and_breaks_the_chain(vault: Vault, tmp_path: Path) -> None:
    _fill(vault)
    key = layout.manifest_key(2)
    target = tmp_path / "vault" / key
    _writable(target)
    target.unlink()
    report = verify_vault(vault)
    assert report.missing == [key]
    assert report.corrupted == []
    assert [b["seq"] for b in report.chain_breaks] == [2]


def test_deleted_last_manifest_is_still_detected(vault: Vault, tmp_path: Path) -> None:
    _fill(vault)
    key = layout.manifest_key(3)
    target = tmp_path / "vault" / key
    _writable(target)
    target.unlink()
    assert verify_vault(vault).missing == [key]


def test_altered_manifest_breaks_the_chain(vault: Vault, tmp_path: Path) -> None:
    _fill(vault)
    key = layout.manifest_key(1)
    target = tmp_path / "vault" / key
    _writable(target)
    doc = json.loads(target.read_bytes())
    doc["summary"] = {"forged": True}
    target.write_bytes(json.dumps(doc).encode())
    report = verify_vault(vault)
    assert report.corrupted == [key]
    assert report.chain_breaks


def test_objects_are_read_only_files(vault: Vault, tmp_path: Path) -> None:
    keys = _fill(vault, runs=1)
    mode = (local(vault).path_of(keys[0])).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_full_disk_leaves_nothing_half_written(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(VaultWriteError, match="disk is full"):
        vault.put_blob(b"will not fit", media_type="text/plain")
    monkeypatch.undo()
    assert list(vault.store.list("blobs/")) == []
    assert [p for p in os.listdir(vault.store.staging_dir()) if p.startswith(".tmp")] == []


@pytest.fixture
def read_only_vault(vault: Vault, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "vault"
    # chmod alone does not stop root; the immutable attribute does (and chmod covers non-root users).
    root.chmod(0o555)
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(root)], check=False).returncode == 0
    (root / ".staging").chmod(0o555)
    if immutable:
        subprocess.run(["chattr", "+i", str(root / ".staging")], check=True)
    yield root
    if immutable:
        subprocess.run(["chattr", "-i", str(root), str(root / ".staging")], check=True)
    root.chmod(0o755)
    (root / ".staging").chmod(0o755)


def test_read_only_directory_gives_a_clear_error(vault: Vault, read_only_vault: Path) -> None:
    with pytest.raises(VaultWriteError, match=r"not writable|permission|read-only"):
        vault.put_blob(b"cannot land", media_type="text/plain")
    assert list(vault.store.list("blobs/")) == []


@pytest.mark.parametrize("kept_in", ["attribute", "sidecar"])
@pytest.mark.parametrize("damage", ["missing", "empty", "cut"])
def test_lost_metadata_costs_no_object(
    vault: Vault, tmp_path: Path, damage: str, kept_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neither the metadata attribute nor a sidecar (a file system without attributes) is fsynced
    # on its own: after a crash one may be gone, empty or cut short. The object, its verification
    # and an idempotent rewrite must not depend on it.
    if kept_in == "sidecar":
        monkeypatch.setattr(os, "setxattr", _no_xattrs)
    else:
        require_user_xattrs(tmp_path)
    keys = _fill(vault, runs=1)
    target = local(vault).path_of(keys[0])
    sidecar = tmp_path / "vault" / ".meta" / f"{target.relative_to(tmp_path / 'vault')}.json"
    assert sidecar.exists() == (kept_in == "sidecar")
    if kept_in == "sidecar":
        assert json.loads(sidecar.read_text())["sha256"] in keys[0]
        _writable(sidecar)
        if damage == "missing":
            sidecar.unlink()
        else:
            sidecar.write_text("" if damage == "empty" else '{"sha256": "ab')
    else:
        assert json.loads(os.getxattr(target, "user.capstone.meta"))["sha256"] in keys[0]
        _writable(target)
        if damage == "missing":
            os.removexattr(target, "user.capstone.meta")
        else:
            os.setxattr(target, "user.capstone.meta", b"" if damage == "empty" else b'{"sha256": "ab')
        target.chmod(0o400)
    assert local(vault).head(keys[0]) is not None  # read leniently: no metadata, no error
    data = b"message body 0" * 50
    again = vault.put_blob(data, media_type="message/rfc822")
    assert again.key == keys[0] and not again.created
    assert vault.read_blob(again.sha256) == data
    assert verify_vault(vault).all_well


def _no_xattrs(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOTSUP, "Operation not supported")

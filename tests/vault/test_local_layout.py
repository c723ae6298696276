"""Where the local store keeps its files: a new store keeps blobs in one level of directories
(``.layout`` says so); a store made before ``.layout`` keeps every object under its key, and both
read, list, write and verify alike. The keys are the same in both (``vault/layout.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.vault.conftest import takes_user_xattrs
from vault import Record, Vault, VaultNotInitialisedError, layout, open_vault
from vault.local import FLAT_BLOB_LAYOUT, KEY_LAYOUT, LocalStore
from vault.records import sha256_hex
from vault.verify import verify_vault


def _datas(n: int, tag: str) -> list[bytes]:
    return [f"{tag} bericht {i} over de fietsbrug\n".encode() * (i + 1) for i in range(n)]


def _open(root: Path, cache: str = "cache") -> Vault:
    return open_vault(f"file://{root / 'vault'}", cache_dir=root / cache)


def _fill(vault: Vault, datas: list[bytes]) -> list[str]:
    refs = vault.put_blobs(datas, media_type="message/rfc822")
    single = vault.put_blob(b"een los bericht", media_type="text/plain")
    records = vault.put_records(
        [
            Record(kind="sample", source={"n": i}, capture={"run_id": "t"}, blob_sha256=ref.sha256)
            for i, ref in enumerate([*refs, single])
        ]
    )
    vault.write_manifest("t", records)
    return sorted(layout.blob_key(ref.sha256) for ref in [*refs, single])


def _files(root: Path) -> list[str]:
    return sorted(
        str(Path(d, f).relative_to(root))
        for d, _, names in os.walk(root)
        for f in names
        if not d.startswith(str(root / ".staging"))
    )


def test_a_new_store_keeps_blobs_in_one_level_of_directories(tmp_path: Path) -> None:
    vault = open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)
    store = vault.store
    assert isinstance(store, LocalStore) and store.file_layout == FLAT_BLOB_LAYOUT
    assert json.loads((tmp_path / "vault" / ".layout").read_text())["format"] == FLAT_BLOB_LAYOUT
    keys = _fill(vault, _datas(40, "plat"))

    files = _files(tmp_path / "vault")
    for key in keys:
        sha = layout.sha_of_blob_key(key)
        assert sha is not None
        assert f"blobs/sha256/{sha[:2]}/{sha}" in files  # not under blobs/sha256/ab/cd/
        if takes_user_xattrs(tmp_path):  # metadata in an attribute of the file, else in a sidecar
            assert not any(f.startswith(".meta/blobs/") for f in files)
            assert json.loads(os.getxattr(store.path_of(key), "user.capstone.meta"))["sha256"] == sha
        else:
            assert f".meta/blobs/sha256/{sha[:2]}/{sha}.json" in files
        assert store.path_of(key) == tmp_path / "vault" / "blobs" / "sha256" / sha[:2] / sha
    assert not any(f.count("/") > 3 for f in files if f.startswith("blobs/"))  # no second level

    # Listed by key, in key order, also below a key's second level; .layout is no object.
    assert [o.key for o in store.list(layout.BLOB_PREFIX)] == keys
    narrow = keys[0][: len("blobs/sha256/ab/cd/")]
    assert [o.key for o in store.list(narrow)] == [k for k in keys if k.startswith(narrow)]
    assert [o.key for o in store.list(keys[1])] == [keys[1]]
    assert ".layout" not in [o.key for o in store.list("")]
    head = store.head(keys[0])
    assert head is not None and head.sha256 == layout.sha_of_blob_key(keys[0])

    # Another process (a new store on the same directory) finds them all, and verify agrees.
    again = _open(tmp_path, cache="other-host")
    assert [vault.read_blob(layout.sha_of_blob_key(k) or "") for k in keys] == [
        again.read_blob(layout.sha_of_blob_key(k) or "") for k in keys
    ]
    report = verify_vault(again)
    assert report.all_well and report.missing == [] and report.corrupted == []


def test_a_store_made_before_layout_keeps_objects_under_their_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A vault as an earlier version made it: no .layout, every object's file at its key.
    with monkeypatch.context() as patch:
        patch.setattr(LocalStore, "_write_layout", lambda self: None)
        old = open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)
        first = _fill(old, _datas(20, "oud"))
    assert not (tmp_path / "vault" / ".layout").exists()
    for key in first:
        assert (tmp_path / "vault" / key).is_file()

    # This version opens it as it is, and writes new objects the same way (not half one, half other).
    vault = _open(tmp_path)
    store = vault.store
    assert isinstance(store, LocalStore) and store.file_layout == KEY_LAYOUT
    second = _fill(vault, _datas(20, "nieuw"))
    for key in second:
        assert store.path_of(key) == tmp_path / "vault" / key and store.path_of(key).is_file()
    assert [o.key for o in store.list(layout.BLOB_PREFIX)] == sorted({*first, *second})
    assert vault.read_blob(layout.sha_of_blob_key(first[0]) or "") is not None
    # vault init again (idempotent) does not turn an existing vault's layout into another.
    open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)
    assert not (tmp_path / "vault" / ".layout").exists()
    assert verify_vault(_open(tmp_path, cache="other-host")).all_well


def test_an_unknown_layout_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    vault = open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)
    sha = vault.put_blob(b"x", media_type="text/plain").sha256
    marker = tmp_path / "vault" / ".layout"
    marker.chmod(0o600)
    marker.write_text('{"format": "capstone-local-store/9"}')
    store = LocalStore(tmp_path / "vault")
    with pytest.raises(VaultNotInitialisedError, match="local store layout this version does not know"):
        store.head(layout.blob_key(sha))
    assert sha == sha256_hex(b"x")

"""Local backend, group commit (``Vault.put_blobs`` / ``LocalStore.put_many``): no blob becomes
visible under its content-addressed key before the batch's bytes are durable, so a crash or a failed
sync never leaves a torn blob that a rerun would take for one already held."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

import vault.local as local
from vault import Vault, VaultConflictError, VaultWriteError, layout, open_vault
from vault.local import LocalStore
from vault.store import BatchItem


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "cache", create=True)


def _blobs(count: int, tag: str = "m") -> list[bytes]:
    return [f"Subject: {tag} {n}\n\n".encode() + bytes([n % 251]) * (2000 + n) for n in range(count)]


def _visible(root: Path, datas: Sequence[bytes]) -> list[bool]:
    from vault.records import sha256_hex

    return [LocalStore(root).path_of(layout.blob_key(sha256_hex(d))).exists() for d in datas]


@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-each"])
def test_a_batch_is_readable_and_byte_exact_after_put_blobs(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, syncfs: bool
) -> None:
    if not syncfs:
        monkeypatch.setattr(local, "_syncfs", None)  # the fallback: fsync of each file and directory
    datas = _blobs(40)
    refs = vault.put_blobs([*datas, datas[3]], media_type="message/rfc822")
    assert [r.created for r in refs] == [True] * 40 + [False]  # a key twice in a batch: written once
    assert all(vault.read_blob(r.sha256) == d for r, d in zip(refs, [*datas, datas[3]], strict=True))
    assert all(vault.store.head(r.key) is not None for r in refs)
    # A second batch with known and new blobs: the known ones are not written again.
    again = vault.put_blobs([datas[0], b"new one"], media_type="message/rfc822")
    assert [r.created for r in again] == [False, True]
    assert not list((vault.store.staging_dir()).glob(".tmp-*"))  # nothing left in staging


def test_nothing_is_visible_under_its_key_before_the_batch_is_durable(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "vault"
    datas = _blobs(25)
    seen_at_sync: list[list[bool]] = []
    real = LocalStore._make_durable

    def failing(self: LocalStore, files: Sequence[str], dirs: Sequence[str]) -> None:
        seen_at_sync.append(_visible(root, datas))  # what a crash at this moment would leave
        raise OSError(5, "Input/output error")  # the sync of the batch's bytes fails (EIO)

    monkeypatch.setattr(LocalStore, "_make_durable", failing)
    with pytest.raises(VaultWriteError, match="batch of 25 objects"):
        vault.put_blobs(datas, media_type="message/rfc822")
    assert seen_at_sync == [[False] * 25]  # staged, synced next: none of them under its key yet
    assert _visible(root, datas) == [False] * 25  # and none afterwards: the failure left nothing
    assert not list(vault.store.staging_dir().glob(".tmp-*"))

    # The rerun (the sync works again) writes every one of them: none is taken for held.
    monkeypatch.setattr(LocalStore, "_make_durable", real)
    refs = vault.put_blobs(datas, media_type="message/rfc822")
    assert all(r.created for r in refs)
    assert all(vault.read_blob(r.sha256) == d for r, d in zip(refs, datas, strict=True))


def test_the_names_are_synced_before_put_blobs_returns(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two syncs per batch: the bytes (before any link), then the new names and directories
    (after every link, before the refs are returned); a failing second sync fails the batch, so
    the caller writes no record referring to a name that might not survive a crash."""
    root = tmp_path / "vault"
    datas = _blobs(10, "names")
    calls: list[tuple[int, int, list[bool]]] = []
    real = LocalStore._make_durable

    def watching(self: LocalStore, files: Sequence[str], dirs: Sequence[str]) -> None:
        calls.append((len(files), len(dirs), _visible(root, datas)))
        if dirs:
            raise OSError(5, "Input/output error")
        real(self, files, dirs)

    monkeypatch.setattr(LocalStore, "_make_durable", watching)
    with pytest.raises(VaultWriteError):
        vault.put_blobs(datas, media_type="message/rfc822")
    assert calls[0] == (10, 0, [False] * 10)  # the bytes first, nothing linked yet
    assert calls[1][0] == 0 and calls[1][1] >= 1 and calls[1][2] == [True] * 10  # then the names


def test_a_failing_write_stages_nothing_and_links_nothing(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "vault"
    datas = _blobs(12, "full")
    real = LocalStore._stage

    def disk_full(self: LocalStore, staging: str, item: BatchItem, names: list[str]) -> str | None:
        if item.data == datas[7]:
            raise OSError(28, "No space left on device")
        return real(self, staging, item, names)

    monkeypatch.setattr(LocalStore, "_stage", disk_full)
    with pytest.raises(VaultWriteError, match="disk is full"):
        vault.put_blobs(datas, media_type="message/rfc822")
    assert _visible(root, datas) == [False] * 12
    assert not list(vault.store.staging_dir().glob(".tmp-*"))


def test_different_bytes_under_a_key_are_a_conflict(vault: Vault, tmp_path: Path) -> None:
    """The store never overwrites: an item whose key holds other bytes is refused."""
    from vault.records import sha256_hex

    ref = vault.put_blob(b"the original", media_type="text/plain")
    store = vault.store
    assert isinstance(store, LocalStore)
    other = b"other bytes"
    forged = BatchItem(ref.key, other, sha256_hex(other), "text/plain", vault.retention.for_blob(None))
    with pytest.raises(VaultConflictError):
        store.put_many([forged])
    assert vault.read_blob(ref.sha256) == b"the original"


def test_mkdir_p_makes_what_is_missing_outermost_first_and_remembers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(tmp_path)
    known: set[str] = set()
    leaf = f"{root}/a/b/c"
    assert local._mkdir_p(leaf, root, known) == [f"{root}/a", f"{root}/a/b", leaf]
    assert (tmp_path / "a" / "b" / "c").is_dir()
    assert oct((tmp_path / "a" / "b").stat().st_mode & 0o777) == oct(local.DIR_MODE)
    # A sibling: one mkdir, its parent already known.
    made: list[str] = []
    real_mkdir = os.mkdir

    def counting_mkdir(path: str, mode: int = 0o777) -> None:
        made.append(path)
        real_mkdir(path, mode)

    monkeypatch.setattr(os, "mkdir", counting_mkdir)
    assert local._mkdir_p(f"{root}/a/b/d", root, known) == [f"{root}/a/b/d"]
    assert made == [f"{root}/a/b/d"]
    # Known: no system call at all; existing but unknown: found, nothing reported as made.
    assert local._mkdir_p(leaf, root, known) == []
    assert made == [f"{root}/a/b/d"]
    assert local._mkdir_p(leaf, root, None) == []
    assert local._mkdir_p(leaf, root, set()) == []


def test_a_second_writer_finds_what_the_first_holds(tmp_path: Path) -> None:
    """Two stores over one vault (two processes): the second knows none of the directories the
    first made, finds the objects the first linked (held, not created) and writes only the rest."""
    first = open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "c1", create=True)
    second = open_vault(f"file://{tmp_path / 'vault'}", cache_dir=tmp_path / "c2")
    datas = _blobs(30, "two")
    held = first.put_blobs(datas[:20], media_type="message/rfc822")
    assert all(ref.created for ref in held)
    refs = second.put_blobs(datas, media_type="message/rfc822")
    assert [ref.created for ref in refs] == [False] * 20 + [True] * 10
    assert [second.read_blob(ref.sha256) for ref in refs] == datas
    assert not list(second.store.staging_dir().glob(".tmp-*"))

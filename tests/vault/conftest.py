"""The vault contract runs on both backends: a local directory and a real Ceph RGW bucket."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vault import RetentionPolicy, Vault, open_vault

VaultFactory = Callable[..., Vault]


@pytest.fixture(params=["local", "s3"])
def vault_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "local":
        return f"file://{tmp_path / 'vault'}"
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_lock_bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    return f"s3://{bucket}/capstone-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_vault(vault_url: str, tmp_path: Path) -> VaultFactory:
    """Open the vault under test; each call with a new ``cache`` name gets a fresh catalog (a new host)."""

    def factory(*, create: bool = True, cache: str = "cache", **kwargs: Any) -> Vault:
        return open_vault(
            vault_url,
            cache_dir=tmp_path / cache,
            staging_dir=tmp_path / "staging",
            retention=kwargs.get("retention", RetentionPolicy()),
            create=create,
        )

    return factory


def takes_user_xattrs(directory: Path) -> bool:
    """Whether the file system of ``directory`` takes user extended attributes (the local store
    keeps an object's metadata in one there, else in a sidecar file)."""
    probe = directory / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.capstone.probe", b"1")
    except OSError:
        return False
    finally:
        probe.unlink()
    return True


def require_user_xattrs(directory: Path) -> None:
    """For tests of the metadata attribute itself: skipped where the file system of ``directory``
    has none (the store then writes sidecars, which the other tests cover)."""
    if not takes_user_xattrs(directory):
        pytest.skip(
            f"{directory}: its file system takes no user extended attributes, so the local store writes sidecars"
        )


@pytest.fixture
def xattrs(tmp_path: Path) -> None:
    require_user_xattrs(tmp_path)

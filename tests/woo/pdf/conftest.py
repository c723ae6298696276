"""A vault for the Woo PDF tests: a local directory, or (marked s3) a real Ceph RGW bucket."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from vault import Vault, open_vault


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def vault_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "local":
        return f"file://{tmp_path / 'vault'}"
    server = request.getfixturevalue("s3_server")
    bucket = request.getfixturevalue("s3_lock_bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    return f"s3://{bucket}/woo-pdf-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def vault(vault_url: str, tmp_path: Path) -> Vault:
    return open_vault(vault_url, cache_dir=tmp_path / "cache", staging_dir=tmp_path / "staging", create=True)


@pytest.fixture
def local_vault(tmp_path: Path) -> Vault:
    return open_vault(f"file://{tmp_path / 'local-vault'}", cache_dir=tmp_path / "local-cache", create=True)

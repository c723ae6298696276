"""RFC 3161 timestamps on audit seals (issue 16), against a local TSA made with ``openssl ts``:
a seal is stamped over its SHA-256 and the token stored beside it in the vault; ``audit verify``
checks the token against the configured TSA certificates; openssl agrees; without a TSA (or with
one that is down) seals are still made, and verify says they carry no timestamp."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from capstone.cli.main import cli
from tests.access import admin_config
from tests.fixtures.tsa import LocalTSA, local_tsa, make_authority
from vault import layout
from vault.local import LocalStore

ROLES = {"ali": ["archivist"], "otto": ["auditor"]}
Run = Callable[..., Result]


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LocalTSA]:
    with local_tsa(tmp_path / "tsa") as authority:
        yield authority


def _runner(home: Path, **settings: str) -> Run:
    runner = CliRunner()

    def invoke(user: str, *args: str) -> Result:
        config = admin_config(home, user, ROLES, **settings)
        env = {"CAPSTONE_HOME": str(home), "CAPSTONE_CONFIG": str(config)}
        result: Result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        return result

    return invoke


def _records(vault_dir: Path, kind: str) -> list[dict[str, Any]]:
    found = []
    for segment in sorted((vault_dir / "segments").rglob("*.jsonl")):
        for line in segment.read_text().splitlines():
            if line and json.loads(line)["kind"] == kind:
                found.append(json.loads(line))
    return found


def _blob(vault_dir: Path, sha256: str) -> Path:
    return LocalStore(vault_dir).path_of(layout.blob_key(sha256))


def test_a_seal_is_timestamped_by_the_tsa_and_the_token_verifies(capstone_home: Path, tsa: LocalTSA) -> None:
    run = _runner(capstone_home, tsa_url=tsa.url, tsa_ca_file=str(tsa.ca_file))
    assert run("ali", "vault", "init").exit_code == 0
    sealed = run("otto", "audit", "seal")
    assert sealed.exit_code == 0, sealed.output
    assert f"timestamp requested from {tsa.url}" in sealed.output
    assert len(tsa.queries) == 1

    vault_dir = capstone_home / "vault"
    [seal] = _records(vault_dir, "audit-seal")
    [token] = _records(vault_dir, "audit-timestamp")
    assert seal["extra"]["timestamp"]["reply_sha256"] == token["blob_sha256"]
    assert token["source"]["seal_sha256"] == seal["blob_sha256"]
    # The stored reply is the TSA's own bytes: openssl verifies it over the seal document.
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(_blob(vault_dir, seal["blob_sha256"])),
         "-in", str(_blob(vault_dir, token["blob_sha256"])), "-CAfile", str(tsa.ca_file)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr

    verify = run("otto", "audit", "verify", "--json")
    assert verify.exit_code == 0, verify.output
    report = json.loads(verify.output)
    assert report["ok"] and report["seals"] == 1 and report["timestamped"] == 1
    assert not any("timestamp" in note for note in report["notes"])
    assert run("ali", "vault", "verify").exit_code == 0  # the token is a listed, referenced record


def test_a_token_that_does_not_chain_to_the_trusted_tsa_is_a_problem(
    capstone_home: Path, tsa: LocalTSA, tmp_path: Path
) -> None:
    assert _runner(capstone_home, tsa_url=tsa.url)("ali", "vault", "init").exit_code == 0
    assert _runner(capstone_home, tsa_url=tsa.url)("otto", "audit", "seal").exit_code == 0
    stranger = make_authority(tmp_path / "stranger", "Stranger")  # the auditor trusts another TSA
    verify = _runner(capstone_home, tsa_ca_file=str(stranger / "ca.crt"))("otto", "audit", "verify")
    assert verify.exit_code == 1
    [problem] = [line for line in verify.output.splitlines() if line.startswith("PROBLEM")]
    assert "the timestamp of the seal through entry" in problem and "does not verify" in problem

    unchecked = _runner(capstone_home)("otto", "audit", "verify")  # no certificates configured
    assert unchecked.exit_code == 0, unchecked.output
    assert (
        "NOTE: 1 seal timestamp(s) not checked: no TSA certificates (CAPSTONE_TSA_CA_FILE)"
        in unchecked.output
    )


def test_without_a_tsa_seals_are_made_and_verify_says_they_carry_no_timestamp(capstone_home: Path) -> None:
    run = _runner(capstone_home)
    assert run("ali", "vault", "init").exit_code == 0
    sealed = run("otto", "audit", "seal")
    assert sealed.exit_code == 0 and "sealed through entry" in sealed.output
    assert "no trusted timestamp: no timestamp authority is configured (CAPSTONE_TSA_URL)" in sealed.output
    assert _records(capstone_home / "vault", "audit-timestamp") == []
    verify = run("otto", "audit", "verify")
    assert verify.exit_code == 0, verify.output
    assert (
        "NOTE: 1 seal(s) carry no trusted timestamp: no timestamp authority is configured (CAPSTONE_TSA_URL)"
        in verify.output
    )
    assert "(0 with a verified timestamp)" in verify.output


def test_a_tsa_that_is_down_costs_the_timestamp_not_the_seal(capstone_home: Path, tsa: LocalTSA) -> None:
    tsa.failing = True
    run = _runner(capstone_home, tsa_url=tsa.url, tsa_ca_file=str(tsa.ca_file))
    assert run("ali", "vault", "init").exit_code == 0
    sealed = run("otto", "audit", "seal")
    assert sealed.exit_code == 0 and "sealed through entry 1" in sealed.output
    assert len(tsa.queries) == 1 and len(_records(capstone_home / "vault", "audit-seal")) == 1
    verify = run("otto", "audit", "verify")
    assert verify.exit_code == 0, verify.output
    assert (
        "NOTE: 1 seal(s) carry no trusted timestamp (made without a TSA, or the TSA failed)" in verify.output
    )

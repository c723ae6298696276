"""The CLI and the REST API call the same service: the same query gives the same hits and an audit
entry that differs only in its sequence number, time and hash."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from capstone.audit.log import AuditLog
from capstone.services import state_engine
from tests.access import admin_config
from tests.web.conftest import CASE, WebWorld


def test_cli_and_api_give_the_same_search_and_audit_entry(web_world: WebWorld) -> None:
    user = web_world.upn("woo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    config = admin_config(web_world.settings.home, user, {user: ["woo-officer"]})
    env.update(CAPSTONE_HOME=str(web_world.settings.home), CAPSTONE_CONFIG=str(config))
    args = [
        "woo",
        "search",
        "--case",
        CASE,
        "begroting",
        "--kind",
        "mail",
        "--from",
        "2025-01-01",
        "--limit",
        "20",
    ]
    cli = subprocess.run(
        [sys.executable, "-m", "capstone.cli.main", *args, "--json"], env=env, capture_output=True, text=True, timeout=300
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    log = AuditLog(state_engine(web_world.settings))
    cli_entry = list(log.entries())[-1]

    api = web_world.client.get(
        f"/api/v1/woo/cases/{CASE}/search",
        params={"q": "begroting", "kind": "mail", "from": "2025-01-01", "limit": 20},
        headers=web_world.auth(web_world.token("woo")),
    )
    assert api.status_code == 200, api.text
    from_api = api.json()
    api_entry = list(log.entries())[-1]

    assert from_api["total"] == from_cli["total"] > 0
    assert [h["doc_id"] for h in from_api["hits"]] == [h["doc_id"] for h in from_cli["hits"]]

    def same(entry: object) -> tuple[object, ...]:
        e = entry.to_json()  # type: ignore[attr-defined]
        return (e["actor"], e["role"], e["action"], e["case_ref"], e["outcome"], e["detail"])

    assert api_entry.seq == cli_entry.seq + 1 and cli_entry.action == "search"
    assert same(api_entry) == same(cli_entry)

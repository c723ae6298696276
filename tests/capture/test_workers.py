"""Many capture workers on one PostgreSQL and one S3 vault (issue 20), as separate processes against a
simulated tenant of many ``small`` mailboxes with a latency per request (I/O-bound, like Graph):

- three workers capture everything exactly once: truth equality, one run per account and source,
  no account in two workers' hands at once, ``vault verify`` clean, one version per manifest key;
- a worker killed with SIGKILL mid-run: once its leases expire the others finish its accounts;
- a worker stopped (SIGSTOP) past its lease while another takes its accounts over, then continued:
  its stale commits are refused (fencing), and the truth is still equal.

The number of staff mailboxes is ``CAPSTONE_TEST_WORKER_MAILBOXES`` (default 10, plus the six key
officials and their archives and chats): the issue asks for 200 or more. On the shared 2-core test
machine, with the shared Ceph RGW, 26 mailboxes took 270 s to capture and 115 s to check (the S3
write path is the limit there, see issue 20 part 1), so the default is kept small; the tests hold
for any count.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from capstone.capture.tables import capture_leases, capture_runs, capture_workers, captured_items
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from tests.access import admin_config
from tests.capture.conftest import truth_content, vault_content
from tests.capture.wide_tenant import (
    Tenant,
    WorkerProcess,
    registry_csv,
    start_worker,
    wide_tenant,
    worker_env,
)
from vault import layout
from vault.verify import verify_vault

STAFF = int(os.environ.get("CAPSTONE_TEST_WORKER_MAILBOXES", "10"))
# The waits below are sized for the default tenant; a larger one (the 200 mailboxes) gets
# them in proportion to its mailboxes.
SCALE = max(1.0, (STAFF + 6) / 16)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.s3,
    pytest.mark.timeout(int(1800 * SCALE)),
]
LATENCY = 0.03  # seconds per Graph request: capture waits on the network, not the CPU
LEASE_SECONDS = 30  # the shared test machine can stall a process for seconds
CONTENT_KINDS = ("mail-message", "mailbox-export-item", "archive-export-item")


@dataclass
class Cluster:
    settings: Settings  # the observer's: same database and vault as the workers
    tenant: Tenant
    env: dict[str, str]
    root: Path
    bucket: str
    s3: Any
    workers: list[WorkerProcess]
    engine: Any = None

    def db(self) -> Any:
        if self.engine is None:
            self.engine = state_engine(self.settings)
        return self.engine

    def start(self, name: str, *args: str) -> WorkerProcess:
        home = self.root / name
        config = admin_config(home, "ops", {"ops": ["archivist"]}, directory=self.root / f"{name}-config")
        worker = start_worker(worker_env(self.env, home, config), home, *args)
        self.workers.append(worker)
        return worker

    def runs(self) -> list[dict[str, Any]]:
        with self.db().connect() as conn:
            return [dict(r) for r in conn.execute(select(capture_runs)).mappings()]

    def leases(self) -> list[dict[str, Any]]:
        with self.db().connect() as conn:
            return [dict(r) for r in conn.execute(select(capture_leases)).mappings()]

    def worker_row(self, pid: int) -> dict[str, Any] | None:
        with self.db().connect() as conn:
            row = conn.execute(select(capture_workers).where(capture_workers.c.pid == pid)).mappings().first()
        return None if row is None else dict(row)

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            left = max(deadline - time.monotonic(), 1)
            try:
                worker.process.wait(timeout=left)
            except Exception:
                pytest.fail(f"worker {worker.home.name} did not finish: {worker.log.read_text()[-3000:]}")


@pytest.fixture
def cluster(
    tmp_path: Path, pg_db_url: str, s3_server: Any, s3_lock_bucket: str, s3_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cluster]:  # fmt: skip
    aws = {
        "AWS_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": s3_server.region,
    }
    for key, value in aws.items():
        monkeypatch.setenv(key, value)
    with wide_tenant(STAFF, latency=LATENCY) as tenant:
        vault_url = f"s3://{s3_lock_bucket}/capstone"
        env = aws | {
            "CAPSTONE_DB_URL": pg_db_url,
            "CAPSTONE_VAULT": vault_url,
            "CAPSTONE_GRAPH_BASE_URL": tenant.graph_url,
            "CAPSTONE_GRAPH_TOKEN_URL": tenant.token_url,
            "CAPSTONE_GRAPH_CLIENT_ID": tenant.client_id,
            "CAPSTONE_GRAPH_CLIENT_SECRET": tenant.client_secret,
            "CAPSTONE_GRAPH_TENANT_ID": tenant.tenant_id,
            "CAPSTONE_LOG_LEVEL": "warning",
            "CAPSTONE_CAPTURE_LEASE_SECONDS": str(LEASE_SECONDS),
            "CAPSTONE_CAPTURE_INTERVAL": "6h",
            "CAPSTONE_CHAT_CAPTURE_MAX_AGE": "6h",
            "CAPSTONE_GRAPH_TENANT_RATE": "400",  # the shared bucket in use (not binding here)
        }
        settings = Settings(home=tmp_path / "observer", vault=vault_url, db_url=pg_db_url)
        open_vault(settings, create=True).close()
        Registry(state_engine(settings)).import_csv(registry_csv(STAFF), filename="wide.csv", actor="test")
        cluster = Cluster(settings, tenant, env, tmp_path, s3_lock_bucket, s3_client, [])
        try:
            yield cluster
        finally:
            for worker in cluster.workers:
                if worker.process.poll() is None:
                    worker.process.send_signal(signal.SIGCONT)
                    worker.process.kill()
                    worker.process.wait()


def _windows(settings: Settings) -> dict[str, Any]:
    registry = Registry(state_engine(settings))
    return {a.upn or a.primary_smtp: d.capture_window() for d in registry.designations() for a in d.accounts}


def _assert_everything_once(cluster: Cluster, taken_over: frozenset[str] = frozenset()) -> None:
    """Truth equality, one complete run per account and source, no duplicate content record,
    ``vault verify`` clean, and no manifest key with a second version.

    An account in ``taken_over`` (its worker was killed) is captured again by the worker that took
    it over, every source: a source the killed worker had finished gets a second, later run (an
    incremental one that writes nothing twice). Its runs must follow each other, never overlap."""
    started = time.monotonic()
    vault = open_vault(cluster.settings)
    try:
        vault.sync_catalog()
        expected = truth_content(cluster.tenant.truth(), _windows(cluster.settings))
        # Every content record, read once (each segment is a round trip to the S3 server).
        content = [record for kind in CONTENT_KINDS for record in vault.iter_records(kind)]
        held = vault_content(vault, records=content)
        assert len({address for address, _, _ in expected}) >= STAFF + 6
        assert set(held) == set(expected)
        mime = vault_content(vault, ("mail-message",), records=content)  # the raw MIME: byte-exact
        assert mime == {key: expected[key] for key in mime}
        per_item: dict[tuple[str, str, str, str], set[str | None]] = defaultdict(set)
        for record in content:
            src = record.source
            key = (record.kind, src["mailbox"], src["mailbox_kind"], src["item_id"])
            per_item[key].add(record.blob_sha256)
        assert all(len(blobs) == 1 for blobs in per_item.values())
        report = verify_vault(vault)
        assert report.all_well, report.to_json()
    finally:
        vault.close()
    print(f"checked the vault in {time.monotonic() - started:.1f} s")
    runs = cluster.runs()
    by_unit: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        by_unit[(run["account"], run["source"])].append(run)
    assert len(by_unit) == STAFF + 6 + 6  # every mailbox, and the officials' chats
    not_once = {
        unit: [r["status"] for r in rs]
        for unit, rs in by_unit.items()
        if len(rs) != 1 and not (unit[0] in taken_over and len(rs) == 2)
    }
    assert not not_once, not_once  # captured exactly once: never a second run of the same account
    assert all(r["status"] == "complete" for rs in by_unit.values() for r in rs)
    for rs in by_unit.values():  # never two runs of one account and source at once
        ordered = sorted(rs, key=lambda r: r["started_at"])
        assert all(a["finished_at"] <= b["started_at"] for a, b in itertools.pairwise(ordered)), ordered
    versions: dict[str, int] = defaultdict(int)
    paginator = cluster.s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=cluster.bucket, Prefix=f"capstone/{layout.MANIFEST_PREFIX}"):
        for version in page.get("Versions", []):
            versions[version["Key"]] += 1
    assert versions and all(count == 1 for count in versions.values()), versions


def _busy_worker(cluster: Cluster, worker: WorkerProcess, timeout: float = 900) -> list[str]:
    """Wait until ``worker`` is in the middle of capturing: it holds accounts and has committed
    pages of one of them (item rows of a run still running). Returns its accounts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = cluster.worker_row(worker.process.pid)
        if row is not None:
            held = {lease["account"] for lease in cluster.leases() if lease["holder"] == row["worker_id"]}
            running = {
                r["run_id"] for r in cluster.runs() if r["status"] == "running" and r["account"] in held
            }
            with cluster.db().connect() as conn:
                pages = conn.execute(
                    select(captured_items.c.item_id).where(captured_items.c.last_run.in_(running)).limit(1)
                ).first()
            if pages is not None:
                return sorted(held)
        time.sleep(0.3)
    pytest.fail(f"worker {worker.home.name} never got into a capture: {worker.log.read_text()[-3000:]}")


def _held_by(cluster: Cluster, worker: WorkerProcess) -> list[str]:
    row = cluster.worker_row(worker.process.pid)
    assert row is not None
    return sorted(lease["account"] for lease in cluster.leases() if lease["holder"] == row["worker_id"])


def test_three_workers_capture_everything_exactly_once(cluster: Cluster) -> None:
    started = time.monotonic()
    for n in range(3):
        cluster.start(f"w{n}", "--concurrency", "6", "--exit-when-idle")
    cluster.wait_all(timeout=600 * SCALE)
    print(f"three workers: {time.monotonic() - started:.1f} s for {STAFF + 6} mailboxes")
    assert all(w.process.returncode == 0 for w in cluster.workers), [
        w.log.read_text()[-2000:] for w in cluster.workers
    ]
    _assert_everything_once(cluster)
    # The work was shared: every worker captured accounts, and none lost a lease.
    rows = [cluster.worker_row(w.process.pid) for w in cluster.workers]
    assert all(row is not None and row["accounts_done"] > 0 and row["leases_lost"] == 0 for row in rows), rows
    assert sum(row["accounts_done"] for row in rows if row) == STAFF + 6
    assert all(lease["token"] == 1 and lease["holder"] is None for lease in cluster.leases())


def test_a_killed_worker_s_accounts_are_finished_by_the_others(cluster: Cluster) -> None:
    victim = cluster.start("w0", "--concurrency", "6", "--exit-when-idle")
    for n in (1, 2):
        cluster.start(f"w{n}", "--concurrency", "6", "--exit-when-idle")
    _busy_worker(cluster, victim)
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    killed = time.monotonic()
    held = _held_by(cluster, victim)
    assert held
    cluster.wait_all(timeout=1200 * SCALE)
    print(f"the others finished {time.monotonic() - killed:.1f} s after the kill")
    assert all(w.process.returncode == 0 for w in cluster.workers[1:])
    leases = {lease["account"]: lease for lease in cluster.leases()}
    assert all(leases[account]["token"] >= 2 for account in held)  # taken over after expiry
    resumed = [r for r in cluster.runs() if r["account"] in held]
    assert resumed and all(r["status"] == "complete" for r in resumed)
    _assert_everything_once(cluster, taken_over=frozenset(held))


def test_a_worker_paused_past_its_lease_cannot_commit_after_the_take_over(cluster: Cluster) -> None:
    stale = cluster.start("w0", "--concurrency", "6", "--exit-when-idle")
    _busy_worker(cluster, stale)
    stale.process.send_signal(signal.SIGSTOP)
    time.sleep(0.5)
    held = _held_by(cluster, stale)  # frozen while it is stopped
    assert held
    other = cluster.start("w1", "--concurrency", "6", "--exit-when-idle")
    # The other worker takes the paused worker's accounts over once their leases expire, and
    # finishes them (and everything else) while the paused one sleeps.
    other.process.wait(timeout=600 * SCALE)
    assert other.process.returncode == 0, other.log.read_text()[-3000:]
    leases = {lease["account"]: lease for lease in cluster.leases()}
    assert all(leases[account]["token"] >= 2 and leases[account]["holder"] is None for account in held)
    stale.process.send_signal(signal.SIGCONT)
    stale.process.wait(timeout=300 * SCALE)
    assert stale.process.returncode == 0, stale.log.read_text()[-3000:]
    row = cluster.worker_row(stale.process.pid)
    assert row is not None and row["leases_lost"] == len(held), row
    refused = [e for e in stale.log_events() if e.get("event") == "lease_lost"]
    assert {e["account"] for e in refused} == set(held)
    # Its late commits were refused: the accounts' runs are the new holder's, complete, once.
    _assert_everything_once(cluster)

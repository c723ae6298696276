"""Capture throughput with 1, 2 and 4 capture workers on one latency-bound tenant, in one run.

    .venv/bin/python bench/workers_bench.py [--mailboxes 60] [--latency 0.25] [--concurrency 2]
        [--workers 1,2,4] [--pg-url URL] [--out bench/results/workers_bench.json]

A simulated tenant of ``--mailboxes`` staff mailboxes of the ``small`` profile (plus its six key
officials) answers every Graph request after ``--latency`` seconds, so capture waits on the network
as it does on Graph. For each worker count a fresh PostgreSQL database and a fresh vault (a local
directory shared by the workers: this bench measures the workers, the S3 path has its own bench)
receive the whole tenant from worker processes (``capstone capture worker --exit-when-idle``), each
capturing ``--concurrency`` accounts at once. Reported per count: seconds, mailboxes/s, Graph
requests/s (and per Graph route: ``graph_requests_by_route``), speed-up against one worker
(targets: >= 1.8 at 2, >= 3 at 4), and the CPU the workers and the simulator used per wall-second (the box's cores bound it: CPU is not the limit
while it stays well under them).

Then, for the capacity model (docs/capacity-model.md): the Graph requests and state-database rows
and bytes per captured mailbox, manifests per account capture, and an *idle* pass (everything due
again, nothing new) with one worker: requests and seconds per idle mailbox.

PostgreSQL: ``--pg-url`` or ``CAPSTONE_TEST_PG_URL`` (``source /work/test-env.sh``); a database
per trial is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from capstone.db import normalise_url  # noqa: E402
from capstone.registry.service import Registry  # noqa: E402
from capstone.services import open_vault, state_engine  # noqa: E402
from capstone.settings import Settings  # noqa: E402
from tests.access import admin_config  # noqa: E402
from tests.capture.wide_tenant import Tenant, registry_csv, start_worker, wide_tenant, worker_env  # noqa: E402

STATE_TABLES = (
    "capture_runs", "capture_latest", "folder_cursors", "captured_items", "pending_removals",
    "capture_errors", "capture_leases",
)  # fmt: skip


def _cpu(pids: list[int]) -> float:
    """CPU seconds the processes used so far (Linux /proc: utime, stime and their children's)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


class Trial:
    def __init__(self, admin_url: str, tenant: Tenant, root: Path, staff: int) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.name = f"capstone_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self.tenant = tenant
        self.root = root / self.name
        self.vault_url = f"file://{self.root / 'vault'}"
        self.settings = Settings(home=self.root / "observer", vault=self.vault_url, db_url=self.url)
        open_vault(self.settings, create=True).close()
        Registry(state_engine(self.settings)).import_csv(registry_csv(staff), filename="b.csv", actor="bench")
        self.env = {
            "CAPSTONE_DB_URL": self.url,
            "CAPSTONE_VAULT": self.vault_url,
            "CAPSTONE_GRAPH_BASE_URL": tenant.graph_url,
            "CAPSTONE_GRAPH_TOKEN_URL": tenant.token_url,
            "CAPSTONE_GRAPH_CLIENT_ID": tenant.client_id,
            "CAPSTONE_GRAPH_CLIENT_SECRET": tenant.client_secret,
            "CAPSTONE_GRAPH_TENANT_ID": tenant.tenant_id,
            "CAPSTONE_LOG_LEVEL": "warning",
            "CAPSTONE_CAPTURE_LEASE_SECONDS": "30",
            "CAPSTONE_CAPTURE_INTERVAL": "6h",
            "CAPSTONE_CHAT_CAPTURE_MAX_AGE": "6h",
        }

    def run_workers(self, count: int, concurrency: int, label: str) -> dict[str, Any]:
        before = self.tenant.requests()
        routes_before = self.tenant.requests_by_route()
        sim_cpu = _cpu([self.tenant.process.pid])
        started = time.monotonic()
        workers = []
        for n in range(count):
            home = self.root / f"{label}-w{n}"
            config = admin_config(home, "ops", {"ops": ["archivist"]}, directory=self.root / f"{label}-c{n}")
            workers.append(
                start_worker(
                    worker_env(self.env, home, config),
                    home,
                    "--concurrency",
                    str(concurrency),
                    "--exit-when-idle",
                )
            )
        peak_cpu: dict[int, float] = {}
        while any(w.process.poll() is None for w in workers):
            for w in workers:
                if w.process.poll() is None:
                    peak_cpu[w.process.pid] = _cpu([w.process.pid])
            time.sleep(0.2)
        seconds = time.monotonic() - started
        failed = [w.log.read_text()[-1500:] for w in workers if w.process.returncode != 0]
        if failed:
            raise SystemExit(f"a worker failed:\n{failed[0]}")
        requests = self.tenant.requests() - before
        routes = self.tenant.requests_by_route()
        by_route = {
            k.split(":", 1)[1]: n - routes_before.get(k, 0)
            for k, n in routes.items()
            if k.startswith("graph:") and n > routes_before.get(k, 0)
        }
        return {
            "graph_requests_by_route": dict(sorted(by_route.items(), key=lambda kv: -kv[1])),
            "workers": count,
            "seconds": round(seconds, 2),
            "requests": requests,
            "requests_per_s": round(requests / seconds, 1),
            "worker_cpu_per_s": round(sum(peak_cpu.values()) / seconds, 3),
            "simulator_cpu_per_s": round((_cpu([self.tenant.process.pid]) - sim_cpu) / seconds, 3),
        }

    def state_size(self) -> dict[str, Any]:
        engine = sa.create_engine(self.url)
        sizes: dict[str, Any] = {}
        with engine.connect() as conn:
            for table in STATE_TABLES:
                rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                size = conn.execute(sa.text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
                sizes[table] = {"rows": int(rows), "bytes": int(size)}
            manifests = conn.execute(sa.text("SELECT seq FROM vault_chain_heads")).scalar_one_or_none()
            runs = conn.execute(sa.text("SELECT count(*) FROM capture_runs")).scalar_one()
        engine.dispose()
        return {"tables": sizes, "manifests": int(manifests or 0), "runs": int(runs)}

    def make_all_due(self) -> None:
        engine = sa.create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE capture_leases SET due_at = now() - interval '1 second'"))
        engine.dispose()

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def _save(out: str, result: dict[str, Any]) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mailboxes", type=int, default=60, help="Staff mailboxes (plus 6 key officials).")
    parser.add_argument("--latency", type=float, default=0.25, help="Seconds per Graph request.")
    parser.add_argument("--concurrency", type=int, default=2, help="Accounts each worker captures at once.")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--pg-url", default=os.environ.get("CAPSTONE_TEST_PG_URL"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "workers_bench.json"))
    args = parser.parse_args()
    if not args.pg_url:
        raise SystemExit("give --pg-url or CAPSTONE_TEST_PG_URL (source /work/test-env.sh)")
    admin_url = normalise_url(args.pg_url)
    counts = [int(n) for n in args.workers.split(",")]
    mailboxes = args.mailboxes + 6
    result: dict[str, Any] = {
        "mailboxes": mailboxes,
        "latency_s": args.latency,
        "concurrency_per_worker": args.concurrency,
        "cores": os.cpu_count(),
        "trials": [],
    }
    with (
        tempfile.TemporaryDirectory(prefix="workers-bench-") as tmp,
        wide_tenant(args.mailboxes, latency=args.latency) as tenant,
    ):
        for index, count in enumerate(counts):
            trial = Trial(admin_url, tenant, Path(tmp), args.mailboxes)
            measured = trial.run_workers(count, args.concurrency, f"x{count}")
            measured["mailboxes_per_s"] = round(mailboxes / measured["seconds"], 3)
            result["trials"].append(measured)
            print(json.dumps(measured), flush=True)
            _save(args.out, result)  # what is measured so far, should a later trial not finish
            if index == 0:  # the capacity model's figures, from the first trial's database
                size = trial.state_size()
                result["state"] = size
                result["per_mailbox"] = {
                    "requests_initial": round(measured["requests"] / mailboxes, 1),
                    "state_rows": round(sum(t["rows"] for t in size["tables"].values()) / mailboxes, 1),
                    "state_bytes": round(sum(t["bytes"] for t in size["tables"].values()) / mailboxes),
                    "manifests_per_capture": round(size["manifests"] / max(size["runs"], 1), 2),
                }
                trial.make_all_due()
                idle = trial.run_workers(1, args.concurrency, "idle")
                result["idle_pass"] = idle | {
                    "requests_per_mailbox": round(idle["requests"] / mailboxes, 1),
                    "seconds_per_mailbox_per_slot": round(idle["seconds"] * args.concurrency / mailboxes, 2),
                }
                print(json.dumps({"idle_pass": result["idle_pass"]}), flush=True)
                _save(args.out, result)
            trial.drop()
    base = result["trials"][0]["seconds"]
    result["speedup"] = {str(t["workers"]): round(base / t["seconds"], 2) for t in result["trials"]}
    targets = {"2": 1.8, "4": 3.0}
    result["targets_met"] = {
        k: result["speedup"].get(k, 0) >= v for k, v in targets.items() if k in result["speedup"]
    }
    _save(args.out, result)
    print(
        json.dumps({k: result[k] for k in ("speedup", "targets_met", "per_mailbox", "idle_pass")}, indent=2)
    )


if __name__ == "__main__":
    main()

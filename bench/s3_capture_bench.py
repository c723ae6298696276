"""Capture into S3 with Object Lock against the server's own rate, measured side by side in one run.

    .venv/bin/python bench/s3_capture_bench.py [--profile demo] [--concurrency 8] [--rounds 3] [--label after]

The S3 server is the one the tests use (``CAPSTONE_TEST_S3_ENDPOINT`` and its keys, or the standard
``AWS_*`` variables); every run gets a fresh bucket with Object Lock (COMPLIANCE objects cannot be
deleted, so a bucket is never reused).

1. ``capture_s3``: the simulated tenant (``--profile``, throttling off) captured the way
   ``capstone capture run --once`` does (``capture_once``: every due designation of the registry's
   sample officials; the index left to its own process) into a fresh vault in that bucket, in a
   process of its own: seconds, vault objects and bytes written, MB/s, objects/s, and the S3 requests
   the capture process sent (counted with a botocore ``before-send`` hook, by operation).
2. ``idle_s3``: the same capture again with nothing changed: S3 requests (target ≈ 0 per object).
3. ``capture_local``: the same capture into a fresh local vault.
4. ``raw_put``: the blobs of that capture PUT into the same bucket with plain boto3, COMPLIANCE lock,
   Content-MD5 and the vault's metadata, ``--concurrency`` threads on one client whose pool holds as
   many connections: what the server accepts.

Ratios: capture_s3 objects/s / raw_put objects/s (target ≥ 0.8); S3 requests per captured object
(target ≤ 1.2 for new objects, ≈ 0 for the idle run); capture_s3 / capture_local.

``--rounds`` rounds of all four phases, each into vaults of their own (a prefix of the bucket, a
local directory); odd rounds run the local capture and the raw PUT first. One round alone says
little here: the raw PUT rate of the same blobs has varied from 113 to 228 objects/s between runs
minutes apart. The medians (``summary``) are the result, each round's figures beside them. Results
go to stdout and bench/results/s3_capture_bench[-LABEL].json, a one-line summary to stderr.

Where the time goes (``cpu`` of each phase, CPU seconds from /proc and getrusage): the capture
process, the simulator, the S3 server's daemons (``radosgw``, ``ceph-osd``, when they run on this
host), everything else on the host, and the host's idle cores. When the host has no idle core left
the rates are bound by CPU, not by the server: capture into S3 then cannot beat
``raw_put CPU per object / capture_s3 CPU per object`` (``cpu_bound_ratio``), however well it
overlaps its requests; the simulator standing in for Graph spends its CPU on this host too. Even a
capture whose own work cost no CPU beyond the raw PUT's would still need the simulator to serve each
object: ``raw_put CPU per object / (raw_put CPU per object + simulator CPU per captured object)``
(``cpu_ceiling_ratio``) is the most such a capture could reach while it kept the host as busy as the
raw PUT does (``host_idle_cores`` of each phase: a capture using the cores the raw PUT leaves idle
could go beyond it, by at most ``cores / busy cores of the raw PUT``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capture_bench import PY, capture_env, start_simulator, write_results  # noqa: E402

CAPTURE_CHILD = r"""
import asyncio, collections, json, resource, sys, time
from importlib import resources

import vault.s3 as s3

requests = collections.Counter()
def count(event_name, **kwargs):
    requests[event_name.rsplit(".", 1)[-1]] += 1
_made = s3.default_client
def counted_client(*args, **kwargs):
    client = _made(*args, **kwargs)
    client.meta.events.register("before-send.s3", count)
    return client
s3.default_client = counted_client

from capstone.capture.runner import capture_once
from capstone.registry.service import Registry
from capstone.services import open_vault, state_engine
from capstone.settings import load_settings

settings = load_settings()
registry = Registry(state_engine(settings))
if not registry.designations():
    data = resources.files("capstone.registry").joinpath("samples/sleutelfunctionarissen.csv").read_bytes()
    registry.import_csv(data, filename="sleutelfunctionarissen.csv", actor="bench")
open_vault(settings, create=True).close()

class NoIndex:  # `capture run` indexes in a process beside capture: not part of the capture's time
    def kick(self):
        pass

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

requests.clear()
t0, c0 = time.monotonic(), cpu()
results = asyncio.run(capture_once(settings, progress=False, indexer=NoIndex()))
seconds, cpu_seconds = time.monotonic() - t0, cpu() - c0
sent = dict(requests)
vault = open_vault(settings)
objects = {}
for name, prefix in (("blobs", "blobs/"), ("segments", "segments/"), ("manifests", "manifests/")):
    infos = list(vault.store.list(prefix))
    objects[name] = {"objects": len(infos), "bytes": sum(i.size for i in infos)}
kinds = vault.catalog.records_by_kind()
vault.close()
runs = [[r.source, r.account, r.counters.get("items", 0), round(r.seconds, 1)] for r in results]
print(json.dumps({"code": s3.__file__, "seconds": seconds, "cpu_seconds": cpu_seconds, "requests": sent, "objects": objects, "records_by_kind": kinds, "runs": runs,
                  "statuses": collections.Counter(r.status for r in results),
                  "items": sum(r.counters.get("items", 0) for r in results),
                  "item_bytes": sum(r.counters.get("bytes", 0) for r in results)}))
"""


def s3_environment() -> dict[str, str]:
    endpoint = os.environ.get("CAPSTONE_TEST_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        raise SystemExit("set CAPSTONE_TEST_S3_ENDPOINT (source /work/test-env.sh) or AWS_ENDPOINT_URL")
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("CAPSTONE_TEST_S3_ACCESS_KEY") or os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ.get("CAPSTONE_TEST_S3_SECRET_KEY")
        or os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_DEFAULT_REGION": os.environ.get("CAPSTONE_TEST_S3_REGION")
        or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }


def s3_client(env: dict[str, str], pool: int) -> Any:
    import boto3
    from botocore.config import Config

    from vault.s3 import client_config

    config = client_config().merge(Config(max_pool_connections=pool))
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    return session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], config=config)


CODE: Path | None = None  # --code: the capture processes run this source tree (e.g. before a change)


def run_capture(info: dict[str, Any], home: Path, **env: str) -> dict[str, Any]:
    if CODE is not None:
        # `python -c` puts its working directory first on sys.path, ahead of PYTHONPATH: the child
        # must run in the other tree, or it imports this one (the result's "code" says which ran).
        env = dict(env, PYTHONPATH=str(CODE))
    done = subprocess.run(
        [PY, "-c", CAPTURE_CHILD],
        env=capture_env(info, home, CAPSTONE_GRAPH_BUDGET="1000000000", **env),
        cwd=CODE or ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the capture process failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    written = sum(v["objects"] for v in result["objects"].values())
    size = sum(v["bytes"] for v in result["objects"].values())
    result["vault_objects"] = written
    result["vault_bytes"] = size
    result["objects_per_s"] = written / result["seconds"]
    result["mb_per_s"] = size / result["seconds"] / 1e6
    result["s3_requests"] = sum(result["requests"].values())
    return result


def blobs_of(home: Path) -> list[bytes]:
    from vault import open_vault

    vault = open_vault(f"file://{home / 'vault'}", cache_dir=home / "bench-cache")
    try:
        return [vault.read_blob(info.key.rsplit("/", 1)[-1]) for info in vault.store.list("blobs/")]
    finally:
        vault.close()


def raw_put(env: dict[str, str], bucket: str, payloads: list[bytes], concurrency: int) -> dict[str, Any]:
    """The same bytes PUT into the bucket as the vault would lock them, without the vault."""
    client = s3_client(env, concurrency)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    prefix = f"raw-{uuid.uuid4().hex[:8]}/"

    def put(data: bytes) -> None:
        sha = hashlib.sha256(data).hexdigest()
        client.put_object(
            Bucket=bucket,
            Key=f"{prefix}blobs/sha256/{sha[:2]}/{sha[2:4]}/{sha}",
            Body=data,
            ContentMD5=base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(),
            ContentType="application/octet-stream",
            Metadata={"sha256": sha, "retain-until": until.isoformat()},
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=until,
        )

    t0 = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, payloads))
    seconds = time.monotonic() - t0
    size = sum(len(p) for p in payloads)
    return {
        "objects": len(payloads),
        "bytes": size,
        "seconds": seconds,
        "objects_per_s": len(payloads) / seconds,
        "mb_per_s": size / seconds / 1e6,
        "concurrency": concurrency,
    }


def make_bucket(env: dict[str, str]) -> str:
    bucket = f"s3bench-{uuid.uuid4().hex[:16]}"
    s3_client(env, 2).create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket


_TICK = os.sysconf("SC_CLK_TCK")
_SERVER_DAEMONS = ("radosgw", "ceph-osd", "ceph-mon", "ceph-mgr")


def _process_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _server_pids() -> list[int]:
    """The S3 server's daemons when they run on this host (Ceph RGW); none for a remote server."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if any(name.startswith(daemon[:15]) for daemon in _SERVER_DAEMONS):
                pids.append(int(entry.name))
    return pids


def _host_ticks() -> tuple[int, int]:
    """(busy, idle) clock ticks of the whole host since boot (idle includes waiting for I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, idle


class CpuWatch:
    """CPU seconds spent during one phase by the simulator, the S3 server's daemons on this host, this
    bench process (the raw PUTs' client), and the host as a whole."""

    def __init__(self, simulator: int | None) -> None:
        self.simulator = simulator
        self.server = _server_pids()
        self.start = self._sample()

    def _sample(self) -> dict[str, float]:
        busy, idle = _host_ticks()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "simulator": _process_ticks(self.simulator) / _TICK if self.simulator else 0.0,
            "s3_server": sum(_process_ticks(pid) for pid in self.server) / _TICK,
            "bench": usage.ru_utime + usage.ru_stime,
            "host_busy": busy / _TICK,
            "host_idle": idle / _TICK,
            "at": time.monotonic(),
        }

    def stop(self, capture_cpu: float = 0.0) -> dict[str, float]:
        end = self._sample()
        spent = {k: end[k] - self.start[k] for k in end}
        seconds = spent.pop("at")
        cores = os.cpu_count() or 1
        spent["capture"] = capture_cpu
        # busy and idle ticks are summed over all cores
        spent["others_on_host"] = max(
            spent["host_busy"] - spent["simulator"] - spent["s3_server"] - spent["bench"] - capture_cpu, 0.0
        )
        spent["host_idle_cores"] = spent.pop("host_idle") / seconds
        spent["host_busy_cores"] = spent.pop("host_busy") / seconds
        spent["host_cores"] = cores
        return spent


def one_round(
    n: int, env: dict[str, str], bucket: str, info: dict[str, Any], sim_pid: int, tmp: Path, concurrency: int
) -> dict[str, Any]:
    """One round: the capture into S3, its idle rerun, the capture into a local vault and the raw PUT
    of its blobs, each vault fresh. Odd rounds run the local capture and the raw PUT first, so that
    neither side always has the earlier (or the later) minutes of a machine whose disk and CPU vary."""
    result: dict[str, Any] = {"round": n}
    s3_env = dict(env, CAPSTONE_VAULT=f"s3://{bucket}/capture-{n}")
    home_s3, home_local = tmp / f"s3-{n}", tmp / f"local-{n}"

    def capture(name: str, home: Path, phase_env: dict[str, str]) -> None:
        watch = CpuWatch(sim_pid)
        result[name] = run_capture(info, home, **phase_env)
        result[name]["cpu"] = watch.stop(result[name]["cpu_seconds"])
        print(json.dumps({"round": n, name: result[name]}), file=sys.stderr, flush=True)

    def s3_phases() -> None:
        capture("capture_s3", home_s3, s3_env)
        capture("idle_s3", home_s3, s3_env)

    def local_and_raw() -> None:
        capture("capture_local", home_local, {})
        payloads = blobs_of(home_local)
        watch = CpuWatch(None)
        result["raw_put"] = raw_put(env, bucket, payloads, concurrency)
        result["raw_put"]["cpu"] = watch.stop()
        print(json.dumps({"round": n, "raw_put": result["raw_put"]}), file=sys.stderr, flush=True)

    for phase in (s3_phases, local_and_raw) if n % 2 == 0 else (local_and_raw, s3_phases):
        phase()
    s3, idle, local, raw = (result[k] for k in ("capture_s3", "idle_s3", "capture_local", "raw_put"))
    result["ratios"] = {
        "capture_s3_to_raw_put_objects": s3["objects_per_s"] / raw["objects_per_s"],
        "capture_s3_to_raw_put_mb": s3["mb_per_s"] / raw["mb_per_s"],
        "capture_s3_to_capture_local_objects": s3["objects_per_s"] / local["objects_per_s"],
        "s3_requests_per_new_object": s3["s3_requests"] / max(s3["vault_objects"], 1),
        "s3_requests_per_object_idle": idle["s3_requests"] / max(idle["vault_objects"], 1),
    }
    result["cpu_per_object_ms"] = {
        name: {
            part: 1000 * phase["cpu"][part] / max(phase.get("vault_objects") or phase.get("objects") or 1, 1)
            for part in ("capture", "simulator", "s3_server", "bench")
        }
        for name, phase in (("capture_s3", s3), ("raw_put", raw))
    }
    per_object = {name: sum(parts.values()) for name, parts in result["cpu_per_object_ms"].items()}
    # On a host with no idle core, the best ratio the CPU allows (see the module's docstring).
    result["ratios"]["cpu_bound_ratio"] = per_object["raw_put"] / per_object["capture_s3"]
    # The same bound for a capture whose own work cost nothing beyond the raw PUT's: it still needs the
    # simulator to serve each object, on the same cores (at the host utilisation the raw PUT reached).
    raw_cost, served = per_object["raw_put"], result["cpu_per_object_ms"]["capture_s3"]["simulator"]
    result["ratios"]["cpu_ceiling_ratio"] = raw_cost / (raw_cost + served)
    result["ratios"]["host_idle_cores"] = {
        n: result[n]["cpu"]["host_idle_cores"] for n in ("capture_s3", "raw_put")
    }
    return result


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of every figure the target is judged by, with each round's value."""

    def median(values: list[float]) -> dict[str, Any]:
        return {"median": statistics.median(values), "rounds": values}

    return {
        "rounds": len(rounds),
        "objects_per_s": {
            name: median([r[name]["objects_per_s"] for r in rounds])
            for name in ("capture_s3", "capture_local", "raw_put")
        },
        "mb_per_s": {
            name: median([r[name]["mb_per_s"] for r in rounds])
            for name in ("capture_s3", "capture_local", "raw_put")
        },
        "ratios": {
            name: median([r["ratios"][name] for r in rounds])
            for name in (
                "capture_s3_to_raw_put_objects",
                "capture_s3_to_raw_put_mb",
                "capture_s3_to_capture_local_objects",
                "s3_requests_per_new_object",
                "s3_requests_per_object_idle",
                "cpu_bound_ratio",
                "cpu_ceiling_ratio",
            )
        },
        "cpu_per_object_ms": {
            name: {
                part: statistics.median(r["cpu_per_object_ms"][name][part] for r in rounds)
                for part in ("capture", "simulator", "s3_server", "bench")
            }
            for name in ("capture_s3", "raw_put")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--seed", default="1")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="raw PUT threads (the vault's S3 concurrency)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of every phase, in alternating order; the medians are the result (default 3)",
    )
    parser.add_argument("--label", default="", help="suffix of the result file, e.g. before / after")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--code",
        type=Path,
        default=None,
        help="run the captures with this source tree (e.g. `git archive main`)",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    global CODE
    CODE = args.code
    env = s3_environment()
    out = (
        args.out
        or ROOT / "bench" / "results" / f"s3_capture_bench{'-' + args.label if args.label else ''}.json"
    )
    results: dict[str, Any] = {"params": {k: str(v) for k, v in vars(args).items()}}
    bucket = make_bucket(env)
    results["bucket"] = bucket
    work = ROOT / ".test-servers" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    sim, info = start_simulator("--profile", args.profile, "--seed", args.seed, "--no-throttle")
    try:
        with tempfile.TemporaryDirectory(dir=work) as tmp_name:
            rounds = [
                one_round(n, env, bucket, info, sim.pid, Path(tmp_name), args.concurrency)
                for n in range(args.rounds)
            ]
    finally:
        sim.terminate()
        sim.wait()
    results["summary"] = summary(rounds)
    results["rounds"] = rounds
    write_results(results, out)
    medians = results["summary"]
    print(
        f"median of {len(rounds)} round(s): capture into S3 {medians['objects_per_s']['capture_s3']['median']:.1f}"
        f" objects/s, raw locked PUT {medians['objects_per_s']['raw_put']['median']:.1f} objects/s, ratio"
        f" {medians['ratios']['capture_s3_to_raw_put_objects']['median']:.3f} (CPU bound on this host:"
        f" {medians['ratios']['cpu_bound_ratio']['median']:.3f}, for a capture costing nothing beyond its"
        f" PUTs: {medians['ratios']['cpu_ceiling_ratio']['median']:.3f}); S3 requests per new object"
        f" {medians['ratios']['s3_requests_per_new_object']['median']:.3f}, idle"
        f" {medians['ratios']['s3_requests_per_object_idle']['median']:.3f}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

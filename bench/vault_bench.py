"""Vault throughput on the local backend and on Ceph RGW (S3 with Object Lock), in one run.

    .venv/bin/python bench/vault_bench.py [--blobs 400] [--size-kb 100] [--large-mb 256] [--threads 8]

Reports per backend: locked PUT rate and MB/s for small blobs (sequential and with threads),
MB/s for one large streamed blob (multipart on S3), records/s written in segments of 100, and the
peak RSS of this process. Ratios compare each backend with the local one measured in the same run.
Starts the Ceph test cluster with deploy/ceph/rgw.sh unless AWS_ENDPOINT_URL is set.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vault import Record, Vault, open_vault  # noqa: E402


class PatternReader(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.remaining = size
        self.block = os.urandom(1 << 20)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.remaining, len(self.block))
        buffer[:n] = self.block[:n]
        self.remaining -= n
        return n


def start_ceph() -> None:
    if os.environ.get("AWS_ENDPOINT_URL"):
        return
    out = subprocess.run(
        ["bash", str(ROOT / "deploy/ceph/rgw.sh"), "start", str(ROOT / ".test-servers/ceph")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            os.environ[name] = value.strip("'\"")


def make_bucket() -> str:
    import boto3

    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket


def bench(vault: Vault, args: argparse.Namespace) -> dict[str, Any]:
    size = args.size_kb * 1000
    payloads = [os.urandom(size) for _ in range(args.blobs)]
    t0 = time.perf_counter()
    refs = [vault.put_blob(p, media_type="application/octet-stream") for p in payloads[: args.blobs // 2]]
    seq_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        refs += list(
            pool.map(
                lambda p: vault.put_blob(p, media_type="application/octet-stream"),
                payloads[args.blobs // 2 :],
            )
        )
    par_s = time.perf_counter() - t0
    n_seq, n_par = args.blobs // 2, args.blobs - args.blobs // 2
    t0 = time.perf_counter()
    large = vault.put_blob(PatternReader(args.large_mb << 20), media_type="application/octet-stream")  # type: ignore[arg-type]
    large_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sink = hashlib.sha256()

    class Sink(io.RawIOBase):
        def write(self, b: Any) -> int:
            sink.update(b)
            return len(b)

    vault.copy_blob_to(large.sha256, Sink())  # type: ignore[arg-type]
    read_s = time.perf_counter() - t0
    records = [
        Record(
            kind="mail-message",
            source={"system": "bench", "item_id": f"{uuid.uuid4()}"},
            capture={"run_id": "bench"},
            blob_sha256=refs[i % len(refs)].sha256,
            size=size,
        )
        for i in range(args.records)
    ]
    t0 = time.perf_counter()
    for start in range(0, len(records), 100):
        vault.put_records(records[start : start + 100])
    rec_s = time.perf_counter() - t0
    return {
        "small_put_per_s_sequential": round(n_seq / seq_s, 1),
        "small_mb_per_s_sequential": round(n_seq * size / seq_s / 1e6, 1),
        "small_put_per_s_threads": round(n_par / par_s, 1),
        "small_mb_per_s_threads": round(n_par * size / par_s / 1e6, 1),
        "large_write_mb_per_s": round(large.size / large_s / 1e6, 1),
        "large_read_verify_mb_per_s": round(large.size / read_s / 1e6, 1),
        "records_per_s_segments_of_100": round(args.records / rec_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blobs", type=int, default=400)
    parser.add_argument("--size-kb", type=int, default=100)
    parser.add_argument("--large-mb", type=int, default=256)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--skip-s3", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"params": vars(args)}
    with tempfile.TemporaryDirectory(
        dir=ROOT / ".test-servers" if (ROOT / ".test-servers").exists() else None
    ) as tmp:
        local = open_vault(f"file://{tmp}/vault", cache_dir=Path(tmp) / "cache", create=True)
        results["local"] = bench(local, args)
        if not args.skip_s3:
            start_ceph()
            s3 = open_vault(
                f"s3://{make_bucket()}/bench",
                cache_dir=Path(tmp) / "cache-s3",
                staging_dir=Path(tmp) / "staging",
                create=True,
            )
            results["s3_ceph_rgw"] = bench(s3, args)
            results["ratio_s3_to_local"] = {
                k: round(results["s3_ceph_rgw"][k] / results["local"][k], 3) for k in results["local"]
            }
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "vault_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Many writers of one S3 vault (Ceph RGW with Object Lock, which ignores conditional writes), and
what each new object costs in requests.

Within a process no key ever gets a second version, however many threads write it; two processes
that both find a key absent and both write it leave two (identical, locked) versions, which
``vault verify`` reports. A new object costs one PUT, a known one none.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.ceph import S3Server
from vault import RetentionPolicy, Vault, layout
from vault.s3 import S3Store
from vault.store import Retention
from vault.verify import verify_vault

pytestmark = [pytest.mark.s3]

REPO = Path(__file__).resolve().parents[2]
THREADS = 16


def _vault(server: S3Server, bucket: str, tmp_path: Path, cache: str, **config: Any) -> Vault:
    store = S3Store(bucket, "v", staging_dir=tmp_path / "staging", client=server.client(**config))
    return Vault.initialise(
        store, catalog_path=tmp_path / cache / "catalog.sqlite3", retention=RetentionPolicy()
    )


def _versions_per_key(client: Any, bucket: str, prefix: str) -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        counts.update(v["Key"] for v in page.get("Versions", []))
    return dict(counts)


def _counted(vault: Vault) -> collections.Counter[str]:
    """Every request the vault's S3 client sends from now on, by operation."""
    sent: collections.Counter[str] = collections.Counter()

    def count(event_name: str, **_: Any) -> None:
        sent[event_name.rsplit(".", 1)[-1]] += 1

    assert isinstance(vault.store, S3Store)
    vault.store.client.meta.events.register("before-send.s3", count)
    return sent


def test_one_blob_from_many_threads_is_one_version(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    vault = _vault(s3_server, s3_lock_bucket, tmp_path, "host")
    shared = [f"gedeelde afbeelding {n}".encode() * 1000 for n in range(4)]
    with ThreadPoolExecutor(THREADS) as pool:
        refs = list(pool.map(lambda n: vault.put_blob(shared[n % 4], media_type="image/png"), range(64)))
    assert sum(ref.created for ref in refs) == 4  # one writer per key stored it; the others found it
    versions = _versions_per_key(s3_client, s3_lock_bucket, "v/blobs/")
    assert sorted(versions.values()) == [1, 1, 1, 1]
    # The store on its own (no catalog: it asks the server) serialises its writers just as well.
    store = S3Store(s3_lock_bucket, "w", staging_dir=tmp_path / "staging", client=s3_server.client())
    data = b"zelfde sleutel, zestien schrijvers"
    sha = hashlib.sha256(data).hexdigest()
    md5 = hashlib.md5(data, usedforsecurity=False).digest()
    retention = Retention("archiefwet-overbrenging", vault.retention.for_class().retain_until)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(
            pool.map(
                lambda _: store.put_bytes(
                    layout.blob_key(sha),
                    data,
                    sha256=sha,
                    md5=md5,
                    media_type="text/plain",
                    retention=retention,
                ),
                range(THREADS),
            )
        )
    assert sum(r.created for r in results) == 1
    assert _versions_per_key(s3_client, s3_lock_bucket, "w/") == {f"w/{layout.blob_key(sha)}": 1}
    report = verify_vault(vault)
    assert report.all_well and report.second_versions == []


def test_a_new_object_costs_one_put_and_a_known_one_nothing(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    vault = _vault(s3_server, s3_lock_bucket, tmp_path, "host")
    hidden = vault.put_blob(b"verborgen achter een delete marker", media_type="text/plain")
    s3_client.delete_object(Bucket=s3_lock_bucket, Key=f"v/{hidden.key}")  # a plain DELETE: a marker
    reopened = _vault(s3_server, s3_lock_bucket, tmp_path, "other-host")  # its own, empty catalog
    sent = _counted(reopened)
    blobs = [f"bericht {n}".encode() * 100 for n in range(50)]
    with ThreadPoolExecutor(8) as pool:
        refs = list(pool.map(lambda data: reopened.put_blob(data, media_type="message/rfc822"), blobs))
    assert all(ref.created for ref in refs)
    assert sent["PutObject"] == 50
    assert sent["HeadObject"] == 0  # the listing vouched for every absence
    assert sum(sent.values()) <= 50 * 1.2
    sent.clear()
    again = [reopened.put_blob(data, media_type="message/rfc822") for data in blobs]
    assert not any(ref.created for ref in again) and sum(sent.values()) == 0
    # The blob behind the delete marker: the listing saw through it, so it is not written again.
    assert not reopened.put_blob(b"verborgen achter een delete marker", media_type="text/plain").created
    assert sent["PutObject"] == 0
    assert set(_versions_per_key(s3_client, s3_lock_bucket, "v/blobs/").values()) == {1}


_WRITER = r"""
import os, sys, time
from pathlib import Path
from vault import RetentionPolicy, Vault
from vault.s3 import S3Store
from tests.fixtures.ceph import S3Server
from concurrent.futures import ThreadPoolExecutor

bucket, cache, barrier, count = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
server = S3Server(os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_ACCESS_KEY_ID"],
                  os.environ["AWS_SECRET_ACCESS_KEY"], os.environ["AWS_DEFAULT_REGION"])
store = S3Store(bucket, "v", staging_dir=cache / "staging", client=server.client())
vault = Vault.open(store, catalog_path=cache / "catalog.sqlite3", retention=RetentionPolicy())
vault.put_blob(f"own blob of {cache.name}".encode(), media_type="text/plain")  # takes the listing
(cache / "ready").touch()
while not barrier.exists():
    time.sleep(0.01)
shared = [f"Teams-afbeelding in twee chats {n}".encode() * 200 for n in range(count)]
with ThreadPoolExecutor(8) as pool:
    created = sum(r.created for r in pool.map(lambda n: vault.put_blob(shared[n % count], media_type="image/png"),
                                               range(4 * count)))
print(created)
"""


@pytest.mark.slow
def test_two_processes_writing_the_same_blobs_are_reported_by_verify(
    s3_server: S3Server, s3_client: Any, s3_lock_bucket: str, tmp_path: Path
) -> None:
    # Two capture workers, each with a fresh listing that shows the shared images absent, write them
    # at the same moment: RGW ignores If-None-Match, so both PUTs land. Nothing is lost (the bytes are
    # the same, both versions locked); verify reports every key written twice.
    _vault(s3_server, s3_lock_bucket, tmp_path, "init").close()
    barrier, count = tmp_path / "go", 12
    env = dict(os.environ, PYTHONPATH=str(REPO), **s3_server.environment())
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, s3_lock_bucket, str(tmp_path / name), str(barrier), str(count)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("worker-a", "worker-b")
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / name / "ready").exists() for name in ("worker-a", "worker-b")):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers)
        time.sleep(0.05)
    barrier.touch()
    created = [int(w.communicate(timeout=120)[0].strip()) for w in writers]
    assert all(w.returncode == 0 for w in writers)
    assert created == [count, count]  # within each process: one writer per key
    shared = {
        f"v/{layout.blob_key(hashlib.sha256(f'Teams-afbeelding in twee chats {n}'.encode() * 200).hexdigest())}"
        for n in range(count)
    }
    versions = _versions_per_key(s3_client, s3_lock_bucket, "v/blobs/")
    assert {key: versions[key] for key in shared} == dict.fromkeys(shared, 2)
    report = verify_vault(_vault(s3_server, s3_lock_bucket, tmp_path, "verifier"))
    assert {f"v/{e['key']}": e["versions"] for e in report.second_versions} == dict.fromkeys(shared, 2)
    assert not report.corrupted and not report.missing  # identical bytes: nothing is lost or altered
    print(json.dumps({"second_versions": len(report.second_versions)}))

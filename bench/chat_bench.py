"""Teams chat capture throughput against the simulated tenant, with its baseline measured in the
same run.

    .venv/bin/python bench/chat_bench.py [--account ADDRESS] [--messages 5000] [--changes 500]

The ``demo`` profile has too few chat messages for a benchmark, so before timing the bench posts
messages into the account's chats (``post-chat-message``; every ``--image-every``-th with an inline
image) until the account sees ``--messages`` of them. Then:

1. ``full``: the account's chats captured into a fresh local vault by a separate capture process
   (``CaptureEngine.capture_chats``: chat metadata, the ``getAllMessages`` window, hosted images,
   per-chat reconciliation, manifest): messages/s, versions/s, the time of each phase.
2. ``incremental``: ``--changes`` messages edited, deleted or reacted to, then the next run: new
   versions/s. Then an ``idle`` run with nothing changed.
3. ``raw_get_all_messages``: the simulator's raw ``getAllMessages`` page rate for the same account
   and window (``$top=50``, ``model=A``), walked with plain httpx, no vault: pages/s, messages/s.
4. ``raw_put``: the vault's rate for storing the same message JSON blobs (one fsync'ed object each,
   8 threads) into another fresh local vault, no source: what the write-once store allows.

Ratios: full messages/s / raw getAllMessages messages/s, and / raw_put blobs/s. Throttling is off on
both sides (the pipeline's capability, not Graph's budget). Results go to stdout and
bench/results/chat_bench.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capture_bench import PY, capture_env, start_simulator, token  # noqa: E402

CAPTURE_CHILD = r"""
import asyncio, json, sys, time
from capstone.capture import chats as chats_module
from capstone.capture.engine import CaptureEngine, EngineOptions
from capstone.capture.state import CaptureState
from capstone.capture.target import CaptureTarget
from capstone.services import connector_factory, graph_connection, open_vault, state_engine
from capstone.settings import load_settings

phases = {}
def timed(name, method):
    async def wrapper(self, *args, **kwargs):
        t0 = time.monotonic()
        try:
            return await method(self, *args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.monotonic() - t0
    return wrapper
chats_module.ChatCapture.run = timed("window", chats_module.ChatCapture.run)
chats_module.ChatCapture.reconcile = timed("reconcile", chats_module.ChatCapture.reconcile)

settings = load_settings()
vault = open_vault(settings, create=True)
state = CaptureState(state_engine(settings))

def hwm_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

async def main():
    connection = graph_connection(settings)
    connectors = connector_factory(settings, graph=connection)
    engine = CaptureEngine(vault=vault, state=state, connectors=connectors, options=EngineOptions())
    t0 = time.monotonic()
    result = await engine.capture_chats(CaptureTarget("bench", sys.argv[1], "bench"))
    seconds = time.monotonic() - t0
    await connection.aclose()
    return result, seconds

result, seconds = asyncio.run(main())
records = {}
for kind in ("chat-message-version", "hosted-content", "chat-metadata"):
    records[kind] = sum(1 for _ in vault.iter_records(kind))
print(json.dumps({"status": result.status, "error": result.error, "seconds": seconds,
                  "versions": result.counters["items"], "seen": result.counters["seen"],
                  "bytes": result.counters["bytes"], "source_messages": (result.reconciliation or {}).get("source_items"),
                  "phases": phases, "vault_records": records, "peak_rss_mb": hwm_mb()}))
"""


def run_capture(info: dict[str, Any], home: Path, account: str) -> dict[str, Any]:
    """One chat-capture run of the account in its own process, into the vault under ``home``."""
    out = subprocess.run(
        [PY, "-c", CAPTURE_CHILD, account],
        env=capture_env(info, home, CAPSTONE_GRAPH_BUDGET="1000000000"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def mutate(client: httpx.Client, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for start in range(0, len(documents), 500):
        response = client.post("/_sim/mutations", json={"mutations": documents[start : start + 500]})
        response.raise_for_status()
        results.extend(response.json()["results"])
    return results


def account_chats(client: httpx.Client, account: str) -> list[dict[str, Any]]:
    truth = client.get("/_sim/truth", params={"hashes": "false"}).json()
    return [c for c in truth["chats"] if account in c["members"]]


def settle(results: list[dict[str, Any]]) -> None:
    """Wait until the newest change is older than the capture's window end (now - 2 s)."""
    stamps = [r["message"]["lastModifiedDateTime"] for r in results if "message" in r]
    if stamps:
        newest = datetime.fromisoformat(max(stamps).replace("Z", "+00:00"))
        delay = (newest - datetime.now(UTC)).total_seconds() + 3.0
        if delay > 0:
            time.sleep(delay)


def grow(client: httpx.Client, account: str, target: int, image_every: int) -> dict[str, int]:
    chats = account_chats(client, account)
    present = sum(len(c["messages"]) for c in chats)
    documents = []
    for n in range(max(0, target - present)):
        chat = chats[n % len(chats)]
        sender = chat["members"][(n // len(chats)) % len(chat["members"])]
        documents.append(
            {
                "op": "post-chat-message",
                "chat": chat["id"],
                "from": sender,
                "content": f"Benchbericht {n}: stand van zaken collegevoorstel, zie de notitie.",
                "images": 1 if image_every and n % image_every == 0 else 0,
            }
        )
    settle(mutate(client, documents))
    return {"chats": len(chats), "generated": len(documents), "messages": present + len(documents)}


def change(client: httpx.Client, account: str, count: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    chats = account_chats(client, account)
    candidates = [
        (c, m)
        for c in chats
        for m in c["messages"]
        if m["messageType"] == "message" and not m["deletedDateTime"]
    ]
    documents: list[dict[str, Any]] = []
    kinds = {"edit": 0, "delete": 0, "react": 0}
    for n, (chat, message) in enumerate(rng.sample(candidates, min(count, len(candidates)))):
        kind = ("edit", "react", "react", "delete")[n % 4]
        kinds[kind] += 1
        if kind == "edit":
            documents.append({"op": "edit-chat-message", "chat": chat["id"], "message": message["id"],
                              "content": f"Aangepast ({n}): definitieve tekst."})  # fmt: skip
        elif kind == "delete":
            documents.append({"op": "delete-chat-message", "chat": chat["id"], "message": message["id"]})
        else:
            documents.append({"op": "react", "chat": chat["id"], "message": message["id"],
                              "user": chat["members"][n % len(chat["members"])], "reaction": "like"})  # fmt: skip
    settle(mutate(client, documents))
    return kinds


def raw_get_all_messages(info: dict[str, Any], account: str, rounds: int = 3) -> dict[str, float]:
    """Walk getAllMessages for the account, page by page, as the capture's window does."""
    headers = {"Authorization": f"Bearer {token(info)}", "Prefer": "include-unknown-enum-members"}
    until = (datetime.now(UTC) - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    best: dict[str, float] = {}
    with httpx.Client(headers=headers, timeout=120) as client:
        for _ in range(rounds):
            url: str | None = f"{info['base_url']}/v1.0/users/{account}/chats/getAllMessages"
            params: dict[str, str] | None = {
                "model": "A",
                "$top": "50",
                "$filter": f"lastModifiedDateTime lt {until}",
            }
            pages = messages = size = 0
            t0 = time.monotonic()
            while url:
                response = client.get(url, params=params)
                response.raise_for_status()
                size += len(response.content)
                document = response.json()
                pages += 1
                messages += len(document["value"])
                url, params = document.get("@odata.nextLink"), None
            seconds = time.monotonic() - t0
            result = {
                "pages": pages,
                "messages": messages,
                "seconds": seconds,
                "pages_per_s": pages / seconds,
                "messages_per_s": messages / seconds,
                "mb_per_s": size / seconds / 1e6,
            }
            if not best or result["messages_per_s"] > best["messages_per_s"]:
                best = result
    return best


def raw_put(home: Path, threads: int = 8) -> dict[str, float]:
    from vault import open_vault

    source = open_vault(f"file://{home / 'vault'}", cache_dir=home / "cache")
    payloads = [
        source.read_blob(r.blob_sha256) for r in source.iter_records("chat-message-version") if r.blob_sha256
    ]
    with tempfile.TemporaryDirectory(dir=home.parent) as tmp:
        target = open_vault(f"file://{tmp}/vault", cache_dir=Path(tmp) / "cache", create=True)
        t0 = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda p: target.put_blob(p, media_type="application/json"), payloads))
        seconds = time.monotonic() - t0
    return {"blobs": len(payloads), "seconds": seconds, "blobs_per_s": len(payloads) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--account", default="burgemeester@gemeente-demo.nl")
    parser.add_argument("--messages", type=int, default=5000, help="Messages the account sees.")
    parser.add_argument("--image-every", type=int, default=10, help="Every n-th generated message: an image.")
    parser.add_argument("--changes", type=int, default=500, help="Edits, deletions, reactions before run 2.")
    args = parser.parse_args()
    results: dict[str, Any] = {"params": vars(args)}
    work = ROOT / ".test-servers" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    sim, info = start_simulator("--profile", args.profile, "--seed", "7", "--no-throttle")
    try:
        with (
            tempfile.TemporaryDirectory(dir=work) as tmp_name,
            httpx.Client(base_url=info["base_url"]) as admin,
        ):
            home = Path(tmp_name) / "home"
            results["data"] = grow(admin, args.account, args.messages, args.image_every)
            full = run_capture(info, home, args.account)
            results["full"] = full | {
                "messages_per_s": full["seen"] / full["seconds"],
                "versions_per_s": full["versions"] / full["seconds"],
            }
            results["raw_get_all_messages"] = raw_get_all_messages(info, args.account)
            results["raw_put"] = raw_put(home)
            results["ratio_full_to_raw_get_all_messages"] = (
                results["full"]["messages_per_s"] / results["raw_get_all_messages"]["messages_per_s"]
            )
            results["ratio_full_to_raw_put"] = (
                results["full"]["messages_per_s"] / results["raw_put"]["blobs_per_s"]
            )
            results["changes"] = change(admin, args.account, args.changes)
            incremental = run_capture(info, home, args.account)
            results["incremental"] = incremental | {
                "versions_per_s": incremental["versions"] / incremental["seconds"],
            }
            results["idle"] = run_capture(info, home, args.account)
    finally:
        sim.terminate()
        sim.wait()
    text = json.dumps(json.loads(json.dumps(results), parse_float=lambda v: round(float(v), 3)), indent=2)
    print(text)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "chat_bench.json").write_text(text + "\n")


if __name__ == "__main__":
    main()

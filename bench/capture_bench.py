"""Capture throughput against the simulated tenant, with its baselines measured in the same run.

    .venv/bin/python bench/capture_bench.py [--mailbox ADDRESS] [--profile large] [--skip-budget]
        [--repeat N] [--big-mb 1024] [--flat]

1. ``e2e``: one mailbox of the ``large`` profile captured into a fresh local vault by a separate
   capture process (so its peak RSS is its own): messages/s, MB/s, peak RSS, RSS at 25 % of the run.
2. ``raw_serve``: the simulator's serve rate for the same MIME: plain concurrent GETs of ``$value``
   (4 at a time, Graph's per-mailbox limit) with httpx, no vault.
3. ``raw_put``: the vault's PUT rate for the same bytes into another fresh local vault (4 threads).
4. ``budget``: with Graph's real limits (10,000 requests per 600 s, 4 concurrent), time-scaled so the
   budget binds, the share of the per-mailbox budget the capture used.
5. ``big_attachment`` (``--big-mb``): peak RSS of capturing one message with a very large attachment.
6. ``flat`` (``--flat``): a mailbox of 200,000 messages (profile ``huge``): peak RSS every 10,000
   items, so memory that grows with the mailbox shows as a slope.

Ratios: e2e / min(raw_serve, raw_put) (target >= 0.8), for the whole run (every source) and for its
primary-mail part (the same MIME the raw rates move); with ``--repeat N`` e2e and raw serve run N
times alternating and the pair with the median whole-run ratio is the result (all pairs under
``pairs``); budget used (target >= 95 %); RSS (<= 300 MB).
Results go to stdout and bench/results/capture_bench.json (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable


def start_simulator(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [PY, "-m", "capstone.cli.main", "--log-level", "warning", "simulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    info = json.loads(process.stdout.readline())
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{info['base_url']}/_sim/health", timeout=5).status_code == 200:
                return process, info
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the simulator did not start")


def capture_env(info: dict[str, Any], home: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTONE_")}
    env.update(
        CAPSTONE_HOME=str(home),
        CAPSTONE_GRAPH_BASE_URL=f"{info['base_url']}/v1.0",
        CAPSTONE_GRAPH_TOKEN_URL=f"{info['base_url']}/{info['tenant_id']}/oauth2/v2.0/token",
        CAPSTONE_GRAPH_CLIENT_ID=info["client_id"],
        CAPSTONE_GRAPH_CLIENT_SECRET=info["client_secret"],
        CAPSTONE_LOG_LEVEL="warning",
        **more,
    )
    return env


CAPTURE_CHILD = r"""
import asyncio, json, resource, sys, threading, time
from datetime import date
from capstone.capture.engine import CaptureEngine, EngineOptions
from capstone.capture.state import CaptureState
from capstone.capture.target import CaptureTarget
from capstone.services import connector_factory, graph_connection, open_vault, state_engine
from capstone.settings import load_settings

settings = load_settings()
vault = open_vault(settings, create=True)
state = CaptureState(state_engine(settings))
samples = []
def hwm_kb():
    # VmHWM belongs to this process's memory map; ru_maxrss would carry the parent's over fork+exec.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
engine = None
def sampler():
    while True:
        items = 0
        if engine is not None and sys.argv[1] in engine.counters:
            items = engine.counters[sys.argv[1]].items
        samples.append((time.monotonic(), hwm_kb(), items))
        time.sleep(0.5)
threading.Thread(target=sampler, daemon=True).start()

async def main():
    global engine
    connection = graph_connection(settings)
    engine = CaptureEngine(vault=vault, state=state, connectors=connector_factory(settings, graph=connection),
                           options=EngineOptions())
    target = CaptureTarget("bench", sys.argv[1], "bench")
    t0 = time.monotonic()
    result = await engine.capture_mail(target)
    seconds = time.monotonic() - t0
    await connection.aclose()
    stats = connection.transport.stats_by_mailbox.get(sys.argv[1].lower())
    return result, seconds, t0, stats

result, seconds, t0, stats = asyncio.run(main())
rss_at_quarter = next((r for t, r, _ in samples if t >= t0 + seconds / 4), samples[-1][1] if samples else 0)
# Peak RSS so far, each time another 10,000 items were captured: flat means it stops growing.
rss_by_items, mark = [], 10_000
for _, rss, items in samples:
    if items >= mark:
        rss_by_items.append([items, round(rss / 1024, 1)])
        mark = (items // 10_000 + 1) * 10_000
print(json.dumps({"status": result.status, "items": result.counters["items"], "bytes": result.counters["bytes"],
                  "seconds": seconds, "requests": result.requests, "throttle_waits": result.throttle_waits,
                  "throttled": stats.throttled if stats else 0,
                  "peak_rss_mb": hwm_kb() / 1024,
                  "rss_at_quarter_mb": rss_at_quarter / 1024, "rss_by_items": rss_by_items,
                  "sources": {m["mailbox_kind"]: m.get("captured") for m in (result.reconciliation or {}).get("mailboxes", [])}}))
"""


def run_capture(info: dict[str, Any], home: Path, mailbox: str, **env: str) -> dict[str, Any]:
    out = subprocess.run(
        [PY, "-c", CAPTURE_CHILD, mailbox],
        env=capture_env(info, home, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def token(info: dict[str, Any]) -> str:
    response = httpx.post(
        f"{info['base_url']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    return str(response.json()["access_token"])


def item_ids(home: Path, mailbox: str) -> list[str]:
    from capstone.capture.state import CaptureState
    from capstone.services import state_engine
    from capstone.settings import Settings

    state = CaptureState(state_engine(Settings(home=home)))
    with state.engine.connect() as conn:
        from sqlalchemy import select

        from capstone.capture.tables import captured_items

        rows = conn.execute(
            select(captured_items.c.item_id).where(
                captured_items.c.account == mailbox,
                captured_items.c.mailbox_kind == "primary",
                captured_items.c.state == "captured",
            )
        )
        return [r[0] for r in rows]


async def raw_serve(
    info: dict[str, Any], mailbox: str, ids: list[str], concurrency: int = 4
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token(info)}", "Prefer": 'IdType="ImmutableId"'}
    queue = list(ids)
    total = 0
    async with httpx.AsyncClient(headers=headers, timeout=120) as client:

        async def worker() -> None:
            nonlocal total
            while queue:
                item = queue.pop()
                async with client.stream(
                    "GET", f"{info['base_url']}/v1.0/users/{mailbox}/messages/{item}/$value"
                ) as r:
                    async for chunk in r.aiter_raw(1 << 20):
                        total += len(chunk)

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.monotonic() - t0
    return {"items_per_s": len(ids) / seconds, "mb_per_s": total / seconds / 1e6, "seconds": seconds}


def mail_payloads(source_home: Path) -> list[bytes]:
    """The content of every ``mail-message`` record in the capture's vault under ``source_home``."""
    from vault import open_vault

    source = open_vault(f"file://{source_home / 'vault'}", cache_dir=source_home / "cache")
    blobs = [r.blob_sha256 for r in source.iter_records("mail-message") if r.blob_sha256]
    return [source.read_blob(sha) for sha in blobs]


def write_results(results: dict[str, Any], out: Path) -> None:
    """``results`` as indented JSON, printed and written to ``out``."""
    text = json.dumps(results, indent=2, default=lambda v: round(v, 3) if isinstance(v, float) else str(v))
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


def raw_put(source_home: Path, threads: int = 4) -> dict[str, float]:
    from vault import open_vault

    payloads = mail_payloads(source_home)
    with tempfile.TemporaryDirectory(dir=source_home.parent) as tmp:
        target = open_vault(f"file://{tmp}/vault", cache_dir=Path(tmp) / "cache", create=True)
        t0 = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda p: target.put_blob(p, media_type="message/rfc822"), payloads))
        seconds = time.monotonic() - t0
    size = sum(len(p) for p in payloads)
    return {"items_per_s": len(payloads) / seconds, "mb_per_s": size / seconds / 1e6, "seconds": seconds}


def write_big_eml(path: Path, megabytes: int) -> None:
    with open(path, "wb") as out:
        out.write(
            b"From: Bench <bench@gemeente-demo.nl>\r\nTo: griffier@gemeente-demo.nl\r\n"
            b"Subject: Grote bijlage\r\nMessage-ID: <big-attachment@gemeente-demo.nl>\r\n"
            b"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n'
            b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="groot.bin"\r\n\r\n'
        )
        block = base64.encodebytes(os.urandom(57 * 1024 * 16))
        for _ in range(megabytes * (1 << 20) // len(block) + 1):
            out.write(block)
        out.write(b"--b--\r\n")


def _ratios(e2e: dict[str, Any], serve: dict[str, float], put: dict[str, float]) -> dict[str, Any]:
    """One e2e run against the raw rates: the whole run, and its primary-mail part (the same MIME the
    raw rates move; the rest of a run is the archive's and the calendar's export streams and Graph
    JSON, which raw serve skips)."""
    out: dict[str, Any] = {
        "e2e": e2e
        | {"items_per_s": e2e["items"] / e2e["seconds"], "mb_per_s": e2e["bytes"] / e2e["seconds"] / 1e6},
        "raw_serve": serve,
    }
    slower = min(serve["items_per_s"], put["items_per_s"])
    out["ratio_e2e_to_slower_raw"] = out["e2e"]["items_per_s"] / slower
    mail = e2e["sources"].get("primary") or {}
    if mail.get("seconds"):
        out["e2e_primary_mail"] = mail | {
            "items_per_s": mail["items"] / mail["seconds"],
            "mb_per_s": mail["bytes"] / mail["seconds"] / 1e6,
        }
        out["ratio_primary_mail_to_slower_raw"] = out["e2e_primary_mail"]["items_per_s"] / slower
    return out


class _Skip(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="large")
    parser.add_argument("--mailbox", default="burgemeester@gemeente-demo.nl")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-budget", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="e2e / raw serve pairs, alternating; the median ratio is reported.",
    )
    # The budget must bind: 10,000 requests per 600 s / scale has to be below the capture's own rate.
    parser.add_argument("--budget-time-scale", type=float, default=5.0)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument(
        "--flat",
        dest="flat_mailbox_items",
        action="store_true",
        help="Also capture a 200,000-message mailbox (profile huge) and report RSS every 10,000 items.",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "capture_bench.json")
    args = parser.parse_args()
    results: dict[str, Any] = {"params": vars(args)}
    work = ROOT / ".test-servers" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        if args.skip_e2e:
            sim, info = None, {}
        else:
            sim, info = start_simulator("--profile", args.profile, "--no-throttle")
        try:
            if sim is None:
                raise _Skip
            # Throttling off on both sides: the capability of the pipeline, not Graph's budget. With
            # --repeat, e2e and raw serve alternate, so a slow spell of the machine hits both alike;
            # the pair with the median ratio is reported, every pair is kept.
            pairs = []
            for attempt in range(args.repeat):
                home = tmp / f"e2e-{attempt}"
                e2e = run_capture(info, home, args.mailbox, CAPSTONE_GRAPH_BUDGET="1000000000")
                ids = item_ids(home, args.mailbox)
                serve = asyncio.run(raw_serve(info, args.mailbox, ids))
                pairs.append((home, e2e, serve))
            results["raw_put"] = raw_put(pairs[0][0])
            results["pairs"] = []
            for _home, e2e, serve in pairs:
                pair = _ratios(e2e, serve, results["raw_put"])
                results["pairs"].append(pair)
                print(json.dumps(pair, default=str), file=sys.stderr, flush=True)
            median = sorted(results["pairs"], key=lambda p: p["ratio_e2e_to_slower_raw"])[len(pairs) // 2]
            results.update(median)
            print(json.dumps(results, default=str), file=sys.stderr, flush=True)
        except _Skip:
            pass
        finally:
            if sim is not None:
                sim.terminate()
                sim.wait()

        if not args.skip_budget:
            scale = args.budget_time_scale
            sim, info = start_simulator("--profile", args.profile, "--time-scale", str(scale))
            try:
                window = 600.0 / scale
                budget = run_capture(
                    info, tmp / "budget", args.mailbox, CAPSTONE_GRAPH_WINDOW_SECONDS=str(window)
                )
            finally:
                sim.terminate()
                sim.wait()
            allowed = 10_000 * budget["seconds"] / window
            results["budget"] = budget | {
                "window_s": window,
                "requests_per_s": budget["requests"] / budget["seconds"],
                "budget_per_s": 10_000 / window,
                "budget_used": min(budget["requests"] / allowed, 1.0) if allowed else 0.0,
                "bound_by_budget": budget["requests"] / budget["seconds"] > 0.5 * 10_000 / window,
            }

        if args.flat_mailbox_items:
            # Memory flatness: the same capture of a mailbox of 200,000 messages (the ``huge``
            # profile); peak RSS is read every 10,000 items, so growth would show as a slope.
            sim, info = start_simulator("--profile", "huge", "--no-throttle")
            try:
                flat = run_capture(info, tmp / "flat", args.mailbox, CAPSTONE_GRAPH_BUDGET="1000000000")
            finally:
                sim.terminate()
                sim.wait()
            curve = flat.get("rss_by_items") or []
            first_10k = curve[0][1] if curve else flat["peak_rss_mb"]
            results["flat"] = flat | {
                "items_per_s": flat["items"] / flat["seconds"],
                "peak_rss_at_10k_mb": first_10k,
                "growth_10k_to_end_mb": flat["peak_rss_mb"] - first_10k,
            }
            print(json.dumps(results["flat"], default=str), file=sys.stderr, flush=True)

        if args.big_mb:
            eml_dir = tmp / "big"
            eml_dir.mkdir()
            write_big_eml(eml_dir / "big.eml", args.big_mb)
            sim, info = start_simulator("--profile", "small", "--no-throttle", "--import",
                                        f"{eml_dir}:griffier@gemeente-demo.nl:Inbox/Groot")  # fmt: skip
            try:
                big = run_capture(info, tmp / "bigcap", "griffier@gemeente-demo.nl")
            finally:
                sim.terminate()
                sim.wait()
            results["big_attachment"] = big | {"attachment_mb": args.big_mb}
    results["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_results(results, args.out)


if __name__ == "__main__":
    main()

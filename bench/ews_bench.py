"""EWS capture throughput and memory against the simulated tenant, with its baseline measured in the
same run.

    .venv/bin/python bench/ews_bench.py [--profile large] [--mailbox ADDRESS] [--big-mb 1024]
        [--repeat N] [--page-size CHANGES]

``--page-size`` sets the capture's ``SyncFolderItems`` page (``CAPSTONE_EWS_PAGE_SIZE``; default
the settings' 512), e.g. ``--page-size 100`` to compare with the earlier default.

1. ``e2e``: one on-premises mailbox (primary and archive, every folder, every item as MIME through
   ``GetItem``/``MimeContent``) captured by the capture engine with the EWS connector into a fresh
   local vault, in a separate process (so its peak RSS is its own).
2. ``raw_serve``: the simulator's serve rate for exactly the same items: plain ``GetItem`` SOAP
   requests with ``MimeContent`` (impersonating the mailbox, Basic authentication), one item per
   request, as many at once as the connector's per-mailbox limit (``EWSMaxConcurrency``, 10),
   responses read whole with httpx; no parsing, no decoding, no vault.
   ``raw_serve_batched``: the same, but with the items grouped as the connector groups them (small
   items several to a ``GetItem``, by their size: ``connectors.ews.connector.plan_batches``), so
   the baseline gets the same saving of requests the capture gets.
3. ``raw_put``: the vault's put rate for the same bytes (read back from the e2e vault, held in
   memory) into another fresh local vault, as many puts at once as the capture's sink commits
   (``capstone.capture.sink.COMMITS``), one fsync'ed ``put_blob`` per item; ``raw_put_grouped``:
   the same bytes the way the capture stores them (the connector's batches, each one group commit
   through ``put_blobs``; large items alone). Each with this process's CPU per item.
4. ``big_attachment`` (``--big-mb``): peak RSS of capturing, through EWS, one message with a very
   large attachment (target <= 300 MB).

Ratio: e2e items/s / the raw rate of the slower half of the pipeline: min(the faster of the two
raw serve rates, the faster of the two raw puts) (target >= 0.8), as ``bench/capture_bench.py``
does for Graph;
``ratio_single``, ``ratio_batched`` and ``ratio_put`` against each raw rate alone;
``requests_per_item``: the capture's GetItem requests per item.
CPU per item (user + system), beside every rate, since the machine may be loaded by other work:
``capture_cpu_ms_per_item`` (the capture child, all its threads), ``sim_cpu_ms_per_item`` (the
simulator, over the same phase) and, for the raw runs, ``client_cpu_ms_per_item`` (this process's
httpx client). The simulator and the capture share the cores, so the e2e rate is bounded by their
CPU per item together. Two things the baseline does not pay: ``SyncFolderItems`` (the simulator
renders each item to learn its ``Size`` the first time it is listed: the first e2e run costs the
simulator more than the repeats), and the connector's batches end at a change page (it sends a
few more GetItem requests than ``raw_serve_batched``, which groups all items at once).
``cpu_ceiling``: the most any capture could reach on this host, every core busy and each item
costing only the simulator's and the raw client's CPU of ``raw_serve_batched`` plus the cheaper raw
put's; ``cpu_ceiling_ratio`` is that over the ratio's denominator (below 0.8, the target would be
out of reach here whatever the capture did). The capture child, the simulator start and the large
message are those of :mod:`bench.capture_bench` (the Graph variant).
Results go to stdout and bench/results/ews_bench.json (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capture_bench import (  # noqa: E402
    PY,
    capture_env,
    mail_payloads,
    start_simulator,
    write_big_eml,
    write_results,
)
from capstone.capture.sink import COMMITS  # noqa: E402
from connectors.base import ItemChange  # noqa: E402
from connectors.ews.config import DEFAULT_MAX_CONCURRENCY, MAX_CHANGES_LIMIT  # noqa: E402
from connectors.ews.connector import plan_batches  # noqa: E402
from connectors.simulator.state import SimulatorConfig  # noqa: E402

EWS_USER, EWS_PASSWORD = next(iter(SimulatorConfig().ews_users.items()))
KINDS = ("ews-primary", "ews-archive")

CAPTURE_CHILD = r"""
import asyncio, json, resource, sys, time
from capstone.capture.engine import CaptureEngine, EngineOptions
from capstone.capture.state import CaptureState
from capstone.capture.target import CaptureTarget
from capstone.services import connector_factory, open_vault, state_engine
from capstone.settings import load_settings

settings = load_settings()
vault = open_vault(settings, create=True)
state = CaptureState(state_engine(settings))

def hwm_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

async def main():
    mailbox, endpoint = sys.argv[1], sys.argv[2]
    connectors = connector_factory(settings, [])
    engine = CaptureEngine(vault=vault, state=state, connectors=connectors, options=EngineOptions())
    target = CaptureTarget("bench", mailbox, "bench", exchange_endpoint=endpoint, address=mailbox)
    t0 = time.monotonic()
    result = await engine.capture_mail(target)
    seconds = time.monotonic() - t0
    await connectors.aclose()
    return result, seconds

result, seconds = asyncio.run(main())
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"status": result.status, "source": result.source, "items": result.counters["items"],
                  "bytes": result.counters["bytes"], "seconds": seconds, "requests": result.requests,
                  "content_requests": result.content_requests, "peak_rss_mb": hwm_kb() / 1024,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime}))
"""

GET_ITEM = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
 xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<soap:Header><t:RequestServerVersion Version="Exchange2016"/>
<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{mailbox}</t:PrimarySmtpAddress>
</t:ConnectingSID></t:ExchangeImpersonation></soap:Header>
<soap:Body><m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>
<t:FieldURI FieldURI="item:MimeContent"/></t:AdditionalProperties></m:ItemShape>
<m:ItemIds>{item_ids}</m:ItemIds></m:GetItem></soap:Body></soap:Envelope>"""


def run_capture(
    info: dict[str, Any], home: Path, mailbox: str, child: str = CAPTURE_CHILD, **more: str
) -> dict[str, Any]:
    """One capture of ``mailbox`` by the ``child`` program (``CAPTURE_CHILD``), ``more`` added to
    its environment; its JSON summary."""
    env = capture_env(
        info,
        home,
        **more,
        CAPSTONE_EWS_USERNAME=EWS_USER,
        CAPSTONE_EWS_PASSWORD=EWS_PASSWORD,
        CAPSTONE_EWS_AUTH="basic",
        CAPSTONE_EWS_ALLOW_INSECURE_HTTP="true",
    )
    done = subprocess.run(
        [PY, "-c", child, mailbox, ews_url(info)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (the simulator's: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def with_cpu(
    measure: dict[str, Any], items: int, sim_cpu: float, client_cpu: float | None = None
) -> dict[str, Any]:
    """CPU per item beside the rates: on a loaded machine (2 cores shared by the simulator, the
    capture and whatever else runs) wall-clock rates move with the load, CPU per item much less."""
    out = measure | {"sim_cpu_ms_per_item": sim_cpu * 1000 / items}
    if client_cpu is not None:
        out["client_cpu_ms_per_item"] = client_cpu * 1000 / items
    return out


def page_size(text: str) -> int:
    """``--page-size``: a ``MaxChangesReturned`` Exchange accepts (1..512), else a clear error."""
    value = int(text)
    if not 1 <= value <= MAX_CHANGES_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_CHANGES_LIMIT}, not {value}")
    return value


def page_size_env(size: int | None) -> dict[str, str]:
    """The capture child's environment for ``--page-size`` (nothing: the settings' default)."""
    return {"CAPSTONE_EWS_PAGE_SIZE": str(size)} if size else {}


def with_rates(run: dict[str, Any]) -> dict[str, Any]:
    """A capture child's summary with its rates per second and per item beside it."""
    return run | {
        "items_per_s": run["items"] / run["seconds"],
        "mb_per_s": run["bytes"] / run["seconds"] / 1e6,
        "requests_per_item": run["content_requests"] / run["items"],
        "capture_cpu_ms_per_item": run["cpu_seconds"] * 1000 / run["items"],
        "load_average": os.getloadavg(),
    }


def ews_url(info: dict[str, Any]) -> str:
    return f"{info['base_url']}/EWS/Exchange.asmx"


def item_ids(home: Path, mailbox: str) -> list[tuple[str, int]]:
    from sqlalchemy import select

    from capstone.capture.state import CaptureState
    from capstone.capture.tables import captured_items
    from capstone.services import state_engine
    from capstone.settings import Settings

    state = CaptureState(state_engine(Settings(home=home)))
    with state.engine.connect() as conn:
        rows = conn.execute(
            select(captured_items.c.item_id, captured_items.c.size).where(
                captured_items.c.account == mailbox,
                captured_items.c.mailbox_kind.in_(KINDS),
                captured_items.c.state == "captured",
            )
        )
        return [(r[0], r[1]) for r in rows]


def requests_of(items: list[tuple[str, int]], batched: bool) -> list[list[str]]:
    """One id per request, or the connector's grouping (large items alone, small ones together)."""
    if not batched:
        return [[item_id] for item_id, _ in items]
    singles, batches = plan_batches([ItemChange(item_id=item_id, size=size) for item_id, size in items])
    return [[item_id] for item_id in singles] + batches


async def raw_serve(
    info: dict[str, Any], mailbox: str, requests: list[list[str]], concurrency: int = DEFAULT_MAX_CONCURRENCY
) -> dict[str, float]:
    queue = list(requests)
    items = sum(len(r) for r in requests)
    total = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(auth=(EWS_USER, EWS_PASSWORD), timeout=300, limits=limits) as client:

        async def worker() -> None:
            nonlocal total
            while queue:
                ids = "".join(f'<t:ItemId Id="{item_id}"/>' for item_id in queue.pop())
                body = GET_ITEM.format(mailbox=mailbox, item_ids=ids)
                async with client.stream(
                    "POST", ews_url(info), content=body, headers={"Content-Type": "text/xml; charset=utf-8"}
                ) as response:
                    if response.status_code != 200:
                        raise RuntimeError(f"GetItem answered {response.status_code}")
                    async for chunk in response.aiter_raw(1 << 20):
                        total += len(chunk)

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.monotonic() - t0
    return {
        "items_per_s": items / seconds,
        "mb_per_s": total / seconds / 1e6,
        "seconds": seconds,
        "requests": len(requests),
    }


def raw_puts(
    source_home: Path, into: Path, threads: int = COMMITS
) -> tuple[dict[str, float], dict[str, float]]:
    """The vault's put rate for the capture's bytes, with this process's CPU per item (user +
    system; the kernel's flusher threads are not counted, so the CPU ceiling below errs high):
    ``raw_put``, one fsync'ed ``put_blob`` per item; ``raw_put_grouped``, the capture's own way
    (the connector's batches as one group commit each through ``put_blobs``, large items alone).
    Each into a fresh local vault under ``into``, as many at once as the capture's sink commits.
    The vaults are left for the caller to remove at the very end: on ext4 without a journal (this
    host's file system) the inodes of a tree removed less than about 35 s earlier are skipped one by
    one when new files are made (``recently_deleted``), which would slow the next phase down."""
    from concurrent.futures import ThreadPoolExecutor

    from vault import open_vault

    payloads = mail_payloads(source_home)
    size = sum(len(p) for p in payloads)
    singles, batches = plan_batches([ItemChange(item_id=str(n), size=len(p)) for n, p in enumerate(payloads)])
    out = []
    for name in ("single", "grouped"):
        target = open_vault(f"file://{into}/{name}", cache_dir=into / f"{name}-cache", create=True)

        def one(payload: bytes, target: Any = target) -> None:
            target.put_blob(payload, media_type="message/rfc822")

        def group(ids: list[str], target: Any = target) -> None:
            target.put_blobs([payloads[int(i)] for i in ids], media_type="message/rfc822")

        own0, t0 = own_cpu_seconds(), time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            if name == "single":
                list(pool.map(one, payloads))
            else:
                list(pool.map(group, [[i] for i in singles] + batches))
        seconds, cpu = time.monotonic() - t0, own_cpu_seconds() - own0
        out.append(
            {
                "items_per_s": len(payloads) / seconds,
                "mb_per_s": size / seconds / 1e6,
                "seconds": seconds,
                "threads": threads,
                "cpu_ms_per_item": cpu * 1000 / len(payloads),
            }
        )
    return out[0], out[1]


def cpu_ceiling(batched: dict[str, Any], puts: list[dict[str, Any]]) -> dict[str, float]:
    """The most any capture could reach on this host: every core busy, each item costing no more
    than the simulator's CPU to serve it (batched), the raw client's CPU to read it, and the
    cheaper raw put's CPU to store it. Listing (``SyncFolderItems``), parsing, decoding, records
    and state are left out, so the real ceiling is lower still."""
    cores = os.cpu_count() or 1
    put_ms = min(p["cpu_ms_per_item"] for p in puts)
    ms = batched["sim_cpu_ms_per_item"] + batched["client_cpu_ms_per_item"] + put_ms
    return {"cores": cores, "ms_per_item": ms, "items_per_s": cores * 1000 / ms}


def capture_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the EWS capture a bench runs: the simulator's profile, the mailbox, the page."""
    parser.add_argument("--profile", default="large")
    parser.add_argument("--mailbox", default="burgemeester@gemeente-demo.nl")
    parser.add_argument(
        "--page-size",
        type=page_size,
        help="SyncFolderItems MaxChangesReturned, 1-512 (default: the settings')",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    capture_arguments(parser)
    parser.add_argument("--repeat", type=int, default=1, help="e2e / raw pairs, alternating; median reported")
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ews_bench.json")
    args = parser.parse_args()
    more = page_size_env(args.page_size)
    results: dict[str, Any] = {"params": {k: str(v) for k, v in vars(args).items()}}
    work = ROOT / ".test-servers" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        sim, info = start_simulator("--profile", args.profile, "--no-throttle")
        try:
            pairs = []
            for attempt in range(args.repeat):
                home = tmp / f"e2e-{attempt}"
                sim0 = cpu_seconds(sim.pid)
                e2e = run_capture(info, home, args.mailbox, **more)
                e2e = with_cpu(e2e, e2e["items"], cpu_seconds(sim.pid) - sim0)
                items = item_ids(home, args.mailbox)
                raws = []
                for batched_requests in (False, True):
                    sim0, own0 = cpu_seconds(sim.pid), own_cpu_seconds()
                    raw = asyncio.run(
                        raw_serve(info, args.mailbox, requests_of(items, batched=batched_requests))
                    )
                    raws.append(
                        with_cpu(raw, len(items), cpu_seconds(sim.pid) - sim0, own_cpu_seconds() - own0)
                    )
                serve, batched = raws
                e2e = with_rates(e2e)
                put, grouped = raw_puts(home, tmp / f"raw-put-{attempt}")
                serve_best = max(serve["items_per_s"], batched["items_per_s"])
                put_best = max(put["items_per_s"], grouped["items_per_s"])
                raw_best = min(serve_best, put_best)
                ceiling = cpu_ceiling(batched, [put, grouped])
                pairs.append(
                    {
                        "e2e": e2e,
                        "raw_serve": serve,
                        "raw_serve_batched": batched,
                        "raw_put": put,
                        "raw_put_grouped": grouped,
                        "cpu_ceiling": ceiling,
                        "ratio": e2e["items_per_s"] / raw_best,
                        "cpu_ceiling_ratio": ceiling["items_per_s"] / raw_best,
                        "ratio_single": e2e["items_per_s"] / serve["items_per_s"],
                        "ratio_batched": e2e["items_per_s"] / batched["items_per_s"],
                        "ratio_put": e2e["items_per_s"] / put_best,
                    }
                )
                print(json.dumps(pairs[-1]), file=sys.stderr, flush=True)
            results["pairs"] = pairs
            results.update(sorted(pairs, key=lambda p: p["ratio"])[len(pairs) // 2])
        finally:
            sim.terminate()
            sim.wait()
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
    write_results(results, args.out)


if __name__ == "__main__":
    main()

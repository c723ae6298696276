"""The cost of anchoring the audit chain's head in the vault after every entry (issue 16), as a ratio
to appending without anchors in the same run: the anchor is one small write-once object per entry
(an fsync'd file on a local vault), so the ratio stays bounded whatever the log's length. Also the
time of `audit verify` (which reads every anchor) per 1 000 entries.

    .venv/bin/python bench/audit_bench.py [--entries 500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from capstone.audit.anchors import AuditAnchors
from capstone.audit.log import AuditLog
from capstone.services import open_vault, state_engine
from capstone.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def appends(entries: int, *, anchored: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        settings = Settings(home=Path(tmp) / "home")
        open_vault(settings, create=True).close()
        anchors = AuditAnchors(lambda: open_vault(settings, sync=False)) if anchored else None
        log = AuditLog(state_engine(settings), anchors=anchors)
        start = time.perf_counter()
        for n in range(entries):
            log.append(actor="anna", role="woo-officer", action="search", case_ref="WOO-2026-001",
                       outcome="allowed", detail={"query": {"text": f"fietsbrug {n}"}, "results": n})  # fmt: skip
        appended = time.perf_counter() - start
        vault = open_vault(settings)
        start = time.perf_counter()
        report = log.verify(vault)
        verified = time.perf_counter() - start
        assert report.ok and report.anchored_through == (entries if anchored else 0), report.to_json()
        vault.close()
        if anchors is not None:
            anchors.close()
        return {
            "append_ms_per_entry": appended / entries * 1000,
            "verify_s_per_1000": verified / entries * 1000,
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=500)
    args = parser.parse_args()
    (ROOT / ".cache").mkdir(exist_ok=True)
    plain = appends(args.entries, anchored=False)
    anchored = appends(args.entries, anchored=True)
    results: dict[str, Any] = {
        "entries": args.entries,
        "without_anchors": {k: round(v, 3) for k, v in plain.items()},
        "with_anchors": {k: round(v, 3) for k, v in anchored.items()},
        "append_ratio_anchored_to_plain": round(
            anchored["append_ms_per_entry"] / plain["append_ms_per_entry"], 2
        ),
    }
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "audit_bench.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

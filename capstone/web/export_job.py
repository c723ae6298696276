"""The Woo export as a background job, started from the export button (``/woo/{ref}/exporteren``) and
from the API (``POST /api/v1/woo/cases/{ref}/exports``) alike: the export into a fresh directory under
the web jobs directory, its verification, and a zip to download (``/taken/{id}/download`` or
``GET /api/v1/jobs/{id}/download``). The case is checked when the job starts, so a refusal is
immediate and audited; the export itself is audited by the Woo service as from the CLI."""

from __future__ import annotations

import secrets
import shutil
from datetime import datetime
from pathlib import Path

from capstone.web.context import WebContext
from capstone.web.identity import Principal
from capstone.web.jobs import Job, JobRecord


def start_export(ctx: WebContext, principal: Principal, ref: str) -> JobRecord:
    """Start exporting case ``ref`` for ``principal``; refused at once (and audited) when the case
    is not open or not theirs."""
    woo = ctx.woo(principal)
    case = woo.case_for("export", ref)
    base = ctx.jobs_dir / secrets.token_hex(8)

    def work(job: Job) -> None:
        out = base / f"export-{case.slug}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        report = woo.export(case.ref, out, on_document=lambda n: job.progress(n, 0))
        job.progress(report.documents, report.documents)
        check = woo.verify_export(out)
        archive = shutil.make_archive(str(out), "zip", root_dir=out.parent, base_dir=out.name)
        job.download = Path(archive)
        job.result = {
            "documents": report.documents,
            "verified": check.ok,
            "files": check.files,
            "problems": check.problems,
        }

    return ctx.jobs.start(principal.username, "export", f"Export van {case.ref}", work)

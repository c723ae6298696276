"""Background jobs in the REST API: ``GET /api/v1/jobs/{job_id}`` polls a job as the job page does
(:func:`capstone.web.context.WebContext.job_for`: only its owner sees it, a refusal is audited) and
``GET /api/v1/jobs/{job_id}/download`` fetches what it made (an export's zip);
``POST /api/v1/woo/cases/{ref}/exports`` and ``POST /api/v1/woo/cases/{ref}/publish`` start the
export and the publication as such jobs (202, ``Location``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Response
from fastapi.responses import FileResponse, JSONResponse

from capstone.web.api import ApiProblem, Caller, Context, secured
from capstone.web.api_review import PublishBody, Review
from capstone.web.api_schemas import JobOut
from capstone.web.context import WebContext
from capstone.web.export_job import start_export
from capstone.web.identity import Principal
from capstone.web.jobs import Job, JobRecord

router = APIRouter(prefix="/api/v1")


def job_out(record: JobRecord) -> JobOut:
    return JobOut(
        job_id=record.job_id, kind=record.kind, title=record.title, status=record.status,  # type: ignore[arg-type]
        done=record.done, total=record.total, percent=record.percent, result=record.result,
        download=record.download is not None, error_kind=record.error_kind, error=record.error,
        started_at=record.started_at, finished_at=record.finished_at,
    )  # fmt: skip


def _own_job(ctx: WebContext, principal: Principal, job_id: str) -> JobRecord:
    """The caller's job ``job_id``; anyone else's or an unknown one is a 404 (audited by job_for)."""
    record = ctx.job_for(principal, job_id)
    if record is None:
        raise ApiProblem(404, "Niet gevonden", "no job with this id of this user", code="job-unknown")
    return record


@router.get(
    "/jobs/{job_id}", response_model=JobOut, responses=secured(JobOut, 404),
    summary="A background job of the caller (export, publication, vault verify): progress and result",
)  # fmt: skip
def job(ctx: Context, principal: Caller, job_id: str) -> JobOut:
    return job_out(_own_job(ctx, principal, job_id))


@router.get(
    "/jobs/{job_id}/download", response_model=None, response_class=FileResponse,
    responses=secured(None, 404, description="The job's archive (a zip)", media="application/zip"),
    summary="The archive a finished job of the caller made (an export's zip)",
)  # fmt: skip
def job_download(ctx: Context, principal: Caller, job_id: str) -> Response:
    record = _own_job(ctx, principal, job_id)
    if record.download is None or not record.download.is_file():
        raise ApiProblem(
            404, "Niet gevonden", "this job has (as yet) nothing to download", code="job-no-download"
        )
    return FileResponse(record.download, media_type="application/zip", filename=record.download.name)


def _started(record: JobRecord) -> Response:
    location = f"/api/v1/jobs/{record.job_id}"
    return JSONResponse(
        job_out(record).model_dump(mode="json"), status_code=202, headers={"Location": location}
    )


@router.post(
    "/woo/cases/{ref}/exports", response_model=JobOut, status_code=202,
    responses=secured(JobOut, 404, status=202, description="Started; poll the Location, then fetch its download"),
    summary="Export the case's documents with their inventarislijst, verified and zipped, as a background job (woo-officer)",
)  # fmt: skip
def export(ctx: Context, principal: Caller, ref: str) -> Response:
    return _started(start_export(ctx, principal, ref))


@router.post(
    "/woo/cases/{ref}/publish", response_model=JobOut, status_code=202,
    responses=secured(JobOut, 400, 404, 409, 413, status=202, description="Started; poll the Location"),
    summary="Write the publication package, as a background job (woo-officer)",
)  # fmt: skip
def publish(
    ctx: Context, principal: Caller, review: Review, ref: str, body: Annotated[PublishBody, Body()]
) -> Response:
    base = ctx.jobs_dir.resolve()
    out = (base / body.out).resolve()
    if base not in out.parents:
        raise ApiProblem(400, "Ongeldig verzoek", "out must be a new directory under the web jobs directory")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ApiProblem(409, "Conflict", "out is not empty: a publication goes into a new directory")
    case = review.woo.case_for("publish", ref)  # refuse now (audited), not inside the job
    review.check_approval(case)
    zip_limit = body.zip_limit

    def work(job: Job) -> None:
        report = review.publish(case.ref, Path(out), zip_limit=zip_limit)
        job.progress(report.documents, report.documents)
        job.result = report.to_json()

    return _started(ctx.jobs.start(principal.username, "publish", f"Publicatie van {case.ref}", work))

"""``capstone woo assess|assessments|redact|redactions|redaction|suggest|require-approval|approve|
review-status|publish``: the Woo review and the publication package (commands of the ``woo`` group)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from capstone.cli.context import AppContext, pass_app, print_json
from capstone.cli.woo import _filters, _query, _run, group, woo_service
from capstone.woo.review import Mark, MarkInput


def review_service(app: AppContext) -> Any:
    from capstone.woo.review_service import WooReview

    return WooReview(woo_service(app))


def _marks(texts: tuple[tuple[str, str], ...], regions: tuple[tuple[str, str], ...]) -> list[MarkInput]:
    marks = [MarkInput("text", ground, text=text) for ground, text in texts]
    marks += [MarkInput.parse_region(region, ground) for ground, region in regions]
    return marks


def _mark_options(command: Any) -> Any:
    command = click.option(
        "--region", "regions", nargs=2, multiple=True, metavar="GROUND PAGE:x0,y0,x1,y1",
        help="Redact a page region (PDF points from the top left, pages from 1) on this ground.",
    )(command)  # fmt: skip
    return click.option(
        "--redact", "texts", nargs=2, multiple=True, metavar="GROUND TEXT",
        help="Redact every occurrence of TEXT on GROUND (e.g. --redact 5.1.2e 06-12345678).",
    )(command)  # fmt: skip


def _print_mark(mark: Mark) -> None:
    where = repr(mark.text) if mark.kind == "text" else f"page {mark.page} {mark.rect}"
    click.echo(
        f"{mark.mark_id}  {mark.status:<9} {mark.ground:<7} {mark.kind:<6} {where}  ({mark.origin}, {mark.changed_by})"
    )


@group.command("assess")
@click.option("--case", "ref", required=True, help="The open Woo case.")
@click.argument("doc_ids", nargs=-1)
@click.option("--judgement", "-j", required=True,
              help="openbaar, deels openbaar, niet openbaar or reeds openbaar (the Woo platform's values).")  # fmt: skip
@click.option("--ground", "grounds", multiple=True, help="Woo ground code, e.g. 5.1.2e (repeatable).")
@click.option(
    "--toelichting", default="", help="Explanation shown in the productierapport (at most 1000 characters)."
)
@click.option("--link", default=None, help="Where a 'reeds openbaar' document was published.")
@click.option(
    "--family", is_flag=True, help="Assess each document with its whole family (mail and attachments)."
)
@click.option(
    "--query", "text", default=None, help="Assess every hit of this search (with the search filters)."
)
@_filters
@_mark_options
@click.option("--json", "as_json", is_flag=True)
@pass_app
def assess(
    app: AppContext, /, ref: str, doc_ids: tuple[str, ...], judgement: str, grounds: tuple[str, ...],
    toelichting: str, link: str | None, family: bool, text: str | None, texts: tuple[tuple[str, str], ...],
    regions: tuple[tuple[str, str], ...], as_json: bool, **filters: Any,
) -> None:  # fmt: skip
    """Assess documents (by id, or every hit of --query) alike; the judgement, grounds and redactions
    are kept with who and when, and written to the audit log."""
    review = review_service(app)
    marks = _run(lambda: _marks(texts, regions))
    if text is not None:
        if doc_ids:
            _run(lambda: (_ for _ in ()).throw(ValueError("give document ids or --query, not both")))
        query = _query(text, limit=500, **filters)
        result = _run(lambda: review.assess_search(ref, query, judgement, grounds=grounds, toelichting=toelichting,
                                                  link=link, family=family, marks=marks))  # fmt: skip
    else:
        result = _run(lambda: review.assess(ref, list(doc_ids), judgement, grounds=grounds, toelichting=toelichting,
                                            link=link, family=family, marks=marks))  # fmt: skip
    if as_json:
        print_json(result.to_json())
        return
    for item in result.assessments:
        click.echo(f"{item.doc_id}  {item.judgement.label}  {'; '.join(item.grounds)}")
    click.echo(f"{len(result.assessments)} document(s) assessed, {len(result.marks)} redaction(s) placed")


@group.command("assessments")
@click.option("--case", "ref", required=True)
@click.option("--history", "doc_id", default=None, metavar="DOC_ID", help="Every assessment of one document.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def assessments(app: AppContext, ref: str, doc_id: str | None, as_json: bool) -> None:
    """The case's documents as they count (own assessment, or following their original), or the
    history of one document's assessments."""
    review = review_service(app)
    if doc_id is not None:
        history = _run(lambda: review.history(ref, doc_id))
        if as_json:
            print_json([a.to_json() for a in history])
            return
        for a in history:
            click.echo(
                f"{a.assessed_at:%Y-%m-%d %H:%M}  {a.assessed_by:<12} {a.judgement.label:<15} {'; '.join(a.grounds)}"
            )
        return
    found = _run(lambda: review.assessments(ref))
    if as_json:
        print_json([
            e.assessment.to_json() | {"doc_id": e.doc_id, "follows": e.follows, "kind": e.document.kind}
            for e in found
        ])  # fmt: skip
        return
    for e in found:
        follows = f"  (volgt {e.follows})" if e.follows else ""
        click.echo(f"{e.doc_id}  {e.document.kind:<10} {e.assessment.judgement.label:<15} "
                   f"{'; '.join(e.assessment.grounds)}{follows}")  # fmt: skip


@group.command("redact")
@click.option("--case", "ref", required=True)
@click.argument("doc_id")
@_mark_options
@click.option("--json", "as_json", is_flag=True)
@pass_app
def redact(
    app: AppContext, ref: str, doc_id: str, texts: tuple[tuple[str, str], ...],
    regions: tuple[tuple[str, str], ...], as_json: bool,
) -> None:  # fmt: skip
    """Place redaction marks on a document (accepted), each with its ground code."""
    review = review_service(app)
    placed = _run(lambda: review.redact(ref, doc_id, _marks(texts, regions)))
    if as_json:
        print_json([m.to_json() for m in placed])
        return
    for mark in placed:
        _print_mark(mark)


@group.command("redactions")
@click.option("--case", "ref", required=True)
@click.argument("doc_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def redactions(app: AppContext, ref: str, doc_id: str | None, as_json: bool) -> None:
    """The redaction marks and suggestions of a document (or of the whole case)."""
    review = review_service(app)
    found = _run(lambda: review.marks(ref, doc_id))
    if as_json:
        print_json([m.to_json() for m in found])
        return
    for mark in found:
        _print_mark(mark)


@group.command("suggest")
@click.option("--case", "ref", required=True)
@click.argument("doc_id")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def suggest(app: AppContext, ref: str, doc_id: str, as_json: bool) -> None:
    """Suggest redactions of personal data in a document (e-mail addresses, phone numbers, IBANs,
    BSNs, addresses, names of people who are not key officials), each a proposed mark to accept or
    reject with `capstone woo redaction`. Running it again proposes nothing twice."""
    found = _run(lambda: review_service(app).suggest(ref, doc_id))
    if as_json:
        print_json([m.to_json() for m in found])
        return
    for mark in found:
        _print_mark(mark)
    proposed = sum(1 for m in found if m.status == "proposed")
    click.echo(f"{len(found)} suggestion(s), {proposed} waiting for a decision")


@group.command("redaction")
@click.option("--case", "ref", required=True)
@click.argument("mark_id")
@click.argument("decision", type=click.Choice(["accept", "reject", "withdraw"]))
@click.option("--ground", default=None, help="Accept on another ground than suggested.")
@pass_app
def redaction(app: AppContext, ref: str, mark_id: str, decision: str, ground: str | None) -> None:
    """Accept or reject a suggestion, or withdraw a mark."""
    review = review_service(app)
    _print_mark(_run(lambda: review.decide(ref, mark_id, decision, ground=ground)))


@group.command("require-approval")
@click.option("--case", "ref", required=True)
@click.option("--off", is_flag=True, help="No longer require it.")
@pass_app
def require_approval(app: AppContext, ref: str, off: bool) -> None:
    """Require a second officer's approval (collegiale toets) before the case is published."""
    state = _run(lambda: review_service(app).require_approval(ref, not off))
    click.echo(f"{state.ref}: collegiale toets {'vereist' if state.approval_required else 'niet vereist'}")


@group.command("approve")
@click.option("--case", "ref", required=True)
@click.option("--note", default="", help="The approval's remark (kept in the audit log).")
@pass_app
def approve(app: AppContext, ref: str, note: str) -> None:
    """Approve the case's review as it stands now (collegiale toets; not by whoever assessed)."""
    state = _run(lambda: review_service(app).approve(ref, note))
    click.echo(f"{state.ref}: goedgekeurd door {state.approval.approver if state.approval else '?'}")


@group.command("review-status")
@click.option("--case", "ref", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def review_status(app: AppContext, ref: str, as_json: bool) -> None:
    """Whether the case requires a collegiale toets and whether it is given for the review as it is."""
    state = _run(lambda: review_service(app).state(ref))
    if as_json:
        print_json(state.to_json())
        return
    approval = state.approval
    click.echo(f"{state.ref}: collegiale toets {'vereist' if state.approval_required else 'niet vereist'}; "
               + (f"goedgekeurd door {approval.approver}" if state.approved and approval else "niet (meer) goedgekeurd"))  # fmt: skip


@group.command("publish")
@click.option("--case", "ref", required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="A new, empty directory.")
@click.option("--zip-limit", type=click.IntRange(min=1024), default=None,
              help="Largest zip in bytes (default: the Woo platform's 4 GiB).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@pass_app
def publish(app: AppContext, ref: str, out: Path, zip_limit: int | None, as_json: bool) -> None:
    """Write the publication package: one PDF per (partly) public document named by its ID, the
    productierapport (XLSX and CSV), zip bundles within the platform's limit, a manifest."""
    report = _run(lambda: review_service(app).publish(ref, out, zip_limit=zip_limit))
    if as_json:
        print_json(report.to_json())
        return
    click.echo(
        f"{report.documents} document(s), {report.pdfs} PDF(s), {len(report.zips)} zip(s) in {report.directory}"
    )
    click.echo(f"productierapport: {Path(report.directory) / 'productierapport.xlsx'} (and .csv)")
    click.echo(f"check it any time: capstone woo verify-export {report.directory}")


def verify_package_cli(app: AppContext, directory: Path, as_json: bool) -> None:
    check = _run(lambda: review_service(app).verify_package(directory))
    if as_json:
        print_json(check.to_json())
    else:
        for problem in check.problems:
            click.echo(f"PROBLEM: {problem}")
        click.echo(
            f"{check.files} file(s) checked: "
            + ("ALL WELL" if check.ok else f"{len(check.problems)} problem(s)")
        )
    if not check.ok:
        sys.exit(1)

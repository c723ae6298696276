"""The Woo decision's part of ``make demo``: after the export, the demo's Woo request is assessed and
published, as a Woo officer and a colleague would do it.

* the resident's question (``capstone.demo_mail``) is *deels openbaar*: the redaction suggestions
  find his e-mail address, phone number and name, the officer accepts them (ground 5.1.2e);
* the supplier's quotation is *niet openbaar* (5.1.2f, concurrentiegevoelige bedrijfsgegevens);
* the two versions of the project leader's budget mail are *openbaar* (the mayor's byte-identical
  copy follows its original and is listed as *dubbel*);
* the case requires a collegiale toets: a second Woo officer approves, then the package is
  published into a new directory, verified, and summed up for a person to read.

Only PDFs of mails are made (no LibreOffice conversion), so this adds little to the demo's run time.
A second demo run assesses again (the history keeps both), finds the suggestions already decided,
and publishes a new package beside the first.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from capstone.access import WOO_OFFICER, Actor
from capstone.demo_mail import GRIFFIER, RESIDENT_SUBJECT
from capstone.index.model import SearchHit, SearchQuery
from capstone.settings import Settings
from capstone.woo.package import PublishReport
from capstone.woo.review_service import WooReview
from capstone.woo.service import WooService

DEMO_COLLEAGUE = "woo.collega"
"""The second Woo officer of the demo, who gives the collegiale toets."""
QUOTATION_SUBJECT = "Offerte begroting zaalhuur"
BUDGET_SUBJECT = "Begroting bouwblok"


def colleague_of(user: str) -> str:
    return DEMO_COLLEAGUE if user != DEMO_COLLEAGUE else f"{DEMO_COLLEAGUE}2"


def _heading(text: str) -> None:
    click.echo("")
    click.echo(click.style(f"== {text}", bold=True))


def _mails(woo: WooService, ref: str, words: str, subject: str) -> list[SearchHit]:
    """The clerk's mails titled ``subject...`` found by ``words``, oldest first."""
    hits = woo.search(ref, SearchQuery(text=words, kinds=("mail",), limit=20)).hits
    found = [h for h in hits if h.title.startswith(subject) and h.account == GRIFFIER]
    return sorted(found, key=lambda h: (h.date.isoformat() if h.date else "", h.doc_id))


def _one(hits: list[SearchHit], what: str) -> SearchHit:
    if not hits:
        raise click.ClickException(
            f"the demo's {what} was not found in the case: was the demo mail captured?"
        )
    return hits[0]


def new_directory(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... when a run in the same second already wrote there."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


def run_woo_review_demo(settings: Settings, woo: WooService, ref: str) -> PublishReport:
    """Assess, redact, approve and publish the demo case ``ref`` as ``woo``'s officer; a colleague
    (:data:`DEMO_COLLEAGUE`) gives the collegiale toets. Returns the publication's report."""
    review = WooReview(woo)
    colleague = colleague_of(woo.actor.name)
    woo.assign(ref, colleague)
    resident = _one(_mails(woo, ref, "speeltuin", RESIDENT_SUBJECT), "resident's question")
    quotation = _one(_mails(woo, ref, "zaalhuur", QUOTATION_SUBJECT), "supplier's quotation")
    budget = _mails(woo, ref, "bouwblok", BUDGET_SUBJECT)
    _one(budget, "project leader's budget mail")

    _heading(f"capstone woo suggest --case {ref} {resident.doc_id}")
    click.echo(f"{resident.title}: the PDF as it would be published, searched for personal data")
    for mark in review.suggest(ref, resident.doc_id):
        decided = review.decide(ref, mark.mark_id, "accept") if mark.status == "proposed" else mark
        click.echo(f"  {mark.origin:<20} {decided.ground:<7} {decided.text!r:<44} {decided.status}")

    _heading(f"capstone woo assess --case {ref} ...   (as {woo.actor.name})")
    assessed = [
        review.assess(ref, [h.doc_id for h in budget], "openbaar", toelichting="Begroting bouwblok"),
        review.assess(ref, [resident.doc_id], "deels openbaar", toelichting="Persoonsgegevens van een inwoner gelakt"),
        review.assess(ref, [quotation.doc_id], "niet openbaar", grounds=["5.1.2f"],
                      toelichting="Concurrentiegevoelige offerte van een leverancier"),
    ]  # fmt: skip
    titles = {h.doc_id: h.title for h in (*budget, resident, quotation)}
    for result in assessed:
        for a in result.assessments:
            grounds = "; ".join(a.grounds) or "-"
            click.echo(f"  {a.judgement.label:<15} {grounds:<14} {titles.get(a.doc_id, a.doc_id)[:50]}")

    _heading(
        f"capstone woo require-approval --case {ref}; capstone woo approve --case {ref}   (as {colleague})"
    )
    review.require_approval(ref)
    second = WooReview(
        WooService(
            settings.model_copy(update={"user": colleague}), actor=Actor(colleague, frozenset({WOO_OFFICER}))
        )
    )
    state = second.approve(ref, note="Collegiale toets: beoordeling en lakken gezien")
    click.echo(f"collegiale toets vereist, gegeven door {state.approval.approver if state.approval else '?'}")

    out = new_directory(settings.home / "woo" / ref / datetime.now(UTC).strftime("publicatie-%Y%m%dT%H%M%SZ"))
    _heading(f"capstone woo publish --case {ref} --out {out}")
    report = review.publish(ref, out)
    check = review.verify_package(Path(report.directory))
    print_publication(report, titles, ok=check.ok, problems=check.problems)
    if not check.ok:
        raise click.ClickException("the publication package did not verify")
    return report


def print_publication(
    report: PublishReport, titles: dict[str, str], *, ok: bool, problems: list[str]
) -> None:
    """The package for a person: each row of the productierapport with its file (or that it is not
    published) and the document's subject, then where everything is."""
    directory = Path(report.directory)
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    entries = {str(d["id"]): d for d in manifest["documents"]}
    click.echo(
        f"{report.documents} documents in the productierapport, {report.pdfs} PDFs, {len(report.zips)} zip(s)"
    )
    for row in report.rows:
        entry = entries.get(row.id, {})
        title = titles.get(str(entry.get("doc_id")), row.toelichting)
        published = entry.get("file") or "(niet gepubliceerd)"
        grounds = row.beoordelingsgrond or "-"
        click.echo(f"  {row.id:<4} {row.beoordeling:<15} {grounds:<8} {published:<20} {title[:50]}")
    click.echo(f"verify-export: {'ALL WELL' if ok else problems}")
    click.echo(f"publication package: {directory}")
    click.echo(f"  productierapport: {directory / 'productierapport.xlsx'}  (or productierapport.csv)")
    click.echo(
        f"  the PDFs:         {directory / 'documenten'}  (bundled for upload in {directory / 'uploads'})"
    )
    click.echo(f"  check it again:   capstone woo verify-export {directory}")


__all__ = ["DEMO_COLLEAGUE", "colleague_of", "print_publication", "run_woo_review_demo"]

"""The Woo review service: assess documents, place and decide redaction marks, the collegiale toets,
and publication - checked and audited here, so the CLI (``capstone woo assess|redact|approve|publish``)
and the REST API (``/api/v1/woo/cases/{ref}/...``) share every rule.

Rules:

* only a ``woo-officer`` assigned to the **open** case acts, and only on documents inside the case's
  scope (as for a search or a view); every act and every refusal is an audit entry;
* *openbaar* takes no ground; *niet openbaar* needs a ground; *deels openbaar* needs at least one
  accepted redaction mark (its ground joins the document's grounds); *reeds openbaar* needs the link
  where it was published; an unknown ground is refused - all before anything is written;
* assessing a family assesses a mail with every attachment (or an attachment with its mail and the
  other attachments); a member assessed later on its own keeps its own assessment;
* an exact copy of an assessed document (same bytes in another mailbox) that is not assessed apart
  follows the assessment of its original (the earliest assessed copy);
* a case may require a second officer's approval (*collegiale toets*): the approval covers the review
  as it stood, so any later assessment or mark change needs a new one; whoever assessed or redacted
  in the case does not approve it.

Example::

    review = WooReview(WooService(settings))
    review.assess("Z/2026/001234", [doc_id], "deels openbaar", marks=[MarkInput("text", "5.1.2e", text="06-12345678")])
    review.require_approval("Z/2026/001234")
    WooReview(WooService(settings_of_colleague)).approve("Z/2026/001234", note="akkoord")
    review.publish("Z/2026/001234", Path("publicatie"))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from capstone.access import AUDITOR, WOO_OFFICER, AccessDenied
from capstone.index.model import IndexDocument, SearchIndex, SearchQuery
from capstone.retention.filter import excluded_record_ids
from capstone.woo.cases import CaseError, WooCase
from capstone.woo.grounds import DUBBEL, GroundError, Judgement, parse_grounds
from capstone.woo.review import (
    Assessment,
    AssessmentInput,
    Mark,
    MarkInput,
    ReviewInputError,
    ReviewState,
    ReviewStore,
)
from capstone.woo.scope import CaseScope, ScopeError
from capstone.woo.service import WooService, query_to_json

if TYPE_CHECKING:
    from capstone.woo.package import PackageCheck, PublishReport

MAX_TOELICHTING = 1000  # InventoryReader::MAX_REMARK_LENGTH
MAX_LINK = 2048  # InventoryReader::MAX_LINK_LENGTH


class ApprovalRequiredError(CaseError):
    """Publication refused: the case requires a collegiale toets that has not (or no longer) been given."""


@dataclass(frozen=True)
class Effective:
    """A document's assessment as it counts: its own, or the one of the original it duplicates."""

    document: IndexDocument
    assessment: Assessment
    follows: str | None = None  # the doc_id of the original, for a copy that follows it

    @property
    def doc_id(self) -> str:
        return self.document.doc_id


@dataclass
class AssessResult:
    case: str
    assessments: list[Assessment]
    marks: list[Mark] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "assessed": [a.to_json() for a in self.assessments],
            "marks": [m.to_json(with_text=False) for m in self.marks],
        }


def _copies_kind(doc: IndexDocument) -> bool:
    return doc.kind not in ("chat-message", "phone-chat")  # chat versions share a key but differ


def _sort_key(doc: IndexDocument) -> tuple[str, str, str]:
    return (doc.date.isoformat() if doc.date else "", doc.account, doc.doc_id)


class WooReview:
    def __init__(self, woo: WooService) -> None:
        self.woo = woo
        self.store = ReviewStore(woo.engine)

    @property
    def actor(self) -> str:
        return self.woo.actor.name

    # -- helpers -------------------------------------------------------------------------------------

    def _refuse(self, action: str, ref: str, exc: Exception, **detail: Any) -> None:
        self.woo.guard.refuse(action, ref, exc, **detail)

    def _bad(
        self, action: str, ref: str, message: str, *, code: str | None = None,
        params: dict[str, object] | None = None, **detail: Any,
    ) -> ReviewInputError:  # fmt: skip
        """The refusal of bad input (audited); ``code`` and ``params`` let the web say it in Dutch."""
        error = ReviewInputError(message, code=code, **(params or {}))
        self._refuse(action, ref, error, **detail)
        return error

    def _open(self, action: str, ref: str, **detail: Any) -> tuple[WooCase, CaseScope]:
        case = self.woo._case_for_content(action, ref, **detail)
        return case, self.woo._scope(action, case, **detail)

    def _index(self, action: str, case: WooCase, **detail: Any) -> SearchIndex:
        return self.woo._complete_index(action, case, **detail)

    def _documents(
        self, action: str, case: WooCase, scope: CaseScope, index: SearchIndex, wanted: Iterable[str],
        **detail: Any,
    ) -> list[IndexDocument]:  # fmt: skip
        excluded = excluded_record_ids(self.woo.engine)
        found: list[IndexDocument] = []
        for doc_id in dict.fromkeys(wanted):
            doc = index.get(doc_id)
            if doc is None or doc.record_id in excluded:
                raise self._bad(action, case.ref, f"no document {doc_id!r} in the index (ids come from a search's hits)",
                                code="document-unknown", params={"doc_id": doc_id}, **detail)  # fmt: skip
            if not scope.covers(doc.official, doc.date):
                denied = AccessDenied(
                    f"outside the scope of case {case.ref}: document {doc_id} is not in {scope.describe()}",
                    code="out-of-scope",
                    ref=case.ref,
                )
                self._refuse(action, case.ref, denied, **detail)
                raise denied
            found.append(doc)
        return found

    @staticmethod
    def family_of(index: SearchIndex, doc: IndexDocument) -> list[IndexDocument]:
        """A mail with its attachments (for an attachment: its mail and the other attachments)."""
        head = index.get(doc.parent_id) if doc.kind == "attachment" and doc.parent_id else doc
        if head is None:
            return [doc]
        if head.kind != "mail":
            return [head]
        return [head, *index.children_of(head.doc_id)]

    def copies_of(self, index: SearchIndex, scope: CaseScope, doc: IndexDocument) -> list[IndexDocument]:
        """The exact copies of ``doc`` inside the scope, itself included, in date order."""
        if not _copies_kind(doc):
            return [doc]
        excluded = excluded_record_ids(self.woo.engine)
        copies = [
            d
            for d in index.duplicates_of(doc.duplicate_key)
            if d.kind == doc.kind and (d.kind == "attachment" or d.blob_sha256 == doc.blob_sha256)
        ]
        copies = [d for d in copies if d.record_id not in excluded and scope.covers(d.official, d.date)]
        if doc.doc_id not in {d.doc_id for d in copies}:
            copies.append(doc)
        return sorted(copies, key=_sort_key)

    # -- assessment ----------------------------------------------------------------------------------

    def _check(
        self, action: str, ref: str, judgement: Judgement, grounds: tuple[str, ...], link: str | None,
        toelichting: str, marks_of: dict[str, list[MarkInput]], docs: Sequence[IndexDocument],
        detail: dict[str, Any],
    ) -> list[AssessmentInput]:  # fmt: skip
        if len(toelichting) > MAX_TOELICHTING:
            raise self._bad(
                action,
                ref,
                f"a toelichting holds at most {MAX_TOELICHTING} characters",
                code="toelichting-too-long",
                params={"limit": MAX_TOELICHTING},
                **detail,
            )
        if judgement is Judgement.PUBLIC and grounds:
            raise self._bad(
                action,
                ref,
                "'openbaar' takes no ground: withhold part with 'deels openbaar'",
                code="public-no-ground",
                **detail,
            )
        if judgement is Judgement.NOT_PUBLIC and not grounds:
            raise self._bad(
                action,
                ref,
                "'niet openbaar' needs at least one ground (e.g. --ground 5.1.2e)",
                code="not-public-needs-ground",
                **detail,
            )
        if judgement is Judgement.ALREADY_PUBLIC:
            if not link:
                raise self._bad(action, ref, "'reeds openbaar' needs the link where it was published (--link URL)",
                                code="already-public-needs-link", **detail)  # fmt: skip
            parts = urlsplit(link)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or len(link) > MAX_LINK
                or " " in link
            ):
                raise self._bad(action, ref, f"not a valid link {link[:100]!r}: an http(s) URL of at most {MAX_LINK} characters",
                                code="link-invalid", params={"limit": MAX_LINK}, **detail)  # fmt: skip
        elif link:
            raise self._bad(
                action, ref, "a link is only for 'reeds openbaar'", code="link-not-already-public", **detail
            )
        inputs = []
        for doc in docs:
            own = grounds
            if judgement is Judgement.PARTIAL_PUBLIC:
                marks = marks_of.get(doc.doc_id, [])
                if not marks:
                    raise self._bad(
                        action, ref,
                        f"'deels openbaar' needs at least one redaction of document {doc.doc_id}: mark what is "
                        "withheld (--redact TEXT or --region PAGE:x0,y0,x1,y1, with its ground)",
                        code="partial-needs-redaction", params={"doc_id": doc.doc_id}, **detail,
                    )  # fmt: skip
                own = parse_grounds([*grounds, *(m.ground for m in marks)])
            inputs.append(AssessmentInput(doc.doc_id, judgement, own, toelichting.strip(), link))
        return inputs

    def assess(
        self,
        ref: str,
        doc_ids: Sequence[str],
        judgement: str,
        *,
        grounds: Sequence[str] = (),
        toelichting: str = "",
        link: str | None = None,
        family: bool = False,
        marks: Sequence[MarkInput] = (),
    ) -> AssessResult:
        """Assess ``doc_ids`` (with ``family``: their whole families) alike. ``marks`` are accepted
        redactions placed on each document named in ``doc_ids`` (not on family members added to them)."""
        detail: dict[str, Any] = {"doc_ids": list(doc_ids), "judgement": judgement, "grounds": list(grounds),
                                  "family": family}  # fmt: skip
        case, scope = self._open("assess", ref, **detail)
        if not doc_ids:
            raise self._bad(
                "assess", case.ref, "name at least one document to assess", code="no-documents", **detail
            )
        try:
            parsed = Judgement.parse(judgement)
            codes = parse_grounds(grounds)
            checked_marks = [m.checked() for m in marks]
        except GroundError as exc:
            raise self._bad(
                "assess", case.ref, str(exc), code=exc.code, params=exc.params, **detail
            ) from None
        except ReviewInputError as exc:
            self._refuse("assess", case.ref, exc, **detail)
            raise
        if checked_marks and parsed is not Judgement.PARTIAL_PUBLIC:
            raise self._bad(
                "assess",
                case.ref,
                "redactions belong to 'deels openbaar'",
                code="redactions-partial-only",
                **detail,
            )
        index = self._index("assess", case, **detail)
        try:
            docs = self._documents("assess", case, scope, index, doc_ids, **detail)
            if family:
                members = [m for doc in docs for m in self.family_of(index, doc)]
                docs = self._documents("assess", case, scope, index, [m.doc_id for m in members], **detail)
        finally:
            index.close()
        named = set(doc_ids)  # marks go on the documents named, not on family members added to them
        return self._write(case, scope, docs, parsed, codes, toelichting, link, checked_marks, detail, named)

    def _write(
        self, case: WooCase, scope: CaseScope, docs: list[IndexDocument], judgement: Judgement,
        codes: tuple[str, ...], toelichting: str, link: str | None, marks: list[MarkInput],
        detail: dict[str, Any], named: set[str],
    ) -> AssessResult:  # fmt: skip
        existing: dict[str, list[MarkInput]] = {}
        for mark in self.store.marks(case.ref):
            if mark.accepted:
                existing.setdefault(mark.doc_id, []).append(
                    MarkInput(mark.kind, mark.ground, mark.text, mark.page, mark.rect)
                )
        marks_of = {
            d.doc_id: [*existing.get(d.doc_id, []), *(marks if d.doc_id in named else [])] for d in docs
        }
        inputs = self._check("assess", case.ref, judgement, codes, link, toelichting, marks_of, docs, detail)
        placed: list[Mark] = []
        if marks:
            for doc in (d for d in docs if d.doc_id in named):
                placed += self.store.add_marks(case.ref, doc.doc_id, marks, status="accepted", origin="officer",
                                               by=self.actor)  # fmt: skip
        assessments = self.store.add_assessments(case.ref, inputs, by=self.actor)
        self.woo._record(
            "assess", case.ref, "allowed", WOO_OFFICER, documents=[a.doc_id for a in assessments],
            judgement=judgement.label, grounds={a.doc_id: list(a.grounds) for a in assessments},
            batch=assessments[0].batch if assessments else None, marks=[m.mark_id for m in placed],
            link=link, family=detail.get("family", False),
        )  # fmt: skip
        return AssessResult(case.ref, assessments, placed)

    def assess_search(
        self, ref: str, query: SearchQuery, judgement: str, *, grounds: Sequence[str] = (), toelichting: str = "",
        link: str | None = None, family: bool = False, marks: Sequence[MarkInput] = (),
    ) -> AssessResult:  # fmt: skip
        """Assess every hit of ``query`` inside the case (all pages) alike."""
        detail: dict[str, Any] = {"query": query_to_json(query), "judgement": judgement}
        case, scope = self._open("assess", ref, **detail)
        try:
            restricted = scope.restrict(query)
        except ScopeError as exc:
            raise self.woo._out_of_scope("assess", case, exc, **detail) from None
        index = self._index("assess", case, **detail)
        try:
            excluded = excluded_record_ids(self.woo.engine)
            hits = [
                h.doc_id
                for h in self.woo._all_hits(index, [replace(restricted, order="date")])
                if h.record_id not in excluded and scope.covers(h.official, h.date)
            ]
        finally:
            index.close()
        if not hits:
            raise self._bad(
                "assess", case.ref, "the search found nothing to assess", code="search-empty", **detail
            )
        return self.assess(
            case.ref, hits, judgement, grounds=grounds, toelichting=toelichting, link=link, family=family,
            marks=marks,
        )  # fmt: skip

    def assessments(self, ref: str) -> list[Effective]:
        """Every document that counts in the case: the assessed ones and the copies that follow them."""
        case, scope = self._open("assessments-show", ref)
        index = self._index("assessments-show", case)
        try:
            effective = self.effective(index, case, scope)
        finally:
            index.close()
        self.woo._record("assessments-show", case.ref, "allowed", WOO_OFFICER, documents=len(effective))
        return effective

    def effective(self, index: SearchIndex, case: WooCase, scope: CaseScope) -> list[Effective]:
        own = self.store.current(case.ref)
        excluded = excluded_record_ids(self.woo.engine)
        result: dict[str, Effective] = {}
        for doc_id, assessment in sorted(own.items(), key=lambda item: item[1].seq):
            doc = index.get(doc_id)
            if doc is None or doc.record_id in excluded or not scope.covers(doc.official, doc.date):
                continue  # gone from the index, excluded, or outside a narrowed scope: publish refuses
            result[doc_id] = Effective(doc, assessment)
        for entry in list(result.values()):
            copies = self.copies_of(index, scope, entry.document)
            original = next((c for c in copies if c.doc_id in own), entry.document)
            for copy in copies:
                if copy.doc_id not in own and copy.doc_id not in result:
                    base = (
                        result[original.doc_id].assessment if original.doc_id in result else entry.assessment
                    )
                    result[copy.doc_id] = Effective(copy, base, follows=original.doc_id)
        return list(result.values())

    def history(self, ref: str, doc_id: str | None = None) -> list[Assessment]:
        role = self.woo._roles("assessments-history", ref, WOO_OFFICER, AUDITOR)
        case = self.woo.cases.get(ref)
        found = self.store.history(case.ref, doc_id)
        self.woo._record("assessments-history", case.ref, "allowed", role, doc_id=doc_id, entries=len(found))
        return found

    # -- redaction marks -----------------------------------------------------------------------------

    def redact(self, ref: str, doc_id: str, marks: Sequence[MarkInput]) -> list[Mark]:
        """Place accepted redaction marks on a document."""
        return self._place("redact", ref, doc_id, marks, status="accepted", origin="officer")

    def propose(self, ref: str, doc_id: str, marks: Sequence[MarkInput], kind: str) -> list[Mark]:
        """Store suggestions (of ``kind``, e.g. ``email``) for the officer to accept or reject."""
        return self._place("suggest", ref, doc_id, marks, status="proposed", origin=f"suggestion:{kind}"[:40])

    def _place(
        self, action: str, ref: str, doc_id: str, marks: Sequence[MarkInput], *, status: Any, origin: str
    ) -> list[Mark]:
        detail: dict[str, Any] = {"doc_id": doc_id, "marks": len(marks)}
        case, scope = self._open(action, ref, **detail)
        try:
            checked = [m.checked() for m in marks]
        except GroundError as exc:
            raise self._bad(action, case.ref, str(exc), code=exc.code, params=exc.params, **detail) from None
        except ReviewInputError as exc:
            self._refuse(action, case.ref, exc, **detail)
            raise
        if not checked:
            raise self._bad(action, case.ref, "no redaction given", code="no-redaction", **detail)
        index = self._index(action, case, **detail)
        try:
            self._documents(action, case, scope, index, [doc_id], **detail)
        finally:
            index.close()
        placed = self.store.add_marks(case.ref, doc_id, checked, status=status, origin=origin, by=self.actor)
        self.woo._record(action, case.ref, "allowed", WOO_OFFICER, doc_id=doc_id,
                         marks=[{"mark_id": m.mark_id, "kind": m.kind, "ground": m.ground} for m in placed])  # fmt: skip
        return placed

    def suggest(self, ref: str, doc_id: str) -> list[Mark]:
        """Run the redaction suggestions over a document as it would be published (its PDF
        rendition) and store each finding as a proposed mark (origin ``suggestion:<category>``, the
        engine's ground: 5.1.2e, a BSN 5.1.1e); the key officials' names and addresses are left out.
        Idempotent: a text that already has a mark on the document is not proposed again. Returns
        the document's marks for what was found (new and earlier ones, in reading order)."""
        from capstone.services import open_vault
        from capstone.woo import review_suggest

        detail: dict[str, Any] = {"doc_id": doc_id}
        case, scope = self._open("suggest", ref, **detail)
        index = self._index("suggest", case, **detail)
        try:
            (doc,) = self._documents("suggest", case, scope, index, [doc_id], **detail)
        finally:
            index.close()
        officials = review_suggest.key_officials(self.woo.engine)
        vault = open_vault(self.woo.settings)
        try:
            found = review_suggest.find_in_document(vault, doc, officials)
        finally:
            vault.close()
        if found.failure is not None:
            raise self._bad("suggest", case.ref, f"document {doc_id} has no PDF to look at: {found.failure}",
                            code="no-pdf", params={"doc_id": doc_id}, **detail)  # fmt: skip
        wanted = review_suggest.proposals(found.suggestions)
        placed = self.store.propose_once(case.ref, doc_id, wanted, by=self.actor)
        result = review_suggest.in_order(wanted, self.store.marks(case.ref, doc_id))
        self.woo._record(
            "suggest", case.ref, "allowed", WOO_OFFICER, doc_id=doc_id, found=len(wanted),
            marks=[{"mark_id": m.mark_id, "kind": m.kind, "ground": m.ground, "origin": m.origin} for m in placed],
        )  # fmt: skip
        return result

    def decide(self, ref: str, mark_id: str, decision: str, *, ground: str | None = None) -> Mark:
        """Accept or reject a suggestion, or withdraw a mark (``accept``, ``reject``, ``withdraw``)."""
        detail: dict[str, Any] = {"mark_id": mark_id, "decision": decision}
        case, _ = self._open("redaction-decide", ref, **detail)
        status = {"accept": "accepted", "reject": "rejected", "withdraw": "withdrawn"}.get(decision)
        if status is None:
            raise self._bad("redaction-decide", case.ref, f"unknown decision {decision!r}: accept, reject or withdraw",
                            code="decision-unknown", **detail)  # fmt: skip
        mark = self.store.mark(case.ref, mark_id)
        if mark is None:
            raise self._bad(
                "redaction-decide",
                case.ref,
                f"no redaction mark {mark_id!r} in case {case.ref}",
                code="mark-unknown",
                params={"mark_id": mark_id},
                **detail,
            )
        allowed = {
            "accept": ("proposed", "rejected"),
            "reject": ("proposed",),
            "withdraw": ("accepted", "proposed"),
        }
        if mark.status not in allowed[decision]:
            raise self._bad("redaction-decide", case.ref, f"mark {mark_id} is {mark.status}: it cannot be {status}",
                            code="mark-state", params={"status": mark.status, "wanted": status}, **detail)  # fmt: skip
        try:
            code = parse_grounds([ground])[0] if ground else None
        except GroundError as exc:
            raise self._bad(
                "redaction-decide", case.ref, str(exc), code=exc.code, params=exc.params, **detail
            ) from None
        changed = self.store.change_mark(case.ref, mark, status, by=self.actor, ground=code)  # type: ignore[arg-type]
        self.woo._record("redaction-decide", case.ref, "allowed", WOO_OFFICER, doc_id=mark.doc_id,
                         ground=changed.ground, status=status, **detail)  # fmt: skip
        return changed

    def marks(self, ref: str, doc_id: str | None = None) -> list[Mark]:
        """The marks of a document (or of the case), with their text: a content view, audited."""
        detail: dict[str, Any] = {"doc_id": doc_id}
        case, _ = self._open("redactions-show", ref, **detail)
        found = self.store.marks(case.ref, doc_id)
        self.woo._record("redactions-show", case.ref, "allowed", WOO_OFFICER, marks=len(found), **detail)
        return found

    # -- collegiale toets ----------------------------------------------------------------------------

    def require_approval(self, ref: str, required: bool = True) -> ReviewState:
        case, _ = self._open("review-rule", ref, approval_required=required)
        self.store.set_approval_required(case.ref, required, by=self.actor)
        self.woo._record("review-rule", case.ref, "allowed", WOO_OFFICER, approval_required=required)
        return self.store.state(case.ref)

    def approve(self, ref: str, note: str = "") -> ReviewState:
        case, _ = self._open("approve", ref)
        state = self.store.state(case.ref)
        if state.last_assessment == 0:
            raise self._bad(
                "approve",
                case.ref,
                f"case {case.ref} has no assessments to approve",
                code="nothing-to-approve",
            )
        if self.actor in state.assessors:
            denied = AccessDenied(
                f"collegiale toets: {self.actor} assessed or redacted documents in case {case.ref}; "
                "a second officer approves",
                code="approval-own-work",
            )
            self._refuse("approve", case.ref, denied)
            raise denied
        approval = self.store.approve(case.ref, by=self.actor, note=note.strip(), state=state)
        self.woo._record("approve", case.ref, "allowed", WOO_OFFICER, through_assessment=approval.through_assessment,
                         through_mark=approval.through_mark, note=approval.note)  # fmt: skip
        return self.store.state(case.ref)

    def state(self, ref: str) -> ReviewState:
        role = self.woo._roles("review-state", ref, WOO_OFFICER, AUDITOR)
        case = self.woo.cases.get(ref)
        state = self.store.state(case.ref)
        self.woo._record("review-state", case.ref, "allowed", role)
        return state

    def check_approval(self, case: WooCase, action: str = "publish", **detail: Any) -> ReviewState:
        state = self.store.state(case.ref)
        if state.approval_required and not state.approved:
            why = (
                "no second officer has approved it yet"
                if state.approval is None
                else f"the review changed after {state.approval.approver}'s approval"
            )
            error = ApprovalRequiredError(
                f"case {case.ref} requires a collegiale toets before publication and {why}: another Woo officer "
                f"approves with `capstone woo approve --case {case.ref}`",
                code="approval-required",
            )
            self._refuse(action, case.ref, error, **detail)
            raise error
        return state

    # -- publication ---------------------------------------------------------------------------------

    def publish(self, ref: str, out: Path, *, zip_limit: int | None = None) -> PublishReport:
        """Write the publication package of the case into ``out`` (see :mod:`capstone.woo.package`)."""
        from capstone.woo.package import publish_case

        return publish_case(self, ref, out, zip_limit=zip_limit)

    def verify_package(self, directory: Path) -> PackageCheck:
        from capstone.woo.package import verify_package_service

        return verify_package_service(self, directory)


__all__ = ["DUBBEL", "ApprovalRequiredError", "AssessResult", "Effective", "WooReview"]

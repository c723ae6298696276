"""The Woo service: every case, search, view and export goes through here, checked and audited.

Rules (enforced here, so the CLI and a later API share them):

* content search and export only for a ``woo-officer``, only inside an **open** case, and only in a
  case the officer is assigned to (the officer who opens a case is assigned to it);
* the audit log is read and verified by an ``auditor``; sealing may also be done by an ``archivist``;
* every attempt, allowed or refused, is an audit entry (the refusal with its reason).

Example::

    woo = WooService(settings)                       # actor from CAPSTONE_USER and [roles]
    woo.open_case(ref="WOO-2026-014", received=date(2026, 11, 2), subject="Fietsbrug")
    result = woo.search("WOO-2026-014", SearchQuery(text="fietsbrug"))
    view = woo.view("WOO-2026-014", result.hits[0].doc_id)   # the document, its attachments, copies
    report = woo.export("WOO-2026-014", Path("export"))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capstone.access import ARCHIVIST, AUDITOR, WOO_OFFICER, AccessDenied, Actor, actor_from_settings
from capstone.access.guard import Guard
from capstone.audit.log import AuditLog, AuditReport
from capstone.index import open_index
from capstone.index.model import (
    DocumentKind,
    IndexDocument,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResult,
)
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.cases import CaseError, CaseStore, WooCase

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from capstone.chats.archive import ChatSummary
    from capstone.chats.transcript import TranscriptInfo

from capstone.woo.export import ExportCheck, ExportReport, export_documents, verify_export

_PAGE = 500


def query_to_json(query: SearchQuery) -> dict[str, Any]:
    document = asdict(query)
    for key in ("date_from", "date_to"):
        if document[key] is not None:
            document[key] = document[key].isoformat()
    for key in ("officials", "accounts", "kinds"):
        document[key] = list(document[key])
    return document


def query_from_json(document: dict[str, Any]) -> SearchQuery:
    values = dict(document)
    for key in ("date_from", "date_to"):
        if values.get(key):
            values[key] = date.fromisoformat(values[key])
    for key in ("officials", "accounts", "kinds"):
        values[key] = tuple(values.get(key) or ())
    return SearchQuery(**values)


@dataclass(frozen=True)
class DocumentView:
    document: IndexDocument
    attachments: list[IndexDocument]
    duplicates: list[IndexDocument]  # the same mail (Message-ID) or bytes in other mailboxes

    def to_json(self) -> dict[str, Any]:
        def doc(d: IndexDocument) -> dict[str, Any]:
            out = asdict(d)
            out["date"] = d.date.isoformat() if d.date else None
            return out

        return {
            "document": doc(self.document),
            "attachments": [doc(a) | {"body": None} for a in self.attachments],
            "duplicates": [
                {
                    "doc_id": d.doc_id,
                    "account": d.account,
                    "official": d.official,
                    "folder_path": d.folder_path,
                }
                for d in self.duplicates
            ],
        }


class WooService:
    def __init__(
        self, settings: Settings, actor: Actor | None = None, *, engine: Engine | None = None
    ) -> None:
        """``engine``: an already migrated state database (the web application shares one)."""
        self.settings = settings
        self.actor = actor or actor_from_settings(settings)
        self.engine = engine if engine is not None else state_engine(settings)
        self.cases = CaseStore(self.engine)
        self.audit = AuditLog(self.engine)
        self.guard = Guard(self.actor, self.audit)

    # -- guard and audit ---------------------------------------------------------------------------

    def _record(
        self, action: str, case_ref: str | None, outcome: str, role: str | None, **detail: Any
    ) -> None:
        self.guard.record(action, case_ref, outcome, role, **detail)

    def _refuse(self, action: str, case_ref: str | None, exc: Exception, **detail: Any) -> None:
        self.guard.refuse(action, case_ref, exc, **detail)

    def _roles(self, action: str, case_ref: str | None, *roles: str, **detail: Any) -> str:
        return self.guard.require(action, case_ref, *roles, **detail)

    def _case_for_content(self, action: str, case_ref: str | None, **detail: Any) -> WooCase:
        """An open case this Woo officer is assigned to, or a refusal (audited)."""
        self._roles(action, case_ref, WOO_OFFICER, **detail)
        try:
            if not case_ref:
                raise AccessDenied(f"{action} is only possible inside a Woo case: name one with --case")
            case = self.cases.get(case_ref)
            if not case.is_open:
                raise AccessDenied(f"case {case.ref} is closed: no more {action} in it")
            if self.actor.name not in case.officers:
                raise AccessDenied(f"{self.actor.name} is not assigned to case {case.ref}")
        except (AccessDenied, CaseError) as exc:
            self._refuse(action, case_ref, exc, **detail)
            raise
        return case

    # -- cases ---------------------------------------------------------------------------------------

    def open_case(self, *, ref: str, received: date, subject: str, requester: str | None = None) -> WooCase:
        role = self._roles("case-open", ref, WOO_OFFICER)
        case = self.cases.open(
            ref=ref, received=received, subject=subject, by=self.actor.name, requester=requester
        )
        self._record("case-open", case.ref, "allowed", role, received=received.isoformat())
        return case

    def case(self, ref: str) -> WooCase:
        role = self._roles("case-show", ref, WOO_OFFICER, AUDITOR)
        case = self.cases.get(ref)
        self._record("case-show", case.ref, "allowed", role)
        return case

    def list_cases(self, status: str | None = None) -> list[WooCase]:
        self._roles("case-list", None, WOO_OFFICER, AUDITOR)
        return self.cases.list(status=status)

    def assign(self, ref: str, officer: str) -> WooCase:
        case = self._case_for_content("case-assign", ref, officer=officer)
        updated = self.cases.assign(case.ref, officer, by=self.actor.name)
        self._record("case-assign", case.ref, "allowed", WOO_OFFICER, officer=officer)
        return updated

    def close_case(self, ref: str) -> WooCase:
        case = self._case_for_content("case-close", ref)
        closed = self.cases.close(case.ref)
        self._record("case-close", case.ref, "allowed", WOO_OFFICER)
        return closed

    # -- chats -------------------------------------------------------------------------------------

    def list_chats(self) -> list[ChatSummary]:
        """The chats the vault holds (ids, topics, members, counts; no message text)."""
        role = self._roles("chat-list", None, WOO_OFFICER, ARCHIVIST)
        from capstone.chats.archive import list_chats

        vault = open_vault(self.settings)
        try:
            chats = list_chats(vault)
        finally:
            vault.close()
        self._record("chat-list", None, "allowed", role, chats=len(chats))
        return chats

    def chat_transcripts(
        self, case_ref: str | None, out: Path, chat_id: str | None = None
    ) -> list[TranscriptInfo]:
        """Readable HTML transcripts, a content view, so only inside a case: of ``chat_id`` into the
        file ``out``, or of every chat into the directory ``out``."""
        from capstone.chats.transcript import write_transcript, write_transcripts

        detail: dict[str, Any] = {"chat_id": chat_id, "out": str(out)}
        case = self._case_for_content("chat-transcript", case_ref, **detail)
        vault = open_vault(self.settings)
        try:
            infos = (
                write_transcripts(vault, out) if chat_id is None else [write_transcript(vault, chat_id, out)]
            )
        finally:
            vault.close()
        self._record(
            "chat-transcript", case.ref, "allowed", WOO_OFFICER, chats=[i.chat_id for i in infos], **detail
        )
        return infos

    # -- search and export ---------------------------------------------------------------------------

    def _complete_index(self, action: str, case: WooCase, **detail: Any) -> SearchIndex:
        """The search index, if a pass over the whole vault has finished; otherwise a refusal
        (audited): a search of an index still being built could miss documents unseen."""
        index = open_index(self.settings.search_index_url)
        if index.completed_at() is None:
            index.close()
            error = CaseError(
                "the search index is not complete: its first build or a rebuild has not finished, so a "
                "search could miss documents; an archivist completes it with `capstone index update`"
            )
            self._refuse(action, case.ref, error, **detail)
            raise error
        return index

    def search(self, case_ref: str | None, query: SearchQuery) -> SearchResult:
        detail = {"query": query_to_json(query)}
        case = self._case_for_content("search", case_ref, **detail)
        index = self._complete_index("search", case, **detail)
        try:
            result = index.search(query)
            opaque = 0
            if query.text.strip() and (not query.kinds or "item" in query.kinds):
                # sender, recipients and attachments of such an item are unknown: not filtered on
                scope = replace(
                    query, text="", kinds=("item",), sender=None, recipient=None, has_attachment=None,
                    limit=0, offset=0,
                )  # fmt: skip
                opaque = index.search(scope).total
        finally:
            index.close()
        result = replace(result, metadata_only=opaque)
        self._record(
            "search", case.ref, "allowed", WOO_OFFICER, results=result.total, metadata_only=opaque, **detail
        )
        return result

    def facets(
        self, case_ref: str | None, query: SearchQuery, officials: Sequence[str], years: Sequence[int]
    ) -> dict[str, list[tuple[str, int]]]:
        """How many of ``query``'s matches fall under each kind, official and year (the web's
        facet counts): one audited content access, like a search."""
        detail = {"query": query_to_json(query)}
        case = self._case_for_content("search-facets", case_ref, **detail)
        index = self._complete_index("search-facets", case, **detail)
        base = replace(query, limit=0, offset=0)
        kinds: tuple[DocumentKind, ...] = (
            "mail",
            "attachment",
            "chat-message",
            "event",
            "contact",
            "task",
            "item",
        )
        try:
            counts: dict[str, list[tuple[str, int]]] = {
                "kind": [(k, index.search(replace(base, kinds=(k,))).total) for k in kinds],
                "official": [(o, index.search(replace(base, officials=(o,))).total) for o in officials],
                "year": [
                    (str(y), index.search(replace(base, date_from=max(date(y, 1, 1), base.date_from or date.min),
                                                  date_to=min(date(y, 12, 31), base.date_to or date.max))).total)
                    for y in years
                ],
            }  # fmt: skip
        finally:
            index.close()
        self._record("search-facets", case.ref, "allowed", WOO_OFFICER, **detail)
        return {name: [(v, n) for v, n in values if n] for name, values in counts.items()}

    def view(self, case_ref: str | None, doc_id: str) -> DocumentView:
        """One document as the index holds it (headers, text, attachments, duplicates), for review
        inside a case; a content view, so audited like a search."""
        detail: dict[str, Any] = {"doc_id": doc_id}
        case = self._case_for_content("view", case_ref, **detail)
        index = open_index(self.settings.search_index_url)
        try:
            document = index.get(doc_id)
            if document is None:
                self._record("view", case.ref, "allowed", WOO_OFFICER, found=False, **detail)
                raise CaseError(f"no document {doc_id!r} in the index (ids come from a search's hits)")
            view = DocumentView(
                document=document,
                attachments=index.children_of(doc_id),
                duplicates=[d for d in index.duplicates_of(document.duplicate_key) if d.doc_id != doc_id],
            )
        finally:
            index.close()
        self._record(
            "view", case.ref, "allowed", WOO_OFFICER, found=True, record_id=document.record_id,
            blob_sha256=document.blob_sha256, **detail,
        )  # fmt: skip
        return view

    @staticmethod
    def _all_hits(index: SearchIndex, queries: list[SearchQuery]) -> Iterator[SearchHit]:
        for query in queries:
            offset = 0
            while True:
                page = index.search(replace(query, limit=_PAGE, offset=offset))
                yield from page.hits
                offset += _PAGE
                if offset >= page.total or not page.hits:
                    break

    def case_queries(self, case_ref: str) -> list[SearchQuery]:
        """The searches made in a case (allowed ones), in order: what an export without --query takes."""
        seen: dict[str, SearchQuery] = {}
        for entry in self.audit.entries(case_ref=case_ref):
            if entry.action == "search" and entry.outcome == "allowed":
                query = query_from_json(entry.detail["query"])
                seen.setdefault(repr(replace(query, limit=0, offset=0)), query)
        return list(seen.values())

    def export(
        self, case_ref: str | None, out: Path, query: SearchQuery | None = None, **kwargs: Any
    ) -> ExportReport:
        detail: dict[str, Any] = {"out": str(out), "query": query_to_json(query) if query else None}
        case = self._case_for_content("export", case_ref, **detail)
        queries = [query] if query is not None else self.case_queries(case.ref)
        if not queries:
            raise CaseError(f"case {case.ref} has no searches yet: search first, or pass --query")
        index = self._complete_index("export", case, **detail)
        try:
            vault = open_vault(self.settings)
            try:
                report = export_documents(
                    vault, index, case.ref, self._all_hits(index, queries), out, **kwargs
                )
                exported = [row.document for row in report.rows]
                self._record(
                    "export", case.ref, "allowed", WOO_OFFICER, documents=report.documents,
                    duplicates=report.duplicates, exported=exported, searches=len(queries), **detail,
                )  # fmt: skip
                self.audit.seal(vault, actor=self.actor.name)  # every export is sealed into the vault
            finally:
                vault.close()
        finally:
            index.close()
        return report

    def verify_export(self, directory: Path) -> ExportCheck:
        role = self._roles("verify-export", None, WOO_OFFICER, AUDITOR, directory=str(directory))
        vault = open_vault(self.settings)
        try:
            check = verify_export(vault, directory)
        finally:
            vault.close()
        self._record("verify-export", None, "allowed", role, directory=str(directory), ok=check.ok)
        return check

    # -- audit ---------------------------------------------------------------------------------------

    def audit_entries(self, case_ref: str | None = None) -> list[dict[str, Any]]:
        role = self._roles("audit-show", case_ref, AUDITOR)
        entries = [e.to_json() for e in self.audit.entries(case_ref=case_ref)]
        self._record("audit-show", case_ref, "allowed", role, entries=len(entries))
        return entries

    def audit_verify(self) -> AuditReport:
        role = self._roles("audit-verify", None, AUDITOR)
        vault = open_vault(self.settings)
        try:
            report = self.audit.verify(vault)
        finally:
            vault.close()
        self._record("audit-verify", None, "allowed", role, ok=report.ok, entries=report.entries)
        return report

    def audit_seal(self) -> int:
        role = self._roles("audit-seal", None, AUDITOR, ARCHIVIST)
        self._record("audit-seal", None, "allowed", role)
        vault = open_vault(self.settings)
        try:
            record = self.audit.seal(vault, actor=self.actor.name)
        finally:
            vault.close()
        return 0 if record is None else int(record.source["to_seq"])

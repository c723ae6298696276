"""The Woo service: every case, search, view and export goes through here, checked and audited.

Rules (enforced here, so the CLI and a later API share them):

* content search and export only for a ``woo-officer``, only inside an **open** case, and only in a
  case the officer is assigned to (the officer who opens a case is assigned to it);
* the audit log is read and verified by an ``auditor``; sealing may also be done by an ``archivist``;
* every attempt, allowed or refused, is an audit entry (the refusal with its reason).

Example::

    woo = WooService(settings)                       # actor: the OS user and [roles]
    woo.open_case(ref="WOO-2026-014", received=date(2026, 11, 2), subject="Fietsbrug")
    result = woo.search("WOO-2026-014", SearchQuery(text="fietsbrug"))
    view = woo.view("WOO-2026-014", result.hits[0].doc_id)   # the document, its attachments, copies
    report = woo.export("WOO-2026-014", Path("export"))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capstone.access import ARCHIVIST, AUDITOR, WOO_OFFICER, AccessDenied, Actor, actor_from_settings
from capstone.access.guard import Guard
from capstone.audit.log import AuditReport
from capstone.index import open_index
from capstone.index.model import (
    DocumentKind,
    IndexDocument,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResult,
)
from capstone.retention.filter import excluded_dropped, excluded_record_ids, kept_hits
from capstone.services import audit_log, open_vault, state_engine
from capstone.settings import Settings
from capstone.woo.cases import CaseError, CaseStore, WooCase
from capstone.woo.scope import CaseScope, ScopeError, ScopeStore, resolve_scope

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from capstone.chats.archive import ChatSummary
    from capstone.chats.transcript import TranscriptInfo

from capstone.woo.export import ExportCheck, ExportError, ExportReport, export_documents, verify_export

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
    duplicates: list[IndexDocument]  # the same bytes (SHA-256) in other mailboxes or folders
    related: list[IndexDocument] = field(default_factory=list)  # same Message-ID, other bytes

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
            "related": [
                {
                    "doc_id": d.doc_id,
                    "account": d.account,
                    "official": d.official,
                    "folder_path": d.folder_path,
                    "blob_sha256": d.blob_sha256,
                }
                for d in self.related
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
        self.scopes = ScopeStore(self.engine)
        self.audit = audit_log(settings, self.engine)
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
                raise AccessDenied(
                    f"{action} is only possible inside a Woo case: name one with --case", code="case-required"
                )
            case = self.cases.get(case_ref)
            if not case.is_open:
                raise AccessDenied(
                    f"case {case.ref} is closed: no more {action} in it", code="case-closed", ref=case.ref
                )
            if self.actor.name not in case.officers:
                raise AccessDenied(
                    f"{self.actor.name} is not assigned to case {case.ref}",
                    code="case-not-assigned",
                    ref=case.ref,
                )
        except (AccessDenied, CaseError) as exc:
            self._refuse(action, case_ref, exc, **detail)
            raise
        return case

    def _scope(self, action: str, case: WooCase, **detail: Any) -> CaseScope:
        """The case's scope, or a refusal (audited) for a case that has none."""
        scope = self.scopes.get(case.ref)
        if scope is None:
            exc = AccessDenied(
                f"case {case.ref} has no recorded scope: set it with `capstone woo case widen --case "
                f"{case.ref} --official NAME [--from DATE --to DATE] --reason TEXT`",
                code="case-no-scope",
                ref=case.ref,
            )
            self._refuse(action, case.ref, exc, **detail)
            raise exc
        return scope

    def _out_of_scope(self, action: str, case: WooCase, exc: Exception, **detail: Any) -> AccessDenied:
        denied = AccessDenied(
            f"outside the scope of case {case.ref}: {exc}", code="out-of-scope", ref=case.ref
        )
        self._refuse(action, case.ref, denied, **detail)
        return denied

    # -- cases ---------------------------------------------------------------------------------------

    def resolve_scope(
        self,
        *,
        officials: Sequence[str] = (),
        designations: Sequence[str] = (),
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> CaseScope:
        """A scope from official names and designation ids, checked against the registry."""
        from capstone.registry.service import Registry

        known = Registry(self.engine).designations(include_withdrawn=True)
        return resolve_scope(
            known, officials=officials, designations=designations, date_from=date_from, date_to=date_to
        )

    def open_case(
        self,
        *,
        ref: str,
        received: date,
        subject: str,
        requester: str | None = None,
        scope: CaseScope | None = None,
    ) -> WooCase:
        """Open a case with its ``scope``; a case opened without one allows no content access until
        a scope is set (``widen_case``)."""
        role = self._roles("case-open", ref, WOO_OFFICER)
        case = self.cases.open(
            ref=ref, received=received, subject=subject, by=self.actor.name, requester=requester
        )
        if scope is not None:
            self.scopes.set(case.ref, scope, by=self.actor.name, reason="case opened")
        self._record(
            "case-open", case.ref, "allowed", role, received=received.isoformat(),
            scope=scope.to_json() if scope else None,
        )  # fmt: skip
        return case

    def case_scope(self, ref: str) -> CaseScope | None:
        self._roles("case-show", ref, WOO_OFFICER, AUDITOR)
        return self.scopes.get(self.cases.get(ref).ref)

    def widen_case(self, ref: str, scope: CaseScope, *, reason: str) -> CaseScope:
        """Widen a case's scope (or set the first scope of a case that has none): its own audited
        act, with a reason; the new scope must hold everything the current one does."""
        detail: dict[str, Any] = {"scope": scope.to_json(), "justification": reason}
        case = self._case_for_content("case-widen", ref, **detail)
        before = self.scopes.get(case.ref)
        try:
            if not reason.strip():
                raise CaseError("widening a case's scope needs a reason (--reason)")
            if before is not None and not scope.includes(before):
                raise CaseError(
                    f"the new scope ({scope.describe()}) does not hold the current one ({before.describe()}): "
                    "a widening keeps every official and the whole period"
                )
        except CaseError as exc:
            self._refuse("case-widen", case.ref, exc, **detail)
            raise
        version = self.scopes.set(case.ref, scope, by=self.actor.name, reason=reason.strip())
        self._record(
            "case-widen", case.ref, "allowed", WOO_OFFICER, before=before.to_json() if before else None,
            version=version, **detail,
        )  # fmt: skip
        return scope

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
        self, case_ref: str | None, out: Path, chat_id: str | None = None, *, overwrite: bool = False
    ) -> list[TranscriptInfo]:
        """Readable HTML transcripts, a content view, so only inside a case: of ``chat_id`` into the
        file ``out`` (an existing file only with ``overwrite``), or of every chat into the directory
        ``out``."""
        from capstone.chats.scoping import chats_in_scope
        from capstone.chats.transcript import write_transcript, write_transcripts

        detail: dict[str, Any] = {"chat_id": chat_id, "out": str(out)}
        case = self._case_for_content("chat-transcript", case_ref, **detail)
        scope = self._scope("chat-transcript", case, **detail)
        vault = open_vault(self.settings)
        try:
            allowed = chats_in_scope(vault, scope)
            if chat_id is not None and chat_id not in allowed:
                raise self._out_of_scope(
                    "chat-transcript", case, ValueError(f"chat {chat_id} has no message in {scope.describe()}"),
                    **detail,
                )  # fmt: skip
            infos = (
                write_transcripts(vault, out, only=allowed)
                if chat_id is None
                else [write_transcript(vault, chat_id, out, overwrite=overwrite)]
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
        case_scope = self._scope("search", case, **detail)
        try:
            query = case_scope.restrict(query)
        except ScopeError as exc:
            raise self._out_of_scope("search", case, exc, **detail) from None
        detail = {"query": query_to_json(query)}  # what was searched: the query within the scope
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
        result = replace(excluded_dropped(self.engine, result), metadata_only=opaque)  # issue 21
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
        scope = self._scope("view", case, **detail)
        index = open_index(self.settings.search_index_url)
        try:
            document = index.get(doc_id)
            if document is not None and document.record_id in excluded_record_ids(self.engine):
                document = None  # a confirmed privé/partijpolitiek exclusion (issue 21)
            if document is None:
                self._record("view", case.ref, "allowed", WOO_OFFICER, found=False, **detail)
                raise CaseError(
                    f"no document {doc_id!r} in the index (ids come from a search's hits)",
                    code="document-unknown",
                    doc_id=doc_id,
                )
            if not scope.covers(document.official, document.date):
                raise self._out_of_scope(
                    "view", case, ValueError(f"document {doc_id} is not in {scope.describe()}"), **detail
                )
            others = [
                d
                for d in index.duplicates_of(document.duplicate_key)
                if d.doc_id != doc_id and scope.covers(d.official, d.date)
            ]
            view = DocumentView(
                document=document,
                attachments=index.children_of(doc_id),
                duplicates=[d for d in others if d.blob_sha256 == document.blob_sha256],
                related=[d for d in others if d.blob_sha256 != document.blob_sha256],
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
        scope = self._scope("export", case, **detail)
        queries = [query] if query is not None else self.case_queries(case.ref)
        if not queries:
            raise CaseError(f"case {case.ref} has no searches yet: search first, or pass --query")
        try:
            queries = [scope.restrict(q) for q in queries]  # searches of a narrower scope stay narrow
        except ScopeError as exc:
            raise self._out_of_scope("export", case, exc, **detail) from None
        index = self._complete_index("export", case, **detail)
        try:
            vault = open_vault(self.settings)
            try:
                try:
                    report = export_documents(
                        vault,
                        index,
                        case.ref,
                        kept_hits(
                            self.engine,
                            (h for h in self._all_hits(index, queries) if scope.covers(h.official, h.date)),
                        ),
                        out,
                        keep=lambda d: scope.covers(d.official, d.date),
                        excluded=excluded_record_ids(self.engine),
                        **kwargs,
                    )
                except (ExportError, OSError) as exc:  # nothing was written; the attempt is audited
                    reason = (
                        str(exc)
                        if isinstance(exc, ExportError | FileExistsError)
                        else f"{type(exc).__name__}: {exc}"
                    )
                    self._record(
                        "export", case.ref, "failed", WOO_OFFICER, error=reason, searches=len(queries),
                        **detail,
                    )  # fmt: skip
                    self.audit.seal(vault, actor=self.actor.name)
                    if isinstance(exc, ExportError | FileExistsError):
                        raise
                    raise ExportError(f"export failed: {reason}; nothing was written") from exc
                exported = [row.document for row in report.rows]
                self._record(
                    "export", case.ref, "allowed", WOO_OFFICER, documents=report.documents,
                    duplicates=report.duplicates, exported=exported, searches=len(queries),
                    stale_partials_removed=report.stale_removed, **detail,
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

    def audit_entries(
        self,
        case_ref: str | None = None,
        *,
        actor: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[dict[str, Any]]:
        """The audit entries, oldest first: of one case, by one user (``actor``), on or after
        ``since`` and on or before ``until`` (UTC days of the entries' times); the filter is audited."""
        if since is not None and until is not None and since > until:
            raise ValueError(f"the period starts ({since}) after it ends ({until})")
        role = self._roles("audit-show", case_ref, AUDITOR)
        first, last = (since.isoformat() if since else ""), (until.isoformat() if until else "")
        entries = [
            e.to_json()
            for e in self.audit.entries(case_ref=case_ref)
            if (not actor or e.actor == actor)
            and (not first or e.at[:10] >= first)
            and (not last or e.at[:10] <= last)
        ]
        detail: dict[str, Any] = {"entries": len(entries)}
        detail.update({k: v for k, v in (("user", actor), ("since", first), ("until", last)) if v})
        self._record("audit-show", case_ref, "allowed", role, **detail)
        return entries

    def case_for(self, action: str, case_ref: str) -> WooCase:
        """The open case ``case_ref`` if this Woo officer may do ``action`` in it, else a refusal
        (audited): lets a caller refuse at once what a background job would refuse later."""
        return self._case_for_content(action, case_ref)

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

"""The index's vocabulary: what is indexed, how it is asked, what comes back.

Both backends (SQLite FTS5 for the embedded default, PostgreSQL ``dutch`` text search for larger
installations) implement :class:`SearchIndex`, so the Woo service never knows which one it talks to.

Example::

    index = open_index(settings)                # SQLite under $CAPSTONE_HOME or PostgreSQL
    result = index.search(SearchQuery(text="fietsbrug", date_from=date(2026, 1, 1), kinds=("mail",)))
    for hit in result.hits:
        print(hit.record_id, hit.date, hit.title, hit.snippet, hit.duplicate_key)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

# item: an opaque export (metadata only); event, contact, task: Graph JSON of calendar, contacts, To Do
DocumentKind = Literal["mail", "attachment", "chat-message", "event", "contact", "task", "item", "phone-chat"]


@dataclass(frozen=True)
class IndexDocument:
    """One searchable document, derived from one vault record (and for attachments, one MIME part).

    ``doc_id`` is the record id for mail/chat/item documents and ``<record_id>:<part index>`` for an
    attachment, whose ``parent_id`` is the mail's doc id. ``duplicate_key`` groups exact duplicates
    across mailboxes: the normalised Internet Message-ID when there is one, otherwise the blob SHA-256
    (``sha256:<hex>``).
    """

    doc_id: str
    record_id: str
    kind: DocumentKind
    blob_sha256: str | None
    duplicate_key: str
    official: str = ""  # the key official's name from the designation
    designation_id: str = ""
    account: str = ""  # source mailbox / Teams account
    mailbox_kind: str = ""  # primary / archive / teams
    folder_path: str = ""  # mail folder path; for chats the chat topic or id
    date: datetime | None = None  # sent/received (mail), created (chat message), start (event), due (task)
    sender: str = ""  # an event's organiser; its attendees are ``to`` (required) and ``cc`` (optional)
    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    subject: str = ""
    body: str = ""
    attachment_names: Sequence[str] = ()
    message_id: str = ""  # Internet Message-ID, normalised (no <>; lower case)
    thread_id: str = ""  # root of References/In-Reply-To, else conversation id, else message id
    chat_id: str = ""
    participants: Sequence[str] = ()
    parent_id: str = ""  # attachments: the mail's doc_id
    filename: str = ""  # attachments: file name
    media_type: str = ""
    size: int = 0
    notes: Sequence[str] = ()  # e.g. "attachment text not extracted: encrypted PDF"


@dataclass(frozen=True)
class SearchQuery:
    """Full text (Dutch-aware: stemming, diacritics folded) plus filters; all filters AND together."""

    text: str = ""
    officials: Sequence[str] = ()
    accounts: Sequence[str] = ()
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    folder: str | None = None  # folder path prefix
    sender: str | None = None
    recipient: str | None = None  # matches to, cc or bcc
    has_attachment: bool | None = None
    kinds: Sequence[DocumentKind] = ()
    limit: int = 50
    offset: int = 0
    # "date": newest first (the default; cheap at any size). "relevance": best match first (BM25 /
    # ts_rank), meant for selective searches: a word in most documents ranks all of them.
    order: Literal["date", "relevance"] = "date"


@dataclass(frozen=True)
class SearchHit:
    doc_id: str
    record_id: str
    kind: DocumentKind
    date: datetime | None
    official: str
    account: str
    folder_path: str
    title: str  # subject, attachment file name, or chat topic
    snippet: str  # a short excerpt with the matched terms marked [[like this]]
    duplicate_key: str
    duplicates: int  # indexed documents with the same key and the same bytes (1 = unique; issue 15)
    blob_sha256: str | None
    parent_id: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    total: int  # all matching documents, not just this page
    hits: list[SearchHit] = field(default_factory=list)
    # Documents within the query's filters whose content could not be searched (kind ``item``:
    # opaque full-fidelity export streams, such as the online archive's items), so the text part
    # of the query was not applied to them; set by the Woo service, which reports it.
    metadata_only: int = 0


class IndexOutdatedError(ValueError):
    """The index was written by a version with another layout; ``capstone index rebuild`` renews it."""


class SearchIndex(Protocol):
    """What every index backend offers. Implementations are safe to reopen and to rebuild."""

    def add(self, documents: Iterable[IndexDocument]) -> int:
        """Insert or replace documents (by doc_id); returns how many were written."""
        ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def get(self, doc_id: str) -> IndexDocument | None: ...

    def duplicates_of(self, duplicate_key: str) -> list[IndexDocument]: ...

    def children_of(self, doc_id: str) -> list[IndexDocument]:
        """Attachments of a mail, in part order."""
        ...

    def indexed_records(self) -> set[str]:
        """Record ids already indexed (for incremental updates)."""
        ...

    def mark_records(self, record_ids: Iterable[str]) -> None:
        """Remember records as indexed (also those that yield no document)."""
        ...

    def check_layout(self) -> None:
        """Raise :class:`IndexOutdatedError` if the index was written in an older layout (every other
        use raises it too, except :meth:`clear`, which renews the layout)."""
        ...

    def clear(self) -> None:
        """Empty the index (it is then not complete until an update or rebuild has finished)."""
        ...

    def completed_at(self) -> datetime | None:
        """When an update or rebuild last finished a pass over the whole vault; None while the
        first build or a rebuild is still running (a search could then miss documents)."""
        ...

    def mark_completed(self, at: datetime) -> None: ...

    def stats(self) -> dict[str, int]: ...

    def close(self) -> None: ...

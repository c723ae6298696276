"""The search index on PostgreSQL, for installations larger than one machine's SQLite file.

Same interface and query language as :class:`~capstone.index.sqlite.SqliteIndex`. The text search
configuration ``capstone_dutch`` is a copy of ``dutch`` whose words pass through ``unaccent`` before
the Dutch Snowball stemmer. Text is tokenised by :mod:`capstone.index.analysis` first (folded words
separated by spaces), so both backends split words alike (``Woo-verzoek``, ``a.b@gemeente.nl``);
PostgreSQL stems. A parsed query becomes one ``to_tsquery('capstone_dutch', ...)`` (``&``, ``|``,
``!``, ``<->`` for phrases, ``:*`` for prefixes). ``ts_headline`` runs only for the page's hits.

Differences from SQLite worth knowing: ``dutch`` drops stop words (``van``, ``de``...), so a search
for a stop word alone finds nothing; a prefix matches stems (``fietsbrugg*`` also finds ``fietsbrug``).

The schema (tables ``search_*``) is created by the backend itself, idempotently: the index is derived
data rebuilt from the vault, not part of the Alembic migrations.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg

from capstone.index.analysis import ParsedQuery, QuerySyntaxError, Term, parse_query, tokens
from capstone.index.common import (
    RECIPIENT_FIELD,
    SENDER_FIELD,
    filter_token,
    has_attachment,
    head_texts,
    mail_address,
    pack_document,
    part_number,
    period_bounds,
    recipient_tokens,
    recipients_text,
    sender_tokens,
    title_of,
    unpack_document,
)
from capstone.index.model import IndexDocument, IndexOutdatedError, SearchHit, SearchQuery, SearchResult
from capstone.logging import get_logger

log = get_logger("index.postgres")

CONFIG = "capstone_dutch"
MAX_TSVECTOR_TEXT = 400_000  # folded words per document handed to to_tsvector (its limit is 1 MB)
HEADLINE_CHARS = 100_000
_LOCK_ID = 0x5EA7C4  # advisory lock: one schema creation at a time
# 2: the sender/recipient tsvectors also hold the address filter tokens (common.filter_token)
LAYOUT_VERSION = "3"  # 3: attachments numbered by capstone.mime.walker

_SCHEMA = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    f"""
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}') THEN
        CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.dutch);
        ALTER TEXT SEARCH CONFIGURATION {CONFIG}
          ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
          WITH unaccent, dutch_stem;
      END IF;
    END $$
    """,
    """
    CREATE TABLE IF NOT EXISTS search_documents (
        id bigserial PRIMARY KEY,
        doc_id text NOT NULL UNIQUE,
        record_id text NOT NULL,
        kind text NOT NULL,
        date timestamptz,
        official text NOT NULL,
        designation_id text NOT NULL,
        account text NOT NULL,
        folder_path text NOT NULL,
        has_attachment boolean NOT NULL,
        duplicate_key text NOT NULL,
        parent_id text NOT NULL,
        part integer NOT NULL,
        title text NOT NULL,
        blob_sha256 text,
        body text NOT NULL,
        data bytea NOT NULL,
        tsv tsvector NOT NULL,
        sender_tsv tsvector NOT NULL,
        recipients_tsv tsvector NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS search_documents_tsv ON search_documents USING gin (tsv)",
    "CREATE INDEX IF NOT EXISTS search_documents_sender ON search_documents USING gin (sender_tsv)",
    "CREATE INDEX IF NOT EXISTS search_documents_recipients ON search_documents USING gin (recipients_tsv)",
    "CREATE INDEX IF NOT EXISTS search_documents_date ON search_documents (date DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS search_documents_duplicate ON search_documents (duplicate_key)",
    "CREATE INDEX IF NOT EXISTS search_documents_parent ON search_documents (parent_id, part) WHERE parent_id <> ''",
    "CREATE INDEX IF NOT EXISTS search_documents_record ON search_documents (record_id)",
    "CREATE INDEX IF NOT EXISTS search_documents_official ON search_documents (official, date)",
    "CREATE INDEX IF NOT EXISTS search_documents_designation ON search_documents (designation_id, date)",
    "CREATE INDEX IF NOT EXISTS search_documents_account ON search_documents (account, date)",
    "CREATE INDEX IF NOT EXISTS search_documents_kind ON search_documents (kind, date)",
    "CREATE INDEX IF NOT EXISTS search_documents_folder ON search_documents (folder_path text_pattern_ops)",
    "CREATE TABLE IF NOT EXISTS search_indexed_records (record_id text PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS search_indexed_segments (key text PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS search_meta (name text PRIMARY KEY, value text NOT NULL)",
]

_INSERT = f"""
INSERT INTO search_documents (doc_id, record_id, kind, date, official, designation_id, account,
    folder_path, has_attachment, duplicate_key, parent_id, part, title, blob_sha256, body, data,
    tsv, sender_tsv, recipients_tsv)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
    setweight(to_tsvector('{CONFIG}', %s), 'A') || setweight(to_tsvector('{CONFIG}', %s), 'D'),
    to_tsvector('simple', %s) || array_to_tsvector(%s::text[]),
    to_tsvector('simple', %s) || array_to_tsvector(%s::text[]))
ON CONFLICT (doc_id) DO UPDATE SET record_id = excluded.record_id, kind = excluded.kind,
    date = excluded.date, official = excluded.official, designation_id = excluded.designation_id,
    account = excluded.account, folder_path = excluded.folder_path,
    has_attachment = excluded.has_attachment, duplicate_key = excluded.duplicate_key,
    parent_id = excluded.parent_id, part = excluded.part, title = excluded.title,
    blob_sha256 = excluded.blob_sha256, body = excluded.body, data = excluded.data,
    tsv = excluded.tsv, sender_tsv = excluded.sender_tsv, recipients_tsv = excluded.recipients_tsv
"""
_HIT_COLUMNS = (
    "d.id, d.doc_id, d.record_id, d.kind, d.date, d.official, d.account, d.folder_path, d.title, "
    "d.duplicate_key, d.parent_id, d.blob_sha256"
)


def conninfo_of(url: str) -> str:
    """A libpq URL from ``postgresql[+driver]://...`` (SQLAlchemy style accepted)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith(("postgresql", "postgres")):
        raise ValueError("not a postgresql:// URL")
    return "postgresql://" + rest


def _term_tsquery(term: Term) -> str:
    words = list(term.words)
    if term.kind == "prefix":
        words[-1] = words[-1] + ":*"
    return words[0] if len(words) == 1 else "(" + " <-> ".join(words) + ")"


def tsquery_text(parsed: ParsedQuery) -> str:
    """The ``to_tsquery`` text of a parsed query (words are runs of letters/digits: nothing to escape)."""
    groups = []
    for group in parsed.groups:
        alternatives = [_term_tsquery(t) for t in group]
        groups.append(alternatives[0] if len(alternatives) == 1 else "(" + " | ".join(alternatives) + ")")
    text = " & ".join(groups)
    for term in parsed.excluded:
        text = f"({text}) & !{_term_tsquery(term)}"
    return text


def _folded(value: str, what: str) -> str:
    words = tokens(value)
    if not words:
        raise QuerySyntaxError(f"the {what} filter holds no name or address")
    return " ".join(words)


def _person_condition(column: str, field: str, value: str, what: str) -> tuple[str, str]:
    """(condition, parameter): an address is matched exactly (its filter token, letters and digits:
    nothing to quote), a name as a phrase of its words."""
    address = mail_address(value)
    if address:
        return f"{column} @@ %s::tsquery", filter_token(field, address)
    return f"{column} @@ phraseto_tsquery('simple', %s)", _folded(value, what)


class PostgresIndex:
    """:class:`~capstone.index.model.SearchIndex` on PostgreSQL full-text search. Thread-safe."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._db = psycopg.connect(conninfo_of(url), autocommit=True)
        self._outdated: str | None = None  # the layout found, when it is not LAYOUT_VERSION
        self._create_schema()

    @classmethod
    def from_url(cls, url: str) -> PostgresIndex:
        return cls(url)

    def _create_schema(self) -> None:
        with self._lock, self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            for statement in _SCHEMA:
                self._db.execute(statement)
            row = self._db.execute("SELECT value FROM search_meta WHERE name = 'layout'").fetchone()
            if row is None:  # new, or written before the layout was recorded (version 1)
                empty = self._db.execute("SELECT 1 FROM search_documents LIMIT 1").fetchone() is None
                row = (LAYOUT_VERSION if empty else "1",)
                self._db.execute("INSERT INTO search_meta VALUES ('layout', %s)", row)
            self._outdated = None if row[0] == LAYOUT_VERSION else str(row[0])

    def check_layout(self) -> None:
        if self._outdated is not None:
            raise IndexOutdatedError(
                f"the search index has layout {self._outdated}, this version reads layout "
                f"{LAYOUT_VERSION}: run `capstone index rebuild` (it is rebuilt from the vault)"
            )

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        self.check_layout()
        with self._lock, self._db.transaction():
            yield self._db

    # -- writing -----------------------------------------------------------------------------------

    def add(self, documents: Iterable[IndexDocument]) -> int:
        unique: dict[str, IndexDocument] = {}
        for doc in documents:
            unique[doc.doc_id] = doc
        if not unique:
            return 0
        rows = []
        for doc in unique.values():
            head = " ".join(tokens(" ".join(head_texts(doc))))
            body = " ".join(tokens(doc.body))[:MAX_TSVECTOR_TEXT]
            rows.append(
                (
                    doc.doc_id,
                    doc.record_id,
                    doc.kind,
                    doc.date,
                    doc.official,
                    doc.designation_id,
                    doc.account.lower(),
                    doc.folder_path,
                    has_attachment(doc),
                    doc.duplicate_key,
                    doc.parent_id,
                    part_number(doc),
                    title_of(doc),
                    doc.blob_sha256,
                    doc.body.replace("\x00", ""),
                    pack_document(replace(doc, body="")),
                    head,
                    body,
                    " ".join(tokens(doc.sender)),
                    sender_tokens(doc),
                    " ".join(tokens(recipients_text(doc))),
                    recipient_tokens(doc),
                )
            )
        with self._tx() as db, db.cursor() as cursor:
            cursor.executemany(_INSERT, rows)
        return len(rows)

    def mark_records(self, record_ids: Iterable[str]) -> None:
        rows = [(r,) for r in record_ids]
        if rows:
            with self._tx() as db, db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO search_indexed_records VALUES (%s) ON CONFLICT DO NOTHING", rows
                )

    def indexed_records(self) -> set[str]:
        self.check_layout()
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT record_id FROM search_indexed_records")}

    def mark_segments(self, keys: Iterable[str]) -> None:
        rows = [(k,) for k in keys]
        if rows:
            with self._tx() as db, db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO search_indexed_segments VALUES (%s) ON CONFLICT DO NOTHING", rows
                )

    def indexed_segments(self) -> set[str]:
        self.check_layout()
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT key FROM search_indexed_segments")}

    def clear(self) -> None:
        with self._lock, self._db.transaction():
            self._db.execute("TRUNCATE search_documents, search_indexed_records, search_indexed_segments")
            self._db.execute(
                "INSERT INTO search_meta VALUES ('layout', %s) ON CONFLICT (name) DO UPDATE SET value = %s",
                (LAYOUT_VERSION, LAYOUT_VERSION),
            )
            self._db.execute("DELETE FROM search_meta WHERE name = 'completed_at'")
            self._outdated = None

    def completed_at(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM search_meta WHERE name = 'completed_at'").fetchone()
        return None if row is None else datetime.fromisoformat(str(row[0]))

    def mark_completed(self, at: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO search_meta VALUES ('completed_at', %s) ON CONFLICT (name) DO UPDATE SET value = %s",
                (at.isoformat(), at.isoformat()),
            )

    def optimize(self) -> None:
        with self._lock:
            self._db.execute("VACUUM (ANALYZE) search_documents")

    # -- reading -----------------------------------------------------------------------------------

    def _where(self, query: SearchQuery) -> tuple[str | None, list[str], list[Any]]:
        """(tsquery text or None, SQL conditions on ``d``, their parameters)."""
        tsquery = None
        if query.text.strip():
            parsed = parse_query(query.text)
            if not parsed.empty:
                tsquery = tsquery_text(parsed)
        conditions: list[str] = []
        params: list[Any] = []
        if tsquery is not None:
            conditions.append(f"d.tsv @@ to_tsquery('{CONFIG}', %s)")
            params.append(tsquery)
        people = [("d.sender_tsv", SENDER_FIELD, query.sender, "sender")]
        people.append(("d.recipients_tsv", RECIPIENT_FIELD, query.recipient, "recipient"))
        for column, field, value, what in people:
            if value:
                condition, param = _person_condition(column, field, value, what)
                conditions.append(condition)
                params.append(param)
        if query.officials:
            conditions.append("(d.official = ANY(%s) OR d.designation_id = ANY(%s))")
            params += [list(query.officials), list(query.officials)]
        if query.accounts:
            conditions.append("d.account = ANY(%s)")
            params.append([a.lower() for a in query.accounts])
        if query.kinds:
            conditions.append("d.kind = ANY(%s)")
            params.append(list(query.kinds))
        start, end = period_bounds(query)
        if start is not None:
            conditions.append("d.date >= %s")
            params.append(start)
        if end is not None:
            conditions.append("d.date < %s")
            params.append(end)
        if query.folder:
            folder = query.folder.strip("/")
            conditions.append("(d.folder_path = %s OR d.folder_path LIKE %s)")
            params += [folder, folder.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"]
        if query.has_attachment is not None:
            conditions.append("d.has_attachment = %s")
            params.append(query.has_attachment)
        return tsquery, conditions, params

    def search(self, query: SearchQuery) -> SearchResult:
        if query.limit < 0 or query.offset < 0:
            raise ValueError("limit and offset must not be negative")
        self.check_layout()
        tsquery, conditions, params = self._where(query)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        relevance = query.order == "relevance" and tsquery is not None
        score = f"ts_rank(d.tsv, to_tsquery('{CONFIG}', %s))" if relevance else "0.0"
        order = (
            "13 DESC, d.date DESC NULLS LAST, d.id DESC" if relevance else "d.date DESC NULLS LAST, d.id DESC"
        )
        with self._lock:
            db = self._db
            total = db.execute(f"SELECT count(*) FROM search_documents d {where}", params).fetchone()
            rows = db.execute(
                f"SELECT {_HIT_COLUMNS}, {score} FROM search_documents d {where} "
                f"ORDER BY {order} LIMIT %s OFFSET %s",
                [*([tsquery] if relevance else []), *params, query.limit, query.offset],
            ).fetchall()
            hits = self._hits(rows, tsquery)
        return SearchResult(total=int(total[0]) if total else 0, hits=hits)

    def _hits(self, rows: list[tuple[Any, ...]], tsquery: str | None) -> list[SearchHit]:
        if not rows:
            return []
        ids = [int(r[0]) for r in rows]
        keys = sorted({str(r[9]) for r in rows})
        # Exact duplicates: the same key (Message-ID) *and* the same bytes (issue 15).
        counts: dict[tuple[str, str | None], int] = {
            (key, sha): n
            for key, sha, n in self._db.execute(
                "SELECT duplicate_key, blob_sha256, count(*) FROM search_documents "
                "WHERE duplicate_key = ANY(%s) GROUP BY duplicate_key, blob_sha256",
                [keys],
            ).fetchall()
        }
        if tsquery is not None:
            snippets: dict[int, str] = dict(
                self._db.execute(
                    f"SELECT id, ts_headline('{CONFIG}', left(CASE WHEN body = '' THEN title ELSE body END, %s), "
                    f"to_tsquery('{CONFIG}', %s), 'StartSel=[[, StopSel=]], MaxWords=35, MinWords=15, "
                    'ShortWord=2, MaxFragments=1, FragmentDelimiter=" … "\') '
                    "FROM search_documents WHERE id = ANY(%s)",
                    [HEADLINE_CHARS, tsquery, ids],
                ).fetchall()
            )
        else:
            snippets = dict(
                self._db.execute(
                    "SELECT id, left(regexp_replace(CASE WHEN body = '' THEN title ELSE body END, '\\s+', ' ', 'g'), 240) "
                    "FROM search_documents WHERE id = ANY(%s)",
                    [ids],
                ).fetchall()
            )
        hits = []
        for row in rows:
            moment = row[4]
            hits.append(
                SearchHit(
                    doc_id=str(row[1]),
                    record_id=str(row[2]),
                    kind=row[3],
                    date=moment.astimezone(UTC) if isinstance(moment, datetime) else None,
                    official=str(row[5]),
                    account=str(row[6]),
                    folder_path=str(row[7]),
                    title=str(row[8]),
                    snippet=" ".join(str(snippets.get(row[0]) or "").split()),
                    duplicate_key=str(row[9]),
                    duplicates=int(counts.get((row[9], row[11]), 1)),
                    blob_sha256=row[11],
                    parent_id=str(row[10]),
                    score=float(row[12] or 0.0),
                )
            )
        return hits

    def _documents(self, where: str, params: list[Any], order: str) -> list[IndexDocument]:
        self.check_layout()
        with self._lock:
            rows = self._db.execute(
                f"SELECT data, body FROM search_documents WHERE {where} ORDER BY {order}", params
            ).fetchall()
        return [replace(unpack_document(bytes(data)), body=str(body)) for data, body in rows]

    def get(self, doc_id: str) -> IndexDocument | None:
        found = self._documents("doc_id = %s", [doc_id], "id")
        return found[0] if found else None

    def duplicates_of(self, duplicate_key: str) -> list[IndexDocument]:
        return self._documents("duplicate_key = %s", [duplicate_key], "date NULLS LAST, id")

    def children_of(self, doc_id: str) -> list[IndexDocument]:
        return self._documents("parent_id = %s", [doc_id], "part")

    def stats(self) -> dict[str, int]:
        with self._lock:
            db = self._db
            row = db.execute("SELECT count(*) FROM search_documents").fetchone()
            result = {"documents": int(row[0]) if row else 0}
            for kind, count in db.execute("SELECT kind, count(*) FROM search_documents GROUP BY kind"):
                result[f"documents_{kind}"] = int(count)
            for name, table in (
                ("records", "search_indexed_records"),
                ("segments", "search_indexed_segments"),
            ):
                row = db.execute(f"SELECT count(*) FROM {table}").fetchone()
                result[name] = int(row[0]) if row else 0
            row = db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM search_documents GROUP BY duplicate_key HAVING count(*) > 1) g"
            ).fetchone()
            result["duplicate_groups"] = int(row[0]) if row else 0
            row = db.execute("SELECT pg_total_relation_size('search_documents')").fetchone()
            result["bytes"] = int(row[0]) if row else 0
        return result

    def close(self) -> None:
        with self._lock:
            self._db.close()

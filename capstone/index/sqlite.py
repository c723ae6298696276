"""The embedded search index: one SQLite file with an FTS5 table (the default on one machine).

Layout:

- ``docs``: one narrow row per document with what a hit shows (kind, date, official, account,
  folder, title...) and the duplicate and attachment links;
- ``doc_data``: the whole :class:`IndexDocument` (original text included) as compressed JSON, read
  only for the page's hits (snippets) and for :meth:`SqliteIndex.get`;
- ``fts``: FTS5 over pre-analysed text (see :mod:`capstone.index.analysis`): column ``stem`` holds
  Dutch stems (word and phrase search), ``raw`` the folded words (prefix search), ``sender`` and
  ``recipients`` the folded names and addresses (the sender/recipient filters by name), ``facets``
  one token per filter value the document has (kind, official and designation, account, every
  folder prefix, has-attachment, sender and recipient addresses; see :func:`filter_token`). A
  filter is thus one more term FTS5 intersects while it reads the doclists, never a lookup of
  each match in ``docs`` (that lookup made a filtered search of a common word cost seconds at
  1 M documents), and the period is a range of row ids (below);
- ``indexed_records`` / ``indexed_segments``: what :func:`~capstone.index.indexer.update_index` has
  done, so an update reads only new vault segments.

The index is derived data: :meth:`clear` and a rebuild from the vault recreate it at any time.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from capstone.fsmodes import private_file
from capstone.index.analysis import ParsedQuery, QuerySyntaxError, Term, analyse, parse_query, tokens
from capstone.index.common import (
    RECIPIENT_FIELD,
    SENDER_FIELD,
    Highlighter,
    epoch,
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

log = get_logger("index.sqlite")

SCHEMA_VERSION = "3"  # 2: the ``facets`` column; 3: attachments numbered by capstone.mime.walker
_CHUNK = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    record_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    date INTEGER,
    official TEXT NOT NULL,
    designation_id TEXT NOT NULL,
    account TEXT NOT NULL,
    folder_path TEXT NOT NULL,
    has_attachment INTEGER NOT NULL,
    duplicate_key TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    title TEXT NOT NULL,
    blob_sha256 TEXT
);
CREATE INDEX IF NOT EXISTS docs_duplicate ON docs(duplicate_key);
CREATE INDEX IF NOT EXISTS docs_parent ON docs(parent_id, part) WHERE parent_id != '';
CREATE TABLE IF NOT EXISTS doc_data (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
    stem, raw, sender, recipients, facets, tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS indexed_records (record_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS indexed_segments (key TEXT PRIMARY KEY) WITHOUT ROWID;
"""
_BM25_WEIGHTS = "1.0, 1.0, 1.0, 1.0, 0.0"  # stem, raw, sender, recipients; facets do not rank
_TABLES = ("docs", "doc_data", "fts", "indexed_records", "indexed_segments")
_HIT_COLUMNS = (
    "d.id, d.doc_id, d.record_id, d.kind, d.date, d.official, d.account, d.folder_path, d.title, "
    "d.duplicate_key, d.parent_id, d.blob_sha256"
)


def path_of(url: str) -> Path:
    """``sqlite:///abs/path`` or ``sqlite:///rel/path`` -> Path."""
    for prefix in ("sqlite+pysqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            return Path(url[len(prefix) :])
    raise ValueError(f"not a sqlite:/// URL: {url!r}")


# Row ids (docs.id = fts.rowid) are date-ordered keys: (seconds since 1970 << 20) | sequence, so
# "newest first" is FTS5's own descending rowid scan (stops after the page) and a period is a rowid
# range FTS5 applies while it reads the doclist; no per-match lookup in docs, no sort of all matches.
_SEQ_BITS = 20


def _row_key(db: sqlite3.Connection, doc: IndexDocument, next_in_second: dict[int, int]) -> int:
    base = max(epoch(doc.date) or 0, 0) << _SEQ_BITS
    key = next_in_second.get(base)
    if key is None:
        top = db.execute(
            "SELECT max(id) FROM docs WHERE id >= ? AND id < ?", (base, base + (1 << _SEQ_BITS))
        ).fetchone()[0]
        key = base if top is None else int(top) + 1
    next_in_second[base] = key + 1
    return key


def _quote(words: Iterable[str]) -> str:
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"'


def _term_expr(term: Term) -> str:
    if term.kind == "prefix":
        return f"raw : {_quote(term.words)}*"
    return f"stem : {_quote(term.stems)}"


def fts_expression(parsed: ParsedQuery) -> str:
    """The FTS5 MATCH expression of a parsed query."""
    groups = []
    for group in parsed.groups:
        alternatives = [_term_expr(t) for t in group]
        groups.append(alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")")
    expression = " AND ".join(groups)
    for term in parsed.excluded:
        expression = f"({expression}) NOT {_term_expr(term)}"
    return expression


# -- facets: every filter value of a document as a token of its ``facets`` column -----------------------
_KIND, _OFFICIAL, _ACCOUNT, _FOLDER, _ATTACHMENT = "koapx"  # and SENDER_FIELD, RECIPIENT_FIELD


def _folder_prefixes(path: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``: the folder filter matches a folder and its subfolders."""
    return [path[:i] for i, ch in enumerate(path) if ch == "/"] + [path]


def document_facets(doc: IndexDocument) -> str:
    """The ``facets`` column of a document: its filter values as tokens (see :func:`filter_token`)."""
    found = {
        filter_token(_KIND, doc.kind),
        filter_token(_OFFICIAL, doc.official),
        filter_token(_OFFICIAL, doc.designation_id),
        filter_token(_ACCOUNT, doc.account.lower()),
        filter_token(_ATTACHMENT, "1" if has_attachment(doc) else "0"),
        *(filter_token(_FOLDER, prefix) for prefix in _folder_prefixes(doc.folder_path)),
        *sender_tokens(doc),
        *recipient_tokens(doc),
    }
    return " ".join(sorted(found))


def _facet_expr(field: str, values: Iterable[str]) -> str:
    alternatives = [f"facets : {filter_token(field, v)}" for v in dict.fromkeys(values)]
    return alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"


def _person_expr(column: str, field: str, value: str, what: str) -> str:
    """An address is matched exactly (its facet token); a name as a phrase in the names column."""
    address = mail_address(value)
    if address:
        return _facet_expr(field, [address])
    words = tokens(value)
    if not words:
        raise QuerySyntaxError(f"the {what} filter holds no name or address")
    return f"{column} : {_quote(words)}"


def filter_expression(query: SearchQuery) -> tuple[str | None, int | None, int | None]:
    """(FTS5 MATCH expression of the text and filters or None, first row key, end row key)."""
    parts: list[str] = []
    if query.text.strip():
        parsed = parse_query(query.text)
        if not parsed.empty:
            parts.append(f"({fts_expression(parsed)})")
    if query.sender:
        parts.append(_person_expr("sender", SENDER_FIELD, query.sender, "sender"))
    if query.recipient:
        parts.append(_person_expr("recipients", RECIPIENT_FIELD, query.recipient, "recipient"))
    if query.officials:
        parts.append(_facet_expr(_OFFICIAL, query.officials))
    if query.accounts:
        parts.append(_facet_expr(_ACCOUNT, [a.lower() for a in query.accounts]))
    if query.kinds:
        parts.append(_facet_expr(_KIND, query.kinds))
    if query.folder:
        parts.append(_facet_expr(_FOLDER, [query.folder.strip("/")]))
    if query.has_attachment is not None:
        parts.append(_facet_expr(_ATTACHMENT, ["1" if query.has_attachment else "0"]))
    start, end = period_bounds(query)
    first = None if start is None else max(epoch(start) or 0, 0) << _SEQ_BITS
    stop = None if end is None else max(epoch(end) or 0, 0) << _SEQ_BITS
    return (" AND ".join(parts) if parts else None), first, stop


class SqliteIndex:
    """:class:`~capstone.index.model.SearchIndex` on SQLite FTS5. Thread-safe (one connection, a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            private_file(self.path)  # full text of archived mail: 0600, whatever the umask
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._db.execute("PRAGMA mmap_size=268435456")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self._outdated: str | None = None
        found = str(self._db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()[0])
        if found != SCHEMA_VERSION:
            if self._db.execute("SELECT 1 FROM docs LIMIT 1").fetchone() is None:
                self.clear()  # nothing indexed yet: just take the current layout
            else:
                self._outdated = found

    @classmethod
    def from_url(cls, url: str) -> SqliteIndex:
        return cls(path_of(url))

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def check_layout(self) -> None:
        if self._outdated is not None:
            raise IndexOutdatedError(
                f"the search index {self.path} has layout {self._outdated}, this version reads layout "
                f"{SCHEMA_VERSION}: run `capstone index rebuild` (it is rebuilt from the vault)"
            )

    @contextmanager
    def _write(self, *, checked: bool = True) -> Iterator[sqlite3.Connection]:
        if checked:
            self.check_layout()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- writing -----------------------------------------------------------------------------------

    def add(self, documents: Iterable[IndexDocument]) -> int:
        docs = list(documents)
        if not docs:
            return 0
        unique: dict[str, IndexDocument] = {}
        for doc in docs:
            unique[doc.doc_id] = doc  # the last one of a doc_id wins, as "insert or replace" says
        docs = list(unique.values())
        rows: list[tuple[Any, ...]] = []
        data_rows: list[tuple[int, bytes]] = []
        fts_rows: list[tuple[int, str, str, str, str, str]] = []
        with self._write() as db:
            existing = self._existing_ids(db, [d.doc_id for d in docs])
            if existing:
                self._delete_ids(db, list(existing.values()))
            next_in_second: dict[int, int] = {}
            for doc in docs:
                row_id = existing.get(doc.doc_id)
                if row_id is None or row_id >> _SEQ_BITS != max(epoch(doc.date) or 0, 0):
                    row_id = _row_key(db, doc, next_in_second)
                rows.append(
                    (
                        row_id,
                        doc.doc_id,
                        doc.record_id,
                        doc.kind,
                        epoch(doc.date),
                        doc.official,
                        doc.designation_id,
                        doc.account.lower(),
                        doc.folder_path,
                        1 if has_attachment(doc) else 0,
                        doc.duplicate_key,
                        doc.parent_id,
                        part_number(doc),
                        title_of(doc),
                        doc.blob_sha256,
                    )
                )
                data_rows.append((row_id, pack_document(doc)))
                text = analyse(*head_texts(doc), doc.body)
                fts_rows.append(
                    (
                        row_id,
                        text.stems,
                        text.raw,
                        " ".join(tokens(doc.sender)),
                        " ".join(tokens(recipients_text(doc))),
                        document_facets(doc),
                    )
                )
            db.executemany(f"INSERT INTO docs VALUES ({','.join('?' * 15)})", rows)
            db.executemany("INSERT INTO doc_data VALUES (?, ?)", data_rows)
            db.executemany(
                "INSERT INTO fts(rowid, stem, raw, sender, recipients, facets) VALUES (?, ?, ?, ?, ?, ?)",
                fts_rows,
            )
        return len(docs)

    def _existing_ids(self, db: sqlite3.Connection, doc_ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(doc_ids), _CHUNK):
            chunk = doc_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for doc_id, row_id in db.execute(f"SELECT doc_id, id FROM docs WHERE doc_id IN ({marks})", chunk):
                found[str(doc_id)] = int(row_id)
        return found

    def _delete_ids(self, db: sqlite3.Connection, ids: list[int]) -> None:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM fts WHERE rowid IN ({marks})", chunk)
            db.execute(f"DELETE FROM doc_data WHERE id IN ({marks})", chunk)
            db.execute(f"DELETE FROM docs WHERE id IN ({marks})", chunk)

    def mark_records(self, record_ids: Iterable[str]) -> None:
        with self._write() as db:
            db.executemany("INSERT OR IGNORE INTO indexed_records VALUES (?)", ((r,) for r in record_ids))

    def indexed_records(self) -> set[str]:
        self.check_layout()
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT record_id FROM indexed_records")}

    def mark_segments(self, keys: Iterable[str]) -> None:
        """Remember vault segments whose records are all indexed (an update skips them)."""
        with self._write() as db:
            db.executemany("INSERT OR IGNORE INTO indexed_segments VALUES (?)", ((k,) for k in keys))

    def indexed_segments(self) -> set[str]:
        self.check_layout()
        with self._lock:
            return {str(r[0]) for r in self._db.execute("SELECT key FROM indexed_segments")}

    def clear(self) -> None:
        with self._write(checked=False) as db:  # clearing is how an outdated layout is renewed
            for table in _TABLES:
                db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            db.execute("DELETE FROM meta WHERE name = 'completed_at'")  # complete again after a pass
        self._outdated = None
        with self._lock:
            self._db.execute("VACUUM")

    def completed_at(self) -> datetime | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = 'completed_at'").fetchone()
        return None if row is None else datetime.fromisoformat(str(row[0]))

    def mark_completed(self, at: datetime) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('completed_at', ?)", (at.isoformat(),))

    def optimize(self) -> None:
        """Merge the FTS5 segments (after a big build: fewer b-trees to search)."""
        with self._write() as db:
            db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reading -----------------------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResult:
        if query.limit < 0 or query.offset < 0:
            raise ValueError("limit and offset must not be negative")
        self.check_layout()
        match, first, stop = filter_expression(query)
        key = "fts.rowid" if match is not None else "d.id"
        conditions = ["fts MATCH ?"] if match is not None else []
        params: list[Any] = [match] if match is not None else []
        if first is not None:
            conditions.append(f"{key} >= ?")
            params.append(first)
        if stop is not None:
            conditions.append(f"{key} < ?")
            params.append(stop)
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        with self._lock:
            db = self._db
            if match is not None:
                # every filter is in the MATCH expression or the rowid range: FTS5 alone counts
                total = db.execute(f"SELECT count(*) FROM fts {where}", params).fetchone()[0]
                relevance = query.order == "relevance"
                rank = f"bm25(fts, {_BM25_WEIGHTS})"
                rows = db.execute(
                    f"SELECT {_HIT_COLUMNS}, {'-' + rank if relevance else '0.0'} "
                    f"FROM fts CROSS JOIN docs d ON d.id = fts.rowid {where} "
                    f"ORDER BY {rank if relevance else 'fts.rowid DESC'} LIMIT ? OFFSET ?",
                    [*params, query.limit, query.offset],
                ).fetchall()
            else:
                total = db.execute(f"SELECT count(*) FROM docs d {where}", params).fetchone()[0]
                rows = db.execute(
                    f"SELECT {_HIT_COLUMNS}, 0.0 FROM docs d {where} ORDER BY d.id DESC LIMIT ? OFFSET ?",
                    [*params, query.limit, query.offset],
                ).fetchall()
            hits = self._hits(rows, query)
        return SearchResult(total=int(total), hits=hits)

    def _hits(self, rows: list[tuple[Any, ...]], query: SearchQuery) -> list[SearchHit]:
        if not rows:
            return []
        from datetime import UTC, datetime

        keys = sorted({str(r[9]) for r in rows})
        # Exact duplicates: the same key (Message-ID) *and* the same bytes (issue 15); a shared
        # Message-ID with other bytes is a related document, not a duplicate.
        counts = {
            (key, sha): n
            for key, sha, n in self._db.execute(
                "SELECT duplicate_key, blob_sha256, count(*) FROM docs "
                f"WHERE duplicate_key IN ({','.join('?' * len(keys))}) GROUP BY duplicate_key, blob_sha256",
                keys,
            ).fetchall()
        }
        ids = [int(r[0]) for r in rows]
        data = dict(
            self._db.execute(
                f"SELECT id, data FROM doc_data WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        )
        highlighter = Highlighter(parse_query(query.text) if query.text.strip() else ParsedQuery())
        hits = []
        for row in rows:
            doc = unpack_document(data[row[0]])
            text = doc.body or doc.subject
            hits.append(
                SearchHit(
                    doc_id=str(row[1]),
                    record_id=str(row[2]),
                    kind=row[3],
                    date=doc.date if doc.date else (datetime.fromtimestamp(row[4], UTC) if row[4] else None),
                    official=str(row[5]),
                    account=str(row[6]),
                    folder_path=str(row[7]),
                    title=str(row[8]),
                    snippet=highlighter.snippet(text),
                    duplicate_key=str(row[9]),
                    duplicates=int(counts.get((row[9], row[11]), 1)),
                    blob_sha256=row[11],
                    parent_id=str(row[10]),
                    score=float(row[12] or 0.0),
                )
            )
        return hits

    def get(self, doc_id: str) -> IndexDocument | None:
        self.check_layout()
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM doc_data JOIN docs USING (id) WHERE docs.doc_id = ?", (doc_id,)
            ).fetchone()
        return None if row is None else unpack_document(row[0])

    def _documents(self, sql: str, params: tuple[Any, ...]) -> list[IndexDocument]:
        self.check_layout()
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [unpack_document(r[0]) for r in rows]

    def duplicates_of(self, duplicate_key: str) -> list[IndexDocument]:
        return self._documents(
            "SELECT data FROM docs JOIN doc_data USING (id) WHERE docs.duplicate_key = ? "
            "ORDER BY docs.date, docs.id",
            (duplicate_key,),
        )

    def children_of(self, doc_id: str) -> list[IndexDocument]:
        return self._documents(
            "SELECT data FROM docs JOIN doc_data USING (id) WHERE docs.parent_id = ? ORDER BY docs.part",
            (doc_id,),
        )

    def stats(self) -> dict[str, int]:
        with self._lock:
            result = {"documents": int(self._db.execute("SELECT count(*) FROM docs").fetchone()[0])}
            for kind, count in self._db.execute("SELECT kind, count(*) FROM docs GROUP BY kind"):
                result[f"documents_{kind}"] = int(count)
            result["records"] = int(self._db.execute("SELECT count(*) FROM indexed_records").fetchone()[0])
            result["segments"] = int(self._db.execute("SELECT count(*) FROM indexed_segments").fetchone()[0])
            result["duplicate_groups"] = int(
                self._db.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM docs GROUP BY duplicate_key HAVING count(*) > 1)"
                ).fetchone()[0]
            )
            if str(self.path) != ":memory:" and self.path.exists():
                result["bytes"] = sum(
                    p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()
                )
        return result

    def close(self) -> None:
        with self._lock:
            self._db.close()

"""The search index over the vault: Dutch-aware full text plus filters, rebuildable from the vault.

Example::

    from capstone.index import SearchQuery, open_index

    index = open_index(settings.search_index_url)   # sqlite:///... (default) or postgresql://...
    result = index.search(SearchQuery(text='fietsbrug -concept', kinds=("mail", "attachment")))
"""

from __future__ import annotations

from capstone.index.analysis import QuerySyntaxError
from capstone.index.model import (
    DocumentKind,
    IndexDocument,
    IndexOutdatedError,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResult,
)


def open_index(url: str) -> SearchIndex:
    """The index at ``url``: ``sqlite:///path`` (embedded) or ``postgresql[+psycopg]://...``.

    The backend creates its schema on first use (the index is derived data, not migrated)."""
    if url.startswith("sqlite"):
        from capstone.index.sqlite import SqliteIndex

        return SqliteIndex.from_url(url)
    if url.startswith(("postgresql", "postgres")):
        from capstone.index.postgres import PostgresIndex

        return PostgresIndex.from_url(url)
    raise ValueError(
        f"unsupported search index URL {url.split('://', 1)[0]}://...: use sqlite:/// or postgresql://"
    )


__all__ = [
    "DocumentKind",
    "IndexDocument",
    "IndexOutdatedError",
    "QuerySyntaxError",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "SearchResult",
    "open_index",
]

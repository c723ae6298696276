"""The search and export hook of the retention lifecycle: a confirmed privé/partijpolitiek exclusion
disappears from Woo search results, views and exports the moment it is confirmed (issue 21), long
before ``retention run`` deletes its object."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from sqlalchemy import Engine

from capstone.index.model import SearchHit, SearchResult
from capstone.retention.service import excluded_record_ids

__all__ = ["excluded_dropped", "excluded_record_ids", "kept_hits"]


def excluded_dropped(engine: Engine, result: SearchResult) -> SearchResult:
    """``result`` without hits of confirmed exclusions (the total shrinks by what this page drops)."""
    excluded = excluded_record_ids(engine)
    if not excluded:
        return result
    hits = [hit for hit in result.hits if hit.record_id not in excluded]
    return replace(result, hits=hits, total=max(0, result.total - (len(result.hits) - len(hits))))


def kept_hits(engine: Engine, hits: Iterable[SearchHit]) -> Iterator[SearchHit]:
    """Hits for an export, without confirmed exclusions."""
    excluded = excluded_record_ids(engine)
    return (hit for hit in hits if hit.record_id not in excluded)

"""The scope of a Woo case: whose records (officials, resolved from designations) and which period.

A case records its scope when it is opened; every search, view, transcript and export inside the
case is limited to it by :class:`capstone.woo.service.WooService`. Widening the scope is its own act
with a reason (``capstone woo case widen``), audited with the scope before and after; each version
is kept (table ``woo_case_scopes``, migration 0008). A case opened before scopes existed has none,
and content access in it is refused until a scope is set with ``woo case widen`` (and its reason):
no scope can be guessed for it, and "everything" is what the issue forbids.

Example::

    scope = resolve_scope(registry, officials=["Marieke van Dalen"], designations=[],
                          date_from=date(2026, 1, 1), date_to=date(2026, 6, 30))
    ScopeStore(engine).set("WOO-2026-014", scope, by="anna", reason="verzoek")
    scope.restrict(SearchQuery(text="haven"))   # officials and period filled in
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, Date, DateTime, Engine, ForeignKey, Integer, String, Table, Text, func, select

from capstone.audit.tables import metadata
from capstone.db.engine import write_transaction
from capstone.index.model import SearchQuery

woo_case_scopes = Table(
    "woo_case_scopes",
    metadata,
    Column("ref", String(64), ForeignKey("woo_cases.ref"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("officials", Text, nullable=False),  # JSON list of official names
    Column("designations", Text, nullable=False),  # JSON list of designation ids
    Column("date_from", Date),
    Column("date_to", Date),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
)


class ScopeError(ValueError):
    """Bad scope input (an unknown official or designation, a period that ends before it starts)."""


@dataclass(frozen=True)
class CaseScope:
    officials: tuple[str, ...]  # names, as the index and the records carry them
    designations: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None  # inclusive

    def __post_init__(self) -> None:
        if not self.officials:
            raise ScopeError("a case's scope names at least one official or designation")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ScopeError(f"the scope's period ends ({self.date_to}) before it starts ({self.date_from})")

    def to_json(self) -> dict[str, Any]:
        return {
            "officials": list(self.officials),
            "designations": list(self.designations),
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }

    def describe(self) -> str:
        period = f"{self.date_from or '...'} t/m {self.date_to or '...'}"
        return f"{', '.join(self.officials)}; {period}"

    def covers(self, official: str, moment: date | datetime | None) -> bool:
        """True when a document of ``official`` dated ``moment`` lies inside the scope (a document
        without a date lies inside only when the scope has no period)."""
        if official not in self.officials:
            return False
        if self.date_from is None and self.date_to is None:
            return True
        if moment is None:
            return False
        day = moment.date() if isinstance(moment, datetime) else moment
        return (self.date_from is None or day >= self.date_from) and (
            self.date_to is None or day <= self.date_to
        )

    def restrict(self, query: SearchQuery) -> SearchQuery:
        """The query limited to the scope; :class:`ScopeError` when it asks only for what lies outside."""
        outside = [name for name in query.officials if name not in self.officials]
        if outside:
            raise ScopeError(f"{', '.join(outside)} lies outside the case's scope ({self.describe()})")
        date_from = max(filter(None, (query.date_from, self.date_from)), default=None)
        date_to = min(filter(None, (query.date_to, self.date_to)), default=None)
        if date_from and date_to and date_from > date_to:
            raise ScopeError(f"the period asked lies outside the case's scope ({self.describe()})")
        return replace(
            query, officials=tuple(query.officials) or self.officials, date_from=date_from, date_to=date_to
        )

    def includes(self, other: CaseScope) -> bool:
        """True when this scope holds everything ``other`` does (a widening, or the same)."""
        starts = self.date_from is None or (other.date_from is not None and self.date_from <= other.date_from)
        ends = self.date_to is None or (other.date_to is not None and self.date_to >= other.date_to)
        return set(other.officials) <= set(self.officials) and starts and ends


def resolve_scope(
    designations_known: Iterable[Any],
    *,
    officials: Sequence[str],
    designations: Sequence[str],
    date_from: date | None,
    date_to: date | None,
) -> CaseScope:
    """Official names and designation ids checked against the registry (``Registry.designations``)."""
    known = list(designations_known)
    by_name = {str(d.name).casefold(): str(d.name) for d in known}
    by_id = {str(d.designation_id): d for d in known}
    names: list[str] = []
    for name in officials:
        found = by_name.get(name.strip().casefold())
        if found is None:
            raise ScopeError(f"no official {name!r} in the registry of sleutelfunctionarissen")
        names.append(found)
    ids: list[str] = []
    for designation_id in designations:
        designation = by_id.get(designation_id.strip())
        if designation is None:
            raise ScopeError(f"no designation {designation_id!r} in the registry")
        ids.append(str(designation.designation_id))
        names.append(str(designation.name))
    return CaseScope(
        officials=tuple(dict.fromkeys(names)),
        designations=tuple(dict.fromkeys(ids)),
        date_from=date_from,
        date_to=date_to,
    )


class ScopeStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, ref: str) -> CaseScope | None:
        """The case's current scope (its newest version); None for a case without one."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(woo_case_scopes)
                .where(woo_case_scopes.c.ref == ref)
                .order_by(woo_case_scopes.c.version.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return CaseScope(
            officials=tuple(json.loads(row.officials)),
            designations=tuple(json.loads(row.designations)),
            date_from=row.date_from,
            date_to=row.date_to,
        )

    def set(self, ref: str, scope: CaseScope, *, by: str, reason: str) -> int:
        """Store a new version of the case's scope; returns its version number."""
        with write_transaction(self.engine) as conn:
            newest = conn.execute(
                select(func.max(woo_case_scopes.c.version)).where(woo_case_scopes.c.ref == ref)
            ).scalar()
            version = int(newest or 0) + 1
            conn.execute(
                woo_case_scopes.insert().values(
                    ref=ref,
                    version=version,
                    officials=json.dumps(list(scope.officials)),
                    designations=json.dumps(list(scope.designations)),
                    date_from=scope.date_from,
                    date_to=scope.date_to,
                    set_by=by,
                    set_at=datetime.now(UTC),
                    reason=reason,
                )
            )
        return version

"""The registry service: designate, correct, end and withdraw key officials; answer who was designated
when; import, export and publish. Every write is one database transaction.

History is append-only: the ``registry_events`` table is the truth and is never updated or deleted
(triggers refuse it). A designation's state is derived by replaying its events, so the registry can
answer "who was designated on day D" as known now, or as registered at an earlier moment T
(``as_of=T`` replays only events recorded up to T). ``registry_coverage`` is a projection of the
current state (one row per designation and account key with its period) kept in step within the
same transaction; the database refuses overlapping coverage of one account (see the migration).

After each committed change the new events are archived into the vault; events the vault does not
hold yet (a crash, an unreachable vault) are archived by the next registry command.
"""

from __future__ import annotations

import dataclasses
import json
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from capstone.access import REGISTRY_ADMIN
from capstone.access.guard import Guard
from capstone.db import write_transaction
from capstone.gcpause import gc_paused
from capstone.logging import get_logger
from capstone.registry import tables as t
from capstone.registry.archive import Archive, ArchiveItem
from capstone.registry.csvio import CsvRow, read_csv
from capstone.registry.errors import (
    ConcurrentChangeError,
    Conflict,
    CsvImportError,
    DuplicateImportError,
    FieldError,
    OverlapError,
    RegistryError,
    RowError,
    StateError,
    UnknownDesignationError,
    ValidationError,
)
from capstone.registry.model import (
    DRAFT_FIELDS,
    CaptureAssignment,
    Category,
    Designation,
    DesignationDraft,
    EventType,
    RegistryEvent,
    local_day,
    open_ended,
    replay,
    replay_all,
)
from capstone.registry.validation import validate_draft


def _log() -> Any:
    """The logger, looked up at use time so it follows the configuration of the running command."""
    return get_logger("capstone.registry")


_OPEN_END = date.max
_BATCH = 500  # rows per multi-row insert, keys per IN (...) query
R = TypeVar("R")
_RETRIES = 5
_RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure (PostgreSQL)
_CATEGORY_ORDER = {c: i for i, c in enumerate(Category)}


@dataclass(frozen=True)
class ArchiveStatus:
    """Outcome of archiving pending events: how many went into the vault, how many still wait."""

    archived: int
    pending: int
    error: str | None = None


@dataclass(frozen=True)
class ImportResult:
    import_id: str
    designations: list[Designation]


@dataclass(frozen=True)
class RestoreResult:
    inserted: int
    already_present: int
    designations: int


def new_designation_id() -> str:
    """``sf-`` and ten random base-32 characters: short enough to type, 50 random bits."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    bits = secrets.randbits(50)  # one call, not ten (an import of 100 000 rows makes 100 000 ids)
    return "sf-" + "".join(alphabet[(bits >> (5 * i)) & 31] for i in range(10))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sort_key(d: Designation) -> tuple[int, date, str, str]:
    return (_CATEGORY_ORDER[d.category], d.start_date, d.name.lower(), d.designation_id)


def _integrity_text(exc: IntegrityError) -> tuple[str | None, str]:
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    return getattr(diag, "constraint_name", None), str(orig)


def _is_overlap(exc: IntegrityError) -> bool:
    constraint, text = _integrity_text(exc)
    return constraint == t.OVERLAP_CONSTRAINT or t.OVERLAP_CONSTRAINT in text


def _is_version_clash(exc: IntegrityError) -> bool:
    constraint, text = _integrity_text(exc)
    return (
        constraint == t.VERSION_CONSTRAINT
        or "registry_events.designation_id, registry_events.version" in text
    )


def _is_import_clash(exc: IntegrityError) -> bool:
    constraint, text = _integrity_text(exc)
    return (constraint or "").startswith("registry_imports") or "registry_imports.sha256" in text


def _require(value: str | None, field: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise ValidationError([FieldError(field, "is required: say who and why", code="required")])
    return text


class Registry:
    """The registry of key officials on one state database.

    ``archive`` receives every new event after it was committed (normally the vault, see
    :func:`capstone.registry.archive.settings_archive`); None keeps events pending in the database.
    ``clock`` returns the current moment (tests pass a fixed one to exercise recording time).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        archive: Archive | None = None,
        clock: Callable[[], datetime] | None = None,
        check_deliverability: bool = False,
        guard: Guard | None = None,
    ) -> None:
        self.engine = engine
        self.guard = guard
        self.archive = archive
        self.clock = clock or (lambda: datetime.now(UTC))
        self.check_deliverability = check_deliverability
        self.last_archive: ArchiveStatus = ArchiveStatus(0, 0)

    def _now(self) -> datetime:
        return _utc(self.clock())

    def today(self) -> date:
        """Today in the registry's own time zone, by its clock: the default start of a new designation."""
        return local_day(self._now())

    def _authorize(self, action: str, **detail: Any) -> str | None:
        """Changes need a registry administrator when the caller's identity is known (``guard``);
        a refusal raises :class:`~capstone.access.AccessDenied` and is audited. Returns the role."""
        if self.guard is not None:
            return self.guard.require(action, None, REGISTRY_ADMIN, **detail)
        return None

    def _audit(self, action: str, role: str | None, **detail: Any) -> None:
        """Every change made under a guard is an audit entry too (who, what, which designation)."""
        if self.guard is not None:
            self.guard.record(action, None, "allowed", role, **detail)

    # -- reading -----------------------------------------------------------------------------------

    def _load_events(
        self,
        conn: Connection,
        *,
        designation_ids: Iterable[str] | None = None,
        event_ids: Iterable[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[RegistryEvent]:
        query = sa.select(t.events).order_by(t.events.c.seq)
        if designation_ids is not None:
            query = query.where(t.events.c.designation_id.in_(list(designation_ids)))
        if event_ids is not None:
            query = query.where(t.events.c.event_id.in_(list(event_ids)))
        if as_of is not None:
            query = query.where(t.events.c.recorded_at <= _utc(as_of))
        return [
            RegistryEvent(
                event_id=row.event_id,
                designation_id=row.designation_id,
                version=row.version,
                event_type=EventType(row.event_type),
                payload=json.loads(row.payload),
                actor=row.actor,
                reason=row.reason,
                recorded_at=_utc(row.recorded_at),
            )
            for row in conn.execute(query)
        ]

    def _current(self, conn: Connection, designation_id: str, *, lock: bool = False) -> Designation:
        query = sa.select(t.designations.c.designation_id).where(
            t.designations.c.designation_id == designation_id
        )
        if lock:
            query = query.with_for_update()  # PostgreSQL: serialise changes to one designation
        if conn.execute(query).first() is None:
            raise UnknownDesignationError(designation_id)
        state = replay(self._load_events(conn, designation_ids=[designation_id]))
        if state is None:
            raise UnknownDesignationError(designation_id)
        return state

    def get(self, designation_id: str, *, as_of: datetime | None = None) -> Designation:
        """One designation as known now, or as registered at ``as_of``."""
        with self.engine.connect() as conn:
            state = replay(self._load_events(conn, designation_ids=[designation_id], as_of=as_of))
        if state is None:
            raise UnknownDesignationError(designation_id)
        return state

    def designations(
        self, *, as_of: datetime | None = None, include_withdrawn: bool = False
    ) -> list[Designation]:
        """Every designation (as registered at ``as_of``), ordered by category, start, name."""
        with self.engine.connect() as conn:
            states = replay_all(self._load_events(conn, as_of=as_of))
        return sorted((d for d in states.values() if include_withdrawn or not d.withdrawn), key=_sort_key)

    def state_at(self, on: date, *, as_of: datetime | None = None) -> list[Designation]:
        """Who was designated on day ``on``, with which accounts: as known now, or as the registry
        said at moment ``as_of`` (withdrawn designations excluded, corrections applied)."""
        return [d for d in self.designations(as_of=as_of) if d.covers(on)]

    def active_at(self, moment: datetime | None = None) -> list[CaptureAssignment]:
        """For the capture scheduler: the designations in force at ``moment`` (default now) with the
        accounts to capture, the scope and the capture window of each."""
        day = local_day(moment or self._now())
        return [CaptureAssignment(d, d.capture_window()) for d in self.state_at(day)]

    def history(self, designation_id: str) -> list[RegistryEvent]:
        with self.engine.connect() as conn:
            events = self._load_events(conn, designation_ids=[designation_id])
        if not events:
            raise UnknownDesignationError(designation_id)
        return events

    def events(self) -> list[RegistryEvent]:
        """The whole history, in the order it was recorded."""
        with self.engine.connect() as conn:
            return self._load_events(conn)

    # -- overlap -----------------------------------------------------------------------------------

    def _conflicts(
        self,
        conn: Connection,
        keys: Sequence[str],
        start: date,
        end: date | None,
        *,
        exclude: str | None = None,
    ) -> list[Conflict]:
        if not keys:
            return []
        c = t.coverage.c
        query = sa.select(c.account_key, c.designation_id, c.start_date, c.end_date).where(
            c.account_key.in_(list(keys)),
            c.start_date <= (end or _OPEN_END),
            sa.or_(c.end_date.is_(None), c.end_date >= start),
        )
        if exclude is not None:
            query = query.where(c.designation_id != exclude)
        rows = conn.execute(query.order_by(c.account_key, c.start_date)).all()
        return [Conflict(r.account_key, r.designation_id, r.start_date, r.end_date) for r in rows]

    def _conflicts_now(
        self, keys: Sequence[str], start: date, end: date | None, exclude: str | None = None
    ) -> list[Conflict]:
        with self.engine.connect() as conn:
            return self._conflicts(conn, keys, start, end, exclude=exclude)

    def _set_coverage(self, conn: Connection, designation_id: str, draft: DesignationDraft | None) -> None:
        conn.execute(sa.delete(t.coverage).where(t.coverage.c.designation_id == designation_id))
        if draft is None:
            return
        conn.execute(
            sa.insert(t.coverage),
            [
                {
                    "designation_id": designation_id,
                    "account_key": key,
                    "start_date": draft.start_date,
                    "end_date": draft.end_date,
                }
                for key in draft.account_keys()
            ],
        )

    # -- writing -----------------------------------------------------------------------------------

    def _append(
        self,
        conn: Connection,
        *,
        designation_id: str,
        version: int,
        event_type: EventType,
        payload: dict[str, Any],
        actor: str,
        reason: str | None,
        not_before: datetime | None = None,
    ) -> RegistryEvent:
        recorded_at = self._now()
        if not_before is not None and recorded_at < not_before:
            recorded_at = not_before  # a clock behind the last event must not reorder the history
        event = RegistryEvent(
            event_id=str(uuid.uuid4()),
            designation_id=designation_id,
            version=version,
            event_type=event_type,
            payload=payload,
            actor=actor,
            reason=reason,
            recorded_at=recorded_at,
        )
        conn.execute(
            sa.insert(t.events).values(
                event_id=event.event_id,
                designation_id=designation_id,
                version=version,
                event_type=event_type.value,
                payload=json.dumps(payload, sort_keys=True, ensure_ascii=False),
                actor=actor,
                reason=reason,
                recorded_at=recorded_at,
            )
        )
        return event

    def _validate(self, draft: DesignationDraft) -> DesignationDraft:
        return validate_draft(
            draft, check_deliverability=self.check_deliverability, today=local_day(self._now())
        )

    def _insert_designation(
        self,
        conn: Connection,
        draft: DesignationDraft,
        *,
        actor: str,
        reason: str | None,
        source: dict[str, Any] | None,
    ) -> Designation:
        designation_id = new_designation_id()
        now = self._now()
        conn.execute(sa.insert(t.designations).values(designation_id=designation_id, created_at=now))
        payload: dict[str, Any] = {"designation": draft.to_json()}
        if source:
            payload["source"] = source
        event = self._append(
            conn,
            designation_id=designation_id,
            version=1,
            event_type=EventType.DESIGNATED,
            payload=payload,
            actor=actor,
            reason=reason,
        )
        self._set_coverage(conn, designation_id, draft)
        state = replay([event])
        assert state is not None
        return state

    def _insert_designations(
        self,
        conn: Connection,
        items: Sequence[tuple[DesignationDraft, dict[str, Any]]],
        *,
        actor: str,
        written: list[ArchiveItem],
    ) -> list[Designation]:
        """:meth:`_insert_designation` for many drafts at once: three multi-row inserts, so an
        import of 100 000 rows costs three statements, not 300 000. Each event and the state it
        gives is appended to ``written`` (for :meth:`archive_pending`)."""
        now = self._now()
        designations: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        coverage: list[dict[str, Any]] = []
        created: list[Designation] = []
        for draft, source in items:
            designation_id = new_designation_id()
            payload: dict[str, Any] = {"designation": draft.to_json(), "source": source}
            event = RegistryEvent(
                event_id=str(uuid.uuid4()),
                designation_id=designation_id,
                version=1,
                event_type=EventType.DESIGNATED,
                payload=payload,
                actor=actor,
                reason=None,
                recorded_at=now,
            )
            designations.append({"designation_id": designation_id, "created_at": now})
            events.append(
                {
                    "event_id": event.event_id,
                    "designation_id": designation_id,
                    "version": 1,
                    "event_type": EventType.DESIGNATED.value,
                    "payload": json.dumps(payload, sort_keys=True, ensure_ascii=False),
                    "actor": actor,
                    "reason": None,
                    "recorded_at": now,
                }
            )
            coverage.extend(
                {
                    "designation_id": designation_id,
                    "account_key": key,
                    "start_date": draft.start_date,
                    "end_date": draft.end_date,
                }
                for key in draft.account_keys()
            )
            state = replay([event])
            assert state is not None
            created.append(state)
            written.append(ArchiveItem(event, state))
        for table, values in ((t.designations, designations), (t.events, events), (t.coverage, coverage)):
            for start in range(0, len(values), _BATCH):
                conn.execute(sa.insert(table), values[start : start + _BATCH])
        return created

    def _write(
        self,
        action: Callable[[Connection], R],
        on_overlap: Callable[[], RegistryError],
        written: Sequence[ArchiveItem] = (),
    ) -> R:
        """Run ``action`` in one write transaction; translate the database's refusals; then archive.

        PostgreSQL may abort one of two transactions that insert conflicting coverage at the same
        moment with a deadlock (both wait on the other's exclusion-constraint check) instead of an
        exclusion violation; such a transaction is run again, and then sees the winner's row.
        """
        for attempt in range(_RETRIES):
            try:
                with write_transaction(self.engine) as conn:
                    result = action(conn)
                break
            except IntegrityError as exc:
                if _is_overlap(exc):
                    raise on_overlap() from None
                if _is_version_clash(exc):
                    raise ConcurrentChangeError(
                        "the designation was changed by another process at the same moment; "
                        "nothing was written: look at it again and retry",
                        code="concurrent-change",
                    ) from None
                raise
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) not in _RETRYABLE or attempt == _RETRIES - 1:
                    raise
                _log().info(
                    "registry_write_retried",
                    attempt=attempt + 1,
                    sqlstate=getattr(exc.orig, "sqlstate", None),
                )
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        self.last_archive = self.archive_pending(written=written)
        return result

    def designate(self, draft: DesignationDraft, *, actor: str, reason: str | None = None) -> Designation:
        """Register a new designation. Refuses invalid fields and overlapping coverage of an account."""
        role = self._authorize("registry-designate", official=draft.name)
        actor = _require(actor, "actor")
        draft = self._validate(draft)
        keys = draft.account_keys()

        def action(conn: Connection) -> Designation:
            conflicts = self._conflicts(conn, keys, draft.start_date, draft.end_date)
            if conflicts:
                raise OverlapError(conflicts)
            return self._insert_designation(conn, draft, actor=actor, reason=reason, source={"via": "api"})

        designation = self._write(
            action, lambda: OverlapError(self._conflicts_now(keys, draft.start_date, draft.end_date))
        )
        _log().info("registry_designated", designation_id=designation.designation_id)
        self._audit(
            "registry-designate", role, designation_id=designation.designation_id, official=draft.name
        )
        return designation

    def _change(
        self,
        designation_id: str,
        *,
        actor: str,
        reason: str,
        event_type: EventType,
        build: Callable[[Designation], tuple[DesignationDraft | None, dict[str, Any]]],
    ) -> Designation:
        """The common path of correct/end/withdraw: lock, read, build the new state, check, append."""
        verb = {EventType.CORRECTED: "correct", EventType.ENDED: "end"}.get(event_type, "withdraw")
        role = self._authorize(f"registry-{verb}", designation_id=designation_id)
        actor = _require(actor, "actor")
        reason = _require(reason, "reason")
        planned: list[DesignationDraft | None] = []

        def action(conn: Connection) -> Designation:
            current = self._current(conn, designation_id, lock=True)
            if current.withdrawn:
                raise StateError(
                    f"designation {designation_id} was withdrawn; it can no longer change",
                    code="designation-withdrawn",
                    id=designation_id,
                )
            draft, payload = build(current)
            planned.append(draft)
            if draft is not None:
                conflicts = self._conflicts(
                    conn, draft.account_keys(), draft.start_date, draft.end_date, exclude=designation_id
                )
                if conflicts:
                    raise OverlapError(conflicts)
            event = self._append(
                conn,
                designation_id=designation_id,
                version=current.version + 1,
                event_type=event_type,
                payload=payload,
                actor=actor,
                reason=reason,
                not_before=current.updated_at,
            )
            self._set_coverage(conn, designation_id, draft)
            events = self._load_events(conn, designation_ids=[designation_id])
            assert events[-1].event_id == event.event_id
            state = replay(events)
            assert state is not None
            return state

        def on_overlap() -> RegistryError:
            draft = planned[-1] if planned else None
            if draft is None:
                return OverlapError([])
            return OverlapError(
                self._conflicts_now(draft.account_keys(), draft.start_date, draft.end_date, designation_id)
            )

        designation = self._write(action, on_overlap)
        _log().info(
            f"registry_{event_type.value}", designation_id=designation_id, version=designation.version
        )
        self._audit(
            f"registry-{verb}",
            role,
            designation_id=designation_id,
            version=designation.version,
            reason=reason,
        )
        return designation

    def correct(self, designation_id: str, *, actor: str, reason: str, **changes: Any) -> Designation:
        """Record a correction of any of the designation's fields (``name=...``, ``accounts=...``)."""
        unknown = sorted(set(changes) - set(DRAFT_FIELDS))
        if unknown:
            raise ValidationError(
                [
                    FieldError(name, "is not a field of a designation", code="field-unknown")
                    for name in unknown
                ]
            )
        if not changes:
            raise ValidationError(
                [
                    FieldError(
                        "changes", "nothing to correct: give at least one field", code="nothing-to-correct"
                    )
                ]
            )

        def build(current: Designation) -> tuple[DesignationDraft, dict[str, Any]]:
            before = current.draft()
            after = self._validate(dataclasses.replace(before, **changes))
            old, new = before.to_json(), after.to_json()
            changed = [name for name in DRAFT_FIELDS if old[name] != new[name]]
            if not changed:
                raise ValidationError(
                    [
                        FieldError(
                            next(iter(changes)),
                            "nothing to correct: the values equal the registered ones",
                            code="correction-unchanged",
                        )
                    ]
                )
            return after, {"designation": new, "changed": changed}

        return self._change(
            designation_id, actor=actor, reason=reason, event_type=EventType.CORRECTED, build=build
        )

    def end(self, designation_id: str, end_date: date, *, actor: str, reason: str) -> Designation:
        """Record that the designation ends on ``end_date`` (inclusive: the last day it applies)."""

        def build(current: Designation) -> tuple[DesignationDraft, dict[str, Any]]:
            if open_ended(end_date) is None:
                raise ValidationError(
                    [
                        FieldError(
                            "end_date",
                            f"{end_date.isoformat()} stands for 'no end date'; a designation without an end "
                            "is corrected with an empty end date, not ended",
                            code="end-open-sentinel",
                            value=end_date.isoformat(),
                        )
                    ]
                )
            if end_date < current.start_date:
                raise ValidationError(
                    [
                        FieldError(
                            "end_date",
                            f"{end_date.isoformat()} lies before start_date {current.start_date.isoformat()}",
                            code="end-before-start",
                            end=end_date.isoformat(),
                            start=current.start_date.isoformat(),
                        )
                    ]
                )
            if current.end_date == end_date:
                raise ValidationError(
                    [
                        FieldError(
                            "end_date",
                            f"the designation already ends on {end_date}",
                            code="end-unchanged",
                            value=end_date.isoformat(),
                        )
                    ]
                )
            draft = dataclasses.replace(current.draft(), end_date=end_date)
            previous = current.end_date.isoformat() if current.end_date else None
            return draft, {"end_date": end_date.isoformat(), "previous_end_date": previous}

        return self._change(
            designation_id, actor=actor, reason=reason, event_type=EventType.ENDED, build=build
        )

    def withdraw(self, designation_id: str, *, actor: str, reason: str) -> Designation:
        """Record that the designation was registered in error: it never applied. Its accounts are free
        again for its period; its history stays."""

        def build(current: Designation) -> tuple[None, dict[str, Any]]:
            return None, {}

        return self._change(
            designation_id, actor=actor, reason=reason, event_type=EventType.WITHDRAWN, build=build
        )

    # -- import ------------------------------------------------------------------------------------

    def preview_csv(self, data: bytes) -> tuple[list[CsvRow], list[RowError]]:
        """Every row of a designation CSV with every error the import would report (file, row,
        between rows, against the registry), nothing written: what the web's import shows before
        the all-or-nothing import. Needs a registry administrator under a guard; audited."""
        role = self._authorize("registry-import-preview")
        rows, file_errors = read_csv(data, check_deliverability=self.check_deliverability, today=self.today())
        errors = list(file_errors)
        if not rows and not errors:
            errors.append(RowError(0, None, "the file holds no rows", "csv-no-rows"))
        errors.extend(error for row in rows for error in row.errors)
        errors.extend(_overlaps_between_rows(rows))
        with self.engine.connect() as conn:
            errors.extend(self._row_conflicts(conn, [row for row in rows if row.draft is not None]))
        self._audit("registry-import-preview", role, rows=len(rows), errors=len(errors))
        return rows, errors

    def import_csv(self, data: bytes, *, filename: str, actor: str) -> ImportResult:
        """Register every row of a CSV file (see :mod:`capstone.registry.csvio`), all or none.

        Refused with a per-row report when any row is invalid, overlaps another row or an existing
        designation, or duplicates one; refused as a whole when the same file was imported before.
        """
        with gc_paused():  # a bulk operation: see capstone.gcpause
            return self._import_csv(data, filename=filename, actor=actor)

    def _import_csv(self, data: bytes, *, filename: str, actor: str) -> ImportResult:
        role = self._authorize("registry-import", filename=filename)
        import hashlib

        actor = _require(actor, "actor")
        name = PurePath(filename).name or "import.csv"
        sha = hashlib.sha256(data).hexdigest()
        rows, file_errors = read_csv(
            data, check_deliverability=self.check_deliverability, today=local_day(self._now())
        )
        file_level = list(file_errors)
        if not rows and not file_level:
            file_level.append(RowError(0, None, "the file holds no rows", "csv-no-rows"))
        errors = [error for row in rows for error in row.errors]
        errors.extend(_overlaps_between_rows(rows))
        if errors or file_level:
            raise CsvImportError(name, errors, len(rows), file_errors=file_level)
        import_id = str(uuid.uuid4())
        written: list[ArchiveItem] = []

        def action(conn: Connection) -> ImportResult:
            previous = conn.execute(sa.select(t.imports).where(t.imports.c.sha256 == sha)).first()
            if previous is not None:
                raise DuplicateImportError(
                    _duplicate_message(name, previous), code="import-duplicate", **_duplicate_params(previous)
                )
            row_errors = self._row_conflicts(conn, rows)
            if row_errors:
                raise CsvImportError(name, row_errors, len(rows))
            conn.execute(
                sa.insert(t.imports).values(
                    import_id=import_id,
                    sha256=sha,
                    filename=name,
                    rows=len(rows),
                    actor=actor,
                    imported_at=self._now(),
                )
            )
            items = []
            for row in rows:
                assert row.draft is not None
                source = {
                    "via": "import",
                    "import_id": import_id,
                    "filename": name,
                    "sha256": sha,
                    "row": row.line,
                }
                items.append((row.draft, source))
            written.clear()  # a retried transaction starts again
            return ImportResult(
                import_id, self._insert_designations(conn, items, actor=actor, written=written)
            )

        def on_overlap() -> RegistryError:
            with self.engine.connect() as conn:
                return CsvImportError(name, self._row_conflicts(conn, rows), len(rows))

        try:
            result = self._write(action, on_overlap, written)
        except IntegrityError as exc:
            if _is_import_clash(exc):
                raise DuplicateImportError(
                    f"{name}: this file is being imported by another process", code="import-concurrent"
                ) from None
            raise
        _log().info("registry_imported", import_id=import_id, designations=len(result.designations))
        self._audit(
            "registry-import",
            role,
            import_id=import_id,
            filename=name,
            sha256=sha,
            designations=len(result.designations),
        )
        return result

    def _coverage_of(self, conn: Connection, keys: Iterable[str]) -> dict[str, list[Conflict]]:
        """Every registered coverage of ``keys``, per key, ordered by start date (a few queries of
        many keys each, not one query per row)."""
        wanted = sorted(set(keys))
        found: dict[str, list[Conflict]] = {}
        c = t.coverage.c
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            query = sa.select(c.account_key, c.designation_id, c.start_date, c.end_date).where(
                c.account_key.in_(chunk)
            )
            for r in conn.execute(query.order_by(c.account_key, c.start_date)):
                found.setdefault(r.account_key, []).append(
                    Conflict(r.account_key, r.designation_id, r.start_date, r.end_date)
                )
        return found

    def _row_conflicts(self, conn: Connection, rows: Sequence[CsvRow]) -> list[RowError]:
        errors: list[RowError] = []
        existing: dict[str, Designation] | None = None
        keys_of = {id(row): row.draft.account_keys() for row in rows if row.draft is not None}
        coverage = self._coverage_of(conn, (key for keys in keys_of.values() for key in keys))
        for row in rows:
            assert row.draft is not None
            draft = row.draft
            conflicts = [
                held
                for key in sorted(keys_of[id(row)])
                for held in coverage.get(key, [])
                if held.start_date <= (draft.end_date or _OPEN_END)
                and (held.end_date is None or held.end_date >= draft.start_date)
            ]
            if not conflicts:
                continue
            if existing is None:
                existing = replay_all(self._load_events(conn))
            same = [
                c.designation_id
                for c in conflicts
                if _same_designation(existing.get(c.designation_id), draft)
            ]
            if same:
                errors.append(
                    RowError(
                        row.line,
                        "mail",
                        f"duplicate: already registered as designation {same[0]} "
                        "(same account, start date and decision reference)",
                        "row-duplicate",
                        {"id": same[0]},
                    )
                )
            else:
                errors.append(
                    RowError(
                        row.line,
                        "mail",
                        "overlapping coverage: " + "; ".join(c.describe() for c in conflicts),
                        "overlap",
                        {"conflicts": conflicts},
                    )
                )
        return errors

    # -- the vault ---------------------------------------------------------------------------------

    def pending_events(self) -> list[RegistryEvent]:
        """Events committed to the database but not (yet) archived into the vault."""
        with self.engine.connect() as conn:
            return self._pending(conn)

    def _pending_ids(self, conn: Connection) -> list[str]:
        archived = sa.select(t.event_archive.c.event_id)
        return [
            row.event_id
            for row in conn.execute(
                sa.select(t.events.c.event_id)
                .where(t.events.c.event_id.not_in(archived))
                .order_by(t.events.c.seq)
            )
        ]

    def _pending(self, conn: Connection) -> list[RegistryEvent]:
        return self._pending_with_history(conn)[0]

    def _written_if_all_pending(
        self, conn: Connection, written: Sequence[ArchiveItem]
    ) -> list[ArchiveItem] | None:
        """``written`` in commit order when it is exactly what is pending; else None."""
        if not written:
            return None
        known = {item.event.event_id: item for item in written}
        ids = self._pending_ids(conn)
        if len(ids) != len(known) or not all(i in known for i in ids):
            return None
        return [known[i] for i in ids]

    def _pending_items(self, conn: Connection) -> list[ArchiveItem]:
        """Every pending event with the state of its designation right after it, read back."""
        pending, history = self._pending_with_history(conn)
        by_designation: dict[str, list[RegistryEvent]] = {}
        for event in history:
            by_designation.setdefault(event.designation_id, []).append(event)
        items = []
        for event in pending:
            state = replay(by_designation[event.designation_id][: event.version])
            assert state is not None
            items.append(ArchiveItem(event, state))
        return items

    def _pending_with_history(self, conn: Connection) -> tuple[list[RegistryEvent], list[RegistryEvent]]:
        """The pending events, and every event of the designations they touch (oldest first). A few
        are read by id; a large import's are read with the whole history, once."""
        ids = self._pending_ids(conn)
        if not ids:
            return [], []
        wanted = set(ids)
        if len(ids) > _BATCH:  # rather than bind 100 000 ids
            everything = self._load_events(conn)
            pending = [e for e in everything if e.event_id in wanted]
            touched = {e.designation_id for e in pending}
            return pending, [e for e in everything if e.designation_id in touched]
        pending = self._load_events(conn, event_ids=ids)
        touched = {e.designation_id for e in pending}
        return pending, self._load_events(conn, designation_ids=touched)

    def archive_pending(self, *, written: Sequence[ArchiveItem] = ()) -> ArchiveStatus:
        """Archive every pending event into the vault and note it. Never raises: a failure leaves the
        events pending (the next call retries) and is reported in the returned status.

        ``written``: events this process has just committed, with their states, so that when they
        are all that is pending (an import's 100 000) they are not read back and replayed; any other
        pending event (a crashed run's, another process's) makes it read them all from the database.
        """
        with gc_paused():  # a backlog can be a whole import's events: see capstone.gcpause
            return self._archive_pending(written)

    def _archive_pending(self, written: Sequence[ArchiveItem]) -> ArchiveStatus:
        with self.engine.connect() as conn:
            if self.archive is None:  # nothing to archive into: only count what waits
                return ArchiveStatus(0, len(self._pending_ids(conn)))
            items = self._written_if_all_pending(conn, written)
            if items is None:
                items = self._pending_items(conn)
            if not items:
                return ArchiveStatus(0, 0)
        try:
            receipts = self.archive(items)
        except Exception as exc:  # the vault is unreachable, not initialised, full...
            _log().warning("registry_archive_failed", events=len(items), error_type=type(exc).__name__)
            return ArchiveStatus(0, len(items), f"{type(exc).__name__}: {exc}")
        self._note_archived([(r.event_id, r.record_id, r.run_id) for r in receipts])
        _log().info("registry_archived", events=len(receipts))
        return ArchiveStatus(len(receipts), len(items) - len(receipts))

    def _note_archived(self, notes: Sequence[tuple[str, str, str]]) -> None:
        for _attempt in range(3):
            try:
                with write_transaction(self.engine) as conn:
                    ids = [n[0] for n in notes]
                    done: set[str] = set()
                    for start in range(0, len(ids), _BATCH):
                        chunk = ids[start : start + _BATCH]
                        done.update(
                            conn.execute(
                                sa.select(t.event_archive.c.event_id).where(
                                    t.event_archive.c.event_id.in_(chunk)
                                )
                            ).scalars()
                        )
                    fresh = [n for n in notes if n[0] not in done]
                    if fresh:
                        now = self._now()
                        values = [
                            {"event_id": e, "record_id": r, "run_id": run, "archived_at": now}
                            for e, r, run in fresh
                        ]
                        for start in range(0, len(values), _BATCH):
                            conn.execute(sa.insert(t.event_archive), values[start : start + _BATCH])
                return
            except IntegrityError:
                continue  # another process noted the same events at the same moment: look again

    def restore(self, items: Iterable[tuple[RegistryEvent, str]]) -> RestoreResult:
        """Bring events read back from the vault (``archive.events_in_vault``) into the database: after
        the loss of the database, or to fill in events it lacks. Events already present are skipped;
        coverage is rebuilt for every designation touched. One transaction."""
        role = self._authorize("registry-restore")
        groups: dict[str, dict[int, tuple[RegistryEvent, str]]] = {}
        for event, record_id in items:
            groups.setdefault(event.designation_id, {})[event.version] = (event, record_id)

        def action(conn: Connection) -> RestoreResult:
            inserted = present = 0
            for designation_id, versions in sorted(groups.items()):
                known = {e.version: e for e in self._load_events(conn, designation_ids=[designation_id])}
                ordered = [versions[v] for v in sorted(versions)]
                if not known:
                    first = ordered[0][0]
                    conn.execute(
                        sa.insert(t.designations).values(
                            designation_id=designation_id, created_at=first.recorded_at
                        )
                    )
                for event, record_id in ordered:
                    have = known.get(event.version)
                    if have is not None:
                        if have.event_id != event.event_id:
                            raise RegistryError(
                                f"designation {designation_id} version {event.version}: the vault holds event "
                                f"{event.event_id}, the database {have.event_id}; nothing was restored"
                            )
                        present += 1
                        continue
                    conn.execute(
                        sa.insert(t.events).values(
                            event_id=event.event_id,
                            designation_id=designation_id,
                            version=event.version,
                            event_type=event.event_type.value,
                            payload=json.dumps(event.payload, sort_keys=True, ensure_ascii=False),
                            actor=event.actor,
                            reason=event.reason,
                            recorded_at=event.recorded_at,
                        )
                    )
                    conn.execute(
                        sa.insert(t.event_archive).values(
                            event_id=event.event_id,
                            record_id=record_id,
                            run_id="restore",
                            archived_at=self._now(),
                        )
                    )
                    known[event.version] = event
                    inserted += 1
                state = replay([known[v] for v in sorted(known)])
                self._set_coverage(
                    conn, designation_id, None if state is None or state.withdrawn else state.draft()
                )
            return RestoreResult(inserted, present, len(groups))

        result = self._write(
            action, lambda: RegistryError("the restored events overlap the database's coverage")
        )
        _log().info("registry_restored", inserted=result.inserted, designations=result.designations)
        self._audit("registry-restore", role, inserted=result.inserted, designations=result.designations)
        return result


def _same_designation(existing: Designation | None, draft: DesignationDraft) -> bool:
    return (
        existing is not None
        and existing.accounts[0].primary_smtp == draft.accounts[0].primary_smtp
        and existing.start_date == draft.start_date
        and existing.decision_reference == draft.decision_reference
    )


def _overlaps_between_rows(rows: Sequence[CsvRow]) -> list[RowError]:
    """Rows that cover an account an earlier row covers in an overlapping period. Each row is
    compared only with the earlier rows sharing one of its account keys (not with every earlier row)."""
    errors: list[RowError] = []
    earlier_by_key: dict[str, list[tuple[int, CsvRow, DesignationDraft]]] = {}
    for index, row in enumerate(rows):
        if row.draft is None:
            continue
        draft = row.draft
        keys = draft.account_keys()
        first: tuple[int, CsvRow, DesignationDraft] | None = None
        for key in keys:
            for candidate in earlier_by_key.get(key, ()):
                if first is not None and candidate[0] >= first[0]:
                    break
                other = candidate[2]
                if draft.start_date <= (other.end_date or _OPEN_END) and other.start_date <= (
                    draft.end_date or _OPEN_END
                ):
                    first = candidate
                    break
        if first is not None:
            shared = set(keys) & set(first[2].account_keys())
            account = sorted(shared)[0].split(":", 1)[1]
            errors.append(
                RowError(
                    row.line,
                    "mail",
                    f"{account} is also covered by row {first[1].line} in an overlapping period",
                    "row-overlap-row",
                    {"value": account, "other": first[1].line},
                )
            )
        entry = (index, row, draft)
        for key in keys:
            earlier_by_key.setdefault(key, []).append(entry)
    return errors


def _duplicate_params(previous: Mapping[str, Any] | sa.Row[Any]) -> dict[str, object]:
    mapping = previous._mapping if isinstance(previous, sa.Row) else previous
    when = _utc(mapping["imported_at"]).strftime("%d-%m-%Y %H:%M UTC")
    return {
        "filename": mapping["filename"],
        "when": when,
        "actor": mapping["actor"],
        "id": mapping["import_id"],
    }


def _duplicate_message(name: str, previous: Mapping[str, Any] | sa.Row[Any]) -> str:
    mapping = previous._mapping if isinstance(previous, sa.Row) else previous
    when = _utc(mapping["imported_at"]).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{name}: this file was imported before ({mapping['filename']}, {when}, by {mapping['actor']}, "
        f"import {mapping['import_id']}); nothing was imported"
    )

"""The retention lifecycle's service: exclusions (four eyes), the retention run, holds, destruction.

Every action is role-checked and audited here (CLI and a later API call the same methods). Every
change to the vault writes its record into the chain *first* and acts afterwards, and every step is
idempotent, so a run killed at any moment and started again leaves no object deleted without its
record and none left unextended past its window.

Example::

    service = RetentionService(settings)
    ex = service.mark(Scope.ITEM, "AAMk...", ExclusionCategory.PRIVE, "own holiday booking")
    RetentionService(settings, other_actor).confirm(ex.exclusion_id)
    report = service.run()          # secures what is due, deletes lapsed exclusions
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from capstone import __version__
from capstone.access import (
    ARCHIVIST,
    AUDITOR,
    OFFICIAL,
    WOO_OFFICER,
    AccessDenied,
    Actor,
    actor_from_settings,
)
from capstone.access.guard import Guard
from capstone.coded import Coded
from capstone.db.engine import write_transaction
from capstone.logging import get_logger
from capstone.retention import tables as t
from capstone.retention.objects import RecordFacts, Scope, collect, matching, record_ids
from capstone.retention.policy import lifecycle_policy
from capstone.settings import Settings
from vault import Record, Vault, VaultError
from vault.errors import VaultLockedError
from vault.layout import blob_key
from vault.records import canonical_json
from vault.removals import DESTRUCTION_KIND, EXCLUSION_KIND, accounted_removals
from vault.retention import LifecyclePolicy, Term

log = get_logger("retention")

HOLD_KIND = "retention-hold"
HOLD_RELEASE_KIND = "retention-hold-release"
CERTIFICATE_KIND = "destruction-certificate"
CERTIFICATE_FORMAT = "capstone-verklaring-van-vernietiging/1"


class RetentionError(Coded, ValueError):
    """Bad input or a state that does not allow the action (one clear line, English, for the CLI and
    the logs; its ``code`` and ``params`` are said in Dutch by the web pages)."""


class RetentionNotFound(RetentionError):
    """No exclusion, hold or destruction list with that id."""


class RetentionConflict(RetentionError):
    """The exclusion, hold or list is in a state that does not allow the action (decided, released)."""


class ExclusionCategory(StrEnum):
    PRIVE = "prive"
    PARTIJPOLITIEK = "partijpolitiek"

    @classmethod
    def parse(cls, value: str) -> ExclusionCategory:
        wanted = value.strip().casefold().replace("é", "e")
        for category in cls:
            if wanted == category.value:
                return category
        raise RetentionError(
            f"unknown exclusion category {value!r}; use prive or partijpolitiek",
            code="exclusion-category-unknown",
            value=value,
        )


@dataclass(frozen=True)
class Exclusion:
    exclusion_id: str
    scope: str
    value: str
    category: str
    reason: str
    status: str
    marked_by: str
    marked_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    record_ids: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["record_ids"] = list(self.record_ids)
        return doc


@dataclass(frozen=True)
class Hold:
    hold_id: str
    ref: str
    kind: str
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None
    released_at: datetime | None
    blobs: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.released_at is None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["blobs"] = list(self.blobs)
        return doc


@dataclass(frozen=True)
class OwnItem:
    """One of the caller's own items still inside its exclusion window."""

    facts: RecordFacts
    window_ends: datetime
    mark: str | None  # status of an exclusion already naming it (marked, confirmed, refused)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.facts.describe(),
            "owner": self.facts.owner,
            "item_id": self.facts.item_id,
            "conversation_id": self.facts.conversation_id,
            "window_ends": self.window_ends.isoformat(),
            "mark": self.mark,
        }


@dataclass
class RunReport:
    objects: int = 0
    in_window: int = 0
    secured: int = 0  # locks extended to the full term in this run
    already_secured: int = 0
    excluded_waiting: int = 0  # confirmed exclusions whose provisional lock has not lapsed yet
    excluded_deleted: int = 0
    held: int = 0
    accounted: int = 0  # absent, with an exclusion or destruction record
    missing: list[str] = field(default_factory=list)  # absent without a record: an error

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DestructionSummary:
    list_id: str
    status: str
    proposed_by: str
    approved_by: str | None
    decision_ref: str | None
    groups: list[dict[str, Any]]
    items: int
    destroyed: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    certificate_sha256: str | None = None
    proposed_at: datetime | None = None
    approved_at: datetime | None = None
    destroyed_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Certificate:
    """A verklaring van vernietiging as the vault holds it: the record naming it, and its bytes
    (canonical JSON, verified against its SHA-256 on reading)."""

    list_id: str
    record_id: str | None  # None only if the record is missing from the chain (``vault verify`` says so)
    sha256: str
    data: bytes

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.data)
        return found


def _now() -> datetime:
    return datetime.now(UTC)  # full precision: windows of seconds are compared against it


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def excluded_record_ids(engine: Engine) -> set[str]:
    """Record ids of every confirmed exclusion: search and Woo exports stop showing them at once."""
    query = (
        sa.select(t.exclusion_records.c.record_id)
        .join(t.exclusions, t.exclusions.c.exclusion_id == t.exclusion_records.c.exclusion_id)
        .where(t.exclusions.c.status == "confirmed")
    )
    with engine.connect() as conn:
        return {str(row[0]) for row in conn.execute(query)}


def extend_exclusions(engine: Engine, records: Iterable[Record]) -> dict[str, set[str]]:
    """New records of a chat or conversation an open exclusion (marked or confirmed) names join
    that exclusion, so a monthly phone import of an excluded chat is excluded like the messages
    that were marked. Returns, for each of ``records`` an open exclusion names, those exclusions."""
    facts = [f for f in (RecordFacts.of(r) for r in records) if f is not None]
    if not facts:
        return {}
    ids = {f.record_id for f in facts}
    with engine.connect() as conn:
        open_ = list(
            conn.execute(
                sa.select(t.exclusions.c.exclusion_id, t.exclusions.c.scope, t.exclusions.c.value).where(
                    t.exclusions.c.status.in_(("marked", "confirmed"))
                )
            )
        )
        named = {
            (str(r.exclusion_id), str(r.record_id))
            for r in conn.execute(
                sa.select(t.exclusion_records.c.exclusion_id, t.exclusion_records.c.record_id)
                .join(t.exclusions, t.exclusions.c.exclusion_id == t.exclusion_records.c.exclusion_id)
                .where(
                    t.exclusions.c.status.in_(("marked", "confirmed")),
                    t.exclusion_records.c.record_id.in_(ids),
                )
            )
        }
    joining: dict[str, list[RecordFacts]] = {}
    for row in open_:
        scope = Scope(row.scope)
        if scope in (Scope.CHAT, Scope.CONVERSATION):
            found = [
                f
                for f in facts
                if f.matches(scope, row.value) and (str(row.exclusion_id), f.record_id) not in named
            ]
            if found:
                joining[str(row.exclusion_id)] = found
                named |= {(str(row.exclusion_id), f.record_id) for f in found}
    for exclusion_id, found in joining.items():
        _join(engine, exclusion_id, found)
    covered: dict[str, set[str]] = {}
    for exclusion_id, record_id in named:
        covered.setdefault(record_id, set()).add(exclusion_id)
    return covered


def join_exclusion(engine: Engine, exclusion_id: str, records: Iterable[Record]) -> None:
    """``records`` join exclusion ``exclusion_id`` (an import's original export file that held only
    an excluded chat)."""
    _join(engine, exclusion_id, [f for f in (RecordFacts.of(r) for r in records) if f is not None])


def _join(engine: Engine, exclusion_id: str, facts: list[RecordFacts]) -> None:
    with write_transaction(engine) as conn:
        have = {
            str(r[0])
            for r in conn.execute(
                sa.select(t.exclusion_records.c.record_id).where(
                    t.exclusion_records.c.exclusion_id == exclusion_id
                )
            )
        }
        rows = [
            {"exclusion_id": exclusion_id, "record_id": f.record_id, "blob_sha256": f.blob_sha256}
            for f in {f.record_id: f for f in facts}.values()
            if f.record_id not in have
        ]
        if rows:
            conn.execute(t.exclusion_records.insert(), rows)
    if rows:
        log.info("exclusion_extended", exclusion_id=exclusion_id, records=len(rows))


class RetentionService:
    """``vault_factory`` opens the vault on first use (tests pass a vault of their own)."""

    def __init__(
        self,
        settings: Settings,
        actor: Actor | None = None,
        *,
        engine: Engine | None = None,
        vault_factory: Callable[[], Vault] | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        from capstone.services import audit_log, open_vault, state_engine

        self.settings = settings
        self.actor = actor or actor_from_settings(settings)
        self.engine = engine or state_engine(settings)
        self.guard = Guard(self.actor, audit_log(settings, self.engine))
        self.policy: LifecyclePolicy = lifecycle_policy(settings)
        self._vault_factory = vault_factory or (lambda: open_vault(settings))
        self._vault: Vault | None = None
        self._clock = clock
        self._categories: dict[str, str | None] = {}

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = self._vault_factory()
        return self._vault

    def close(self) -> None:
        if self._vault is not None:
            self._vault.close()
            self._vault = None

    # -- guard -------------------------------------------------------------------------------------

    def _require(self, action: str, *roles: str, **detail: Any) -> str:
        return self.guard.require(action, None, *roles, **detail)

    def _refused(self, action: str, exc: Exception, **detail: Any) -> None:
        self.guard.refuse(action, None, exc, **detail)

    def _allowed(self, action: str, role: str, **detail: Any) -> None:
        self.guard.record(action, None, "allowed", role, **detail)

    # -- terms -------------------------------------------------------------------------------------

    def _category(self, designation_id: str | None) -> str | None:
        if not designation_id:
            return None
        if designation_id not in self._categories:
            from capstone.registry import Registry
            from capstone.registry.errors import UnknownDesignationError

            try:
                category: str | None = Registry(self.engine).get(designation_id).category.value
            except UnknownDesignationError:  # the record's own category, else the default term (B)
                category = None
            self._categories[designation_id] = category
        return self._categories[designation_id]

    def _term(self, facts: RecordFacts) -> Term:
        return self.policy.term_for(self._category(facts.designation_id) or facts.category)

    def _window_passed(self, facts: RecordFacts, now: datetime) -> bool:
        return now >= self.policy.window_end(facts.captured_at)

    # -- exclusions ---------------------------------------------------------------------------------

    def mark(self, scope: Scope, value: str, category: ExclusionCategory, reason: str) -> Exclusion:
        """The key official (or a delegate) marks items, a conversation or a chat as privé or
        partijpolitiek. Only content still inside its exclusion window can be marked."""
        detail = {"scope": scope.value, "value": value, "category": category.value}
        role = self._require("exclusion-mark", OFFICIAL, **detail)
        now = self._clock()
        try:
            if scope is Scope.MAILBOX:
                raise RetentionError(
                    "a whole mailbox cannot be excluded: mark items, conversations or chats",
                    code="exclusion-mailbox",
                )
            if not reason.strip():
                raise RetentionError("an exclusion needs a reason", code="reason-required")
            found = matching(collect(self.vault), scope, value)
            if not found:
                raise RetentionError(
                    f"no archived content matches {scope.value} {value!r}",
                    code="no-content",
                    scope=scope.value,
                    value=value,
                )
            late = [f.record_id for f in found if self._window_passed(f, now)]
            if late:
                raise RetentionError(
                    f"{len(late)} of {len(found)} matching records are past their exclusion window "
                    f"({self.policy.window}): they are secured and can no longer be excluded",
                    code="exclusion-window-passed",
                    late=len(late),
                    total=len(found),
                )
        except RetentionError as exc:
            self._refused("exclusion-mark", exc, **detail)
            raise
        exclusion_id = str(uuid.uuid4())
        with write_transaction(self.engine) as conn:
            conn.execute(
                t.exclusions.insert().values(
                    exclusion_id=exclusion_id,
                    scope=scope.value,
                    value=value,
                    category=category.value,
                    reason=reason,
                    status="marked",
                    marked_by=self.actor.name,
                    marked_at=now,
                )
            )
            conn.execute(
                t.exclusion_records.insert(),
                [
                    {"exclusion_id": exclusion_id, "record_id": rid, "blob_sha256": blob}
                    for rid, blob in sorted({(f.record_id, f.blob_sha256) for f in found})
                ],
            )
        self._allowed(
            "exclusion-mark",
            role,
            exclusion_id=exclusion_id,
            records=len(record_ids(found)),
            reason=reason,
            **detail,
        )
        return self.exclusion(exclusion_id)

    def _decide(self, exclusion_id: str, status: str, note: str | None) -> Exclusion:
        action = "exclusion-confirm" if status == "confirmed" else "exclusion-refuse"
        detail = {"exclusion_id": exclusion_id}
        role = self._require(action, ARCHIVIST, **detail)
        now = self._clock()
        try:
            current = self.exclusion(exclusion_id)
            if current.status != "marked":
                raise RetentionConflict(
                    f"exclusion {exclusion_id} is already {current.status}",
                    code="exclusion-decided",
                    status=current.status,
                )
            if current.marked_by == self.actor.name:
                raise AccessDenied(
                    f"{self.actor.name} marked exclusion {exclusion_id}: a second person must decide "
                    "on it (four eyes)",
                    code="four-eyes-exclusion",
                )
            if status == "confirmed":
                by_blob = collect(self.vault)
                facts = [f for fs in by_blob.values() for f in fs if f.record_id in current.record_ids]
                if any(self._window_passed(f, now) for f in facts):
                    raise RetentionError(
                        f"exclusion {exclusion_id} names records past their exclusion window: they are "
                        "secured; refuse it instead",
                        code="exclusion-past-window",
                    )
        except (RetentionError, AccessDenied) as exc:
            self._refused(action, exc, **detail)
            raise
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                t.exclusions.update()
                .where(t.exclusions.c.exclusion_id == exclusion_id, t.exclusions.c.status == "marked")
                .values(status=status, decided_by=self.actor.name, decided_at=now, decision_note=note)
            ).rowcount
        if changed != 1:
            raise RetentionConflict(
                f"exclusion {exclusion_id} was decided by someone else meanwhile", code="decided-meanwhile"
            )
        self._allowed(
            action, role, marked_by=current.marked_by, records=len(current.record_ids), note=note, **detail
        )
        return self.exclusion(exclusion_id)

    def confirm(self, exclusion_id: str, note: str | None = None) -> Exclusion:
        """Four eyes: an archivist other than the marker confirms. From now on search and exports no
        longer show the content, and its lock is not extended."""
        return self._decide(exclusion_id, "confirmed", note)

    def refuse(self, exclusion_id: str, note: str | None = None) -> Exclusion:
        """The second person refuses the mark: the content is secured like any other."""
        return self._decide(exclusion_id, "refused", note)

    def exclusion(self, exclusion_id: str) -> Exclusion:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.exclusions).where(t.exclusions.c.exclusion_id == exclusion_id)
            ).first()
            if row is None:
                raise RetentionNotFound(f"no exclusion {exclusion_id!r}", code="exclusion-unknown")
            rids = [
                str(r[0])
                for r in conn.execute(
                    sa.select(t.exclusion_records.c.record_id).where(
                        t.exclusion_records.c.exclusion_id == exclusion_id
                    )
                )
            ]
        return Exclusion(
            exclusion_id=row.exclusion_id,
            scope=row.scope,
            value=row.value,
            category=row.category,
            reason=row.reason,
            status=row.status,
            marked_by=row.marked_by,
            marked_at=_utc(row.marked_at) or row.marked_at,
            decided_by=row.decided_by,
            decided_at=_utc(row.decided_at),
            record_ids=tuple(sorted(rids)),
        )

    def exclusions(self, status: str | None = None) -> list[Exclusion]:
        role = self._require("exclusion-list", OFFICIAL, ARCHIVIST, AUDITOR, status=status)
        query = sa.select(t.exclusions.c.exclusion_id).order_by(t.exclusions.c.marked_at)
        if status:
            query = query.where(t.exclusions.c.status == status)
        with self.engine.connect() as conn:
            ids = [str(r[0]) for r in conn.execute(query)]
        self._allowed("exclusion-list", role, status=status, count=len(ids))
        return [self.exclusion(i) for i in ids]

    def own_items(self, limit: int = 500) -> list[OwnItem]:
        """The "Privé markeren" view: the caller's own items (records of the mailbox named like the
        caller, and of the chats captured for that account: a chat of two key officials is in each
        one's archive) whose exclusion window is still open, newest first, with any mark already on
        them. Identifiers, folders and dates only: the content stays behind the Woo case's view."""
        role = self._require("exclusion-own-items", OFFICIAL)
        now, me = self._clock(), self.actor.name.casefold()
        mine = [
            f
            for facts in collect(self.vault).values()
            for f in facts
            if f.owner and f.owner.casefold() == me and not self._window_passed(f, now)
        ]
        mine.sort(key=lambda f: f.captured_at, reverse=True)
        with self.engine.connect() as conn:
            marks = {
                str(row.record_id): str(row.status)
                for row in conn.execute(
                    sa.select(t.exclusion_records.c.record_id, t.exclusions.c.status).join(
                        t.exclusions, t.exclusions.c.exclusion_id == t.exclusion_records.c.exclusion_id
                    )
                )
            }
        items = [
            OwnItem(
                facts=f,
                window_ends=self.policy.window_end(f.captured_at),
                mark=marks.get(f.record_id),
            )
            for f in mine[:limit]
        ]
        self._allowed("exclusion-own-items", role, count=len(items))
        return items

    def _confirmed(self) -> dict[str, list[Exclusion]]:
        """record id -> the confirmed exclusions naming it."""
        query = sa.select(t.exclusions.c.exclusion_id).where(t.exclusions.c.status == "confirmed")
        with self.engine.connect() as conn:
            ids = [str(r[0]) for r in conn.execute(query)]
        found: dict[str, list[Exclusion]] = {}
        for exclusion_id in ids:
            exclusion = self.exclusion(exclusion_id)
            for rid in exclusion.record_ids:
                found.setdefault(rid, []).append(exclusion)
        return found

    # -- holds -------------------------------------------------------------------------------------

    def _held_blobs(self) -> set[str]:
        query = (
            sa.select(t.hold_objects.c.blob_sha256)
            .join(t.holds, t.holds.c.hold_id == t.hold_objects.c.hold_id)
            .where(t.holds.c.released_at.is_(None))
        )
        with self.engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(query)}

    def place_hold(self, ref: str, kind: str, reason: str, scope: Scope, value: str) -> Hold:
        """A Woo case or a legal matter holds the records it names: S3 legal hold on their objects,
        recorded in the vault; a held object is never deleted."""
        detail = {"ref": ref, "kind": kind, "scope": scope.value, "value": value}
        role = self._require("hold-place", ARCHIVIST, WOO_OFFICER, **detail)
        try:
            if kind not in ("woo-case", "legal"):
                raise RetentionError(
                    f"a hold is for a woo-case or a legal matter, not {kind!r}",
                    code="hold-kind-unknown",
                    value=kind,
                )
            if not reason.strip():
                raise RetentionError("a hold needs a reason", code="reason-required")
            found = matching(collect(self.vault), scope, value)
            if not found:
                raise RetentionError(
                    f"no archived content matches {scope.value} {value!r}",
                    code="no-content",
                    scope=scope.value,
                    value=value,
                )
        except RetentionError as exc:
            self._refused("hold-place", exc, **detail)
            raise
        hold_id, now = str(uuid.uuid4()), self._clock()
        blobs = sorted({f.blob_sha256 for f in found})
        by_blob = {f.blob_sha256: f.record_id for f in found}
        with write_transaction(self.engine) as conn:  # 1. the intent, in the state database
            conn.execute(
                t.holds.insert().values(
                    hold_id=hold_id,
                    ref=ref,
                    kind=kind,
                    reason=reason,
                    placed_by=self.actor.name,
                    placed_at=now,
                )
            )
            conn.execute(
                t.hold_objects.insert(),
                [{"hold_id": hold_id, "blob_sha256": b, "record_id": by_blob[b]} for b in blobs],
            )
        self._write_event(  # 2. the record in the vault's chain
            HOLD_KIND,
            {"hold_id": hold_id},
            {
                "hold_id": hold_id,
                "ref": ref,
                "kind": kind,
                "placed_by": self.actor.name,
                "placed_at": now.isoformat(),
                "sha256": blobs,
                "record_ids": record_ids(found),
            },
        )
        self._apply_holds(blobs)  # 3. the legal hold on the objects (re-applied by every run)
        self._allowed("hold-place", role, hold_id=hold_id, objects=len(blobs), reason=reason, **detail)
        return self.hold(hold_id)

    def _apply_holds(self, blobs: list[str]) -> None:
        for sha in blobs:
            info = self.vault.store.head(blob_key(sha))
            if info is not None and not info.legal_hold:
                self.vault.store.set_legal_hold(blob_key(sha), True)

    def release_hold(self, hold_id: str, reason: str) -> Hold:
        detail = {"hold_id": hold_id}
        role = self._require("hold-release", ARCHIVIST, **detail)
        try:
            hold = self.hold(hold_id)
            if not hold.active:
                raise RetentionConflict(f"hold {hold_id} was already released", code="hold-released")
            if not reason.strip():
                raise RetentionError("releasing a hold needs a reason", code="reason-required")
        except RetentionError as exc:
            self._refused("hold-release", exc, **detail)
            raise
        now = self._clock()
        with write_transaction(self.engine) as conn:
            conn.execute(
                t.holds.update()
                .where(t.holds.c.hold_id == hold_id)
                .values(released_by=self.actor.name, released_at=now)
            )
        self._write_event(
            HOLD_RELEASE_KIND,
            {"hold_id": hold_id},
            {
                "hold_id": hold_id,
                "ref": hold.ref,
                "released_by": self.actor.name,
                "released_at": now.isoformat(),
                "reason": reason,
            },
        )
        still_held = self._held_blobs()
        for sha in hold.blobs:
            if sha not in still_held and self.vault.store.head(blob_key(sha)) is not None:
                self.vault.store.set_legal_hold(blob_key(sha), False)
        self._allowed("hold-release", role, ref=hold.ref, objects=len(hold.blobs), reason=reason, **detail)
        return self.hold(hold_id)

    def hold(self, hold_id: str) -> Hold:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.holds).where(t.holds.c.hold_id == hold_id)).first()
            if row is None:
                raise RetentionNotFound(f"no hold {hold_id!r}", code="hold-unknown")
            blobs = sorted(
                str(r[0])
                for r in conn.execute(
                    sa.select(t.hold_objects.c.blob_sha256).where(t.hold_objects.c.hold_id == hold_id)
                )
            )
        return Hold(
            hold_id=row.hold_id,
            ref=row.ref,
            kind=row.kind,
            reason=row.reason,
            placed_by=row.placed_by,
            placed_at=_utc(row.placed_at) or row.placed_at,
            released_by=row.released_by,
            released_at=_utc(row.released_at),
            blobs=tuple(blobs),
        )

    def holds(self, *, active_only: bool = False) -> list[Hold]:
        role = self._require("hold-list", ARCHIVIST, WOO_OFFICER, AUDITOR)
        query = sa.select(t.holds.c.hold_id).order_by(t.holds.c.placed_at)
        if active_only:
            query = query.where(t.holds.c.released_at.is_(None))
        with self.engine.connect() as conn:
            ids = [str(r[0]) for r in conn.execute(query)]
        self._allowed("hold-list", role, count=len(ids))
        return [self.hold(i) for i in ids]

    # -- vault events ------------------------------------------------------------------------------

    def _capture(self, run_id: str) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "connector": "capstone-retention",
            "connector_version": __version__,
            "captured_at": self._clock().isoformat(),
            "actor": self.actor.name,
        }

    def _write_event(self, kind: str, identity: dict[str, Any], extra: dict[str, Any]) -> None:
        run_id = f"{kind}-{uuid.uuid4().hex[:12]}"
        record = Record(kind=kind, source=identity, capture=self._capture(run_id), extra=extra)
        refs = self.vault.put_records([record])
        self.vault.write_manifest(run_id, refs, kind=kind, summary={"kind": kind})

    # -- the retention run -------------------------------------------------------------------------

    def run(self) -> RunReport:
        """Secure every kept object whose window has passed (extend its lock to the longest term
        any of its records needs), keep provisional locks ahead of windows still open, re-apply
        legal holds, and delete confirmed exclusions whose lock lapsed, each after its exclusion
        record is in the chain."""
        role = self._require("retention-run", ARCHIVIST)
        report = self._run()
        self._allowed("retention-run", role, **{k: v for k, v in report.to_json().items() if k != "missing"})
        return report

    def _run(self) -> RunReport:
        now = self._clock()
        run_id = f"retention-{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
        by_blob = collect(self.vault)
        excluded = self._confirmed()
        held = self._held_blobs()
        accounted = accounted_removals(self.vault)
        report = RunReport(objects=len(by_blob))
        self._apply_holds(sorted(held))
        to_delete: list[tuple[str, list[RecordFacts], int | None]] = []
        known = self._secured_cache()
        remember: list[tuple[str, datetime]] = []  # locks the store confirmed, cached in batches
        for sha, facts in sorted(by_blob.items()):
            kept = [f for f in facts if f.record_id not in excluded]
            due = [f for f in kept if self._window_passed(f, now)]
            target = None
            if due:
                target = max(self._term(f).until(f.captured_at) for f in kept)
                cached = known.get(sha)
                if cached is not None and (cached >= target or target <= now):
                    report.already_secured += 1  # extended by an earlier run (a lock never shrinks)
                    continue
            info = self.vault.store.head(blob_key(sha))
            if info is None:
                if sha in accounted:
                    report.accounted += 1
                else:
                    report.missing.append(sha)
                continue
            if not kept:
                if sha in held:
                    report.held += 1
                elif info.retain_until is not None and info.retain_until > now:
                    report.excluded_waiting += 1
                else:
                    to_delete.append((sha, facts, info.size))
                continue
            if target is None:
                target = max(self.policy.provisional_until(f.captured_at) for f in kept)
            if target > now and (info.retain_until is None or info.retain_until < target):
                until = self.vault.store.extend_retention(blob_key(sha), target)
                if due:
                    report.secured += 1
                    remember.append((sha, until))
            elif due:
                report.already_secured += 1
                if info.retain_until is not None:
                    remember.append((sha, info.retain_until))
            if len(remember) >= 500:
                self._remember_secured(remember)
            if not due:
                report.in_window += 1
        self._remember_secured(remember)
        if to_delete:
            self._delete_excluded(run_id, to_delete, excluded, report)
        log.info(
            "retention_run", run_id=run_id, **{k: v for k, v in report.to_json().items() if k != "missing"}
        )
        return report

    def _secured_cache(self) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            return {
                str(row[0]): _utc(row[1]) or row[1]
                for row in conn.execute(sa.select(t.secured.c.blob_sha256, t.secured.c.retain_until))
            }

    def _remember_secured(self, batch: list[tuple[str, datetime]]) -> None:
        """Cache locks the store confirmed (a crash before this only costs a HEAD next run)."""
        if not batch:
            return
        rows = {sha: _utc(until) or until for sha, until in batch}
        batch.clear()
        with write_transaction(self.engine) as conn:
            conn.execute(t.secured.delete().where(t.secured.c.blob_sha256.in_(list(rows))))
            conn.execute(t.secured.insert(), [{"blob_sha256": k, "retain_until": v} for k, v in rows.items()])

    def _delete_excluded(
        self,
        run_id: str,
        items: list[tuple[str, list[RecordFacts], int | None]],
        excluded: dict[str, list[Exclusion]],
        report: RunReport,
    ) -> None:
        records = []
        for sha, facts, size in items:
            exclusions = {e.exclusion_id: e for f in facts for e in excluded.get(f.record_id, [])}
            records.append(
                Record(
                    kind=EXCLUSION_KIND,
                    source={"sha256": sha},
                    capture=self._capture(run_id),
                    extra={
                        "sha256": sha,
                        "size": size,
                        "record_ids": record_ids(facts),
                        "records": [f.describe() for f in sorted(facts, key=lambda f: f.record_id)],
                        "categories": sorted({e.category for e in exclusions.values()}),
                        "exclusions": [
                            {
                                "exclusion_id": e.exclusion_id,
                                "category": e.category,
                                "scope": e.scope,
                                "marked_by": e.marked_by,
                                "marked_at": e.marked_at.isoformat(),
                                "confirmed_by": e.decided_by,
                                "confirmed_at": e.decided_at.isoformat() if e.decided_at else None,
                            }
                            for e in sorted(exclusions.values(), key=lambda e: e.exclusion_id)
                        ],
                    },
                )
            )
        # The record first, in the chain; only then the delete. A crash in between leaves an object
        # with its record, which the next run deletes (the record's id is its blob: written once).
        refs = self.vault.put_records(records)
        self.vault.write_manifest(
            run_id, refs, kind="retention-run", summary={"exclusions_removed": len(items)}
        )
        for sha, _, _ in items:
            try:
                self.vault.store.delete_all_versions(blob_key(sha))
            except VaultLockedError as exc:
                log.warning("exclusion_not_deleted", sha256=sha, error=str(exc))
                report.excluded_waiting += 1
                continue
            report.excluded_deleted += 1

    # -- destruction -------------------------------------------------------------------------------

    def _due_for_destruction(
        self,
        sha: str,
        facts: list[RecordFacts],
        excluded: dict[str, list[Exclusion]],
        held: set[str],
        now: datetime,
    ) -> str | None:
        """None when the object may be destroyed now, else why not."""
        if sha in held:
            return "on hold"
        kept = [f for f in facts if f.record_id not in excluded]
        if not kept:
            return "an exclusion, removed by `retention run`"
        terms = [self._term(f) for f in kept]
        if any(term.permanent for term in terms):
            return "B (permanent): never destroyed, transferred"
        if any(term.until(f.captured_at) > now for term, f in zip(terms, kept, strict=True)):
            return "its term has not ended"
        return None

    def propose(self) -> DestructionSummary:
        """A vernietigingslijst: every V object whose term ended, not held, not excluded."""
        role = self._require("retention-propose", ARCHIVIST)
        now = self._clock()
        by_blob = collect(self.vault)
        excluded, held = self._confirmed(), self._held_blobs()
        rows = []
        for sha, facts in sorted(by_blob.items()):
            if self._due_for_destruction(sha, facts, excluded, held, now) is not None:
                continue
            info = self.vault.store.head(blob_key(sha))
            if info is None:
                continue
            kept = [f for f in facts if f.record_id not in excluded]
            first = min(kept, key=lambda f: f.captured_at)
            rows.append(
                {
                    "blob_sha256": sha,
                    "designation_id": first.designation_id,
                    "category": self._category(first.designation_id) or first.category,
                    "term": self._term(first).describe(),
                    "earliest": min(f.captured_at for f in kept),
                    "latest": max(f.captured_at for f in kept),
                    "record_ids": json.dumps(record_ids(kept)),
                    "size": info.size,
                    "state": "pending",
                }
            )
        list_id = str(uuid.uuid4())
        with write_transaction(self.engine) as conn:
            conn.execute(
                t.destruction_lists.insert().values(
                    list_id=list_id, status="proposed", proposed_by=self.actor.name, proposed_at=now
                )
            )
            if rows:
                conn.execute(t.destruction_items.insert(), [{"list_id": list_id, **r} for r in rows])
        summary = self.destruction_list(list_id)
        self._allowed("retention-propose", role, list_id=list_id, items=summary.items, groups=summary.groups)
        return summary

    def approve(self, list_id: str, decision_ref: str) -> DestructionSummary:
        """An archivist other than the proposer approves the list with the decision's reference."""
        detail = {"list_id": list_id, "decision_ref": decision_ref}
        role = self._require("retention-approve", ARCHIVIST, **detail)
        try:
            current = self.destruction_list(list_id)
            if current.status != "proposed":
                raise RetentionConflict(
                    f"list {list_id} is {current.status}, not proposed",
                    code="list-not-proposed",
                    status=current.status,
                )
            if not decision_ref.strip():
                raise RetentionError(
                    "approval needs the reference of the destruction decision", code="decision-ref-required"
                )
            if current.proposed_by == self.actor.name:
                raise AccessDenied(
                    f"{self.actor.name} proposed list {list_id}: another archivist approves it",
                    code="four-eyes-list",
                )
        except (RetentionError, AccessDenied) as exc:
            self._refused("retention-approve", exc, **detail)
            raise
        with write_transaction(self.engine) as conn:
            conn.execute(
                t.destruction_lists.update()
                .where(t.destruction_lists.c.list_id == list_id)
                .values(
                    status="approved",
                    approved_by=self.actor.name,
                    approved_at=self._clock(),
                    decision_ref=decision_ref,
                )
            )
        self._allowed("retention-approve", role, items=current.items, **detail)
        return self.destruction_list(list_id)

    def destroy(self, list_id: str) -> DestructionSummary:
        """Destroy what the approved list names and may go now (lock expired, not held, V, term
        ended), each after its destruction record is in the chain; then store the verklaring van
        vernietiging. Idempotent: a second call finishes what a killed one began."""
        detail = {"list_id": list_id}
        role = self._require("retention-destroy", ARCHIVIST, **detail)
        current = self.destruction_list(list_id)
        if current.status not in ("approved", "destroyed"):
            error = RetentionConflict(
                f"list {list_id} is {current.status}: only an approved list is destroyed",
                code="list-not-approved",
                status=current.status,
            )
            self._refused("retention-destroy", error, **detail)
            raise error
        if current.status == "destroyed":
            return current
        now = self._clock()
        run_id = f"destruction-{list_id[:8]}-{now.strftime('%Y%m%dT%H%M%SZ')}"
        by_blob = collect(self.vault)
        excluded, held = self._confirmed(), self._held_blobs()
        accounted = accounted_removals(self.vault)
        with self.engine.connect() as conn:
            items = list(
                conn.execute(sa.select(t.destruction_items).where(t.destruction_items.c.list_id == list_id))
            )
        go: list[Any] = []
        for item in items:
            if item.state != "pending":
                continue
            sha = item.blob_sha256
            info = self.vault.store.head(blob_key(sha))
            reason = None
            if info is None:
                reason = None if sha in accounted else "absent without a record"
                if reason is None:
                    go.append(item)
                    continue
            else:
                reason = self._due_for_destruction(sha, by_blob.get(sha, []), excluded, held, now)
                if reason is None and info.retain_until is not None and info.retain_until > now:
                    reason = "its lock has not expired"
            if reason is not None:
                self._set_item(list_id, sha, "refused", reason)
                continue
            go.append(item)
        records = [
            Record(
                kind=DESTRUCTION_KIND,
                source={"sha256": item.blob_sha256},
                capture=self._capture(run_id),
                extra={
                    "sha256": item.blob_sha256,
                    "size": item.size,
                    "list_id": list_id,
                    "decision_ref": current.decision_ref,
                    "approved_by": current.approved_by,
                    "record_ids": json.loads(item.record_ids),
                    "designation_id": item.designation_id,
                    "category": item.category,
                    "term": item.term,
                },
            )
            for item in go
        ]
        if records:  # the records first, then the deletes
            refs = self.vault.put_records(records)
            self.vault.write_manifest(run_id, refs, kind="destruction", summary={"list_id": list_id})
        for item in go:
            try:
                self.vault.store.delete_all_versions(blob_key(item.blob_sha256))
            except VaultLockedError as exc:
                self._set_item(list_id, item.blob_sha256, "refused", f"the store refused: {exc}")
                continue
            self._set_item(list_id, item.blob_sha256, "destroyed", None)
        certificate = self._certificate(list_id, now)
        self._allowed(
            "retention-destroy",
            role,
            destroyed=certificate.destroyed,
            refused=len(certificate.refused),
            certificate_sha256=certificate.certificate_sha256,
            **detail,
        )
        return certificate

    def _set_item(self, list_id: str, sha: str, state: str, note: str | None) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                t.destruction_items.update()
                .where(t.destruction_items.c.list_id == list_id, t.destruction_items.c.blob_sha256 == sha)
                .values(state=state, note=note)
            )

    def _certificate(self, list_id: str, now: datetime) -> DestructionSummary:
        current = self.destruction_list(list_id)
        with self.engine.connect() as conn:
            items = list(
                conn.execute(sa.select(t.destruction_items).where(t.destruction_items.c.list_id == list_id))
            )
        document = {
            "format": CERTIFICATE_FORMAT,
            "title": "Verklaring van vernietiging",
            "list_id": list_id,
            "decision_ref": current.decision_ref,
            "proposed_by": current.proposed_by,
            "approved_by": current.approved_by,
            "destroyed_by": self.actor.name,
            "destroyed_at": now.isoformat(),
            "vault": self.vault.store.url,
            "destroyed": [
                {
                    "sha256": i.blob_sha256,
                    "size": i.size,
                    "record_ids": json.loads(i.record_ids),
                    "designation_id": i.designation_id,
                    "category": i.category,
                    "term": i.term,
                    "earliest": (_utc(i.earliest) or i.earliest).isoformat(),
                    "latest": (_utc(i.latest) or i.latest).isoformat(),
                }
                for i in items
                if i.state == "destroyed"
            ],
            "refused": [{"sha256": i.blob_sha256, "reason": i.note} for i in items if i.state == "refused"],
        }
        destroyed_count = sum(1 for i in items if i.state == "destroyed")
        data = canonical_json(document)
        # The certificate is kept for the full default term from the start (not a provisional lock).
        blob = self.vault.put_blob(
            data, media_type="application/json", retention_class=self.vault.retention.default_class
        )
        record = Record(
            kind=CERTIFICATE_KIND,
            source={"list_id": list_id},
            capture=self._capture(f"destruction-{list_id[:8]}"),
            blob_sha256=blob.sha256,
            size=blob.size,
            media_type="application/json",
            extra={"decision_ref": current.decision_ref, "destroyed": destroyed_count},
        )
        refs = self.vault.put_records([record])
        self.vault.write_manifest(f"destruction-{list_id[:8]}", refs, kind="destruction-certificate")
        with write_transaction(self.engine) as conn:
            conn.execute(
                t.destruction_lists.update()
                .where(t.destruction_lists.c.list_id == list_id)
                .values(status="destroyed", destroyed_at=now, certificate_sha256=blob.sha256)
            )
        return self.destruction_list(list_id)

    def destruction_list(self, list_id: str) -> DestructionSummary:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.destruction_lists).where(t.destruction_lists.c.list_id == list_id)
            ).first()
            if row is None:
                raise RetentionNotFound(f"no destruction list {list_id!r}", code="list-unknown")
            items = list(
                conn.execute(sa.select(t.destruction_items).where(t.destruction_items.c.list_id == list_id))
            )
        groups: dict[tuple[str | None, str | None, str], dict[str, Any]] = {}
        for item in items:
            group = groups.setdefault(
                (item.designation_id, item.category, item.term),
                {
                    "designation_id": item.designation_id,
                    "category": item.category,
                    "term": item.term,
                    "objects": 0,
                    "bytes": 0,
                    "from": None,
                    "until": None,
                },
            )
            group["objects"] += 1
            group["bytes"] += item.size or 0
            earliest, latest = (
                (_utc(item.earliest) or item.earliest).isoformat(),
                (_utc(item.latest) or item.latest).isoformat(),
            )
            group["from"] = min(filter(None, [group["from"], earliest]))
            group["until"] = max(filter(None, [group["until"], latest]))
        return DestructionSummary(
            list_id=list_id,
            status=row.status,
            proposed_by=row.proposed_by,
            approved_by=row.approved_by,
            decision_ref=row.decision_ref,
            groups=list(groups.values()),
            items=len(items),
            destroyed=sum(1 for i in items if i.state == "destroyed"),
            refused=[
                {"sha256": i.blob_sha256, "reason": i.note or ""} for i in items if i.state == "refused"
            ],
            certificate_sha256=row.certificate_sha256,
            proposed_at=_utc(row.proposed_at),
            approved_at=_utc(row.approved_at),
            destroyed_at=_utc(row.destroyed_at),
        )

    def destruction_lists(self) -> list[DestructionSummary]:
        """Every vernietigingslijst, newest first: proposed, approved and destroyed."""
        role = self._require("retention-lists", ARCHIVIST, AUDITOR)
        query = sa.select(t.destruction_lists.c.list_id).order_by(t.destruction_lists.c.proposed_at.desc())
        with self.engine.connect() as conn:
            ids = [str(r[0]) for r in conn.execute(query)]
        self._allowed("retention-lists", role, count=len(ids))
        return [self.destruction_list(i) for i in ids]

    def show_list(self, list_id: str) -> DestructionSummary:
        """One vernietigingslijst (archivist, auditor; audited)."""
        detail = {"list_id": list_id}
        role = self._require("retention-list-show", ARCHIVIST, AUDITOR, **detail)
        try:
            summary = self.destruction_list(list_id)
        except RetentionError as exc:
            self._refused("retention-list-show", exc, **detail)
            raise
        self._allowed("retention-list-show", role, **detail)
        return summary

    def certificate(self, list_id: str) -> Certificate:
        """The verklaring van vernietiging of a destroyed list, read back from the vault."""
        detail = {"list_id": list_id}
        role = self._require("retention-certificate", ARCHIVIST, AUDITOR, **detail)
        try:
            summary = self.destruction_list(list_id)
            sha = summary.certificate_sha256
            if summary.status != "destroyed" or not sha:
                raise RetentionConflict(
                    f"list {list_id} is {summary.status}: it has no verklaring yet",
                    code="list-no-certificate",
                    status=summary.status,
                )
        except RetentionError as exc:
            self._refused("retention-certificate", exc, **detail)
            raise
        data = self.vault.read_blob(sha)
        record_id = next(
            (
                r.record_id
                for r in self.vault.iter_records(CERTIFICATE_KIND)
                if r.blob_sha256 == sha and (r.source or {}).get("list_id") == list_id
            ),
            None,
        )
        self._allowed("retention-certificate", role, sha256=sha, record_id=record_id, **detail)
        return Certificate(list_id=list_id, record_id=record_id, sha256=sha, data=data)

    # -- status ------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where every object stands in its lifecycle (no changes)."""
        role = self._require("retention-status", ARCHIVIST, AUDITOR)
        now = self._clock()
        by_blob = collect(self.vault)
        excluded, held = self._confirmed(), self._held_blobs()
        accounted = accounted_removals(self.vault)
        counts = {
            "in_window": 0,
            "secured": 0,
            "excluded_pending_removal": 0,
            "held": 0,
            "due_for_destruction": 0,
            "removed_with_record": 0,
            "missing": 0,
            "past_window_not_secured": 0,  # a retention run is due: it must run before the margin ends
        }
        for sha, facts in by_blob.items():
            info = self.vault.store.head(blob_key(sha))
            if info is None:
                counts["removed_with_record" if sha in accounted else "missing"] += 1
                continue
            if sha in held:
                counts["held"] += 1
            kept = [f for f in facts if f.record_id not in excluded]
            if not kept:
                counts["excluded_pending_removal"] += 1
            elif any(self._window_passed(f, now) for f in kept):
                target = max(self._term(f).until(f.captured_at) for f in kept)
                if target > now and (info.retain_until is None or info.retain_until < target):
                    counts["past_window_not_secured"] += 1
                else:
                    counts["secured"] += 1
                if self._due_for_destruction(sha, facts, excluded, held, now) is None:
                    counts["due_for_destruction"] += 1
            else:
                counts["in_window"] += 1
        with self.engine.connect() as conn:
            marks: dict[str, int] = dict(
                conn.execute(
                    sa.select(t.exclusions.c.status, sa.func.count()).group_by(t.exclusions.c.status)
                ).all()
            )
        document = {
            "vault": self.vault.store.url,
            "worm": self.vault.worm,
            "note": None
            if self.vault.worm
            else "local backend: the lifecycle is enforced by Capstone only, NOT WORM",
            "window": str(self.policy.window),
            "margin": str(self.policy.margin),
            "default_term": self.policy.default_term.describe(),
            "terms": {k: v.describe() for k, v in self.policy.terms.items()},
            "objects": len(by_blob),
            **counts,
            "exclusions": {str(k): int(v) for k, v in marks.items()},
            "active_holds": len({h for h in held}),
        }
        self._allowed("retention-status", role)
        return document


_last_quiet_run: float | None = None


def run_quietly(settings: Settings, *, every: timedelta = timedelta(hours=1)) -> RunReport | None:
    """The hook of ``capture run --continuous``: a retention run after a capture cycle, at most once
    per ``every`` (a run reads every record; the margin after the window is a week by default). A
    failure is logged, never fatal to capture (a later cycle runs it again)."""
    global _last_quiet_run
    started = time.monotonic()
    if _last_quiet_run is not None and started - _last_quiet_run < every.total_seconds():
        return None
    service = RetentionService(settings)
    try:
        report = service.run()
        _last_quiet_run = started
        return report
    except (VaultError, RetentionError, AccessDenied) as exc:
        log.warning("retention_run_failed", error=str(exc))
        return None
    finally:
        service.close()

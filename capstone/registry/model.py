"""The registry's domain: who is designated as key official (sleutelfunctionaris), which accounts are
captured, for which period, on whose decision; and the events that make up the history.

Time has two axes here. *Valid time* is the designation's period (``start_date`` to ``end_date``,
calendar dates in the Netherlands, both inclusive). *Recording time* is when an event was registered
(``recorded_at``, UTC). The events are the truth; a designation's state is what replaying its events
gives, so the registry can answer "who was designated on D" both as known now and as registered at
any past moment T (replay only the events recorded up to T).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

REGISTRY_TIMEZONE = ZoneInfo("Europe/Amsterdam")
EVENT_FORMAT = "capstone-registry-event/1"


class Category(StrEnum):
    """Selectielijst category of a key official (VNG Selectielijst e-mailbewaring 2024 and the Rijk's
    register van sleutelfunctionarissen)."""

    COLLEGE = "college"
    AMBTELIJKE_TOP = "ambtelijke-top"
    GRIFFIER = "griffier"
    COMPLIANCE_OFFICER = "compliance-officer"
    OMBUDSMAN = "ombudsman"
    REKENKAMER = "rekenkamer"
    OVERIG = "overig"

    @property
    def label(self) -> str:
        return _CATEGORY_LABELS[self]

    @classmethod
    def parse(cls, value: str) -> Category:
        """A category from its code or its Dutch label, ignoring case (``college van B&W``)."""
        wanted = " ".join(value.strip().lower().replace("_", "-").split())
        for category in cls:
            if wanted == category.value or wanted in _CATEGORY_SYNONYMS[category]:
                return category
        raise ValueError(f"unknown category {value!r}; use one of: " + ", ".join(c.value for c in cls))


_CATEGORY_LABELS: dict[Category, str] = {
    Category.COLLEGE: "Lid college van B&W",
    Category.AMBTELIJKE_TOP: "Ambtelijke topfunctie",
    Category.GRIFFIER: "Griffier",
    Category.COMPLIANCE_OFFICER: "Compliance officer",
    Category.OMBUDSMAN: "(Jeugd)ombudsman",
    Category.REKENKAMER: "Rekenkamer",
    Category.OVERIG: "Overige sleutelfunctionaris",
}

_CATEGORY_SYNONYMS: dict[Category, frozenset[str]] = {
    Category.COLLEGE: frozenset(
        {"college van b&w", "lid college van b&w", "college van burgemeester en wethouders", "collegelid"}
    ),
    Category.AMBTELIJKE_TOP: frozenset({"ambtelijke topfunctie", "ambtelijke top", "topfunctie"}),
    Category.GRIFFIER: frozenset({"raadsgriffier", "statengriffier"}),
    Category.COMPLIANCE_OFFICER: frozenset({"compliance officer", "complianceofficer"}),
    Category.OMBUDSMAN: frozenset({"(jeugd)ombudsman", "jeugdombudsman", "ombudsfunctionaris"}),
    Category.REKENKAMER: frozenset({"rekenkamercommissie"}),
    Category.OVERIG: frozenset({"overige sleutelfunctionaris", "overige", "overig sleutelfunctionaris"}),
}


@dataclass(frozen=True, kw_only=True)
class Account:
    """One account to capture. ``primary_smtp`` identifies the mailbox; Graph and Teams use the Entra ID
    ``entra_object_id`` or ``upn`` (falling back to the address); ``exchange_endpoint`` names an
    on-premises Exchange endpoint instead of Exchange Online. Addresses are stored normalised and in
    lower case (Exchange compares addresses without regard to case)."""

    primary_smtp: str
    aliases: tuple[str, ...] = ()
    entra_object_id: str | None = None
    upn: str | None = None
    exchange_endpoint: str | None = None

    def coverage_keys(self) -> tuple[str, ...]:
        """The identifiers by which overlap is judged: every address (primary, aliases, UPN share one
        namespace, since each of them reaches one mailbox) and the Entra object id."""
        keys = [f"addr:{self.primary_smtp}"] + [f"addr:{a}" for a in self.aliases]
        if self.upn:
            keys.append(f"addr:{self.upn}")
        if self.entra_object_id:
            keys.append(f"entra:{self.entra_object_id}")
        return tuple(dict.fromkeys(keys))

    def to_json(self) -> dict[str, Any]:
        return {
            "primary_smtp": self.primary_smtp,
            "aliases": list(self.aliases),
            "entra_object_id": self.entra_object_id,
            "upn": self.upn,
            "exchange_endpoint": self.exchange_endpoint,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Account:
        return cls(
            primary_smtp=doc["primary_smtp"],
            aliases=tuple(doc.get("aliases") or ()),
            entra_object_id=doc.get("entra_object_id"),
            upn=doc.get("upn"),
            exchange_endpoint=doc.get("exchange_endpoint"),
        )


@dataclass(frozen=True, kw_only=True)
class CaptureScope:
    """What is captured: mail, Teams chats, and whether mailbox content from before the start date is
    captured too (default: yes, the whole mailbox)."""

    mail: bool = True
    chats: bool = True
    include_history: bool = True

    def to_json(self) -> dict[str, bool]:
        return {"mail": self.mail, "chats": self.chats, "include_history": self.include_history}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CaptureScope:
        return cls(
            mail=bool(doc.get("mail", True)),
            chats=bool(doc.get("chats", True)),
            include_history=bool(doc.get("include_history", True)),
        )


@dataclass(frozen=True, kw_only=True)
class DesignationDraft:
    """What a designation decision says: the fields a person enters and a correction may change."""

    name: str
    personnel_number: str | None = None
    accounts: tuple[Account, ...]
    function: str
    organisation_unit: str
    category: Category
    start_date: date
    end_date: date | None = None
    deciding_body: str
    decision_date: date
    decision_reference: str
    scope: CaptureScope = field(default_factory=CaptureScope)

    def covers(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    def account_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key for account in self.accounts for key in account.coverage_keys()))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "personnel_number": self.personnel_number,
            "accounts": [a.to_json() for a in self.accounts],
            "function": self.function,
            "organisation_unit": self.organisation_unit,
            "category": self.category.value,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "deciding_body": self.deciding_body,
            "decision_date": self.decision_date.isoformat(),
            "decision_reference": self.decision_reference,
            "scope": self.scope.to_json(),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> DesignationDraft:
        return cls(
            name=doc["name"],
            personnel_number=doc.get("personnel_number"),
            accounts=tuple(Account.from_json(a) for a in doc["accounts"]),
            function=doc["function"],
            organisation_unit=doc["organisation_unit"],
            category=Category(doc["category"]),
            start_date=date.fromisoformat(doc["start_date"]),
            end_date=date.fromisoformat(doc["end_date"]) if doc.get("end_date") else None,
            deciding_body=doc["deciding_body"],
            decision_date=date.fromisoformat(doc["decision_date"]),
            decision_reference=doc["decision_reference"],
            scope=CaptureScope.from_json(doc.get("scope") or {}),
        )


DRAFT_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DesignationDraft))


class Status(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"planned": "gepland", "active": "actief", "ended": "beëindigd", "withdrawn": "ingetrokken"}[
            self.value
        ]


@dataclass(frozen=True, kw_only=True)
class Designation(DesignationDraft):
    """A designation's state after replaying its events (as known now, or as registered at a time)."""

    designation_id: str
    version: int
    registered_by: str
    registered_at: datetime
    updated_at: datetime
    withdrawn: bool = False
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None

    def draft(self) -> DesignationDraft:
        return DesignationDraft(**{name: getattr(self, name) for name in DRAFT_FIELDS})

    def status_on(self, day: date) -> Status:
        if self.withdrawn:
            return Status.WITHDRAWN
        if day < self.start_date:
            return Status.PLANNED
        if self.end_date is not None and day > self.end_date:
            return Status.ENDED
        return Status.ACTIVE

    def capture_window(self) -> CaptureWindow:
        return CaptureWindow.for_period(self.start_date, self.end_date, self.scope.include_history)

    def record_reference(self) -> dict[str, Any]:
        """What a vault record says about the designation it was captured under."""
        return {
            "designation_id": self.designation_id,
            "official": self.name,
            "function": self.function,
            "category": self.category.value,
            "decision_reference": self.decision_reference,
        }

    def to_json(self) -> dict[str, Any]:
        doc = {"designation_id": self.designation_id, **super().to_json()}
        doc.update(
            {
                "version": self.version,
                "registered_by": self.registered_by,
                "registered_at": self.registered_at.isoformat(),
                "updated_at": self.updated_at.isoformat(),
                "withdrawn": self.withdrawn,
                "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
                "withdrawal_reason": self.withdrawal_reason,
            }
        )
        return doc


FAR_FUTURE = date(9000, 1, 1)
"""End dates from this day on are placeholders for "no end date" (HR systems write 9999-12-31)."""


def open_ended(end_date: date | None) -> date | None:
    """``end_date``, or None (open-ended) for a far-future placeholder such as 9999-12-31."""
    return None if end_date is None or end_date >= FAR_FUTURE else end_date


def start_of_day(day: date) -> datetime:
    """Midnight at the start of ``day`` in the Netherlands, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=REGISTRY_TIMEZONE)


def local_day(moment: datetime) -> date:
    """The calendar date in the Netherlands at ``moment`` (naive moments are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(REGISTRY_TIMEZONE).date()


@dataclass(frozen=True)
class CaptureWindow:
    """The part of an account's content that falls under a designation: items dated in
    ``[since, until)``. ``since`` None: from the beginning of the mailbox; ``until`` None: open-ended."""

    since: datetime | None
    until: datetime | None

    @classmethod
    def for_period(cls, start: date, end: date | None, include_history: bool) -> CaptureWindow:
        return cls(
            since=None if include_history else start_of_day(start),
            # a far-future end (9999-12-31 registered before such dates were read as open-ended)
            until=None if (end := open_ended(end)) is None else start_of_day(end + timedelta(days=1)),
        )

    def contains(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)


@dataclass(frozen=True)
class CaptureAssignment:
    """What the capture scheduler needs for one active designation."""

    designation: Designation
    window: CaptureWindow

    @property
    def designation_id(self) -> str:
        return self.designation.designation_id

    @property
    def accounts(self) -> tuple[Account, ...]:
        return self.designation.accounts

    @property
    def scope(self) -> CaptureScope:
        return self.designation.scope


class EventType(StrEnum):
    DESIGNATED = "designated"
    CORRECTED = "corrected"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, kw_only=True)
class RegistryEvent:
    """One entry in a designation's append-only history.

    Payloads: ``designated`` and ``corrected`` carry the whole designation after the event
    (``{"designation": {...}}``, a correction also ``"changed": [fields]``), so each event can be read
    on its own, e.g. from the vault; ``ended`` carries ``end_date`` and ``previous_end_date``;
    ``withdrawn`` carries nothing. ``source`` (optional) says where a designation came from (an import).
    """

    event_id: str
    designation_id: str
    version: int
    event_type: EventType
    payload: dict[str, Any]
    actor: str
    reason: str | None
    recorded_at: datetime

    def to_document(self) -> dict[str, Any]:
        return {
            "format": EVENT_FORMAT,
            "event_id": self.event_id,
            "designation_id": self.designation_id,
            "version": self.version,
            "event_type": self.event_type.value,
            "payload": self.payload,
            "actor": self.actor,
            "reason": self.reason,
            "recorded_at": self.recorded_at.astimezone(UTC).isoformat(),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> RegistryEvent:
        if doc.get("format") != EVENT_FORMAT:
            raise ValueError(f"not a {EVENT_FORMAT} document")
        return cls(
            event_id=doc["event_id"],
            designation_id=doc["designation_id"],
            version=int(doc["version"]),
            event_type=EventType(doc["event_type"]),
            payload=dict(doc["payload"]),
            actor=doc["actor"],
            reason=doc.get("reason"),
            recorded_at=datetime.fromisoformat(doc["recorded_at"]).astimezone(UTC),
        )


class ReplayError(ValueError):
    """The events do not form a valid history (a gap in versions, a second ``designated``...)."""


def replay(events: Sequence[RegistryEvent]) -> Designation | None:
    """The state of one designation after ``events`` (ordered by version); None when there are none."""
    state: Designation | None = None
    for expected, event in enumerate(events, start=1):
        if event.version != expected:
            raise ReplayError(
                f"designation {event.designation_id}: version {event.version}, expected {expected}"
            )
        if event.event_type is EventType.DESIGNATED:
            if state is not None:
                raise ReplayError(f"designation {event.designation_id} designated twice")
            draft = DesignationDraft.from_json(event.payload["designation"])
            state = Designation(
                **{name: getattr(draft, name) for name in DRAFT_FIELDS},
                designation_id=event.designation_id,
                version=event.version,
                registered_by=event.actor,
                registered_at=event.recorded_at,
                updated_at=event.recorded_at,
            )
            continue
        if state is None:
            raise ReplayError(f"designation {event.designation_id}: {event.event_type} before designated")
        common: dict[str, Any] = {"version": event.version, "updated_at": event.recorded_at}
        if event.event_type is EventType.CORRECTED:
            draft = DesignationDraft.from_json(event.payload["designation"])
            state = dataclasses.replace(state, **{n: getattr(draft, n) for n in DRAFT_FIELDS}, **common)
        elif event.event_type is EventType.ENDED:
            state = dataclasses.replace(
                state, end_date=date.fromisoformat(event.payload["end_date"]), **common
            )
        elif event.event_type is EventType.WITHDRAWN:
            state = dataclasses.replace(
                state,
                withdrawn=True,
                withdrawn_at=event.recorded_at,
                withdrawal_reason=event.reason,
                **common,
            )
    return state


def replay_all(events: Iterable[RegistryEvent]) -> dict[str, Designation]:
    """Replay every designation in ``events``; the result is keyed by designation id."""
    grouped: dict[str, list[RegistryEvent]] = {}
    for event in events:
        grouped.setdefault(event.designation_id, []).append(event)
    result: dict[str, Designation] = {}
    for designation_id, group in grouped.items():
        state = replay(sorted(group, key=lambda e: e.version))
        if state is not None:
            result[designation_id] = state
    return result

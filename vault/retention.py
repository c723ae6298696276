"""Retention classes: how long the vault locks an object.

The default class locks for 10 years, the Archiefwet's term for transfer to the archive repository.
A class is a name and a number of years; the retain-until date is computed at write time.

With a :class:`LifecyclePolicy` (issue 21) a new *blob* is locked only provisionally: until its
write time + the exclusion window + a margin. S3 Object Lock lets a retain-until date be extended but
never shortened, so ``capstone retention run`` later extends the lock of every kept blob to the full
term of its retention class (:class:`Term`), and lets the lock of a confirmed exclusion lapse.
Segments, manifests and the descriptor (provenance, never content) keep the full term from the start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vault.store import Retention


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return moment.replace(year=moment.year + years, day=28)


PROVISIONAL_CLASS = "provisional"
_TERM = re.compile(r"^([BV])(?::(\d+)([ywdhms]))?$")
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class Term:
    """A retention term: *B* (permanent: locked until the transfer date, then transferred) or *V*
    (destroyed at the end of the term). ``years`` counts calendar years; ``seconds`` a fixed span
    (tests use seconds-long terms)."""

    waardering: str  # "B" or "V"
    years: int = 0
    seconds: int = 0

    def __post_init__(self) -> None:
        if self.waardering not in ("B", "V"):
            raise ValueError(f"a term is B (permanent) or V (destroy), not {self.waardering!r}")
        if self.years < 0 or self.seconds < 0 or (self.years == 0 and self.seconds == 0):
            raise ValueError("a retention term must be positive")

    @property
    def permanent(self) -> bool:
        return self.waardering == "B"

    def until(self, start: datetime) -> datetime:
        return add_years(start, self.years) + timedelta(seconds=self.seconds)

    @classmethod
    def parse(cls, text: str, *, default_years: int = 10) -> Term:
        """``B`` (transfer after ``default_years``), ``B:20y``, ``V:7y``, ``V:30s``, ``V:10w``."""
        match = _TERM.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a retention term like B, B:10y, V:7y or V:30s")
        waardering, amount, unit = match.groups()
        if amount is None:
            return cls(waardering, years=default_years)
        if unit == "y":
            return cls(waardering, years=int(amount))
        return cls(waardering, seconds=int(amount) * _UNITS[unit])

    def describe(self) -> str:
        span = f"{self.years}y" if self.years else f"{self.seconds}s"
        return f"{self.waardering}:{span}"


@dataclass(frozen=True)
class LifecyclePolicy:
    """The exclusion window and the terms per selectielijst category (issue 21)."""

    window: timedelta = timedelta(weeks=10)
    margin: timedelta = timedelta(weeks=1)
    default_term: Term = field(default_factory=lambda: Term("B", years=10))
    terms: dict[str, Term] = field(default_factory=dict)  # category -> term

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.margin < timedelta(0):
            raise ValueError("the exclusion window must be positive and the margin not negative")

    def provisional_until(self, written: datetime) -> datetime:
        return (written + self.window + self.margin).replace(microsecond=0) + timedelta(seconds=1)

    def window_end(self, captured: datetime) -> datetime:
        return captured + self.window

    def term_for(self, category: str | None) -> Term:
        return self.terms.get(category or "", self.default_term)


@dataclass(frozen=True)
class RetentionPolicy:
    default_class: str = "archiefwet-overbrenging"
    years_by_class: dict[str, int] = field(default_factory=lambda: {"archiefwet-overbrenging": 10})
    legal_hold: bool = False
    lifecycle: LifecyclePolicy | None = None  # None: every object gets its full term at once

    def __post_init__(self) -> None:
        if self.default_class not in self.years_by_class:
            raise ValueError(f"the default retention class {self.default_class!r} has no term")
        for name, years in self.years_by_class.items():
            if years < 1:
                raise ValueError(f"retention class {name!r} must lock for at least 1 year")

    def for_class(self, retention_class: str | None = None, *, now: datetime | None = None) -> Retention:
        name = retention_class or self.default_class
        try:
            years = self.years_by_class[name]
        except KeyError:
            known = ", ".join(sorted(self.years_by_class))
            raise ValueError(f"unknown retention class {name!r} (known: {known})") from None
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        return Retention(
            retention_class=name, retain_until=add_years(moment, years), legal_hold=self.legal_hold
        )

    def longest(self, classes: set[str | None]) -> str:
        names = {c or self.default_class for c in classes} or {self.default_class}
        return max(names, key=lambda n: (self.years_by_class.get(n, 0), n))

    def for_blob(self, retention_class: str | None = None, *, now: datetime | None = None) -> Retention:
        """A new blob's lock: provisional under a lifecycle policy (unless a class is named), else
        the class's full term."""
        if self.lifecycle is None or retention_class is not None:
            return self.for_class(retention_class, now=now)
        moment = (now or datetime.now(UTC)).replace(microsecond=0)
        return Retention(
            retention_class=PROVISIONAL_CLASS,
            retain_until=self.lifecycle.provisional_until(moment),
            legal_hold=self.legal_hold,
        )

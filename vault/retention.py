"""Retention classes: how long the vault locks an object.

The default class locks for 10 years, the Archiefwet's term for transfer to the archive repository.
A class is a name and a number of years; the retain-until date is computed at write time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from vault.store import Retention


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class RetentionPolicy:
    default_class: str = "archiefwet-overbrenging"
    years_by_class: dict[str, int] = field(default_factory=lambda: {"archiefwet-overbrenging": 10})
    legal_hold: bool = False

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

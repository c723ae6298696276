"""Why the registry refused something. Every message names the field, the CSV row or the id involved;
a refusal always means nothing was written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date

from capstone.coded import Coded


class RegistryError(Coded):
    """Base class: a refusal with a message fit for the person at the keyboard (English, for the CLI
    and the logs) and a ``code`` with ``params`` the web pages say in Dutch
    (``capstone/web/messages.py``)."""


class FieldError(RegistryError):
    """One invalid field. ``field`` uses the CSV column / CLI option names (``mail``, ``end_date``)."""

    def __init__(self, field: str, message: str, *, code: str | None = None, **params: object) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}", code=code, **params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldError) and (self.field, self.message) == (other.field, other.message)

    def __hash__(self) -> int:
        return hash((self.field, self.message))


class ValidationError(RegistryError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors), code="invalid-fields")


@dataclass(frozen=True)
class Conflict:
    """An existing designation that already covers an account in an overlapping period."""

    account_key: str
    designation_id: str
    start_date: date
    end_date: date | None

    @property
    def account(self) -> str:
        return self.account_key.split(":", 1)[1]

    def describe(self) -> str:
        until = self.end_date.isoformat() if self.end_date else "open-ended"
        return (
            f"{self.account} is already covered by designation {self.designation_id} "
            f"({self.start_date.isoformat()} to {until})"
        )


class OverlapError(RegistryError):
    def __init__(self, conflicts: Sequence[Conflict], field: str = "mail") -> None:
        self.conflicts = list(conflicts)
        self.field = field
        if self.conflicts:
            detail = "; ".join(c.describe() for c in self.conflicts)
        else:
            detail = "an account is already covered by another designation in an overlapping period"
        super().__init__(f"{field}: overlapping coverage: {detail}", code="overlap", conflicts=self.conflicts)


class UnknownDesignationError(RegistryError):
    def __init__(self, designation_id: str) -> None:
        self.designation_id = designation_id
        super().__init__(
            f"unknown designation id {designation_id!r}", code="designation-unknown", id=designation_id
        )


class StateError(RegistryError):
    """The change does not fit the designation's state (e.g. ending a withdrawn designation)."""


class ConcurrentChangeError(RegistryError):
    """Another process changed the same designation at the same moment; nothing was written."""


@dataclass(frozen=True)
class RowError:
    """One refused CSV row. ``row`` is the line number in the file (the header is line 1)."""

    row: int
    field: str | None
    message: str
    code: str | None = dc_field(default=None, compare=False)  # as of :class:`Coded`, for the web pages
    params: Mapping[str, object] = dc_field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        return f"{where}, {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CsvImportError(RegistryError):
    def __init__(
        self,
        source: str,
        errors: Sequence[RowError],
        total_rows: int,
        *,
        file_errors: Sequence[RowError] = (),
    ) -> None:
        """``errors`` about rows (and ``file_errors`` about the file as a whole: its header, its
        encoding, a line that is no CSV), of a file of ``total_rows`` data rows."""
        self.source = source
        self.errors = sorted([*errors, *file_errors], key=lambda e: (e.row, e.field or ""))
        self.total_rows = total_rows
        rows = len({e.row for e in errors if e.row} - {e.row for e in file_errors})
        head = (
            f"{source}: {rows} of {total_rows} rows refused" if rows and total_rows else f"{source}: refused"
        )
        lines = [f"{head}; nothing was imported"] + [f"  {e}" for e in self.errors]
        super().__init__("\n".join(lines), code="csv-refused", rows=rows, total=total_rows)


class DuplicateImportError(RegistryError):
    """The very same file (same SHA-256) was imported before."""

"""The registry of key officials (sleutelfunctionarissen): who is designated, with which accounts,
for which period, on whose decision; append-only history; the capture scheduler's source.

Example (the capture scheduler)::

    from capstone.registry import open_registry
    registry = open_registry(settings)
    for assignment in registry.active_at(datetime.now(UTC)):
        assignment.accounts, assignment.scope, assignment.window.since, assignment.window.until
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from capstone.registry.archive import Archive, ArchiveItem, ArchiveReceipt, settings_archive
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
    Account,
    CaptureAssignment,
    CaptureScope,
    CaptureWindow,
    Category,
    Designation,
    DesignationDraft,
    EventType,
    RegistryEvent,
    Status,
)
from capstone.registry.service import ArchiveStatus, ImportResult, Registry, RestoreResult

if TYPE_CHECKING:
    from capstone.settings import Settings

__all__ = [
    "Account",
    "Archive",
    "ArchiveItem",
    "ArchiveReceipt",
    "ArchiveStatus",
    "CaptureAssignment",
    "CaptureScope",
    "CaptureWindow",
    "Category",
    "ConcurrentChangeError",
    "Conflict",
    "CsvImportError",
    "Designation",
    "DesignationDraft",
    "DuplicateImportError",
    "EventType",
    "FieldError",
    "ImportResult",
    "OverlapError",
    "Registry",
    "RegistryError",
    "RegistryEvent",
    "RestoreResult",
    "RowError",
    "StateError",
    "Status",
    "UnknownDesignationError",
    "ValidationError",
    "open_registry",
    "settings_archive",
]


def open_registry(settings: Settings, *, archive: Archive | None = None) -> Registry:
    """The registry on the configured state database (upgraded if needed), archiving into the
    configured vault unless another ``archive`` is given."""
    from capstone.db import open_database

    engine = open_database(settings.database_url)
    return Registry(engine, archive=archive if archive is not None else settings_archive(settings))

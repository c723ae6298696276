"""The append-only, hash-chained audit log of every search, view and export (and every refusal)."""

from capstone.audit.log import AuditEntry, AuditLog, AuditReport

__all__ = ["AuditEntry", "AuditLog", "AuditReport"]

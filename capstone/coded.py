"""Errors with a stable code: what kind of refusal it is, and the values it names, so a front end can
say it in its own language (the web UI in Dutch, see ``capstone/web/messages.py``) while the message
stays English for the CLI and the logs.

Example::

    raise CaseError(f"case {ref} is already closed", code="case-closed", ref=ref)
"""

from __future__ import annotations


class Coded(Exception):
    def __init__(self, message: str = "", *, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


# Codes that say "there is no such thing": the REST API answers them 404 (``capstone/web/app.py``).
NOT_FOUND_CODES = frozenset(
    {
        "case-unknown", "document-unknown", "mark-unknown", "designation-unknown",
        "exclusion-unknown", "hold-unknown", "list-unknown",
    }
)  # fmt: skip


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` is a refusal because what it names does not exist (by its code)."""
    return getattr(exc, "code", None) in NOT_FOUND_CODES

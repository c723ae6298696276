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

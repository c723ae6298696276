"""The only errors that cross the connector seam.

A connector translates whatever its transport raises (httpx, requests, exchangelib, an SDK's
OData error) into one of these before it reaches ``capstone.capture``; capture never catches a
transport library's exception. ``status`` is the HTTP status the source answered with, when it
answered (``None``: nothing answered, e.g. a connection reset or a body cut off mid-stream);
``code`` is the source's own error code (Graph's ``error.code``, an EWS ``ResponseCode``).
"""

from __future__ import annotations


class SourceError(Exception):
    """The source refused or failed a request after all retries."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, cause: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        # The name of the transport error this stands for when nothing answered (``ReadTimeout``,
        # ``RemoteProtocolError``): what an open error's reason starts with.
        self.cause = cause


class CursorExpiredError(SourceError):
    """The source no longer accepts a stored cursor (Graph: HTTP 410 on a delta token; EWS: an
    invalid sync state): the folder is read again from the start, with reconciliation."""


class ThrottledError(SourceError):
    """The source kept throttling after the connector's own backing off (Graph 429/503 with
    ``Retry-After``, EWS ``ErrorServerBusy`` with ``BackOffMilliseconds``, budget errors).
    ``retry_after`` is the wait the source last asked for, in seconds, when it said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code, cause=cause)
        self.retry_after = retry_after


class ConnectorUnavailableError(SourceError):
    """No connector can serve the account (e.g. an on-premises Exchange endpoint while the EWS
    connector is not installed): the account's run fails with this as its open error."""

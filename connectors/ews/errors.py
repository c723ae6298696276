"""exchangelib's exceptions, mapped to the connector's own error types: nothing of exchangelib,
requests or urllib3 crosses the connector's boundary.

- ``ErrorInvalidSyncStateData`` (and ``ErrorInvalidSyncStateData``-like sync-state refusals) ->
  :class:`CursorExpiredError`: the engine resyncs the folder and reconciles.
- ``ErrorServerBusy`` (with ``BackOffMilliseconds``), ``ErrorExceededConnectionCount``,
  ``ErrorTooManyObjectsOpened`` -> :class:`EwsThrottledError` (retried with back-off first).
- transient failures (5xx, ``ErrorInternalServerTransientError``, ``ErrorTimeoutExpired``, broken
  or truncated responses, connection resets) -> :class:`EwsTransientError` (retried with jitter).
- everything else (authentication, access, missing items and folders) -> :class:`SourceError`
  with the EWS response code and an HTTP-like status.
"""

from __future__ import annotations

import xml.sax

import requests
import urllib3.exceptions
from exchangelib import errors as ews

from connectors.errors import CursorExpiredError, SourceError, ThrottledError

THROTTLING = (ews.ErrorServerBusy, ews.ErrorExceededConnectionCount, ews.ErrorTooManyObjectsOpened)
TRANSIENT = (
    ews.ErrorInternalServerTransientError,
    ews.ErrorInternalServerError,
    ews.ErrorTimeoutExpired,
    ews.ErrorMailboxStoreUnavailable,
    ews.ErrorMailboxMoveInProgress,
    ews.MalformedResponseError,
    ews.SOAPError,
    ews.RateLimitError,
)
_NETWORK = (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
_STATUS = {
    "UnauthorizedError": 401,
    "ErrorAccessDenied": 403,
    "ErrorImpersonateUserDenied": 403,
    "ErrorImpersonationDenied": 403,
    "ErrorImpersonationFailed": 403,
    "ErrorNonExistentMailbox": 404,
    "ErrorItemNotFound": 404,
    "ErrorFolderNotFound": 404,
    "ErrorSyncFolderNotFound": 404,
    "ErrorMimeContentConversionFailed": 422,
    "ErrorItemCorrupt": 422,
    "ErrorCorruptData": 422,
}


class EwsThrottledError(ThrottledError):
    """Exchange asked us to slow down and kept asking past every retry. ``retry_after`` is the
    server's last suggested back-off in seconds, when it gave one."""

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=503, code=code, retry_after=retry_after)


class EwsTransientError(SourceError):
    """A failure worth retrying (a 5xx, a reset, a truncated response) that outlived its retries.
    ``status`` is None when nothing answered (a reset, a body cut off): ``cause`` names it."""


def unwrap(exc: BaseException) -> BaseException:
    """The server's error behind exchangelib's own ``ErrorServerBusy("Reraised from ...")``:
    exchangelib turns ``ErrorTooManyObjectsOpened``, transient errors and timeouts into a busy error
    with a back-off of its own choosing (10 s, doubling), which is not the server's word."""
    if isinstance(exc, ews.ErrorServerBusy) and str(exc).startswith("Reraised from"):
        context = exc.__context__
        if isinstance(context, Exception):
            return context
    return exc


def code_of(exc: BaseException) -> str:
    return type(unwrap(exc)).__name__


def back_off_of(exc: BaseException) -> float | None:
    """The server's ``BackOffMilliseconds`` (in seconds) on an ``ErrorServerBusy``."""
    exc = unwrap(exc)
    value = getattr(exc, "back_off", None) if isinstance(exc, ews.ErrorServerBusy) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def is_throttling(exc: BaseException) -> bool:
    return isinstance(unwrap(exc), THROTTLING)


def is_transient(exc: BaseException) -> bool:
    """Worth another try: throttling, a transient server error, a network failure or a broken or
    truncated response."""
    if isinstance(exc, EwsTransientError | EwsThrottledError):
        return True
    if isinstance(exc, SourceError):
        return False
    exc = unwrap(exc)
    return isinstance(exc, THROTTLING + TRANSIENT + _NETWORK + (xml.sax.SAXException,))


def to_source_error(exc: BaseException, what: str) -> SourceError:
    """The connector's error for an exchangelib (or transport) failure while doing ``what``. Only
    the exception's type and its server text are used, never a request (which could carry the
    secret)."""
    if isinstance(exc, SourceError):
        return exc
    exc = unwrap(exc)
    code = code_of(exc)
    if isinstance(exc, ews.ErrorInvalidSyncStateData):
        return CursorExpiredError(
            f"{what}: the sync state is no longer valid ({code})", status=410, code=code
        )
    if is_throttling(exc):
        return EwsThrottledError(
            f"{what}: Exchange is throttling ({code})", code=code, retry_after=back_off_of(exc)
        )
    if isinstance(exc, (*_NETWORK, xml.sax.SAXException, ews.ErrorTimeoutExpired)):
        # nothing (whole) answered: a reset, a timeout, a body cut off mid-stream
        return EwsTransientError(f"{what}: transient failure ({code})", code=code, cause=code)
    if isinstance(exc, TRANSIENT):
        return EwsTransientError(f"{what}: transient failure ({code})", status=503, code=code)
    status = _STATUS.get(code)
    if isinstance(exc, ews.CASError):
        status = 503
    if status is None and isinstance(exc, ews.ResponseMessageError):
        status = 400
    return SourceError(f"{what}: EWS answered {code}", status=status, code=code)

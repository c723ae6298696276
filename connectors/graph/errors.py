"""Graph's transport errors as the seam's error types: nothing of httpx or kiota crosses the seam.

The transport retries what it can (429/5xx with ``Retry-After``, resets, truncated bodies); what
is left after that reaches a source as an ``httpx.HTTPError`` (nothing answered, or a stream cut
off while it was read) or a kiota ``ODataError`` (an answer with a status). :func:`seam_errors`
turns both into :class:`~connectors.errors.SourceError` (a 410 or an unknown sync state into
:class:`~connectors.errors.CursorExpiredError`, a 429 into
:class:`~connectors.errors.ThrottledError`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from connectors.errors import SourceError

T = TypeVar("T")


def translate(exc: BaseException, what: str) -> SourceError | None:
    """The seam's error for a transport error, None for anything else (raised as it is)."""
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, ODataError):
        from connectors.graph.mail import status_error

        return status_error(exc.response_status_code, exc.error.code if exc.error else None, what)
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return SourceError(f"{what}: Graph answered {status}", status=status)
    if isinstance(exc, httpx.HTTPError):
        # Named as before the seam: ``ReadTimeout: <what httpx said>`` in an open error's reason.
        return SourceError(str(exc) or what, cause=type(exc).__name__)
    return None


@contextmanager
def seam_errors(what: str) -> Iterator[None]:
    """Raise the seam's error type for a transport error inside the block."""
    try:
        yield
    except (httpx.HTTPError, ODataError) as exc:
        error = translate(exc, what)
        assert error is not None
        raise error from exc


async def seam_stream(chunks: AsyncIterator[T], what: str) -> AsyncIterator[T]:
    """An async iterator whose transport errors (also mid-stream) are the seam's."""
    with seam_errors(what):
        async for chunk in chunks:
            yield chunk

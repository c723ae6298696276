"""How a capture failure is named: an open error's reason, and the errors that are not one item.

An item that keeps failing after the transport's retries, a folder whose delta page the source
keeps refusing, or a whole source (the export API, the Graph JSON items, the chats) that could not
be read becomes an *open error* of the run (``capture_errors``): the run goes on with everything
else, ends ``incomplete`` naming them, and the next run tries them again. Errors that are not one
item are keyed by a marker no Graph or Teams id can take (``folder-delta:<folder id>``,
``source:<part>``), so they are never mistaken for an item to fetch.
"""

from __future__ import annotations

from connectors.errors import SourceError

FOLDER_MARK = "folder-delta:"
SOURCE_MARK = "source:"

# What a source may raise for one request that failed after the connector's retries: only the
# seam's error types (a connector translates its transport's exceptions, see connectors/errors.py).
SOURCE_FAILURES: tuple[type[BaseException], ...] = (SourceError,)


def folder_error_id(folder_id: str) -> str:
    return FOLDER_MARK + folder_id


def source_error_id(part: str) -> str:
    return SOURCE_MARK + part


def is_item_error(item_id: str) -> bool:
    """True for an open error of one item; False for a folder's or a source's."""
    return not (item_id.startswith(FOLDER_MARK) or item_id.startswith(SOURCE_MARK))


def failure_status(exc: BaseException) -> int | None:
    """The HTTP status the source answered with, when it answered."""
    if isinstance(exc, SourceError):
        return exc.status
    return None


def failure_reason(exc: BaseException, limit: int = 500) -> str:
    """``HTTP 500: <first line>`` (or ``<ExceptionType>: <first line>`` when nothing answered:
    the transport error's name a connector kept as the ``SourceError``'s ``cause``)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    status = failure_status(exc)
    cause = exc.cause if isinstance(exc, SourceError) else None
    prefix = f"HTTP {status}" if status is not None else cause or type(exc).__name__
    return f"{prefix}: {first}"[:limit] if first else prefix

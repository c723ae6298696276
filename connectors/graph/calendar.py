"""The primary calendar's events as Graph JSON: ``GET /users/{id}/calendarView/delta`` over ranges,
``/calendar/calendarView`` to list ids, ``/events/{id}`` to read one again.

Which events, and why these ranges:

- Graph v1.0 offers ``delta`` for events only on a calendarView of the user's *primary* calendar
  (delta on other calendars, and on events without a range, is beta). Other calendars of the
  mailbox are listed (``/calendars``) and reported as not captured as JSON; their items are in the
  vault as full-fidelity export streams (``archive.py``).
- A calendarView may span at most 1,825 days: Graph answers ``ErrorInvalidRequest`` "Maximum number
  of days: 1825" (not in the reference pages; microsoftgraph/microsoft-graph-docs-contrib#6321). So
  the range is cut into consecutive views of four calendar years (at most 1,461 days), aligned on
  1 January of the years 2000 + 4n. Fixed boundaries keep every view's delta cursor valid from run
  to run; each view is a collection of its own with its own cursor.
- The first view holds the designation's window start (its pre-start allowance), or the far past
  :data:`FAR_PAST` when the whole mailbox is captured; the last view holds the designation's end,
  or :data:`FUTURE_YEARS` years from now. A calendarView expands recurring series into their
  occurrences, so an open-ended far future would grow without bound; events further ahead enter
  a view as time passes (a new view is a new collection).
- A view contains every event that *overlaps* it; an event belongs to the view in which it
  *starts*, so one spanning a boundary is captured once. An ``@removed`` in a view may only mean the
  event is outside it now (Graph says so); the engine treats it as a deletion only for an event it
  holds in that view.
- Graph returns times in UTC without ``Prefer: outlook.timezone``, which Capstone never sends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.calendar.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

from connectors.base import FolderInfo, ItemChange
from connectors.graph.client import GraphConnection
from connectors.graph.collection import ItemCollection
from connectors.graph.entities import parse_time, time_text, utc_iso
from connectors.graph.mail import _error, collect

FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
VIEW_YEARS = 4  # at most 1,461 days: under Graph's 1,825
FUTURE_YEARS = 5
_LIST_PAGE = 1000  # calendarView's largest $top


def view_ranges(
    since: datetime | None, until: datetime | None, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The calendarView ranges [start, end) that cover [since or FAR_PAST, until or now + FUTURE_YEARS)."""
    first = since or FAR_PAST
    last = until or now + timedelta(days=365 * FUTURE_YEARS)
    year = first.year - (first.year - FAR_PAST.year) % VIEW_YEARS
    ranges: list[tuple[datetime, datetime]] = []
    while datetime(year, 1, 1, tzinfo=UTC) < last:
        ranges.append((datetime(year, 1, 1, tzinfo=UTC), datetime(year + VIEW_YEARS, 1, 1, tzinfo=UTC)))
        year += VIEW_YEARS
    return ranges


class CalendarView(ItemCollection):
    """The primary calendar's events that start in [start, end)."""

    item_type = "event"
    bounded = True

    def __init__(
        self,
        connection: GraphConnection,
        user: str,
        calendar: dict[str, Any],
        start: datetime,
        end: datetime,
        *,
        page_size: int,
    ) -> None:
        name = str(calendar.get("name") or "Calendar")
        info = FolderInfo(
            folder_id=f"{calendar['id']}:{start:%Y%m%d}-{end:%Y%m%d}",
            parent_id=None,
            display_name=name,
            path=name,
            well_known_name="calendar",
            total_items=None,  # calendarView has no count: reconciliation lists it
            folder_class="IPF.Appointment",
            extra={
                "collection": "calendarView",
                "calendar_id": str(calendar["id"]),
                "calendar_name": name,
                "view_start": utc_iso(start),
                "view_end": utc_iso(end),
            },
        )
        super().__init__(connection, user, info, page_size=page_size)
        self.start, self.end = start, end

    def _starts_here(self, entity: dict[str, Any]) -> datetime | None:
        start = parse_time(entity.get("start"))
        return start if start is not None and self.start <= start < self.end else None

    def delta_builder(self) -> Any:
        return self._user.calendar_view.delta

    def delta_query(self) -> Any:
        return DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time=utc_iso(self.start), end_date_time=utc_iso(self.end)
        )

    def to_change(self, entity: dict[str, Any]) -> ItemChange | None:
        start = self._starts_here(entity)
        if start is None:
            return None  # another view's event (it overlaps this one)
        end = time_text(entity.get("end"))
        return ItemChange(
            item_id=entity["id"],
            change_key=entity.get("changeKey"),
            last_modified=entity.get("lastModifiedDateTime"),
            item_type=self.item_type,
            received=utc_iso(start),
            created=entity.get("createdDateTime"),
            extra={"start": utc_iso(start), **({"end": end} if end else {})},
            entity=entity,
        )

    def listing(self) -> tuple[Any, Any]:
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=utc_iso(self.start),
            end_date_time=utc_iso(self.end),
            select=["id", "start"],
            top=_LIST_PAGE,
        )
        return self._user.calendar.calendar_view, query

    def listed_here(self, entry: dict[str, Any]) -> bool:
        return self._starts_here(entry) is not None

    def entity_builder(self, item_id: str) -> Any:
        return self._user.events.by_event_id(item_id)


async def calendar_collections(
    connection: GraphConnection,
    user: str,
    *,
    page_size: int,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> tuple[list[CalendarView], list[dict[str, str]]]:
    """The primary calendar's views, and the other calendars (not offered as a v1.0 delta)."""
    builder = connection.sdk.users.by_user_id(user)
    try:
        default = await connection.get_json(builder.calendar)
        calendars = await collect(connection, builder.calendars)
    except ODataError as exc:
        raise _error(exc, f"listing the calendars of {user}") from exc
    views = [
        CalendarView(connection, user, default, start, end, page_size=page_size)
        for start, end in view_ranges(since, until, now)
    ]
    others = [
        {
            "collection": "calendar",
            "id": str(c["id"]),
            "name": str(c.get("name") or ""),
            "reason": "Graph v1.0 offers delta only on the primary calendar; its items are in the "
            "full-fidelity export",
        }
        for c in calendars
        if c.get("id") != default.get("id") and not c.get("isDefaultCalendar")
    ]
    return views, others

"""Outlook calendars through Graph v1.0: ``/users/{id}/calendars`` (+ ``/{id}``), ``/calendar`` (the
default one), events (``/events``, ``/calendar/events``, ``/calendars/{id}/events`` and by id), the
``calendarView`` listing and the ``calendarView/delta`` of the default calendar.

What Graph does and the simulator copies: a calendar is a folder of class ``IPF.Appointment``; v1.0
offers ``delta`` only on a calendarView (``startDateTime``/``endDateTime`` required in the first
request, carried in the tokens after that) of the user's primary calendar; ``$select`` is not
supported there; an event that overlaps the range is in the view; in a later round a changed event
outside the range comes back under ``@removed``. A range longer than 1,825 days is refused with
``ErrorInvalidRequest`` (Graph's own limit, not in its reference pages: see
microsoftgraph/microsoft-graph-docs-contrib#6321). Delta on other calendars is beta only: not served.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from connectors.simulator.content import preview
from connectors.simulator.graph.common import GraphRequest, GraphResponse, bad_request, entity, project
from connectors.simulator.graph.delta import token_scope
from connectors.simulator.graph.items import (
    date_time_zone,
    item_by_id,
    item_delta,
    item_list,
    owned_folder,
)
from connectors.simulator.graph.mail import _paged
from connectors.simulator.graph.router import Ctx, Route, route
from connectors.simulator.model import Folder, Item, Mailbox, iso, parse_iso

MAX_VIEW_DAYS = 1825
_NO_TIME = "0001-01-01T00:00:00Z"
_ZONE = "W. Europe Standard Time"
_FRACTION = re.compile(r"(\.\d{6})\d+")


def is_event(item: Item) -> bool:
    return item.item_class.startswith("IPM.Appointment")


def calendars(mailbox: Mailbox) -> list[Folder]:
    """The mailbox's calendars, the default one first."""
    found = [f for f in mailbox.msgfolderroot.walk() if (f.folder_class or "").startswith("IPF.Appointment")]
    return sorted(found, key=lambda f: f.distinguished != "calendar")


def default_calendar(mailbox: Mailbox) -> Folder:
    return mailbox.by_distinguished["calendar"]


def event_span(item: Item) -> tuple[float, float]:
    details = item.details()
    start = details.start if details.start is not None else item.received
    end = details.end if details.end is not None and details.end >= start else start
    return start, end


def overlaps(item: Item, start: float, end: float) -> bool:
    """In a calendarView of [start, end): events that end after it starts and start before it ends."""
    first, last = event_span(item)
    return first < end and (last > start or (first == last and first >= start))


def calendar_json(folder: Folder) -> dict[str, Any]:
    owner = folder.mailbox.owner
    default = folder.distinguished == "calendar"
    return {
        "id": folder.rest_id(),
        "name": folder.display_name,
        "color": "auto",
        "hexColor": "",
        "isDefaultCalendar": default,
        "changeKey": folder.change_key(),
        "canShare": True,
        "canViewPrivateItems": True,
        "canEdit": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"],
        "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": True,
        "isRemovable": not default,
        "owner": {"name": owner.display_name, "address": owner.upn},
    }


def _location(name: str) -> dict[str, Any]:
    if not name:
        return {
            "displayName": "",
            "locationType": "default",
            "uniqueIdType": "unknown",
            "address": {},
            "coordinates": {},
        }
    return {"displayName": name, "locationType": "default", "uniqueId": name, "uniqueIdType": "private"}


def event_json(item: Item, immutable: bool) -> dict[str, Any]:
    """A Graph ``event`` (single instance) from the item's details."""
    details = item.details()
    owner = item.mailbox.owner
    organizer = details.organizer or (owner.display_name, owner.upn)
    is_organizer = organizer[1].lower() == owner.upn.lower()
    start, end = event_span(item)
    item_id = item.rest_id(immutable)
    location = _location(details.location)
    return {
        "@odata.etag": f'W/"{item.change_key()}"',
        "id": item_id,
        "createdDateTime": iso(item.created),
        "lastModifiedDateTime": iso(item.modified),
        "changeKey": item.change_key(),
        "categories": list(item.categories),
        "transactionId": None,
        "originalStartTimeZone": _ZONE,
        "originalEndTimeZone": _ZONE,
        "iCalUId": details.uid or f"sim-{item_id}",
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": details.subject,
        "bodyPreview": preview(details.body),
        "importance": details.importance,
        "sensitivity": "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": is_organizer,
        "responseRequested": True,
        "seriesMasterId": None,
        "showAs": "busy",
        "type": "singleInstance",
        "webLink": f"https://outlook.office365.com/owa/?itemid={quote(item_id, safe='')}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": False,
        "onlineMeetingProvider": "unknown",
        "allowNewTimeProposals": True,
        "responseStatus": {"response": "organizer" if is_organizer else "notResponded", "time": _NO_TIME},
        "body": {"contentType": details.body[0], "content": details.body[1]},
        "start": date_time_zone(start),
        "end": date_time_zone(end),
        "location": location,
        "locations": [location] if details.location else [],
        "recurrence": None,
        "attendees": [
            {"type": role, "status": {"response": "none", "time": _NO_TIME}, "emailAddress": {"name": name, "address": address}}
            for name, address, role in details.attendees
        ],
        "organizer": {"emailAddress": {"name": organizer[0], "address": organizer[1]}},
        "onlineMeeting": None,
    }  # fmt: skip


# -- calendars -----------------------------------------------------------------------------------------


def _calendar(ctx: Ctx, mailbox: Mailbox) -> Folder:
    return owned_folder(ctx, mailbox, ctx.params["calendar"], calendars(mailbox))


def list_calendars(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    with ctx.tenant.lock:
        values = [calendar_json(f) for f in calendars(mailbox)]
    return _paged(ctx.req, values, f"users('{ctx.params['user']}')/calendars", default=10)


def get_calendar(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _calendar(ctx, mailbox) if "calendar" in ctx.params else default_calendar(mailbox)
    return entity(ctx.req, f"users('{ctx.params['user']}')/calendars/$entity", calendar_json(folder))


# -- events --------------------------------------------------------------------------------------------


def _events(ctx: Ctx, folder: Folder) -> GraphResponse:
    with ctx.tenant.lock:
        items = [i for i in folder.items.values() if is_event(i)]
    return item_list(
        ctx.req,
        items,
        f"users('{ctx.params['user']}')/events",
        event_json,
        order=lambda i: (i.created, i.key),
    )


def list_events(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _calendar(ctx, mailbox) if "calendar" in ctx.params else default_calendar(mailbox)
    return _events(ctx, folder)


def get_event(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    allowed = [_calendar(ctx, mailbox)] if "calendar" in ctx.params else calendars(mailbox)
    item = item_by_id(ctx, mailbox, ctx.params["event"], allowed, is_event)
    value = project(event_json(item, ctx.req.immutable_ids), ctx.req.select())
    return entity(ctx.req, f"users('{ctx.params['user']}')/events/$entity", value)


# -- calendarView --------------------------------------------------------------------------------------


def _moment(req: GraphRequest, name: str) -> float:
    value = next((v for k, v in req.query.items() if k.lower() == name.lower()), None)
    if not value:
        raise bad_request(
            "This request requires a time window specified by the query string parameters StartDateTime "
            "and EndDateTime.",
            "ErrorInvalidParameter",
        )
    try:
        return parse_iso(_FRACTION.sub(r"\1", value))  # no offset: UTC, as Graph reads it
    except ValueError:
        raise bad_request(
            f"The value '{value}' of parameter '{name}' is not a valid date.", "ErrorInvalidParameter"
        ) from None


def view_range(req: GraphRequest) -> tuple[int, int]:
    start, end = _moment(req, "startDateTime"), _moment(req, "endDateTime")
    if end < start:
        raise bad_request("The end date must be later than the start date.", "ErrorInvalidParameter")
    if end - start > MAX_VIEW_DAYS * 86400:
        raise bad_request(
            "Your request can't be completed. The range between the start and end dates is greater than "
            f"the allowed range. Maximum number of days: {MAX_VIEW_DAYS}",
            "ErrorInvalidRequest",
        )
    return int(start), int(end)


def calendar_view(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _calendar(ctx, mailbox) if "calendar" in ctx.params else default_calendar(mailbox)
    start, end = view_range(ctx.req)
    with ctx.tenant.lock:
        items = [i for i in folder.items.values() if is_event(i) and overlaps(i, start, end)]
    return item_list(
        ctx.req,
        items,
        f"users('{ctx.params['user']}')/calendarView",
        event_json,
        order=lambda i: (event_span(i)[0], i.key),
    )


def calendar_view_delta(ctx: Ctx) -> GraphResponse:
    """``/users/{id}/calendarView/delta``: the default calendar, in the range of the first request."""
    mailbox = ctx.mailbox()
    folder = default_calendar(mailbox)
    req = ctx.req
    scope = token_scope(req, "calendarView")
    if scope is not None:
        start, end = int(scope[-2]), int(scope[-1])
    else:
        if req.query.get("$select"):
            raise bad_request("$select is not supported on a calendarView delta.", "ErrorInvalidUrlQuery")
        start, end = view_range(req)
    return item_delta(
        ctx,
        folder,
        kind="calendarView",
        path=f"/users/{ctx.params['user']}/calendarView/delta",
        context="Collection(event)",
        odata_type="#microsoft.graph.event",
        entity=event_json,
        belongs=is_event,
        visible=lambda item: overlaps(item, start, end),
        scope=(start, end),
    )


def routes() -> list[Route]:
    u = "users/{user}"
    return [
        route("GET", f"{u}/calendars", list_calendars, "mailbox"),
        route("GET", f"{u}/calendars/{{calendar}}", get_calendar, "mailbox"),
        route("GET", f"{u}/calendar", get_calendar, "mailbox"),
        route("GET", f"{u}/calendarView/delta", calendar_view_delta, "mailbox"),
        route("GET", f"{u}/calendarView", calendar_view, "mailbox"),
        route("GET", f"{u}/calendar/calendarView", calendar_view, "mailbox"),
        route("GET", f"{u}/calendars/{{calendar}}/calendarView", calendar_view, "mailbox"),
        route("GET", f"{u}/events", list_events, "mailbox"),
        route("GET", f"{u}/calendar/events", list_events, "mailbox"),
        route("GET", f"{u}/calendars/{{calendar}}/events", list_events, "mailbox"),
        route("GET", f"{u}/events/{{event}}", get_event, "mailbox"),
        route("GET", f"{u}/calendar/events/{{event}}", get_event, "mailbox"),
        route("GET", f"{u}/calendars/{{calendar}}/events/{{event}}", get_event, "mailbox"),
    ]

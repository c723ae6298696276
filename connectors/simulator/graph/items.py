"""What Graph's calendar, contacts and To Do resources share: an item collection listed with
``$top``/``$skip`` and ``@odata.nextLink``, a folder's item delta (``@removed`` entries, tokens that
carry the query, 410 after ``invalidate-sync-state``), and one item by id.

Each resource module says which items it shows (``belongs``) and renders its entity (``entity``:
``(item, immutable ids?) -> dict``); ids follow ``Prefer: IdType="ImmutableId"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from connectors.simulator import ids
from connectors.simulator.graph.common import GraphError, GraphRequest, GraphResponse, collection, project
from connectors.simulator.graph.delta import gone_from, removed_entry, run_delta
from connectors.simulator.graph.mail import _select
from connectors.simulator.graph.router import Ctx
from connectors.simulator.model import OP_REMOVE, Change, Folder, Item, Mailbox, NotFoundError

EntityFn = Callable[[Item, bool], dict[str, Any]]
Belongs = Callable[[Item], bool]

MAX_TOP = 1000  # Outlook collections: $top at most 1,000


def date_time_zone(ts: float) -> dict[str, str]:
    """Graph's ``dateTimeTimeZone`` in UTC (no ``Prefer: outlook.timezone``): seven decimals."""
    return {
        "dateTime": datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        "timeZone": "UTC",
    }


def not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def item_list(
    req: GraphRequest,
    items: Iterable[Item],
    context: str,
    entity: EntityFn,
    *,
    order: Callable[[Item], Any],
) -> GraphResponse:
    """One page of a collection: ``$top`` (or ``Prefer: odata.maxpagesize``, default 10) from
    ``$skip``, with a nextLink that carries the rest of the query."""
    immutable = req.immutable_ids
    select = req.select()
    ordered = sorted(items, key=order)
    top = req.page_size(10, maximum=MAX_TOP)
    skip = req.int_query("$skip", 0)
    values = [project(entity(i, immutable), select) for i in ordered[skip : skip + top]]
    next_link = None
    if skip + top < len(ordered):
        query = {k: v for k, v in req.query.items() if k != "$skip"}
        query["$top"] = str(top)
        query["$skip"] = str(skip + top)
        next_link = req.link(req.path, query)
    return collection(req, context, values, next_link=next_link)


def item_delta(
    ctx: Ctx,
    folder: Folder,
    *,
    kind: str,
    path: str,
    context: str,
    odata_type: str,
    entity: EntityFn,
    belongs: Belongs,
    visible: Belongs | None = None,
    scope: Iterable[Any] = (),
) -> GraphResponse:
    """The delta of one folder's items. ``visible`` bounds a view (calendarView: the events that
    overlap its range): an initial round shows only visible items, a later round reports a changed
    item outside the view under ``@removed``, as Graph does."""
    tenant = ctx.tenant
    mailbox = folder.mailbox

    def shown(item: Item) -> bool:
        return belongs(item) and (visible is None or visible(item))

    def changes(start: int, end: int, immutable: bool, initial: bool) -> list[Change]:
        entries = tenant.folder_changes(folder, start, end, immutable=immutable, initial=initial)
        if initial:
            return [c for c in entries if shown(tenant.items[c.key])]
        return [c for c in entries if c.op == OP_REMOVE or belongs(tenant.items[c.key])]

    def render(page: list[Change], immutable: bool, params: dict[str, Any]) -> list[dict[str, Any]]:
        select = _select(params)
        out: list[dict[str, Any]] = []
        with tenant.lock:
            for change in page:
                item = tenant.items[change.key]
                if gone_from(folder, item, change, immutable) or not shown(item):
                    out.append(removed_entry(odata_type, mailbox, folder, change, immutable))
                else:
                    out.append({"@odata.type": odata_type, **project(entity(item, immutable), select)})
        return out

    return run_delta(
        ctx.sim,
        ctx.req,
        kind=kind,
        scope=[mailbox.guid.hex(), folder.key, *scope],
        epoch=folder.epoch,
        changes=changes,
        render=render,
        path=path,
        context=context,
        change_types=False,
    )


def item_by_id(ctx: Ctx, mailbox: Mailbox, ref: str, folders: Iterable[Folder], belongs: Belongs) -> Item:
    """The item ``ref`` (regular or immutable id) if it is in one of ``folders``; else 404/400."""
    try:
        item = ctx.tenant.item_ref(ref, mailbox)
    except NotFoundError:
        if ids.parse(ref) is None:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from None
        raise not_found() from None
    if not belongs(item) or not any(item.folder is f for f in folders):
        raise not_found()
    return item


def owned_folder(ctx: Ctx, mailbox: Mailbox, ref: str, allowed: list[Folder]) -> Folder:
    """A folder by id among ``allowed`` (400 for a malformed id, 404 for any other)."""
    try:
        folder = ctx.tenant.folder_ref(mailbox, ref)
    except NotFoundError:
        if ids.parse(ref) is None:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from None
        raise not_found() from None
    if not any(folder is f for f in allowed):
        raise not_found()
    return folder

"""The mailbox import/export API (``/admin/exchange/mailboxes/{id}``): the way Graph reaches the
online (in-place) archive mailbox, whose id comes from ``/users/{id}/settings/exchange``.

``folders`` lists the children of the mailbox's Top of Information Store (every folder class, not
only mail), ``childFolders`` goes deeper, ``folders/delta`` and ``items/delta`` track changes,
``exportItems`` returns up to 20 items as opaque full-fidelity streams (base64 ``data``). The
stream's format is the simulator's own (Exchange's is "not intended for parsing"); it is stable for
an unchanged item and embeds the item's MIME, so tests can check it, but clients must store it as
an opaque blob.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

from connectors.simulator import ids
from connectors.simulator.graph.common import (
    GraphError,
    GraphResponse,
    bad_request,
    collection,
    entity,
    project,
)
from connectors.simulator.graph.delta import gone_from, removed_entry, run_delta
from connectors.simulator.graph.mail import _paged
from connectors.simulator.graph.router import Ctx, Route, route
from connectors.simulator.model import OP_REMOVE, Change, Folder, Item, Mailbox, NotFoundError, iso

EXPORT_LIMIT = 20
EXPORT_MAGIC = b"SIMFTS01"


def export_stream(item: Item) -> bytes:
    """The item's "full-fidelity" stream: magic, a JSON property block, the deflated MIME."""
    props = json.dumps(
        {
            "itemClass": item.item_class,
            "changeKey": item.change_key(),
            "createdDateTime": iso(item.created),
            "lastModifiedDateTime": iso(item.modified),
            "receivedDateTime": iso(item.received),
            "isRead": item.is_read,
            "categories": list(item.categories),
            **({"edited": item.overrides} if item.overrides else {}),
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    mime = zlib.compress(item.mime_bytes(), 6)
    return EXPORT_MAGIC + struct.pack(">I", len(props)) + props + mime


def read_export_stream(data: bytes) -> tuple[dict[str, Any], bytes]:
    """Unpack :func:`export_stream` (for tests; real streams are opaque)."""
    if not data.startswith(EXPORT_MAGIC):
        raise ValueError("not a simulator export stream")
    (length,) = struct.unpack(">I", data[8:12])
    props = json.loads(data[12 : 12 + length])
    return props, zlib.decompress(data[12 + length :])


def _mailbox(ctx: Ctx) -> Mailbox:
    try:
        return ctx.tenant.mailbox_by_graph_id(ctx.params["mailbox"])
    except NotFoundError:
        raise GraphError(
            404, "ErrorMailboxNotFound", f"The mailbox '{ctx.params['mailbox']}' was not found."
        ) from None


def _folder(ctx: Ctx, mailbox: Mailbox) -> Folder:
    ref = ctx.params["folder"]
    lowered = ref.lower()
    if lowered in mailbox.by_well_known:
        return mailbox.by_well_known[lowered]
    try:
        return ctx.tenant.folder_ref(mailbox, ref)
    except NotFoundError:
        if ids.parse(ref) is None:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from None
        raise GraphError(
            404, "ErrorItemNotFound", "The specified folder was not found in the store."
        ) from None


def _mailbox_url(ctx: Ctx, mailbox: Mailbox) -> str:
    return f"{ctx.req.base_url}/admin/exchange/mailboxes/{mailbox.graph_id}"


def folder_json(ctx: Ctx, folder: Folder) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.mailboxFolder",
        "id": folder.rest_id(),
        "displayName": folder.display_name,
        "parentFolderId": folder.parent.rest_id() if folder.parent else None,
        "parentMailboxUrl": _mailbox_url(ctx, folder.mailbox),
        "childFolderCount": len(folder.children),
        "totalItemCount": len(folder.items),
        "wellKnownName": folder.well_known,
        "type": folder.folder_class,
    }


def item_json(item: Item, immutable: bool) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.mailboxItem",
        "@odata.etag": f'W/"{item.change_key()}"',
        "id": item.rest_id(immutable),
        "createdDateTime": iso(item.created),
        "lastModifiedDateTime": iso(item.modified),
        "changeKey": item.change_key(),
        "categories": list(item.categories),
        "type": item.item_class,
        "size": item.size,
    }


def get_mailbox(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    return entity(ctx.req, "admin/exchange/mailboxes/$entity", {"id": mailbox.graph_id})


def list_folders(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    with ctx.tenant.lock:
        values = [project(folder_json(ctx, f), ctx.req.select()) for f in mailbox.msgfolderroot.children]
    return _paged(ctx.req, values, f"admin/exchange/mailboxes('{mailbox.graph_id}')/folders", default=10)


def get_folder(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    folder = _folder(ctx, mailbox)
    with ctx.tenant.lock:
        value = project(folder_json(ctx, folder), ctx.req.select())
    return entity(ctx.req, "admin/exchange/mailboxes/folders/$entity", value)


def list_child_folders(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    parent = _folder(ctx, mailbox)
    with ctx.tenant.lock:
        values = [project(folder_json(ctx, f), ctx.req.select()) for f in parent.children]
    return _paged(
        ctx.req,
        values,
        f"admin/exchange/mailboxes('{mailbox.graph_id}')/folders('{parent.rest_id()}')/childFolders",
        default=10,
    )


def _folders_delta(ctx: Ctx, mailbox: Mailbox, top: Folder, path: str) -> GraphResponse:
    tenant = ctx.tenant

    def under(folder: Folder) -> bool:
        node = folder.parent
        while node is not None:
            if node is top:
                return True
            node = node.parent
        return False

    def changes(start: int, end: int, immutable: bool, initial: bool) -> list[Change]:
        return [
            c
            for c in tenant.folder_tree_changes(mailbox, start, end, initial=initial)
            if c.key not in mailbox.folders or under(mailbox.folders[c.key])
        ]

    def render(page: list[Change], immutable: bool, params: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        with tenant.lock:
            for change in page:
                folder = mailbox.folders.get(change.key)
                if change.op == OP_REMOVE or folder is None:
                    out.append(
                        {
                            "@odata.type": "#microsoft.graph.mailboxFolder",
                            "id": ids.folder_id(mailbox.guid, change.key),
                            "@removed": {"reason": "deleted"},
                        }
                    )
                else:
                    out.append(folder_json(ctx, folder))
        return out

    return run_delta(
        ctx.sim,
        ctx.req,
        kind="mailboxFolders",
        scope=[mailbox.guid.hex(), top.key],
        epoch=mailbox.folder_epoch,
        changes=changes,
        render=render,
        path=path,
        context="Collection(mailboxFolder)",
        change_types=False,
    )


def folders_delta(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    return _folders_delta(
        ctx, mailbox, mailbox.msgfolderroot, f"/admin/exchange/mailboxes/{mailbox.graph_id}/folders/delta"
    )


def child_folders_delta(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    parent = _folder(ctx, mailbox)
    return _folders_delta(
        ctx,
        mailbox,
        parent,
        f"/admin/exchange/mailboxes/{mailbox.graph_id}/folders/{parent.rest_id()}/childFolders/delta",
    )


def list_items(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    folder = _folder(ctx, mailbox)
    immutable = ctx.req.immutable_ids
    with ctx.tenant.lock:
        items = sorted(folder.items.values(), key=lambda i: (-i.received, i.key))
    values = [project(item_json(i, immutable), ctx.req.select()) for i in items]
    return _paged(
        ctx.req,
        values,
        f"admin/exchange/mailboxes/{mailbox.graph_id}/folders('{folder.rest_id()}')/items",
        default=10,
    )


def get_item(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    folder = _folder(ctx, mailbox)
    try:
        item = ctx.tenant.item_ref(ctx.params["item"], mailbox)
    except NotFoundError:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        ) from None
    if item.folder is not folder:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return entity(
        ctx.req,
        "admin/exchange/mailboxes/folders/items/$entity",
        project(item_json(item, ctx.req.immutable_ids), ctx.req.select()),
    )


def items_delta(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    folder = _folder(ctx, mailbox)
    tenant = ctx.tenant

    def changes(start: int, end: int, immutable: bool, initial: bool) -> list[Change]:
        return tenant.folder_changes(folder, start, end, immutable=immutable, initial=initial)

    def render(page: list[Change], immutable: bool, params: dict[str, Any]) -> list[dict[str, Any]]:
        select = (
            {s.strip().lower() for s in str(params.get("select")).split(",")}
            if params.get("select")
            else None
        )
        out: list[dict[str, Any]] = []
        with tenant.lock:
            for change in page:
                item = tenant.items[change.key]
                if gone_from(folder, item, change, immutable):
                    out.append(
                        removed_entry("#microsoft.graph.mailboxItem", mailbox, folder, change, immutable)
                    )
                else:
                    out.append(project(item_json(item, immutable), select))
        return out

    return run_delta(
        ctx.sim,
        ctx.req,
        kind="mailboxItems",
        scope=[mailbox.guid.hex(), folder.key],
        epoch=folder.epoch,
        changes=changes,
        render=render,
        path=f"/admin/exchange/mailboxes/{mailbox.graph_id}/folders/{folder.rest_id()}/items/delta",
        context="Collection(mailboxItem)",
    )


def export_items(ctx: Ctx) -> GraphResponse:
    mailbox = _mailbox(ctx)
    body = ctx.req.json()
    # The docs name the parameter itemIds; msgraph-sdk (from the service metadata) sends ItemIds.
    item_ids = (
        next((v for k, v in body.items() if k.lower() == "itemids"), None) if isinstance(body, dict) else None
    )
    if not isinstance(item_ids, list) or not item_ids:
        raise bad_request("The request body must contain itemIds.", "ErrorInvalidRequest")
    if len(item_ids) > EXPORT_LIMIT:
        raise bad_request(f"The maximum size of itemIds is {EXPORT_LIMIT}.", "ErrorInvalidRequest")
    values: list[dict[str, Any]] = []
    for ref in item_ids:
        if ctx.sim.faults.spec.fail and ctx.sim.faults.permanent(str(ref)) is not None:
            values.append(
                {
                    "itemId": ref,
                    "error": {"code": "ErrorInternalServerError", "message": "Simulated permanent fault."},
                }
            )
            continue
        try:
            item = ctx.tenant.item_ref(str(ref), mailbox)
        except NotFoundError:
            values.append(
                {
                    "itemId": ref,
                    "error": {
                        "code": "ErrorItemNotFound",
                        "message": "The specified object was not found in the store.",
                    },
                }
            )
            continue
        values.append(
            {
                "itemId": ref,
                "changeKey": item.change_key(),
                "data": base64.b64encode(export_stream(item)).decode("ascii"),
            }
        )
    return collection(ctx.req, "Collection(microsoft.graph.exportItemResponse)", values)


def routes() -> list[Route]:
    m = "admin/exchange/mailboxes/{mailbox}"
    return [
        route("GET", m, get_mailbox, "mailbox"),
        route("GET", f"{m}/folders/delta", folders_delta, "mailbox"),
        route("GET", f"{m}/folders", list_folders, "mailbox"),
        route("GET", f"{m}/folders/{{folder}}", get_folder, "mailbox"),
        route("GET", f"{m}/folders/{{folder}}/childFolders/delta", child_folders_delta, "mailbox"),
        route("GET", f"{m}/folders/{{folder}}/childFolders", list_child_folders, "mailbox"),
        route("GET", f"{m}/folders/{{folder}}/items/delta", items_delta, "mailbox"),
        route("GET", f"{m}/folders/{{folder}}/items", list_items, "mailbox"),
        route("GET", f"{m}/folders/{{folder}}/items/{{item}}", get_item, "mailbox"),
        route("POST", f"{m}/exportItems", export_items, "mailbox"),
    ]

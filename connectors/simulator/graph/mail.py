"""Outlook mail through Graph: ``/users/{id}/mailFolders`` (+ ``childFolders``, ``delta``),
messages per folder and ``messages/delta``, ``/messages/{id}`` and its MIME (``$value``),
``translateExchangeIds``.

What Graph does and the simulator copies: ``mailFolders`` lists only the children of Top of
Information Store, hidden ones only with ``includeHiddenFolders=true``, and only mail folders
(Calendar and Contacts are not mail folders); the Recoverable Items folders live outside that tree
and are reached by well-known name (``recoverableitemsdeletions``) or by id. Ids follow
``Prefer: IdType="ImmutableId"``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import Any

from connectors.simulator import ids
from connectors.simulator.content import preview
from connectors.simulator.graph.common import (
    GraphError,
    GraphRequest,
    GraphResponse,
    bad_request,
    collection,
    entity,
    project,
)
from connectors.simulator.graph.delta import gone_from, removed_entry, run_delta
from connectors.simulator.graph.router import Ctx, Route, route
from connectors.simulator.model import (
    GRAPH_WELL_KNOWN,
    OP_REMOVE,
    Change,
    Folder,
    Item,
    Mailbox,
    NotFoundError,
    iso,
    parse_iso,
)

MESSAGE_CLASSES = ("IPM.Note", "IPM.Schedule.Meeting", "IPM.Post", "REPORT")
DELTA_FILTER_CAP = 5000  # "Applying $filter in a delta query returns only up to 5,000 messages."
# A message's MIME up to this size is rendered once and sent from memory; a larger one is rendered
# once for its Content-Length and again while it streams (memory flat for any size).
_MIME_WHOLE = 1 << 20
_RECEIVED_FILTER = re.compile(r"^\s*receivedDateTime\s+(ge|gt)\s+(\S+)\s*$", re.IGNORECASE)


def is_mail_folder(folder: Folder) -> bool:
    return folder.parent is not None and (folder.folder_class or "").startswith("IPF.Note")


def is_message(item: Item) -> bool:
    return item.item_class.startswith(MESSAGE_CLASSES)


def folder_json(folder: Folder, *, include_hidden: bool = True) -> dict[str, Any]:
    children = [c for c in folder.children if is_mail_folder(c) and (include_hidden or not c.hidden)]
    return {
        "id": folder.rest_id(),
        "displayName": folder.display_name,
        "parentFolderId": folder.parent.rest_id() if folder.parent else None,
        "childFolderCount": len(children),
        "unreadItemCount": folder.unread_count(),
        "totalItemCount": len(folder.items),
        "isHidden": folder.hidden,
    }


def _recipient(pair: tuple[str, str] | list[str]) -> dict[str, Any]:
    name, address = pair[0], pair[1]
    return {"emailAddress": {"name": name or address, "address": address}}


def conversation_id(item: Item, topic: str) -> str:
    digest = hashlib.sha256(item.mailbox.guid + topic.encode("utf-8")).digest()
    return "AAQkA" + base64.urlsafe_b64encode(b"\x00" + digest[:30]).decode().rstrip("=")


def message_json(
    item: Item, req: GraphRequest, select: set[str] | None, immutable: bool, *, typed: bool = False
) -> dict[str, Any]:
    """A Graph ``message`` (or ``eventMessageRequest``), computing only what ``$select`` asks."""

    def want(*names: str) -> bool:
        return select is None or any(n.lower() in select for n in names)

    value: dict[str, Any] = {"@odata.etag": f'W/"{item.change_key()}"'}
    invite = item.item_class.startswith("IPM.Schedule.Meeting")
    if invite:
        value["@odata.type"] = "#microsoft.graph.eventMessageRequest"
    elif typed:
        value["@odata.type"] = "#microsoft.graph.message"
    value["id"] = item.rest_id(immutable)
    value["createdDateTime"] = iso(item.created)
    value["lastModifiedDateTime"] = iso(item.modified)
    value["changeKey"] = item.change_key()
    value["categories"] = list(item.categories)
    value["receivedDateTime"] = iso(item.received)
    meta: dict[str, Any] = {}
    if want(
        "sentDateTime", "hasAttachments", "internetMessageId", "subject", "importance", "conversationId",
        "conversationIndex", "sender", "from", "toRecipients", "ccRecipients", "bccRecipients", "replyTo",
        "internetMessageHeaders", "webLink",
    ):  # fmt: skip
        meta = item.meta()
    body: tuple[str, str] | None = item.body() if want("body", "bodyPreview", "uniqueBody") else None
    if meta:
        value["sentDateTime"] = iso(meta["date"]) if meta.get("date") else iso(item.received)
        value["hasAttachments"] = bool(meta.get("has_attachments"))
        value["internetMessageId"] = meta.get("message_id")
        value["subject"] = meta.get("subject", "")
    if body is not None:
        value["bodyPreview"] = preview(body)
    if meta:
        value["importance"] = meta.get("importance", "normal")
    value["parentFolderId"] = item.folder.rest_id()
    if meta:
        topic = meta.get("thread_topic") or meta.get("subject") or ""
        value["conversationId"] = conversation_id(item, topic)
        value["conversationIndex"] = base64.b64encode(
            hashlib.sha256((meta.get("message_id") or "").encode()).digest()[:22]
        ).decode()
    value["isDeliveryReceiptRequested"] = False
    value["isReadReceiptRequested"] = False
    value["isRead"] = item.is_read
    value["isDraft"] = item.folder.well_known == "drafts"
    value["webLink"] = (
        "https://outlook.office365.com/owa/?ItemID="
        + item.rest_id(immutable).replace("=", "%3D")
        + "&exvsurl=1&viewmodel=ReadMessageItem"
    )
    value["inferenceClassification"] = "focused"
    if body is not None:
        value["body"] = {"contentType": body[0], "content": body[1]}
    if meta:
        value["sender"] = _recipient(meta["sender"])
        value["from"] = _recipient(meta["from"])
        value["toRecipients"] = [_recipient(r) for r in meta.get("to", [])]
        value["ccRecipients"] = [_recipient(r) for r in meta.get("cc", [])]
        value["bccRecipients"] = [_recipient(r) for r in meta.get("bcc", [])]
        value["replyTo"] = [_recipient(r) for r in meta.get("reply_to", [])]
    value["flag"] = {"flagStatus": "notFlagged"}
    if invite:
        value.update(
            {
                "meetingMessageType": "meetingRequest",
                "isDelegated": False,
                "allowNewTimeProposals": True,
                "meetingRequestType": "newMeetingRequest",
                "responseRequested": True,
                "isOutOfDate": False,
                "isAllDay": False,
                "type": "singleInstance",
            }
        )
    return project(value, select)


# -- folders ---------------------------------------------------------------------------------------


def _child_list(ctx: Ctx, parent: Folder, context: str) -> GraphResponse:
    req = ctx.req
    include_hidden = req.flag("includeHiddenFolders")
    with ctx.tenant.lock:
        children = [f for f in parent.children if is_mail_folder(f) and (include_hidden or not f.hidden)]
        values = [project(folder_json(f), req.select()) for f in children]
    return _paged(req, values, context, default=10)


def _paged(req: GraphRequest, values: list[dict[str, Any]], context: str, *, default: int) -> GraphResponse:
    """``$top``/``$skip`` paging with a ``@odata.nextLink`` carrying the original query."""
    top = req.int_query("$top", default) or default
    skip = req.int_query("$skip", 0)
    page = values[skip : skip + top]
    next_link = None
    if skip + top < len(values):
        query = {k: v for k, v in req.query.items() if k not in ("$skip",)}
        query["$top"] = str(top)
        query["$skip"] = str(skip + top)
        next_link = req.link(req.path, query)
    count = len(values) if req.flag("$count") else None
    return collection(req, context, page, next_link=next_link, count=count)


def list_mail_folders(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    return _child_list(ctx, mailbox.msgfolderroot, f"users('{ctx.params['user']}')/mailFolders")


def get_mail_folder(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox)
    with ctx.tenant.lock:
        value = project(folder_json(folder), ctx.req.select())
    return entity(ctx.req, f"users('{ctx.params['user']}')/mailFolders/$entity", value)


def list_child_folders(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    parent = _folder(ctx, mailbox)
    return _child_list(
        ctx, parent, f"users('{ctx.params['user']}')/mailFolders('{parent.rest_id()}')/childFolders"
    )


def _folder(ctx: Ctx, mailbox: Mailbox, key: str = "folder") -> Folder:
    return folder_or_error(ctx, mailbox, ctx.params[key])


def folder_or_error(ctx: Ctx, mailbox: Mailbox, ref: str) -> Folder:
    try:
        return ctx.tenant.folder_ref(mailbox, ref)
    except NotFoundError:
        if ref.lower() in GRAPH_WELL_KNOWN:
            raise GraphError(
                404, "ErrorFolderNotFound", "The specified folder could not be found in the store."
            ) from None
        if ids.parse(ref) is None:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from None
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        ) from None


def mail_folders_delta(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    tenant = ctx.tenant
    top = mailbox.msgfolderroot

    def in_tree(folder: Folder) -> bool:
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
            if c.key in mailbox.folders
            and is_mail_folder(mailbox.folders[c.key])
            and in_tree(mailbox.folders[c.key])
        ]

    def render(page: list[Change], immutable: bool, params: dict[str, Any]) -> list[dict[str, Any]]:
        select = _select(params)
        out = []
        with tenant.lock:
            for change in page:
                folder = mailbox.folders.get(change.key)
                if change.op == OP_REMOVE or folder is None:
                    out.append(
                        {
                            "@odata.type": "#microsoft.graph.mailFolder",
                            "id": ids.folder_id(mailbox.guid, change.key),
                            "@removed": {"reason": "deleted"},
                        }
                    )
                else:
                    out.append(
                        {"@odata.type": "#microsoft.graph.mailFolder", **project(folder_json(folder), select)}
                    )
        return out

    return run_delta(
        ctx.sim,
        ctx.req,
        kind="mailFolders",
        scope=[mailbox.guid.hex()],
        epoch=mailbox.folder_epoch,
        changes=changes,
        render=render,
        path=f"/users/{ctx.params['user']}/mailFolders/delta",
        context="Collection(mailFolder)",
        change_types=False,
    )


def _select(params: dict[str, Any]) -> set[str] | None:
    raw = params.get("select")
    return {s.strip().lower() for s in str(raw).split(",") if s.strip()} if raw else None


# -- messages ----------------------------------------------------------------------------------------


def _message_list(ctx: Ctx, items: list[Item], context: str) -> GraphResponse:
    req = ctx.req
    immutable = req.immutable_ids
    select = req.select()
    items = sorted(items, key=lambda i: (-i.received, i.key))
    top = req.page_size(10)
    skip = req.int_query("$skip", 0)
    page = items[skip : skip + top]
    values = [message_json(i, req, select, immutable) for i in page]
    next_link = None
    if skip + top < len(items):
        query = {k: v for k, v in req.query.items() if k != "$skip"}
        query["$top"] = str(top)
        query["$skip"] = str(skip + top)
        next_link = req.link(req.path, query)
    return collection(req, context, values, next_link=next_link)


def list_folder_messages(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox)
    with ctx.tenant.lock:
        items = [i for i in folder.items.values() if is_message(i)]
    return _message_list(
        ctx, items, f"users('{ctx.params['user']}')/mailFolders('{folder.rest_id()}')/messages"
    )


def list_messages(ctx: Ctx) -> GraphResponse:
    """``/users/{id}/messages``: the messages of every mail folder in the mailbox's IPM tree."""
    mailbox = ctx.mailbox()
    with ctx.tenant.lock:
        items = [
            i
            for f in mailbox.msgfolderroot.walk()
            if is_mail_folder(f)
            for i in f.items.values()
            if is_message(i)
        ]
    return _message_list(ctx, items, f"users('{ctx.params['user']}')/messages")


def _message(ctx: Ctx, mailbox: Mailbox, folder: Folder | None = None) -> Item:
    ref = ctx.params["message"]
    try:
        item = ctx.tenant.item_ref(ref, mailbox)
    except NotFoundError:
        if ids.parse(ref) is None:
            raise GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.") from None
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        ) from None
    if not is_message(item) or (folder is not None and item.folder is not folder):
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return item


def get_message(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox) if "folder" in ctx.params else None
    item = _message(ctx, mailbox, folder)
    value = message_json(item, ctx.req, ctx.req.select(), ctx.req.immutable_ids)
    return entity(ctx.req, f"users('{ctx.params['user']}')/messages/$entity", value)


def get_message_mime(ctx: Ctx) -> GraphResponse:
    """The MIME of a message, streamed, byte-exact; ``Content-Length`` is known up front."""
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox) if "folder" in ctx.params else None
    item = _message(ctx, mailbox, folder)
    whole = item.mime_whole(_MIME_WHOLE)  # a typical message is rendered once, not twice
    if whole is not None:
        chunks: Iterator[bytes] = iter((whole,))
        size = len(whole)
    else:  # rendered once for its length, then streamed: memory stays flat for any size
        size, _ = item.mime_info()
        chunks = item.mime_chunks()
    return GraphResponse(
        stream=chunks,
        length=size,
        content_type="text/plain",
        headers=ctx.req.preference_applied(),
    )


def message_delta(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox)
    tenant = ctx.tenant
    req = ctx.req
    if req.query.get("$filter"):
        _received_filter(req.query["$filter"])  # only receivedDateTime ge|gt, as Graph

    def keep(change: Change, params: dict[str, Any]) -> bool:
        if change.op == OP_REMOVE or not params.get("filter"):
            return True
        op, value = _received_filter(str(params["filter"]))
        received = tenant.items[change.key].received
        return received >= value if op == "ge" else received > value

    def changes(start: int, end: int, immutable: bool, initial: bool) -> list[Change]:
        return [
            c
            for c in tenant.folder_changes(folder, start, end, immutable=immutable, initial=initial)
            if c.op == OP_REMOVE or is_message(tenant.items[c.key])
        ]

    def render(page: list[Change], immutable: bool, params: dict[str, Any]) -> list[dict[str, Any]]:
        select = _select(params)
        out: list[dict[str, Any]] = []
        with tenant.lock:
            for change in page:
                item = tenant.items[change.key]
                if gone_from(folder, item, change, immutable):
                    out.append(removed_entry("#microsoft.graph.message", mailbox, folder, change, immutable))
                else:
                    out.append(message_json(item, req, select, immutable, typed=True))
        return out

    return run_delta(
        ctx.sim,
        req,
        kind="messages",
        scope=[mailbox.guid.hex(), folder.key],
        epoch=folder.epoch,
        changes=changes,
        render=render,
        path=f"/users/{ctx.params['user']}/mailFolders('{folder.rest_id()}')/messages/delta",
        context="Collection(message)",
        keep=keep,
        cap=DELTA_FILTER_CAP,
    )


def _received_filter(text: str) -> tuple[str, float]:
    match = _RECEIVED_FILTER.match(text)
    if not match:
        raise bad_request(
            "Only receivedDateTime ge/gt filters are supported on delta.", "ErrorInvalidRequest"
        )
    try:
        return match.group(1).lower(), parse_iso(match.group(2).strip("'"))
    except ValueError:
        raise bad_request(f"Invalid date in filter {text!r}.", "ErrorInvalidRequest") from None


# -- ids ---------------------------------------------------------------------------------------------


def translate_exchange_ids(ctx: Ctx) -> GraphResponse:
    """``POST /users/{id}/translateExchangeIds``: restId, ewsId, restImmutableEntryId (up to 1,000)."""
    mailbox = ctx.mailbox()
    body = ctx.req.json()
    inputs = body.get("inputIds") or []
    source, target = body.get("sourceIdType"), body.get("targetIdType")
    kinds = ("restId", "ewsId", "restImmutableEntryId")
    if source not in kinds or target not in kinds:
        raise bad_request(f"sourceIdType and targetIdType must be one of {', '.join(kinds)} here.")
    if len(inputs) > 1000:
        raise bad_request("At most 1000 ids can be translated in one request.")
    values = []
    for ref in inputs:
        try:
            item = ctx.tenant.item_ref(ref, mailbox)
        except NotFoundError:
            values.append(
                {
                    "sourceId": ref,
                    "errorDetails": {
                        "code": "ErrorItemNotFound",
                        "message": "The specified object was not found in the store.",
                    },
                }
            )
            continue
        converted = {
            "restId": item.rest_id(),
            "ewsId": item.ews_id(),
            "restImmutableEntryId": item.immutable_id(),
        }[target]
        values.append({"sourceId": ref, "targetId": converted})
    return collection(ctx.req, "Collection(microsoft.graph.convertIdResult)", values)


def routes() -> list[Route]:
    u = "users/{user}"
    return [
        route("GET", f"{u}/mailFolders/delta", mail_folders_delta, "mailbox"),
        route("GET", f"{u}/mailFolders", list_mail_folders, "mailbox"),
        route("GET", f"{u}/mailFolders/{{folder}}", get_mail_folder, "mailbox"),
        route("GET", f"{u}/mailFolders/{{folder}}/childFolders", list_child_folders, "mailbox"),
        route("GET", f"{u}/mailFolders/{{folder}}/messages/delta", message_delta, "mailbox"),
        route("GET", f"{u}/mailFolders/{{folder}}/messages", list_folder_messages, "mailbox"),
        route("GET", f"{u}/mailFolders/{{folder}}/messages/{{message}}", get_message, "mailbox"),
        route("GET", f"{u}/mailFolders/{{folder}}/messages/{{message}}/$value", get_message_mime, "mailbox"),
        route("GET", f"{u}/messages", list_messages, "mailbox"),
        route("GET", f"{u}/messages/{{message}}", get_message, "mailbox"),
        route("GET", f"{u}/messages/{{message}}/$value", get_message_mime, "mailbox"),
        route("POST", f"{u}/translateExchangeIds", translate_exchange_ids, "mailbox"),
    ]

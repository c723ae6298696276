"""The EWS operations the simulator answers: GetFolder, FindFolder, SyncFolderHierarchy,
SyncFolderItems, GetItem (with ``MimeContent``), FindItem and ExportItems.

Distinguished folder ids include the Recoverable Items folders (``recoverableitemsroot``,
``recoverableitemsdeletions``, ``...purges``, ``...versions``) and the archive mailbox
(``archiveroot``, ``archivemsgfolderroot``, ``archiveinbox``, ``archivedeleteditems``,
``archiverecoverableitems*``). EWS item ids are the regular ids (standard base64 alphabet), so an
item's id changes when it moves, as on Exchange. Sync states are positions in the same change logs
Graph's delta uses.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.simulator import ids
from connectors.simulator.ews.xml import MNS, TNS, m, sub, t
from connectors.simulator.graph.archive import export_stream
from connectors.simulator.graph.mail import conversation_id
from connectors.simulator.model import (
    OP_ADD,
    OP_REMOVE,
    Change,
    Folder,
    Item,
    Mailbox,
    NotFoundError,
    User,
    collapse,
    iso,
)
from connectors.simulator.state import Simulator

ARCHIVE_DISTINGUISHED = {
    "archiveroot",
    "archivemsgfolderroot",
    "archiveinbox",
    "archivedeleteditems",
    "archiverecoverableitemsroot",
    "archiverecoverableitemsdeletions",
    "archiverecoverableitemspurges",
    "archiverecoverableitemsversions",
}
_FOLDER_TAGS = {
    "IPF.Appointment": "CalendarFolder",
    "IPF.Contact": "ContactsFolder",
    "IPF.Task": "TasksFolder",
}
_ITEM_TAGS = (
    ("IPM.Schedule.Meeting.Request", "MeetingRequest"),
    ("IPM.Schedule.Meeting", "MeetingMessage"),
    ("IPM.Appointment", "CalendarItem"),
    ("IPM.Contact", "Contact"),
    ("IPM.Task", "Task"),
)
MAX_SYNC_CHANGES = 512


class ItemError(Exception):
    """A per-item (or per-folder) failure: answered inside a ResponseMessage, not as a fault."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class EwsContext:
    sim: Simulator
    user: User | None  # impersonated user
    principal: str
    anchor: str | None = None

    def target_user(self, explicit: str | None = None) -> User:
        ref = explicit or (self.user.upn if self.user else None) or self.anchor
        if not ref:
            try:
                return self.sim.tenant.user(self.principal)
            except NotFoundError:
                raise ItemError(
                    "ErrorNonExistentMailbox", "The caller has no mailbox; use impersonation."
                ) from None
        try:
            user = self.sim.tenant.user(ref)
        except NotFoundError:
            raise ItemError(
                "ErrorNonExistentMailbox", f"The SMTP address has no mailbox associated with it: {ref}"
            ) from None
        if self.user is not None and user is not self.user:
            raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return user

    def check(self, mailbox: Mailbox) -> None:
        if self.user is not None and mailbox.owner is not self.user:
            raise ItemError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


# -- request parsing ----------------------------------------------------------------------------------


def _find(elem: Any, path: str) -> Any:
    """``path`` like ``m:FolderShape/t:BaseShape``."""
    qualified = "/".join(f"{{{MNS if p.startswith('m:') else TNS}}}{p[2:]}" for p in path.split("/"))
    return elem.find(qualified)


def _text(elem: Any, path: str, default: str | None = None) -> str | None:
    found = _find(elem, path)
    return found.text if found is not None and found.text is not None else default


def _shape(request: Any, tag: str) -> tuple[str, set[str]]:
    shape = _find(request, tag)
    if shape is None:
        return "Default", set()
    base = _text(shape, "t:BaseShape", "Default") or "Default"
    fields: set[str] = set()
    extra = _find(shape, "t:AdditionalProperties")
    if extra is not None:
        for node in extra:
            uri = node.get("FieldURI")
            if uri:
                fields.add(uri.lower())
    return base, fields


def resolve_folder(ctx: EwsContext, elem: Any) -> Folder:
    tenant = ctx.sim.tenant
    local = elem.tag.split("}", 1)[1]
    if local == "DistinguishedFolderId":
        name = (elem.get("Id") or "").lower()
        explicit = _text(elem, "t:Mailbox/t:EmailAddress")
        user = ctx.target_user(explicit)
        mailbox = user.archive if name in ARCHIVE_DISTINGUISHED else user.mailbox
        folder = mailbox.by_distinguished.get(name) if mailbox else None
        if folder is None:
            raise ItemError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        return folder
    if local == "FolderId":
        try:
            folder = tenant.folder_by_id(elem.get("Id") or "")
        except NotFoundError:
            raise ItemError(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            ) from None
        ctx.check(folder.mailbox)
        return folder
    raise ItemError("ErrorInvalidIdMalformed", f"Unsupported folder id element {local}.")


def _item_tag(item: Item) -> str:
    for prefix, tag in _ITEM_TAGS:
        if item.item_class.startswith(prefix):
            return tag
    return "Message"


# -- rendering --------------------------------------------------------------------------------------------


def folder_elem(folder: Folder) -> Any:
    tag = _FOLDER_TAGS.get(folder.folder_class or "", "Folder")
    elem = t(tag)
    sub(elem, "t", "FolderId", Id=folder.ews_id(), ChangeKey=folder.change_key())
    if folder.parent is not None:
        sub(elem, "t", "ParentFolderId", Id=folder.parent.ews_id(), ChangeKey=folder.parent.change_key())
    if folder.folder_class:
        sub(elem, "t", "FolderClass", folder.folder_class)
    sub(elem, "t", "DisplayName", folder.display_name)
    sub(elem, "t", "TotalCount", str(len(folder.items)))
    sub(elem, "t", "ChildFolderCount", str(len(folder.children)))
    if folder.distinguished:
        sub(elem, "t", "DistinguishedFolderId", folder.distinguished)
    if tag == "Folder":
        sub(elem, "t", "UnreadCount", str(folder.unread_count()))
    return elem


def _mailbox_elem(parent: Any, tag: str, pair: tuple[str, str] | list[str]) -> None:
    holder = sub(parent, "t", tag)
    box = sub(holder, "t", "Mailbox")
    sub(box, "t", "Name", pair[0] or pair[1])
    sub(box, "t", "EmailAddress", pair[1])
    sub(box, "t", "RoutingType", "SMTP")
    sub(box, "t", "MailboxType", "OneOff")


def item_elem(item: Item, shape: str, fields: set[str]) -> Any:
    tag = _item_tag(item)
    elem = t(tag)
    if "item:mimecontent" in fields:
        mime = base64.b64encode(item.mime_bytes()).decode("ascii")
        sub(elem, "t", "MimeContent", mime, CharacterSet="UTF-8")
    sub(elem, "t", "ItemId", Id=item.ews_id(), ChangeKey=item.change_key())
    full = shape in ("Default", "AllProperties")

    def want(uri: str) -> bool:
        return full or uri in fields

    message = tag in ("Message", "MeetingRequest", "MeetingMessage")
    meta = item.meta() if (full or fields - {"item:mimecontent"}) else {}
    if want("item:parentfolderid"):
        sub(elem, "t", "ParentFolderId", Id=item.folder.ews_id(), ChangeKey=item.folder.change_key())
    if want("item:itemclass"):
        sub(elem, "t", "ItemClass", item.item_class)
    if want("item:subject"):
        sub(elem, "t", "Subject", meta.get("subject") or "")
    if want("item:datetimereceived"):
        sub(elem, "t", "DateTimeReceived", iso(item.received))
    if want("item:size"):
        sub(elem, "t", "Size", str(item.size))
    if want("item:categories") and item.categories:
        cats = sub(elem, "t", "Categories")
        for category in item.categories:
            sub(cats, "t", "String", category)
    if want("item:importance"):
        sub(elem, "t", "Importance", str(meta.get("importance") or "normal").capitalize())
    if want("item:isdraft"):
        sub(elem, "t", "IsDraft", "true" if item.folder.distinguished == "drafts" else "false")
    if want("item:datetimesent") and meta.get("date"):
        sub(elem, "t", "DateTimeSent", iso(meta["date"]))
    if want("item:datetimecreated"):
        sub(elem, "t", "DateTimeCreated", iso(item.created))
    if want("item:hasattachments"):
        sub(elem, "t", "HasAttachments", "true" if meta.get("has_attachments") else "false")
    if want("item:lastmodifiedtime"):
        sub(elem, "t", "LastModifiedTime", iso(item.modified))
    if want("item:conversationid") and meta:  # the same thread id Graph gives as conversationId
        topic = meta.get("thread_topic") or meta.get("subject") or ""
        sub(elem, "t", "ConversationId", Id=conversation_id(item, topic))
    if message:
        if want("message:from") and meta.get("from") and meta["from"][1]:
            _mailbox_elem(elem, "From", meta["from"])
        if want("message:internetmessageid") and meta.get("message_id"):
            sub(elem, "t", "InternetMessageId", meta["message_id"])
        if want("message:isread"):
            sub(elem, "t", "IsRead", "true" if item.is_read else "false")
    return elem


def _message(name: str, *, error: ItemError | None = None) -> Any:
    if error is not None:
        msg = m(f"{name}ResponseMessage", ResponseClass="Error")
        sub(msg, "m", "MessageText", error.message)
        sub(msg, "m", "ResponseCode", error.code)
        sub(msg, "m", "DescriptiveLinkKey", "0")
        return msg
    msg = m(f"{name}ResponseMessage", ResponseClass="Success")
    sub(msg, "m", "ResponseCode", "NoError")
    return msg


def _response(name: str, messages: list[Any]) -> Any:
    response = m(f"{name}Response")
    holder = sub(response, "m", "ResponseMessages")
    for msg in messages:
        holder.append(msg)
    return response


# -- sync states -------------------------------------------------------------------------------------------


def _encode_state(kind: str, folder: Folder, position: int) -> str:
    raw = f"ews1|{kind}|{folder.mailbox.guid.hex()}|{folder.key}|{folder.epoch}|{position}"
    return base64.b64encode(raw.encode()).decode()


def _decode_state(text: str | None, kind: str, folder: Folder) -> int:
    if not text:
        return 0
    try:
        parts = base64.b64decode(text).decode().split("|")
        if len(parts) != 6 or parts[0] != "ews1" or parts[1] != kind:
            raise ValueError
        if parts[2] != folder.mailbox.guid.hex() or int(parts[3]) != folder.key:
            raise ValueError
        epoch, position = int(parts[4]), int(parts[5])
    except ValueError:
        raise ItemError(
            "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
        ) from None
    if epoch != folder.epoch:
        raise ItemError("ErrorInvalidSyncStateData", "Synchronization state data is no longer valid; resync.")
    return position


# -- operations --------------------------------------------------------------------------------------------


def get_folder(ctx: EwsContext, request: Any) -> Any:
    ids = _find(request, "m:FolderIds")
    messages = []
    with ctx.sim.tenant.lock:
        for node in list(ids) if ids is not None else []:
            try:
                folder = resolve_folder(ctx, node)
            except ItemError as exc:
                messages.append(_message("GetFolder", error=exc))
                continue
            msg = _message("GetFolder")
            sub(msg, "m", "Folders").append(folder_elem(folder))
            messages.append(msg)
    return _response("GetFolder", messages)


def _descendants(folder: Folder) -> list[Folder]:
    out: list[Folder] = []
    for child in folder.children:
        out.append(child)
        out.extend(_descendants(child))
    return out


def find_folder(ctx: EwsContext, request: Any) -> Any:
    traversal = request.get("Traversal", "Shallow")
    view = _find(request, "m:IndexedPageFolderView")
    limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
    offset = int(view.get("Offset", "0")) if view is not None else 0
    parents = _find(request, "m:ParentFolderIds")
    messages = []
    with ctx.sim.tenant.lock:
        for node in list(parents) if parents is not None else []:
            try:
                parent = resolve_folder(ctx, node)
            except ItemError as exc:
                messages.append(_message("FindFolder", error=exc))
                continue
            if traversal == "Deep":
                folders = _descendants(parent)
            elif traversal == "Shallow":
                folders = list(parent.children)
            else:
                folders = []  # SoftDeleted: the simulator keeps no soft-deleted folders
            page = folders[offset : offset + limit]
            msg = _message("FindFolder")
            root = sub(
                msg,
                "m",
                "RootFolder",
                IndexedPagingOffset=str(offset + len(page)),
                TotalItemsInView=str(len(folders)),
                IncludesLastItemInRange="true" if offset + len(page) >= len(folders) else "false",
            )
            holder = sub(root, "t", "Folders")
            for folder in page:
                holder.append(folder_elem(folder))
            messages.append(msg)
    return _response("FindFolder", messages)


def sync_folder_hierarchy(ctx: EwsContext, request: Any) -> Any:
    tenant = ctx.sim.tenant
    node = _find(request, "m:SyncFolderId")
    try:
        with tenant.lock:
            if node is not None and len(node):
                scope = resolve_folder(ctx, node[0])
            else:
                mailbox = ctx.target_user().mailbox
                if mailbox is None:
                    raise ItemError("ErrorNonExistentMailbox", "The user has no mailbox.")
                scope = mailbox.msgfolderroot
            start = _decode_state(_text(request, "m:SyncState"), "hierarchy", scope)
            end = tenant.seq
            inside = {f.key for f in _descendants(scope)}
            changes = [
                c
                for c in collapse(scope.mailbox.folder_log, start, end, by_gen=False, initial=start == 0)
                if c.key in inside or (c.op == OP_REMOVE and c.key not in scope.mailbox.folders)
            ]
            msg = _message("SyncFolderHierarchy")
            sub(msg, "m", "SyncState", _encode_state("hierarchy", scope, end))
            sub(msg, "m", "IncludesLastFolderInRange", "true")
            holder = sub(msg, "m", "Changes")
            for change in changes:
                folder = scope.mailbox.folders.get(change.key)
                if change.op == OP_REMOVE or folder is None:
                    entry = sub(holder, "t", "Delete")
                    sub(entry, "t", "FolderId", Id=ids.folder_id(scope.mailbox.guid, change.key, rest=False))
                else:
                    entry = sub(holder, "t", "Create" if change.first_op == OP_ADD else "Update")
                    entry.append(folder_elem(folder))
    except ItemError as exc:
        msg = _sync_error("SyncFolderHierarchy", exc, "IncludesLastFolderInRange")
    return _response("SyncFolderHierarchy", [msg])


def _sync_error(name: str, exc: ItemError, last: str) -> Any:
    """A sync operation's error as Exchange answers it: an empty ``SyncState`` and
    ``IncludesLast...InRange`` true after the code (see the ErrorInvalidSyncStateData example in
    the SyncFolderItems/SyncFolderHierarchy operation reference)."""
    msg = _message(name, error=exc)
    sub(msg, "m", "SyncState")
    sub(msg, "m", last, "true")
    return msg


def sync_folder_items(ctx: EwsContext, request: Any) -> Any:
    tenant = ctx.sim.tenant
    shape, fields = _shape(request, "m:ItemShape")
    node = _find(request, "m:SyncFolderId")
    try:
        limit = int(_text(request, "m:MaxChangesReturned", "100") or "100")
        if not 1 <= limit <= MAX_SYNC_CHANGES:
            raise ItemError(
                "ErrorInvalidArgument", f"MaxChangesReturned must be between 1 and {MAX_SYNC_CHANGES}."
            )
        if node is None or not len(node):
            raise ItemError("ErrorInvalidArgument", "SyncFolderId is required.")
        with tenant.lock:
            folder = resolve_folder(ctx, node[0])
            ctx.sim.count(f"ews:SyncFolderItems:{folder.ews_id()}")  # per folder, for tests
            start = _decode_state(_text(request, "m:SyncState"), "items", folder)
            end = tenant.seq
            changes = collapse(folder.log, start, end, by_gen=True, initial=start == 0)
            ignore = {n.get("Id") for n in (_find(request, "m:Ignore") or [])}
            page = changes[:limit]
            complete = len(page) == len(changes)
            position = end if complete else _last_seq(folder, page[-1])
            msg = _message("SyncFolderItems")
            sub(msg, "m", "SyncState", _encode_state("items", folder, position))
            sub(msg, "m", "IncludesLastItemInRange", "true" if complete else "false")
            holder = sub(msg, "m", "Changes")
            for change in page:
                _sync_entry(holder, tenant.items[change.key], folder, change, shape, fields, ignore)
    except ItemError as exc:
        msg = _sync_error("SyncFolderItems", exc, "IncludesLastItemInRange")
    return _response("SyncFolderItems", [msg])


def _last_seq(folder: Folder, change: Change) -> int:
    for seq, key, _, gen in reversed(folder.log):
        if key == change.key and gen == change.gen:
            return seq
    return 0


def _sync_entry(
    holder: Any,
    item: Item,
    folder: Folder,
    change: Change,
    shape: str,
    fields: set[str],
    ignore: set[str | None],
) -> None:
    gone = change.op == OP_REMOVE or item.purged or item.folder is not folder or item.gen != change.gen
    if gone:
        entry = sub(holder, "t", "Delete")
        sub(
            entry,
            "t",
            "ItemId",
            Id=ids.item_id(folder.mailbox.guid, folder.key, change.key, change.gen, rest=False),
        )
        return
    if item.ews_id() in ignore:
        return
    entry = sub(holder, "t", "Create" if change.first_op == OP_ADD else "Update")
    entry.append(item_elem(item, shape, fields))


def get_item(ctx: EwsContext, request: Any) -> Any:
    tenant = ctx.sim.tenant
    shape, fields = _shape(request, "m:ItemShape")
    ids = _find(request, "m:ItemIds")
    messages = []
    for node in list(ids) if ids is not None else []:
        try:
            with tenant.lock:
                item = _item(ctx, node.get("Id") or "")
            elem = item_elem(item, shape, fields)
        except ItemError as exc:
            messages.append(_message("GetItem", error=exc))
            continue
        msg = _message("GetItem")
        sub(msg, "m", "Items").append(elem)
        messages.append(msg)
    return _response("GetItem", messages)


def _item(ctx: EwsContext, ref: str) -> Item:
    if ids.parse(ref) is None:
        raise ItemError("ErrorInvalidIdMalformed", "Id is malformed.")
    try:
        item = ctx.sim.tenant.item_ref(ref)
    except NotFoundError:
        raise ItemError("ErrorItemNotFound", "The specified object was not found in the store.") from None
    ctx.check(item.mailbox)
    return item


def find_item(ctx: EwsContext, request: Any) -> Any:
    shape, fields = _shape(request, "m:ItemShape")
    view = _find(request, "m:IndexedPageItemView")
    limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
    offset = int(view.get("Offset", "0")) if view is not None else 0
    parents = _find(request, "m:ParentFolderIds")
    messages = []
    for node in list(parents) if parents is not None else []:
        try:
            with ctx.sim.tenant.lock:
                folder = resolve_folder(ctx, node)
                items = sorted(folder.items.values(), key=lambda i: (-i.received, i.key))
            page = items[offset : offset + limit]
            msg = _message("FindItem")
            root = sub(
                msg,
                "m",
                "RootFolder",
                IndexedPagingOffset=str(offset + len(page)),
                TotalItemsInView=str(len(items)),
                IncludesLastItemInRange="true" if offset + len(page) >= len(items) else "false",
            )
            holder = sub(root, "t", "Items")
            for item in page:
                holder.append(item_elem(item, shape, fields))
        except ItemError as exc:
            msg = _message("FindItem", error=exc)
        messages.append(msg)
    return _response("FindItem", messages)


def export_items(ctx: EwsContext, request: Any) -> Any:
    ids = _find(request, "m:ItemIds")
    messages = []
    for node in list(ids) if ids is not None else []:
        try:
            with ctx.sim.tenant.lock:
                item = _item(ctx, node.get("Id") or "")
            data = base64.b64encode(export_stream(item)).decode("ascii")
        except ItemError as exc:
            messages.append(_message("ExportItems", error=exc))
            continue
        msg = _message("ExportItems")
        sub(msg, "m", "ItemId", Id=item.ews_id(), ChangeKey=item.change_key())
        sub(msg, "m", "Data", data)
        messages.append(msg)
    return _response("ExportItems", messages)


OPERATIONS: dict[str, Callable[[EwsContext, Any], Any]] = {
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "SyncFolderHierarchy": sync_folder_hierarchy,
    "SyncFolderItems": sync_folder_items,
    "GetItem": get_item,
    "FindItem": find_item,
    "ExportItems": export_items,
}

"""Ground truth: everything the tenant holds right now, so tests and benchmarks can prove that a
capture is complete (every mailbox, folder, item with its ids and the SHA-256 of its MIME, every
chat message with each of its versions).

An event of the default calendar, a contact and a To Do task also carry ``graph``: the Graph
resource that shows it, its collection, the dates that place it in time, and the SHA-256 and size
of exactly the JSON bytes a client stores (:func:`connectors.graph.entities.canonical_entity` of the
entity with immutable ids, as a delta page or a GET by id serves it)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from connectors.graph.entities import canonical_entity
from connectors.simulator.generator import GRAPH_PLACEHOLDER
from connectors.simulator.graph.calendar import default_calendar, event_json, event_span, is_event
from connectors.simulator.graph.contacts import contact_folders, contact_json, is_contact
from connectors.simulator.graph.todo import is_task, task_json, task_lists
from connectors.simulator.model import ChatMessage, Folder, Item, Mailbox, Tenant, iso

GraphView = tuple[str, Callable[[Item, bool], dict[str, Any]]]


def _folder(folder: Folder) -> dict[str, Any]:
    return {
        "id": folder.rest_id(),
        "ewsId": folder.ews_id(),
        "parentId": folder.parent.rest_id() if folder.parent else None,
        "displayName": folder.display_name,
        "path": folder.path,
        "hidden": folder.hidden,
        "ipm": folder.ipm,
        "wellKnownName": folder.well_known,
        "distinguishedName": folder.distinguished,
        "folderClass": folder.folder_class,
        "itemCount": len(folder.items),
    }


def _graph_views(mailbox: Mailbox) -> dict[int, GraphView]:
    """item key -> (Graph type, renderer) for the items Graph shows as events, contacts, tasks."""
    if mailbox.kind != "primary" or "calendar" not in mailbox.by_distinguished:
        return {}
    views: dict[int, GraphView] = {}
    for item in default_calendar(mailbox).items.values():
        if is_event(item):
            views[item.key] = ("event", event_json)
    for folder in contact_folders(mailbox):
        views.update((i.key, ("contact", contact_json)) for i in folder.items.values() if is_contact(i))
    for folder in task_lists(mailbox):
        views.update((i.key, ("todoTask", task_json)) for i in folder.items.values() if is_task(i))
    return views


def _graph(item: Item, view: GraphView, hashes: bool) -> dict[str, Any]:
    kind, render = view
    details = item.details()
    entry: dict[str, Any] = {
        "type": kind,
        "collectionId": item.folder.rest_id(),
        "createdDateTime": iso(item.created),
        "start": iso(event_span(item)[0]) if kind == "event" else None,
        "due": iso(details.due) if kind == "todoTask" and details.due is not None else None,
    }
    if hashes:
        data = canonical_entity(render(item, True))
        entry["size"] = len(data)
        entry["sha256"] = hashlib.sha256(data).hexdigest()
    return entry


def _item(item: Item, hashes: bool, view: GraphView | None = None) -> dict[str, Any]:
    meta = item.meta()
    entry: dict[str, Any] = {
        "id": item.rest_id(),
        "immutableId": item.immutable_id(),
        "ewsId": item.ews_id(),
        "folderId": item.folder.rest_id(),
        "folderPath": item.folder.path,
        "itemClass": item.item_class,
        "changeKey": item.change_key(),
        "internetMessageId": meta.get("message_id"),
        "subject": meta.get("subject"),
        "receivedDateTime": iso(item.received),
        "lastModifiedDateTime": iso(item.modified),
        "isRead": item.is_read,
    }
    if hashes:
        size, digest = item.mime_info()
        entry["size"] = size
        entry["sha256"] = digest
    if view is not None:
        entry["graph"] = _graph(item, view, hashes)
    return entry


def _mailbox(mailbox: Mailbox, hashes: bool) -> dict[str, Any]:
    folders = list(mailbox.all_folders())
    views = _graph_views(mailbox)
    return {
        "address": mailbox.address,
        "userId": mailbox.owner.id,
        "kind": mailbox.kind,
        "mailboxId": mailbox.graph_id,
        "onHold": mailbox.on_hold,
        "folders": [_folder(f) for f in folders],
        "items": [_item(item, hashes, views.get(item.key)) for f in folders for item in f.items.values()],
    }


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _message(message: ChatMessage, graph_base: str) -> dict[str, Any]:
    return {
        "id": message.id,
        "messageType": message.message_type,
        "from": message.sender.upn if message.sender else None,
        "createdDateTime": iso(message.created, ms=True),
        "lastModifiedDateTime": iso(message.last_modified, ms=True),
        "lastEditedDateTime": iso(message.last_edited, ms=True) if message.last_edited else None,
        "deletedDateTime": iso(message.deleted, ms=True) if message.deleted else None,
        "replyToId": message.reply_to_id,
        "mentions": len(message.mentions),
        "reactions": [{"reactionType": r.reaction_type, "user": r.user.upn} for r in message.reactions],
        "attachments": [
            {"id": a["id"], "contentType": a["contentType"], "name": a.get("name")}
            for a in message.attachments
        ],
        "hostedContents": [
            {
                "id": h.id,
                "contentType": h.content_type,
                "size": len(h.data),
                "sha256": hashlib.sha256(h.data).hexdigest(),
            }
            for h in message.hosted
        ],
        "versions": [
            {
                "kind": v.kind,
                "at": iso(v.at, ms=True),
                "contentType": v.content_type,
                "length": len(v.content.replace(GRAPH_PLACEHOLDER, graph_base)),
                "sha256": _sha(v.content.replace(GRAPH_PLACEHOLDER, graph_base)),
            }
            for v in message.versions
        ],
    }


def truth(
    tenant: Tenant,
    *,
    graph_base: str = GRAPH_PLACEHOLDER,
    hashes: bool = True,
    mailbox: str | None = None,
) -> dict[str, Any]:
    """The whole tenant as one JSON-ready document. ``graph_base`` is the Graph root the clients
    use (hosted-content URLs inside chat bodies are rendered against it); ``mailbox`` limits the
    output to one address."""
    with tenant.lock:
        mailboxes = [m for m in tenant.mailboxes if mailbox is None or m.address.lower() == mailbox.lower()]
        chats: list[dict[str, Any]] = [
            {
                "id": chat.id,
                "chatType": chat.chat_type,
                "topic": chat.topic,
                "members": [m.user.upn for m in chat.members],
                "messages": [_message(m, graph_base) for m in chat.messages.values()],
            }
            for chat in tenant.chats.values()
            if mailbox is None or any(m.user.upn.lower() == mailbox.lower() for m in chat.members)
        ]
        document: dict[str, Any] = {
            "tenant": {
                "id": tenant.tenant_id,
                "domain": tenant.domain,
                "displayName": tenant.display_name,
                "seed": tenant.seed,
                "profile": tenant.profile,
                "position": tenant.seq,
            },
            "users": [
                {
                    "id": u.id,
                    "userPrincipalName": u.upn,
                    "displayName": u.display_name,
                    "jobTitle": u.job_title,
                    "keyOfficial": u.key_official,
                    "primaryMailboxId": u.mailbox.graph_id if u.mailbox else None,
                    "archiveMailboxId": u.archive.graph_id if u.archive else None,
                }
                for u in tenant.users
            ],
            "mailboxes": [_mailbox(m, hashes) for m in mailboxes],
            "chats": chats,
        }
        boxes: list[dict[str, Any]] = document["mailboxes"]
        document["counts"] = {
            "mailboxes": len(boxes),
            "folders": sum(len(m["folders"]) for m in boxes),
            "items": sum(len(m["items"]) for m in boxes),
            "chats": len(chats),
            "chatMessages": sum(len(c["messages"]) for c in chats),
            "chatMessageVersions": sum(len(m["versions"]) for c in chats for m in c["messages"]),
        }
        return document

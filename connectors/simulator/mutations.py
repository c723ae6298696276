"""Live changes to a running tenant, so incremental capture can be tested while the tenant changes.

One JSON document per mutation (``POST /_sim/mutations``, the ``capstone simulator`` mutation
commands, or :func:`apply` in-process)::

    {"op": "add-message", "mailbox": "griffier@gemeente-demo.nl", "folder": "Inbox",
     "subject": "...", "from": "...", "body": "..."}         (or "mime": base64 of exact bytes)
    {"op": "move", "item": "<any id>", "folder": "Archive"}    ("mailbox": ... for another mailbox,
                                                                 "archive": true for the archive)
    {"op": "delete", "item": "<id>"}                           (to Deleted Items, then to
                                                                 Recoverable Items; "hard": true)
    {"op": "purge", "item": "<id>"}                            (Deletions -> Purges on hold -> gone)
    {"op": "update", "item": "<id>", "isRead": true, "categories": ["Woo"]}
    {"op": "edit-item", "item": "<id>", "subject": "...", "location": "...", "start": "<ISO>",
     "end": "<ISO>", "status": "completed", "dueDateTime": "<ISO>", "body": "..."}
                                                               (an event, contact or task: its Graph
                                                                JSON and export properties change)
    {"op": "create-folder", "mailbox": "...", "parent": "Inbox", "name": "Woo 2026"}
    {"op": "invalidate-sync-state", "mailbox": "...", "folder": "Inbox"}
    {"op": "post-chat-message", "chat": "<id>", "from": "<upn>", "content": "...", "images": 1}
    {"op": "edit-chat-message", "chat": "<id>", "message": "<id>", "content": "..."}
    {"op": "delete-chat-message", "chat": "<id>", "message": "<id>"}
    {"op": "react", "chat": "<id>", "message": "<id>", "user": "<upn>", "reaction": "like"}
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from capstone.logging import get_logger
from connectors.simulator import generator
from connectors.simulator.content import EDITABLE
from connectors.simulator.model import (
    ChatMessage,
    ConflictError,
    Folder,
    Item,
    Mailbox,
    NotFoundError,
    Tenant,
    iso,
    parse_iso,
)

log = get_logger("simulator.mutations")


class MutationError(ValueError):
    """A mutation document that cannot be applied (bad fields, unknown objects)."""


def find_mailbox(tenant: Tenant, ref: str, *, archive: bool = False) -> Mailbox:
    if ref.upper().startswith("MBX:"):
        return tenant.mailbox_by_graph_id(ref)
    user = tenant.user(ref)
    mailbox = user.archive if archive else user.mailbox
    if mailbox is None:
        raise NotFoundError(f"{'archive ' if archive else ''}mailbox of {ref}")
    return mailbox


def find_folder(tenant: Tenant, mailbox: Mailbox, ref: str) -> Folder:
    """A folder by Graph well-known name, EWS distinguished name, id, or display-name path
    ("Inbox/Projecten", "Recoverable Items/Deletions", "Privé")."""
    lowered = ref.strip().lower()
    if lowered in mailbox.by_well_known:
        return mailbox.by_well_known[lowered]
    if lowered in mailbox.by_distinguished:
        return mailbox.by_distinguished[lowered]
    for folder in mailbox.all_folders():
        if folder.path.lower() == lowered.strip("/"):
            return folder
    try:
        return tenant.folder_ref(mailbox, ref)
    except NotFoundError:
        raise NotFoundError(f"folder {ref!r} in {mailbox.address} ({mailbox.kind})") from None


def simple_mime(
    *, sender: str, to: str, subject: str, body: str, domain: str, when: float | None = None
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.fromtimestamp(when, UTC) if when else datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message["MIME-Version"] = "1.0"
    message.set_content(body)
    message.add_alternative(f"<html><body><p>{html.escape(body)}</p></body></html>", subtype="html")
    return message.as_bytes()


def _item_summary(item: Item) -> dict[str, Any]:
    return {
        "id": item.rest_id(),
        "immutableId": item.immutable_id(),
        "ewsId": item.ews_id(),
        "mailbox": item.mailbox.address,
        "mailboxKind": item.mailbox.kind,
        "folderId": item.folder.rest_id(),
        "folderPath": item.folder.path,
        "changeKey": item.change_key(),
        "purged": item.purged,
    }


def _message_summary(message: ChatMessage) -> dict[str, Any]:
    return {
        "chat": message.chat.id,
        "id": message.id,
        "versions": len(message.versions),
        "lastModifiedDateTime": iso(message.last_modified, ms=True),
        "deletedDateTime": iso(message.deleted, ms=True) if message.deleted else None,
    }


def _chat_message(tenant: Tenant, doc: dict[str, Any]) -> ChatMessage:
    chat = tenant.chat(_field(doc, "chat"))
    message = chat.messages.get(_field(doc, "message"))
    if message is None:
        raise NotFoundError(f"chat message {doc['message']}")
    return message


def _field(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if value is None or value == "":
        raise MutationError(f"mutation {doc.get('op')!r} needs {name!r}")
    return str(value)


def _edits(doc: dict[str, Any]) -> dict[str, Any]:
    """Details fields from an ``edit-item`` document (Graph property names, times as ISO 8601)."""
    changes: dict[str, Any] = {}
    for name, attribute in EDITABLE.items():
        if name not in doc:
            continue
        value = doc[name]
        if attribute in ("start", "end", "due"):
            try:
                changes[attribute] = None if value is None else parse_iso(str(value))
            except ValueError as exc:
                raise MutationError(f"{name}: not an ISO 8601 time ({exc})") from exc
        elif attribute == "body":
            changes[attribute] = ("text", str(value))
        else:
            changes[attribute] = str(value)
    if not changes:
        raise MutationError(f"edit-item needs one of {', '.join(EDITABLE)}")
    return changes


def apply(tenant: Tenant, doc: dict[str, Any]) -> dict[str, Any]:
    """Apply one mutation; returns what changed (ids after the change)."""
    op = str(doc.get("op") or "")
    try:
        with tenant.lock:
            result = _apply(tenant, op, doc)
    except (NotFoundError, ConflictError) as exc:
        raise MutationError(str(exc).strip("'\"")) from exc
    log.info("mutation_applied", op=op)
    return {"op": op, **result}


def _apply(tenant: Tenant, op: str, doc: dict[str, Any]) -> dict[str, Any]:
    if op == "add-message":
        mailbox = find_mailbox(tenant, _field(doc, "mailbox"), archive=bool(doc.get("archive")))
        folder = find_folder(tenant, mailbox, str(doc.get("folder") or "inbox"))
        if doc.get("mime"):
            data = base64.b64decode(str(doc["mime"]))
        else:
            data = simple_mime(
                sender=str(doc.get("from") or f"Simulator <noreply@{tenant.domain}>"),
                to=str(doc.get("to") or mailbox.address),
                subject=str(doc.get("subject") or "Testbericht"),
                body=str(doc.get("body") or "Dit bericht is toegevoegd door de simulator."),
                domain=tenant.domain,
            )
        item = tenant.add_item(
            folder, data, item_class=str(doc.get("itemClass") or "IPM.Note"), is_read=False
        )
        return {"item": _item_summary(item), "size": len(data)}
    if op in ("move", "delete", "purge", "update", "edit-item"):
        item = tenant.item_ref(_field(doc, "item"))
        before = _item_summary(item)
        if op == "move":
            target_mailbox = item.mailbox
            if doc.get("mailbox") or doc.get("archive"):
                target_mailbox = find_mailbox(
                    tenant,
                    str(doc.get("mailbox") or item.mailbox.owner.upn),
                    archive=bool(doc.get("archive")),
                )
            item = tenant.move_item(item, find_folder(tenant, target_mailbox, _field(doc, "folder")))
        elif op == "delete":
            item = tenant.delete_item(item, hard=bool(doc.get("hard")))
        elif op == "purge":
            item = tenant.purge_item(item)
        elif op == "edit-item":
            item = tenant.edit_item(item, _edits(doc))
        else:
            categories = doc.get("categories")
            item = tenant.update_item(
                item,
                is_read=doc.get("isRead") if isinstance(doc.get("isRead"), bool) else None,
                categories=[str(c) for c in categories] if isinstance(categories, list) else None,
            )
        return {"before": before, "item": _item_summary(item)}
    if op == "create-folder":
        mailbox = find_mailbox(tenant, _field(doc, "mailbox"), archive=bool(doc.get("archive")))
        parent = find_folder(tenant, mailbox, str(doc.get("parent") or "msgfolderroot"))
        folder = tenant.add_folder(
            mailbox, parent, _field(doc, "name"), str(doc.get("folderClass") or "IPF.Note")
        )
        return {"folder": {"id": folder.rest_id(), "path": folder.path}}
    if op == "invalidate-sync-state":
        mailbox = find_mailbox(tenant, _field(doc, "mailbox"), archive=bool(doc.get("archive")))
        folder = find_folder(tenant, mailbox, _field(doc, "folder"))
        tenant.invalidate_sync_state(folder)
        return {"folder": {"id": folder.rest_id(), "epoch": folder.epoch}}
    if op == "post-chat-message":
        chat = tenant.chat(_field(doc, "chat"))
        sender = tenant.user(_field(doc, "from"))
        if sender not in chat.member_users():
            raise MutationError(f"{sender.upn} is not a member of the chat")
        message = generator.post_message(
            tenant,
            chat,
            sender,
            tenant.clock(),
            html.escape(_field(doc, "content")),
            images=int(doc.get("images") or 0),
        )
        return {"message": _message_summary(message)}
    if op == "edit-chat-message":
        message = _chat_message(tenant, doc)
        try:
            generator.edit_message(tenant, message, html.escape(_field(doc, "content")))
        except ValueError as exc:
            raise MutationError(str(exc)) from exc
        return {"message": _message_summary(message)}
    if op == "delete-chat-message":
        message = _chat_message(tenant, doc)
        generator.delete_message(tenant, message)
        return {"message": _message_summary(message)}
    if op == "react":
        message = _chat_message(tenant, doc)
        generator.react(tenant, message, tenant.user(_field(doc, "user")), str(doc.get("reaction") or "like"))
        return {"message": _message_summary(message)}
    raise MutationError(f"unknown mutation op {op!r}")

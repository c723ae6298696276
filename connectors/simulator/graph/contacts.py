"""Outlook contacts through Graph v1.0: ``/users/{id}/contactFolders`` (+ ``/{id}``, ``childFolders``),
contacts per folder (+ ``delta`` and by id) and ``/users/{id}/contacts`` (the default folder).

What Graph does and the simulator copies: the default Contacts folder holds ``/users/{id}/contacts``;
``/contactFolders`` lists the folders *in* it, not the folder itself; the folder itself is addressed
by the well-known name ``contacts`` (``contactFolders('contacts')``) or by its id, which is also the
``parentFolderId`` of what ``/contactFolders`` lists. A ``contactFolder`` has only ``id``,
``displayName`` and ``parentFolderId`` (no item or child counts). Contact delta takes ``$select``.
"""

from __future__ import annotations

from typing import Any

from connectors.simulator.graph.common import GraphResponse, entity, project
from connectors.simulator.graph.items import item_by_id, item_delta, item_list, owned_folder
from connectors.simulator.graph.mail import _paged
from connectors.simulator.graph.router import Ctx, Route, route
from connectors.simulator.model import Folder, Item, Mailbox, iso

DEFAULT_FOLDER = "contacts"  # the well-known name Outlook accepts for the default Contacts folder


def is_contact(item: Item) -> bool:
    return item.item_class.startswith("IPM.Contact")


def default_folder(mailbox: Mailbox) -> Folder:
    return mailbox.by_distinguished["contacts"]


def contact_folders(mailbox: Mailbox) -> list[Folder]:
    """The default Contacts folder and every contact folder below it."""
    return [f for f in default_folder(mailbox).walk() if (f.folder_class or "").startswith("IPF.Contact")]


def _children(folder: Folder) -> list[Folder]:
    return [c for c in folder.children if (c.folder_class or "").startswith("IPF.Contact")]


def contact_folder_json(folder: Folder) -> dict[str, Any]:
    return {
        "id": folder.rest_id(),
        "displayName": folder.display_name,
        "parentFolderId": folder.parent.rest_id() if folder.parent else None,
    }


def contact_json(item: Item, immutable: bool) -> dict[str, Any]:
    """A Graph ``contact`` from the item's details."""
    details = item.details()
    both = details.given_name and details.surname
    return {
        "@odata.etag": f'W/"{item.change_key()}"',
        "id": item.rest_id(immutable),
        "createdDateTime": iso(item.created),
        "lastModifiedDateTime": iso(item.modified),
        "changeKey": item.change_key(),
        "categories": list(item.categories),
        "parentFolderId": item.folder.rest_id(),
        "birthday": None,
        "fileAs": f"{details.surname}, {details.given_name}" if both else details.subject,
        "displayName": details.subject,
        "givenName": details.given_name or None,
        "initials": None,
        "middleName": None,
        "nickName": None,
        "surname": details.surname or None,
        "title": None,
        "yomiGivenName": None,
        "yomiSurname": None,
        "yomiCompanyName": None,
        "generation": None,
        "imAddresses": [],
        "jobTitle": details.job_title or None,
        "companyName": details.company or None,
        "department": None,
        "officeLocation": None,
        "profession": None,
        "businessHomePage": None,
        "assistantName": None,
        "manager": None,
        "homePhones": [],
        "mobilePhone": details.mobile_phone or None,
        "businessPhones": list(details.business_phones),
        "spouseName": None,
        "personalNotes": details.body[1],
        "children": [],
        "emailAddresses": [{"name": name, "address": address} for name, address in details.emails],
        "homeAddress": {},
        "businessAddress": {},
        "otherAddress": {},
    }


def _folder(ctx: Ctx, mailbox: Mailbox) -> Folder:
    ref = ctx.params["folder"]
    if ref.lower() == DEFAULT_FOLDER:
        return default_folder(mailbox)
    return owned_folder(ctx, mailbox, ref, contact_folders(mailbox))


def _folder_list(ctx: Ctx, parent: Folder, context: str) -> GraphResponse:
    with ctx.tenant.lock:
        values = [project(contact_folder_json(f), ctx.req.select()) for f in _children(parent)]
    return _paged(ctx.req, values, context, default=10)


def list_contact_folders(ctx: Ctx) -> GraphResponse:
    """``/contactFolders``: the folders in the default Contacts folder."""
    mailbox = ctx.mailbox()
    return _folder_list(ctx, default_folder(mailbox), f"users('{ctx.params['user']}')/contactFolders")


def get_contact_folder(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox)
    value = project(contact_folder_json(folder), ctx.req.select())
    return entity(ctx.req, f"users('{ctx.params['user']}')/contactFolders/$entity", value)


def list_child_folders(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    parent = _folder(ctx, mailbox)
    context = f"users('{ctx.params['user']}')/contactFolders('{parent.rest_id()}')/childFolders"
    return _folder_list(ctx, parent, context)


def list_contacts(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox) if "folder" in ctx.params else default_folder(mailbox)
    with ctx.tenant.lock:
        items = [i for i in folder.items.values() if is_contact(i)]
    return item_list(
        ctx.req,
        items,
        f"users('{ctx.params['user']}')/contacts",
        contact_json,
        order=lambda i: (i.created, i.key),
    )


def get_contact(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    allowed = [_folder(ctx, mailbox)] if "folder" in ctx.params else [default_folder(mailbox)]
    item = item_by_id(ctx, mailbox, ctx.params["contact"], allowed, is_contact)
    value = project(contact_json(item, ctx.req.immutable_ids), ctx.req.select())
    return entity(ctx.req, f"users('{ctx.params['user']}')/contacts/$entity", value)


def contacts_delta(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _folder(ctx, mailbox)
    return item_delta(
        ctx,
        folder,
        kind="contacts",
        path=f"/users/{ctx.params['user']}/contactFolders/{folder.rest_id()}/contacts/delta",
        context="Collection(contact)",
        odata_type="#microsoft.graph.contact",
        entity=contact_json,
        belongs=is_contact,
    )


def routes() -> list[Route]:
    u = "users/{user}"
    return [
        route("GET", f"{u}/contactFolders", list_contact_folders, "mailbox"),
        route("GET", f"{u}/contactFolders/{{folder}}", get_contact_folder, "mailbox"),
        route("GET", f"{u}/contactFolders/{{folder}}/childFolders", list_child_folders, "mailbox"),
        route("GET", f"{u}/contactFolders/{{folder}}/contacts/delta", contacts_delta, "mailbox"),
        route("GET", f"{u}/contactFolders/{{folder}}/contacts", list_contacts, "mailbox"),
        route("GET", f"{u}/contactFolders/{{folder}}/contacts/{{contact}}", get_contact, "mailbox"),
        route("GET", f"{u}/contacts", list_contacts, "mailbox"),
        route("GET", f"{u}/contacts/{{contact}}", get_contact, "mailbox"),
    ]

"""The primary mailbox's contacts as Graph JSON: per contact folder ``.../contacts/delta``, a listing
of ids, and ``.../contacts/{id}`` to read one again.

The folders: Graph's ``/users/{id}/contactFolders`` lists the folders *in* the default Contacts
folder, not that folder itself (which holds ``/users/{id}/contacts``). The default folder is read as
``contactFolders('contacts')`` (Outlook's well-known name for it), so its contacts have a delta of
their own like every other folder's; deeper folders come from ``childFolders``. A contactFolder has
no item count, so reconciliation lists each folder's ids.
"""

from __future__ import annotations

from typing import Any

from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.contact_folders.item.contacts.contacts_request_builder import (
    ContactsRequestBuilder,
)

from connectors.base import FolderInfo, ItemChange
from connectors.graph.client import GraphConnection
from connectors.graph.collection import ItemCollection
from connectors.graph.mail import _error, collect

DEFAULT_FOLDER = "contacts"
_LIST_PAGE = 1000


class ContactFolder(ItemCollection):
    item_type = "contact"

    def __init__(
        self,
        connection: GraphConnection,
        user: str,
        folder: dict[str, Any],
        path: str,
        *,
        default: bool,
        page_size: int,
    ) -> None:
        info = FolderInfo(
            folder_id=str(folder["id"]),
            parent_id=folder.get("parentFolderId"),
            display_name=str(folder.get("displayName") or folder["id"]),
            path=path,
            well_known_name=DEFAULT_FOLDER if default else None,
            total_items=None,  # a contactFolder has no count: reconciliation lists it
            folder_class="IPF.Contact",
            extra={"collection": "contactFolder"},
        )
        super().__init__(connection, user, info, page_size=page_size)
        self._folder = self._user.contact_folders.by_contact_folder_id(info.folder_id)

    def delta_builder(self) -> Any:
        return self._folder.contacts.delta

    def to_change(self, entity: dict[str, Any]) -> ItemChange:
        return ItemChange(
            item_id=entity["id"],
            change_key=entity.get("changeKey"),
            last_modified=entity.get("lastModifiedDateTime"),
            item_type=self.item_type,
            received=entity.get("createdDateTime"),
            entity=entity,
        )

    def listing(self) -> tuple[Any, Any]:
        query = ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(select=["id"], top=_LIST_PAGE)
        return self._folder.contacts, query

    def entity_builder(self, item_id: str) -> Any:
        return self._folder.contacts.by_contact_id(item_id)


async def contact_collections(
    connection: GraphConnection, user: str, *, page_size: int
) -> list[ContactFolder]:
    """The default Contacts folder and every folder below it, parents first."""
    builder = connection.sdk.users.by_user_id(user)
    try:
        default = await connection.get_json(builder.contact_folders.by_contact_folder_id(DEFAULT_FOLDER))
        root_path = str(default.get("displayName") or "Contacts")
        found = [ContactFolder(connection, user, default, root_path, default=True, page_size=page_size)]
        queue = [(child, root_path) for child in await collect(connection, builder.contact_folders)]
        while queue:
            folder, parent_path = queue.pop(0)
            path = f"{parent_path}/{folder.get('displayName') or folder['id']}"
            found.append(ContactFolder(connection, user, folder, path, default=False, page_size=page_size))
            children = builder.contact_folders.by_contact_folder_id(folder["id"]).child_folders
            queue.extend((child, path) for child in await collect(connection, children))
    except ODataError as exc:
        raise _error(exc, f"listing the contact folders of {user}") from exc
    return found

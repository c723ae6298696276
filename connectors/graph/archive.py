"""A user's online (in-place) archive mailbox through the Graph mailbox import/export API.

The archive is not reachable through the ordinary mail API. Its id comes from
``GET /users/{id}/settings/exchange`` (``inPlaceArchiveMailboxId``, beta; absent when the user has no
archive), its folders from ``/admin/exchange/mailboxes/{id}/folders`` (+ ``childFolders``), changes
from ``/folders/{id}/items/delta``, and content from ``POST .../exportItems`` (at most 20 items per
call): an opaque full-fidelity stream per item, which Capstone stores as-is, typed as opaque.
"""

from __future__ import annotations

import base64
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph.generated.admin.exchange.mailboxes.item.export_items.export_items_post_request_body import (
    ExportItemsPostRequestBody,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from connectors.base import ChangePage, FolderInfo, ItemChange, SourceError
from connectors.graph.client import GraphConnection
from connectors.graph.mail import _error

EXPORT_BATCH = 20  # Graph's limit per exportItems call
EXPORT_MEDIA_TYPE = "application/vnd.ms-exchange.fullfidelity-export"  # opaque, not for parsing


def _headers(prefer: str | None = None) -> HeadersCollection:
    headers = HeadersCollection()
    if prefer:
        headers.add("Prefer", prefer)
    return headers


class GraphArchiveMailbox:
    """One user's in-place archive mailbox."""

    kind = "archive"

    def __init__(
        self, connection: GraphConnection, user: str, mailbox_id: str, *, page_size: int = 100
    ) -> None:
        self.connection = connection
        self.user = user
        self.mailbox_id = mailbox_id
        self.page_size = page_size
        self._mailbox = connection.sdk.admin.exchange.mailboxes.by_mailbox_id(mailbox_id)

    @staticmethod
    async def find(
        connection: GraphConnection, user: str, *, page_size: int = 100
    ) -> GraphArchiveMailbox | None:
        """The user's archive mailbox, or None when the user has none."""
        try:
            settings = await connection.sdk.users.by_user_id(user).settings.exchange.get(
                request_configuration=RequestConfiguration(headers=_headers())
            )
        except ODataError as exc:
            raise _error(exc, f"reading the mailbox settings of {user}") from exc
        extra = (settings.additional_data or {}) if settings is not None else {}
        archive_id = extra.get("inPlaceArchiveMailboxId") or extra.get("archiveMailboxId")
        if not archive_id:
            return None
        return GraphArchiveMailbox(connection, user, str(archive_id), page_size=page_size)

    async def _collect(self, builder: Any) -> list[Any]:
        items: list[Any] = []
        page = await builder.get(request_configuration=RequestConfiguration(headers=_headers()))
        while page is not None:
            items.extend(page.value or [])
            if not page.odata_next_link:
                break
            page = await builder.with_url(page.odata_next_link).get(
                request_configuration=RequestConfiguration(headers=_headers())
            )
        return items

    async def list_folders(self) -> list[FolderInfo]:
        folders: list[FolderInfo] = []
        try:
            queue: list[tuple[Any, str]] = [(f, "") for f in await self._collect(self._mailbox.folders)]
            while queue:
                folder, parent_path = queue.pop(0)
                name = folder.display_name or folder.id
                path = f"{parent_path}/{name}" if parent_path else name
                folders.append(
                    FolderInfo(
                        folder_id=folder.id,
                        parent_id=folder.parent_folder_id,
                        display_name=name,
                        path=path,
                        hidden=False,
                        well_known_name=folder.well_known_name,
                        total_items=folder.total_item_count,
                        mailbox_kind="archive",
                        folder_class=folder.type,
                    )
                )
                if (folder.child_folder_count or 0) > 0:
                    children = await self._collect(
                        self._mailbox.folders.by_mailbox_folder_id(folder.id).child_folders
                    )
                    queue.extend((child, path) for child in children)
        except ODataError as exc:
            raise _error(exc, f"listing archive folders of {self.user}") from exc
        return folders

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        builder: Any = self._mailbox.folders.by_mailbox_folder_id(folder_id).items.delta
        prefer = f"odata.maxpagesize={self.page_size}"
        try:
            if cursor:
                builder = builder.with_url(cursor)
            page = await builder.get(request_configuration=RequestConfiguration(headers=_headers(prefer)))
        except ODataError as exc:
            raise _error(exc, f"delta of archive folder {folder_id} of {self.user}") from exc
        if page is None:
            raise SourceError(f"delta of archive folder {folder_id}: empty response")
        changes = []
        for item in page.value or []:
            extra = item.additional_data or {}
            removed = "@removed" in extra
            changes.append(
                ItemChange(
                    item_id=item.id,
                    removed=removed,
                    change_key=None if removed else extra.get("changeKey"),
                    last_modified=None if removed else str(extra.get("lastModifiedDateTime") or "") or None,
                    item_type=item.type or "IPM.Note",
                    size=item.size,
                    received=None if removed else (extra.get("createdDateTime") or None),
                )
            )
        return ChangePage(
            changes=changes, next_cursor=page.odata_next_link, final_cursor=page.odata_delta_link
        )

    async def list_item_ids(self, folder_id: str) -> set[str]:
        try:
            items = await self._collect(self._mailbox.folders.by_mailbox_folder_id(folder_id).items)
        except ODataError as exc:
            raise _error(exc, f"listing archive folder {folder_id} of {self.user}") from exc
        return {item.id for item in items}

    async def export(self, item_ids: list[str]) -> dict[str, bytes | SourceError]:
        """Full-fidelity export streams of up to 20 items: item id -> bytes, or the item's error."""
        if len(item_ids) > EXPORT_BATCH:
            raise ValueError(f"exportItems takes at most {EXPORT_BATCH} items per call")
        body = ExportItemsPostRequestBody(item_ids=item_ids)
        try:
            response = await self._mailbox.export_items.post(
                body, request_configuration=RequestConfiguration(headers=_headers())
            )
        except ODataError as exc:
            raise _error(exc, f"exporting archive items of {self.user}") from exc
        results: dict[str, bytes | SourceError] = {}
        for entry in (response.value if response is not None else None) or []:
            if entry.error is not None or entry.data is None:
                message = getattr(entry.error, "message", None) or "no data"
                results[entry.item_id] = SourceError(f"export of {entry.item_id} failed: {message}")
            else:
                data = entry.data
                results[entry.item_id] = data if isinstance(data, bytes) else base64.b64decode(data)
        for item_id in item_ids:
            results.setdefault(item_id, SourceError(f"export of {item_id}: not in the response"))
        return results

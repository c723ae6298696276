"""Mailboxes through the Graph mailbox import/export API: the user's online (in-place) archive, and
the primary mailbox's non-mail folders (Calendar, Contacts, Tasks...) whose items the mail API
offers no MIME for.

The archive is not reachable through the ordinary mail API. Its id comes from
``GET /users/{id}/settings/exchange`` (``inPlaceArchiveMailboxId``, beta; absent when the user has no
archive), its folders from ``/admin/exchange/mailboxes/{id}/folders`` (+ ``childFolders``), changes
from ``/folders/{id}/items/delta``, and content from ``POST .../exportItems`` (at most 20 items per
call): an opaque full-fidelity stream per item, which Capstone stores as-is, typed as opaque. The
streams of one call arrive base64-encoded in one JSON document, so at most 20 items are in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pybase64
from msgraph.generated.admin.exchange.mailboxes.item.export_items.export_items_post_request_body import (
    ExportItemsPostRequestBody,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from connectors.base import ChangePage, FolderInfo, ItemChange, SourceError
from connectors.graph.client import GraphConnection
from connectors.graph.mail import (
    RECOVERABLE_ITEMS_ANCHOR,
    _error,
    collect,
    config,
    first_pages,
    folder_info,
)

EXPORT_BATCH = 20  # Graph's limit per exportItems call
EXPORT_MEDIA_TYPE = "application/vnd.ms-exchange.fullfidelity-export"  # opaque, not for parsing


def is_mail_folder(folder: FolderInfo) -> bool:
    return folder.folder_class is None or folder.folder_class.startswith("IPF.Note")


class GraphExportMailbox:
    """A mailbox through the import/export API. ``kind`` names the part of the account it covers:
    ``archive`` (every folder of the in-place archive) or ``primary-export`` (with
    ``only_non_mail``: the primary mailbox's calendar, contact and task folders)."""

    def __init__(
        self,
        connection: GraphConnection,
        user: str,
        mailbox_id: str,
        *,
        kind: str = "archive",
        only_non_mail: bool = False,
        page_size: int = 100,
    ) -> None:
        self.connection = connection
        self.user = user
        self.mailbox_id = mailbox_id
        self.kind = kind
        self.only_non_mail = only_non_mail
        self.page_size = page_size
        self._mailbox = connection.sdk.admin.exchange.mailboxes.by_mailbox_id(mailbox_id)

    @staticmethod
    async def mailbox_ids(connection: GraphConnection, user: str) -> tuple[str | None, str | None]:
        """(primary mailbox id, in-place archive mailbox id or None)."""
        try:
            settings = await connection.get_json(connection.sdk.users.by_user_id(user).settings.exchange)
        except ODataError as exc:
            raise _error(exc, f"reading the mailbox settings of {user}") from exc
        archive_id = settings.get("inPlaceArchiveMailboxId") or settings.get("archiveMailboxId")
        primary_id = settings.get("primaryMailboxId")
        if primary_id:  # the same mailbox as /users/{user}: one set of limits
            connection.transport.same_mailbox(str(primary_id), user)
        return primary_id, str(archive_id) if archive_id else None

    # -- folders -----------------------------------------------------------------------------------

    async def list_folders(self) -> list[FolderInfo]:
        folders: list[FolderInfo] = []
        try:
            await self._walk(
                [(f, "") for f in await collect(self.connection, self._mailbox.folders)], folders, False
            )
            if not self.only_non_mail:
                await self._add_recoverable_items(folders)
        except ODataError as exc:
            raise _error(exc, f"listing {self.kind} folders of {self.user}") from exc
        if self.only_non_mail:
            folders = [f for f in folders if not is_mail_folder(f)]
        return folders

    async def _walk(
        self, queue: list[tuple[dict[str, Any], str]], folders: list[FolderInfo], hidden: bool
    ) -> None:
        known = {f.folder_id for f in folders}
        while queue:
            folder, parent_path = queue.pop(0)
            if folder["id"] in known:
                continue
            info = folder_info(folder, parent_path, hidden=hidden, kind=self.kind)
            folders.append(info)
            known.add(info.folder_id)
            if folder.get("childFolderCount"):
                builder = self._mailbox.folders.by_mailbox_folder_id(folder["id"]).child_folders
                queue.extend((child, info.path) for child in await collect(self.connection, builder))

    async def _add_recoverable_items(self, folders: list[FolderInfo]) -> None:
        """Recoverable Items sits outside the folder tree the listing returns: reach it through the
        well-known ``recoverableitemsdeletions`` and its parent, then walk that parent's children."""
        try:
            anchor = await self.connection.get_json(
                self._mailbox.folders.by_mailbox_folder_id(RECOVERABLE_ITEMS_ANCHOR)
            )
        except ODataError as exc:
            if exc.response_status_code == 404:
                return
            raise
        if any(f.folder_id == anchor["id"] for f in folders) or not anchor.get("parentFolderId"):
            return
        root = await self.connection.get_json(
            self._mailbox.folders.by_mailbox_folder_id(anchor["parentFolderId"])
        )
        root.setdefault("childFolderCount", 1)
        await self._walk([(root, "")], folders, True)

    # -- changes and content -----------------------------------------------------------------------

    def _delta_request(self, folder_id: str, cursor: str | None) -> Any:
        builder: Any = self._mailbox.folders.by_mailbox_folder_id(folder_id).items.delta
        prefer = f"odata.maxpagesize={self.page_size}"
        return (builder.with_url(cursor) if cursor else builder).to_get_request_information(config(prefer))

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        try:
            page = await self.connection.send_json(self._delta_request(folder_id, cursor))
        except ODataError as exc:
            raise _error(exc, f"delta of {self.kind} folder {folder_id} of {self.user}") from exc
        return self._page(page)

    async def first_pages(self, cursors: Mapping[str, str | None]) -> dict[str, ChangePage | SourceError]:
        """``folder_changes`` of many folders in ``$batch`` round trips."""
        requests = {folder_id: self._delta_request(folder_id, c) for folder_id, c in cursors.items()}
        return await first_pages(
            self.connection,
            requests,
            lambda _, page: self._page(page),
            lambda folder_id: f"delta of {self.kind} folder {folder_id} of {self.user}",
        )

    def _page(self, page: dict[str, Any]) -> ChangePage:
        changes = []
        for item in page.get("value", []):
            if "@removed" in item:
                changes.append(ItemChange(item_id=item["id"], removed=True))
                continue
            changes.append(
                ItemChange(
                    item_id=item["id"],
                    change_key=item.get("changeKey"),
                    last_modified=item.get("lastModifiedDateTime"),
                    item_type=item.get("type") or "IPM.Note",
                    size=item.get("size"),
                    received=item.get("receivedDateTime") or item.get("createdDateTime"),
                )
            )
        return ChangePage(
            changes=changes,
            next_cursor=page.get("@odata.nextLink"),
            final_cursor=page.get("@odata.deltaLink"),
        )

    async def list_item_ids(self, folder_id: str) -> set[str]:
        builder = self._mailbox.folders.by_mailbox_folder_id(folder_id).items
        try:
            return {item["id"] for item in await collect(self.connection, builder)}
        except ODataError as exc:
            raise _error(exc, f"listing {self.kind} folder {folder_id} of {self.user}") from exc

    async def export(self, item_ids: list[str]) -> dict[str, bytes | SourceError]:
        """Full-fidelity export streams of up to 20 items: item id -> bytes, or the item's error."""
        if len(item_ids) > EXPORT_BATCH:
            raise ValueError(f"exportItems takes at most {EXPORT_BATCH} items per call")
        try:
            response = await self.connection.post_json(
                self._mailbox.export_items, ExportItemsPostRequestBody(item_ids=item_ids)
            )
        except ODataError as exc:
            raise _error(exc, f"exporting {self.kind} items of {self.user}") from exc
        results: dict[str, bytes | SourceError] = {}
        for entry in response.get("value", []):
            item_id = entry.get("itemId")
            if entry.get("error") or entry.get("data") is None:
                message = (entry.get("error") or {}).get("message") or "no data"
                results[item_id] = SourceError(f"export of {item_id} failed: {message}")
            else:
                results[item_id] = pybase64.b64decode(entry["data"])
        for item_id in item_ids:
            results.setdefault(item_id, SourceError(f"export of {item_id}: not in the response"))
        return results

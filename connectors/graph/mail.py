"""A user's primary mailbox through Graph mail: the folder tree (hidden folders included), per-folder
message delta, and raw MIME streamed from ``$value``.

Mirrors the Graph resources: ``/users/{id}/mailFolders`` (+ ``childFolders``), ``.../messages/delta``,
``/users/{id}/messages/{id}/$value``. Every request carries ``Prefer: IdType="ImmutableId"`` (added by
the transport), so an item keeps its id when it moves between folders.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.mail_folders.item.child_folders.child_folders_request_builder import (
    ChildFoldersRequestBuilder,
)
from msgraph.generated.users.item.mail_folders.item.messages.delta.delta_request_builder import (
    DeltaRequestBuilder,
)
from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
    MessagesRequestBuilder,
)
from msgraph.generated.users.item.mail_folders.mail_folders_request_builder import MailFoldersRequestBuilder

from connectors.base import ChangePage, CursorExpiredError, FolderInfo, ItemChange, SourceError
from connectors.graph.client import GraphConnection

# Recoverable Items and other folders Graph addresses by well-known name. Folders the tree walk does
# not reach (outside the IPM subtree) are fetched by these names so no part of the mailbox is missed.
WELL_KNOWN_EXTRA = ("recoverableitemsdeletions",)
_DELTA_SELECT = ["id", "changeKey", "lastModifiedDateTime", "internetMessageId", "receivedDateTime"]
_STREAM_CHUNK = 1 << 20


def _error(exc: ODataError, what: str) -> SourceError:
    code = exc.error.code if exc.error else None
    status = exc.response_status_code
    if status == 410 or (code or "").lower() in ("syncstatenotfound", "resyncrequired"):
        return CursorExpiredError(f"{what}: the delta token expired ({code})", status=status, code=code)
    return SourceError(f"{what}: Graph answered {status} {code}", status=status, code=code)


def _headers(prefer: str | None = None) -> HeadersCollection:
    headers = HeadersCollection()  # never share kiota's default instance between requests
    if prefer:
        headers.add("Prefer", prefer)
    return headers


class GraphMailbox:
    """One user's primary mailbox."""

    def __init__(self, connection: GraphConnection, user: str, *, page_size: int = 100) -> None:
        self.connection = connection
        self.user = user
        self.page_size = page_size
        self._user = connection.sdk.users.by_user_id(user)

    # -- folders -----------------------------------------------------------------------------------

    async def list_folders(self) -> list[FolderInfo]:
        """Every folder, recursively, hidden ones included, with paths from display names."""
        folders: list[FolderInfo] = []
        try:
            top = await self._collect(
                self._user.mail_folders,
                MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(
                    include_hidden_folders="true", top=250
                ),
            )
            queue: list[tuple[Any, str]] = [(f, "") for f in top]
            while queue:
                folder, parent_path = queue.pop(0)
                info = self._folder_info(folder, parent_path)
                folders.append(info)
                if (folder.child_folder_count or 0) > 0:
                    children = await self._collect(
                        self._user.mail_folders.by_mail_folder_id(folder.id).child_folders,
                        ChildFoldersRequestBuilder.ChildFoldersRequestBuilderGetQueryParameters(
                            include_hidden_folders="true", top=250
                        ),
                    )
                    queue.extend((child, info.path) for child in children)
            known = {f.folder_id for f in folders}
            for name in WELL_KNOWN_EXTRA:
                try:
                    folder = await self._user.mail_folders.by_mail_folder_id(name).get(
                        request_configuration=RequestConfiguration(headers=_headers())
                    )
                except ODataError as exc:
                    if exc.response_status_code == 404:
                        continue
                    raise
                if folder is not None and folder.id not in known:
                    folders.append(self._folder_info(folder, "", well_known=name, hidden=True))
        except ODataError as exc:
            raise _error(exc, f"listing folders of {self.user}") from exc
        return folders

    async def _collect(self, builder: Any, query: Any) -> list[Any]:
        items: list[Any] = []
        page = await builder.get(
            request_configuration=RequestConfiguration(headers=_headers(), query_parameters=query)
        )
        while page is not None:
            items.extend(page.value or [])
            if not page.odata_next_link:
                break
            page = await builder.with_url(page.odata_next_link).get(
                request_configuration=RequestConfiguration(headers=_headers())
            )
        return items

    @staticmethod
    def _folder_info(
        folder: Any, parent_path: str, *, well_known: str | None = None, hidden: bool = False
    ) -> FolderInfo:
        name = folder.display_name or folder.id
        return FolderInfo(
            folder_id=folder.id,
            parent_id=folder.parent_folder_id,
            display_name=name,
            path=f"{parent_path}/{name}" if parent_path else name,
            hidden=bool(folder.is_hidden) or hidden,
            well_known_name=well_known,
            total_items=folder.total_item_count,
            mailbox_kind="primary",
        )

    # -- changes -----------------------------------------------------------------------------------

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        """One page of the folder's message delta. ``cursor`` is a stored next/delta link or None."""
        builder: Any = self._user.mail_folders.by_mail_folder_id(folder_id).messages.delta
        prefer = f"odata.maxpagesize={self.page_size}"
        try:
            if cursor:
                page = await builder.with_url(cursor).get(
                    request_configuration=RequestConfiguration(headers=_headers(prefer))
                )
            else:
                query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=_DELTA_SELECT)
                page = await builder.get(
                    request_configuration=RequestConfiguration(
                        headers=_headers(prefer), query_parameters=query
                    )
                )
        except ODataError as exc:
            raise _error(exc, f"delta of folder {folder_id} in {self.user}") from exc
        if page is None:
            raise SourceError(f"delta of folder {folder_id} in {self.user}: empty response")
        changes = []
        for message in page.value or []:
            extra = message.additional_data or {}
            removed = "@removed" in extra
            odata_type = getattr(message, "odata_type", None) or "#microsoft.graph.message"
            changes.append(
                ItemChange(
                    item_id=message.id,
                    removed=removed,
                    change_key=None if removed else message.change_key,
                    last_modified=None if removed else _iso(message.last_modified_date_time),
                    internet_message_id=None if removed else message.internet_message_id,
                    received=None if removed else _iso(message.received_date_time),
                    item_type=odata_type.rsplit(".", 1)[-1],
                )
            )
        return ChangePage(
            changes=changes, next_cursor=page.odata_next_link, final_cursor=page.odata_delta_link
        )

    async def list_item_ids(self, folder_id: str) -> set[str]:
        """Every item id in a folder now (a full listing, used by reconciliation when counts differ)."""
        builder: Any = self._user.mail_folders.by_mail_folder_id(folder_id).messages
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(select=["id"], top=1000)
        try:
            items = await self._collect(builder, query)
        except ODataError as exc:
            raise _error(exc, f"listing folder {folder_id} in {self.user}") from exc
        return {item.id for item in items}

    async def folder_counts(self) -> dict[str, int]:
        """Total item count of every folder now (one folder-tree walk)."""
        return {f.folder_id: f.total_items or 0 for f in await self.list_folders()}

    # -- content -----------------------------------------------------------------------------------

    def mime_url(self, item_id: str) -> str:
        return (
            f"{self.connection.base_url}/users/{quote(self.user)}/messages/{quote(item_id, safe='')}/$value"
        )

    async def stream_mime(self, item_id: str) -> AsyncIterator[bytes]:
        """The item's MIME exactly as Exchange returns it, in chunks (never whole in memory)."""
        async with self.connection.raw.stream("GET", self.mime_url(item_id)) as response:
            if response.status_code == 404:
                raise SourceError(f"message {item_id} vanished before its MIME was read", status=404)
            if response.status_code != 200:
                await response.aread()
                raise SourceError(
                    f"MIME of {item_id}: Graph answered {response.status_code}", status=response.status_code
                )
            expected = response.headers.get("Content-Length")
            received = 0
            async for chunk in response.aiter_raw(_STREAM_CHUNK):
                received += len(chunk)
                yield chunk
            if expected is not None and expected.isdigit() and int(expected) != received:
                raise SourceError(f"MIME of {item_id} truncated: {received} of {expected} bytes")


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()

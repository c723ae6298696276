"""A user's primary mailbox through Graph mail: the folder tree (hidden folders included), per-folder
message delta, and raw MIME streamed from ``$value``.

Mirrors the Graph resources: ``/users/{id}/mailFolders`` (+ ``childFolders``), ``.../messages/delta``,
``/users/{id}/messages/{id}/$value``. Requests are built by msgraph-sdk's request builders and sent
through its middleware; responses are read as the JSON Graph sent. Every request carries
``Prefer: IdType="ImmutableId"`` (added by the transport), so an item keeps its id across moves.

``mailFolders`` lists only Top of Information Store; the Recoverable Items folders (Deletions,
Purges, Versions...) live outside it. They are reached through the well-known name
``recoverableitemsdeletions``, up to its parent, and down that parent's hidden children.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
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
from connectors.errors import ThrottledError
from connectors.graph.batch import send_batch
from connectors.graph.client import GraphConnection

RECOVERABLE_ITEMS_ANCHOR = "recoverableitemsdeletions"
_DELTA_SELECT = [
    "id", "changeKey", "lastModifiedDateTime", "internetMessageId", "receivedDateTime", "conversationId",
]  # fmt: skip
_STREAM_CHUNK = 1 << 20


def status_error(status: int | None, code: str | None, what: str) -> SourceError:
    if status == 410 or (code or "").lower() in ("syncstatenotfound", "resyncrequired"):
        return CursorExpiredError(f"{what}: the delta token expired ({code})", status=status, code=code)
    if status == 429:  # still throttled after the transport honoured every Retry-After
        return ThrottledError(f"{what}: Graph answered {status} {code}", status=status, code=code)
    return SourceError(f"{what}: Graph answered {status} {code}", status=status, code=code)


def _error(exc: ODataError, what: str) -> SourceError:
    return status_error(exc.response_status_code, exc.error.code if exc.error else None, what)


async def first_pages(
    connection: GraphConnection,
    requests: Mapping[str, Any],
    parse: Callable[[str, dict[str, Any]], ChangePage],
    what: Callable[[str], str],
) -> dict[str, ChangePage | SourceError]:
    """The next delta page of many folders at once (folder id -> kiota request), through
    ``$batch``: what a run asks first of every folder, in one round trip per 20 folders. ``parse``
    makes a folder's page of its JSON, ``what`` names a folder's request in errors."""
    answers = await send_batch(connection, requests)
    pages: dict[str, ChangePage | SourceError] = {}
    for folder_id, answer in answers.items():
        if answer.ok and answer.body is not None:
            pages[folder_id] = parse(folder_id, answer.body)
        else:
            pages[folder_id] = status_error(answer.status, answer.error_code(), what(folder_id))
    return pages


def config(prefer: str | None = None, query: Any = None) -> RequestConfiguration[Any]:
    headers = HeadersCollection()  # never share kiota's default instance between requests
    if prefer:
        headers.add("Prefer", prefer)
    return RequestConfiguration(headers=headers, query_parameters=query)


async def collect(connection: GraphConnection, builder: Any, query: Any = None) -> list[dict[str, Any]]:
    """Every entry of a collection, following ``@odata.nextLink``."""
    items: list[dict[str, Any]] = []
    page = await connection.get_json(builder, config(query=query))
    while True:
        items.extend(page.get("value", []))
        link = page.get("@odata.nextLink")
        if not link:
            return items
        page = await connection.get_json(builder.with_url(link), config())


def _hidden_query() -> Any:
    return ChildFoldersRequestBuilder.ChildFoldersRequestBuilderGetQueryParameters(
        include_hidden_folders="true", top=250
    )


class GraphMailbox:
    """One user's primary mailbox."""

    kind = "primary"

    def __init__(self, connection: GraphConnection, user: str, *, page_size: int = 100) -> None:
        self.connection = connection
        self.user = user
        self.page_size = page_size
        self._user = connection.sdk.users.by_user_id(user)

    # -- folders -----------------------------------------------------------------------------------

    async def list_folders(self) -> list[FolderInfo]:
        """Every folder, recursively, hidden ones and Recoverable Items included."""
        try:
            top = await collect(
                self.connection,
                self._user.mail_folders,
                MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(
                    include_hidden_folders="true", top=250
                ),
            )
            folders: list[FolderInfo] = []
            await self._walk([(f, "") for f in top], folders, hidden=False)
            await self._add_recoverable_items(folders)
        except ODataError as exc:
            raise _error(exc, f"listing folders of {self.user}") from exc
        return folders

    async def _walk(
        self, queue: list[tuple[dict[str, Any], str]], folders: list[FolderInfo], *, hidden: bool
    ) -> None:
        known = {f.folder_id for f in folders}
        while queue:
            folder, parent_path = queue.pop(0)
            if folder["id"] in known:
                continue
            info = folder_info(folder, parent_path, hidden=hidden)
            folders.append(info)
            known.add(info.folder_id)
            if folder.get("childFolderCount"):
                children = await collect(
                    self.connection,
                    self._user.mail_folders.by_mail_folder_id(folder["id"]).child_folders,
                    _hidden_query(),
                )
                queue.extend((child, info.path) for child in children)

    async def _add_recoverable_items(self, folders: list[FolderInfo]) -> None:
        try:
            anchor = await self.connection.get_json(
                self._user.mail_folders.by_mail_folder_id(RECOVERABLE_ITEMS_ANCHOR)
            )
        except ODataError as exc:
            if exc.response_status_code == 404:
                return
            raise
        if any(f.folder_id == anchor["id"] for f in folders):
            return
        root = None
        if anchor.get("parentFolderId"):
            try:
                root = await self.connection.get_json(
                    self._user.mail_folders.by_mail_folder_id(anchor["parentFolderId"])
                )
            except ODataError as exc:
                if exc.response_status_code not in (403, 404):
                    raise
        if root is None:
            await self._walk([(anchor, "")], folders, hidden=True)
            return
        root.setdefault("childFolderCount", 1)
        await self._walk([(root, "")], folders, hidden=True)

    # -- changes -----------------------------------------------------------------------------------

    def _delta_request(self, folder_id: str, cursor: str | None) -> Any:
        builder: Any = self._user.mail_folders.by_mail_folder_id(folder_id).messages.delta
        prefer = f"odata.maxpagesize={self.page_size}"
        if cursor:
            return builder.with_url(cursor).to_get_request_information(config(prefer))
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=_DELTA_SELECT)
        return builder.to_get_request_information(config(prefer, query))

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        """One page of the folder's message delta. ``cursor`` is a stored next/delta link or None."""
        try:
            page = await self.connection.send_json(self._delta_request(folder_id, cursor))
        except ODataError as exc:
            raise _error(exc, f"delta of folder {folder_id} in {self.user}") from exc
        return self._page(page)

    async def first_pages(self, cursors: Mapping[str, str | None]) -> dict[str, ChangePage | SourceError]:
        """``folder_changes`` of many folders in ``$batch`` round trips."""
        requests = {folder_id: self._delta_request(folder_id, c) for folder_id, c in cursors.items()}
        return await first_pages(
            self.connection,
            requests,
            lambda _, page: self._page(page),
            lambda folder_id: f"delta of folder {folder_id} in {self.user}",
        )

    def _page(self, page: dict[str, Any]) -> ChangePage:
        changes = []
        for message in page.get("value", []):
            if "@removed" in message:
                changes.append(ItemChange(item_id=message["id"], removed=True))
                continue
            odata_type = message.get("@odata.type") or "#microsoft.graph.message"
            changes.append(
                ItemChange(
                    item_id=message["id"],
                    change_key=message.get("changeKey"),
                    last_modified=message.get("lastModifiedDateTime"),
                    internet_message_id=message.get("internetMessageId"),
                    conversation_id=message.get("conversationId"),
                    received=message.get("receivedDateTime"),
                    item_type=odata_type.rsplit(".", 1)[-1],
                )
            )
        return ChangePage(
            changes=changes,
            next_cursor=page.get("@odata.nextLink"),
            final_cursor=page.get("@odata.deltaLink"),
        )

    async def list_item_ids(self, folder_id: str) -> set[str]:
        """Every item id in a folder now (a full listing, used by reconciliation when counts differ)."""
        builder: Any = self._user.mail_folders.by_mail_folder_id(folder_id).messages
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(select=["id"], top=1000)
        try:
            return {item["id"] for item in await collect(self.connection, builder, query)}
        except ODataError as exc:
            raise _error(exc, f"listing folder {folder_id} in {self.user}") from exc

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


def folder_info(
    folder: dict[str, Any], parent_path: str, *, hidden: bool = False, kind: str = "primary"
) -> FolderInfo:
    name = folder.get("displayName") or folder["id"]
    return FolderInfo(
        folder_id=folder["id"],
        parent_id=folder.get("parentFolderId"),
        display_name=name,
        path=f"{parent_path}/{name}" if parent_path else name,
        hidden=bool(folder.get("isHidden")) or hidden,
        well_known_name=folder.get("wellKnownName"),
        total_items=folder.get("totalItemCount"),
        mailbox_kind="archive" if kind == "archive" else "primary",
        folder_class=folder.get("type"),
    )

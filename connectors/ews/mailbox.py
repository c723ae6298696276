"""One mailbox through EWS: the primary mailbox or the online archive of one address.

- Folders: ``FindFolder`` (Deep) from the mailbox root (``root`` or ``archiveroot``), so the
  ``msgfolderroot`` tree with its hidden folders and everything outside it (Recoverable Items:
  Deletions, Purges, Versions, DiscoveryHolds) come in one listing. Paths are display names from
  Top of Information Store for IPM folders ("Inbox/Projecten") and from the root otherwise
  ("Recoverable Items/Deletions"); folders outside Top of Information Store are hidden. Search
  folders (under ``searchfolders``, "Finder") hold only links and are left out.
- Changes: ``SyncFolderItems`` one page per call, through exchangelib's service object (never
  ``Folder.sync_items``, which only gives the sync state after the last page). The sync state of a
  page is its cursor: ``next_cursor`` while ``IncludesLastItemInRange`` is false, ``final_cursor``
  on the last page. ``ErrorInvalidSyncStateData`` is a :class:`CursorExpiredError`.
- Folder changes: ``SyncFolderHierarchy`` from the root, page by page.
- Reconciliation: ``FindItem`` (Shallow, IdOnly) lists every item id of a folder.
- Content: ``GetItem`` with ``MimeContent`` (see :mod:`connectors.ews.mime`): messages, calendar
  items, contacts and tasks alike, the archive included, byte for byte as Exchange gives; one item
  streamed (any size, memory flat), or several small ones in one request, each answered (or
  refused) in its own response message.

EWS item ids change when an item moves (Exchange on premises has no immutable ids in EWS); the
``ItemChange`` of a page therefore carries the id valid in that folder.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from exchangelib import Account, FolderCollection
from exchangelib.errors import ErrorFolderNotFound
from exchangelib.fields import FieldPath
from exchangelib.folders import Folder, SearchFolders
from exchangelib.items import Item, Message
from exchangelib.properties import FolderId
from exchangelib.services import FindItem, SyncFolderHierarchy

from connectors.base import ChangePage, FolderInfo, MailboxKind, SourceError
from connectors.ews.connection import EwsConnection
from connectors.ews.errors import to_source_error
from connectors.ews.mime import MimeBatchGetItem, StreamingMimeGetItem
from connectors.ews.sync import ITEM_FIELD_NAMES, MESSAGE_FIELD_NAMES, ChangeSyncFolderItems

SYSTEM = "exchange-ews"
_ITEM_FIELDS = [FieldPath(field=Item.get_field_by_fieldname(name)) for name in ITEM_FIELD_NAMES] + [
    FieldPath(field=Message.get_field_by_fieldname(name)) for name in MESSAGE_FIELD_NAMES
]
_FOLDER_FIELDS = {
    FieldPath(field=Folder.get_field_by_fieldname(name))
    for name in ("name", "folder_class", "parent_folder_id", "total_count", "child_folder_count")
}
_LIST_PAGE = 1000


@dataclass(frozen=True)
class FolderChange:
    """One entry of a ``SyncFolderHierarchy`` page (a rename or a move is an update)."""

    kind: Literal["create", "update", "delete"]
    folder_id: str
    parent_id: str | None = None
    display_name: str | None = None
    folder_class: str | None = None


@dataclass(frozen=True)
class HierarchyPage:
    changes: list[FolderChange]
    sync_state: str
    complete: bool


@dataclass(frozen=True)
class FetchedContent:
    size: int
    sha256: str


def _raise_errors(results: list[Any]) -> list[Any]:
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


class EwsMailbox:
    """The primary mailbox (``kind="primary"``) or the online archive (``"archive"``) of
    ``address``, reached as the connection's service account impersonating it."""

    def __init__(
        self,
        connection: EwsConnection,
        address: str,
        kind: MailboxKind = "primary",
        *,
        page_size: int | None = None,
    ) -> None:
        self.connection = connection
        self.address = address
        self.kind: MailboxKind = kind
        self.page_size = page_size or connection.config.page_size

    # -- helpers -----------------------------------------------------------------------------------

    def _what(self, text: str) -> str:
        return f"{text} in the {self.kind} mailbox of {self.address}"

    async def _call(self, operation: str, what: str, fn: Callable[[Account], Any]) -> Any:
        return await self.connection.call(self.address, operation, self._what(what), fn)

    def _roots(self, account: Account) -> tuple[Any, Any, str | None]:
        """(mailbox root, Top of Information Store, id of the search folders root or None)."""
        if self.kind == "archive":
            return account.archive_root, account.archive_msg_folder_root, None
        root = account.root
        try:
            finder = SearchFolders.get_distinguished(root=root).id
        except ErrorFolderNotFound:  # a mailbox without search folders
            finder = None
        return root, account.msg_folder_root, finder

    # -- folders -----------------------------------------------------------------------------------

    async def exists(self) -> bool:
        """Whether the mailbox is there (an archive is optional): its root answers GetFolder."""

        def work(account: Account) -> bool:
            try:
                _ = account.archive_root if self.kind == "archive" else account.root
            except ErrorFolderNotFound:
                return False
            return True

        found: bool = await self._call("GetFolder", "opening the mailbox", work)
        return found

    async def list_folders(self) -> list[FolderInfo]:
        """Every folder of the mailbox, hidden ones, Recoverable Items and DiscoveryHolds included."""

        def work(account: Account) -> list[FolderInfo]:
            root, top, finder = self._roots(account)
            found = _raise_errors(
                list(FolderCollection(account=account, folders=[root]).find_folders(depth="Deep"))
            )
            return folder_infos(found, root_id=root.id, top_id=top.id, finder_id=finder, kind=self.kind)

        result: list[FolderInfo] = await self._call("FindFolder", "listing folders", work)
        return result

    async def sync_hierarchy(self, cursor: str | None) -> HierarchyPage:
        """One ``SyncFolderHierarchy`` page of folder changes since ``cursor`` (None: every folder)."""

        def work(account: Account) -> HierarchyPage:
            root = account.archive_root if self.kind == "archive" else account.root
            service = SyncFolderHierarchy(account=account)
            entries = _raise_errors(
                list(
                    service.call(
                        folder=root, shape="IdOnly", additional_fields=set(_FOLDER_FIELDS), sync_state=cursor
                    )
                )
            )
            changes = []
            for kind, folder in entries:
                if kind == "delete":
                    changes.append(FolderChange("delete", folder.id))
                    continue
                parent = folder.parent_folder_id.id if folder.parent_folder_id else None
                changes.append(FolderChange(kind, folder.id, parent, folder.name, folder.folder_class))
            return HierarchyPage(changes, service.sync_state, bool(service.includes_last_item_in_range))

        page: HierarchyPage = await self._call("SyncFolderHierarchy", "syncing the folder hierarchy", work)
        return page

    # -- changes -----------------------------------------------------------------------------------

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        """One ``SyncFolderItems`` page: at most ``page_size`` changes since the sync state ``cursor``
        (None: every item now in the folder)."""

        def work(account: Account) -> ChangePage:
            service = ChangeSyncFolderItems(account=account)
            entries = _raise_errors(
                list(
                    service.call(
                        folder=FolderId(id=folder_id),
                        shape="IdOnly",
                        additional_fields=list(_ITEM_FIELDS),
                        sync_state=cursor,
                        ignore=None,
                        max_changes_returned=self.page_size,
                        sync_scope=None,
                    )
                )
            )
            changes = [change for _, change in entries if change is not None]
            state: str = service.sync_state
            last = bool(service.includes_last_item_in_range) or (state == cursor and not changes)
            return ChangePage(
                changes=changes, next_cursor=None if last else state, final_cursor=state if last else None
            )

        page: ChangePage = await self._call("SyncFolderItems", f"syncing folder {folder_id}", work)
        return page

    async def first_pages(self, cursors: Mapping[str, str | None]) -> dict[str, ChangePage | SourceError]:
        """``folder_changes`` of many folders, run side by side (EWS has no batching); a folder's
        failure is its value."""

        async def one(folder_id: str, cursor: str | None) -> ChangePage | SourceError:
            try:
                return await self.folder_changes(folder_id, cursor)
            except SourceError as exc:
                return exc

        ids = list(cursors)
        pages = await asyncio.gather(*(one(folder_id, cursors[folder_id]) for folder_id in ids))
        return dict(zip(ids, pages, strict=True))

    async def list_item_ids(self, folder_id: str) -> set[str]:
        """Every item id in the folder now (``FindItem`` Shallow, IdOnly, paged)."""

        def work(account: Account) -> set[str]:
            service = FindItem(account=account, page_size=_LIST_PAGE)
            found = service.call(
                folders=[FolderId(id=folder_id)],
                additional_fields=None,
                restriction=None,
                order_fields=None,
                shape="IdOnly",
                query_string=None,
                depth="Shallow",
                calendar_view=None,
                max_items=None,
                offset=0,
            )
            return {item_id for item_id, _ in _raise_errors(list(found))}

        ids: set[str] = await self._call("FindItem", f"listing folder {folder_id}", work)
        return ids

    # -- content -----------------------------------------------------------------------------------

    def stream_mime(self, item_id: str) -> AsyncIterator[bytes]:
        """The item's ``MimeContent``, decoded as it streams in (never whole in memory)."""
        return self.connection.stream(
            self.address,
            "GetItem",
            self._what(f"MIME of item {item_id}"),
            lambda account: StreamingMimeGetItem(account=account).stream_mime(item_id),
        )

    async def stream_mime_into(self, item_id: str, consume: Callable[[bytes], None]) -> int:
        """The item's ``MimeContent``, decoded as it streams in, each block handed to ``consume``
        in the worker thread that read it; the bytes. A failure midway raises (the caller discards
        what ``consume`` took)."""
        return await self.connection.stream_into(
            self.address,
            "GetItem",
            self._what(f"MIME of item {item_id}"),
            lambda account: StreamingMimeGetItem(account=account).stream_mime(item_id),
            consume,
        )

    async def fetch_mime_batch(self, item_ids: Sequence[str]) -> list[bytes | SourceError]:
        """The MIME of several small items in one ``GetItem`` request, read whole: per id, in
        order, its bytes or its own error (``ErrorItemNotFound``: status 404; an empty
        ``MimeContent``: code ``EmptyMimeContent``). A failure of the request as a whole (after the
        connection's retries) raises."""
        ids = list(item_ids)
        answers: list[bytes | Exception] = await self._call(
            "GetItem",
            f"MIME of {len(ids)} items",
            lambda account: MimeBatchGetItem(account=account).mime_of(ids),
        )
        out: list[bytes | SourceError] = []
        for item_id, answer in zip(ids, answers, strict=True):
            what = self._what(f"MIME of item {item_id}")
            if isinstance(answer, Exception):
                out.append(to_source_error(answer, what))
            elif not answer:
                out.append(SourceError(f"{what}: empty MimeContent", code="EmptyMimeContent"))
            else:
                out.append(answer)
        return out

    async def fetch_mime(self, item_id: str, write: Callable[[bytes], Awaitable[None]]) -> FetchedContent:
        """Stream the item's MIME into ``write``; its size and SHA-256. A failure midway raises (the
        caller discards what it wrote)."""
        digest = hashlib.sha256()
        size = 0
        async for block in self.stream_mime(item_id):
            digest.update(block)
            size += len(block)
            await write(block)
        if size == 0:
            raise SourceError(
                self._what(f"MIME of item {item_id}: empty MimeContent"), code="EmptyMimeContent"
            )
        return FetchedContent(size, digest.hexdigest())


def folder_infos(
    found: list[Any], *, root_id: str, top_id: str, finder_id: str | None, kind: MailboxKind
) -> list[FolderInfo]:
    """FolderInfo of every folder found under the root, with display-name paths."""
    by_id = {folder.id: folder for folder in found}

    def parent_of(folder: Any) -> str | None:
        return folder.parent_folder_id.id if folder.parent_folder_id else None

    infos = []
    for folder in found:
        names: list[str] = []
        node = folder
        ipm = False
        excluded = False
        while node is not None:
            if node.id == top_id:
                ipm = True
                break
            if node.id == root_id:
                break
            if finder_id is not None and node.id == finder_id:
                excluded = True
                break
            names.append(node.name or "")
            node = by_id.get(parent_of(node))
        if excluded:
            continue
        distinguished = getattr(folder, "_distinguished_id", None)
        infos.append(
            FolderInfo(
                folder_id=folder.id,
                parent_id=parent_of(folder),
                display_name=folder.name or "",
                path="/".join(reversed(names)),
                hidden=not ipm,
                well_known_name=getattr(distinguished, "id", None),
                total_items=folder.total_count,
                mailbox_kind=kind,
                folder_class=folder.folder_class,
            )
        )
    return infos

"""The primary mailbox's calendar events, contacts and To Do tasks as Graph JSON, in an open,
readable format, next to their full-fidelity export streams (``archive.py``).

One :class:`~connectors.base.ChangeSource` over every collection the three resources offer: the
primary calendar's calendarViews (``calendar.py``), the contact folders (``contacts.py``) and the
To Do lists (``todo.py``). Each collection has its own delta cursor; a delta page carries the whole
entity, so no second request is needed for the content. Requests go through msgraph-sdk's request
builders and :meth:`GraphConnection.get_json`; the transport adds ``Prefer: IdType="ImmutableId"``
and handles throttling and retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from capstone.logging import get_logger
from connectors.base import ChangePage, FolderInfo, ItemChange, SourceError
from connectors.graph.calendar import calendar_collections
from connectors.graph.client import GraphConnection
from connectors.graph.collection import ItemCollection
from connectors.graph.contacts import contact_collections
from connectors.graph.mail import first_pages
from connectors.graph.todo import todo_collections

log = get_logger("graph.items")


class GraphItems:
    """Events, contacts and tasks of ``user``; ``since``/``until`` bound the calendarViews (the
    designation's window, see ``calendar.py``)."""

    kind = "primary-json"

    def __init__(
        self,
        connection: GraphConnection,
        user: str,
        *,
        page_size: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        self.connection = connection
        self.user = user
        self.page_size = page_size
        self.since, self.until = since, until
        self.now = now or datetime.now(UTC)
        self._collections: dict[str, ItemCollection] = {}
        # Collections Graph shows that this source cannot capture as JSON, with the reason.
        self.not_captured: list[dict[str, str]] = []

    async def list_folders(self) -> list[FolderInfo]:
        views, others = await calendar_collections(
            self.connection,
            self.user,
            page_size=self.page_size,
            since=self.since,
            until=self.until,
            now=self.now,
        )
        contacts = await contact_collections(self.connection, self.user, page_size=self.page_size)
        lists = await todo_collections(self.connection, self.user, page_size=self.page_size)
        collections: list[ItemCollection] = [*views, *contacts, *lists]
        self._collections = {c.info.folder_id: c for c in collections}
        self.not_captured = others
        for other in others:
            log.warning(
                "json_collection_not_offered", user=self.user, collection=other["collection"], id=other["id"]
            )
        return [c.info for c in collections]

    async def _collection(self, folder_id: str) -> ItemCollection:
        if folder_id not in self._collections:
            await self.list_folders()
        try:
            return self._collections[folder_id]
        except KeyError:
            raise SourceError(
                f"collection {folder_id} of {self.user} is no longer offered", status=404
            ) from None

    async def folder_changes(self, folder_id: str, cursor: str | None) -> ChangePage:
        return await (await self._collection(folder_id)).changes(cursor)

    async def first_pages(self, cursors: Mapping[str, str | None]) -> dict[str, ChangePage | SourceError]:
        """``folder_changes`` of many collections in ``$batch`` round trips."""
        collections = {folder_id: await self._collection(folder_id) for folder_id in cursors}
        return await first_pages(
            self.connection,
            {folder_id: c.delta_request(cursors[folder_id]) for folder_id, c in collections.items()},
            lambda folder_id, page: collections[folder_id].page(page),
            lambda folder_id: collections[folder_id].describe("delta"),
        )

    async def list_item_ids(self, folder_id: str) -> set[str]:
        return await (await self._collection(folder_id)).item_ids()

    async def change_for(self, folder_id: str, item_id: str) -> ItemChange | None:
        """The item as its collection shows it now (to retry one that failed), or None if gone."""
        return await (await self._collection(folder_id)).change_for(item_id)

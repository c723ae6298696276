"""The user's Microsoft To Do tasks as Graph JSON: ``/users/{id}/todo/lists``, per list
``.../tasks/delta``, a listing of ids, and ``.../tasks/{id}`` to read one again.

A todoTask has no ``changeKey``: its ``@odata.etag`` is its version. A task is placed in time by its
due date, else its creation.
"""

from __future__ import annotations

from typing import Any

from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.todo.lists.item.tasks.tasks_request_builder import TasksRequestBuilder

from connectors.base import FolderInfo, ItemChange
from connectors.graph.client import GraphConnection
from connectors.graph.collection import ItemCollection
from connectors.graph.entities import time_text
from connectors.graph.mail import _error, collect


class TodoList(ItemCollection):
    item_type = "todoTask"

    def __init__(
        self, connection: GraphConnection, user: str, task_list: dict[str, Any], *, page_size: int
    ) -> None:
        name = str(task_list.get("displayName") or task_list["id"])
        well_known = str(task_list.get("wellknownListName") or "none")
        info = FolderInfo(
            folder_id=str(task_list["id"]),
            parent_id=None,
            display_name=name,
            path=name,
            well_known_name=None if well_known == "none" else well_known,
            total_items=None,  # a todoTaskList has no count: reconciliation lists it
            folder_class="IPF.Task",
            extra={"collection": "todoTaskList", "wellknown_list_name": well_known},
        )
        super().__init__(connection, user, info, page_size=page_size)
        self._list = self._user.todo.lists.by_todo_task_list_id(info.folder_id)

    def delta_builder(self) -> Any:
        return self._list.tasks.delta

    def to_change(self, entity: dict[str, Any]) -> ItemChange:
        due = time_text(entity.get("dueDateTime"))
        return ItemChange(
            item_id=entity["id"],
            change_key=entity.get("@odata.etag"),
            last_modified=entity.get("lastModifiedDateTime"),
            item_type=self.item_type,
            received=due or entity.get("createdDateTime"),
            created=entity.get("createdDateTime"),
            extra={"due": due} if due else {},
            entity=entity,
        )

    def listing(self) -> tuple[Any, Any]:
        return self._list.tasks, TasksRequestBuilder.TasksRequestBuilderGetQueryParameters(select=["id"])

    def entity_builder(self, item_id: str) -> Any:
        return self._list.tasks.by_todo_task_id(item_id)


async def todo_collections(connection: GraphConnection, user: str, *, page_size: int) -> list[TodoList]:
    try:
        lists = await collect(connection, connection.sdk.users.by_user_id(user).todo.lists)
    except ODataError as exc:
        raise _error(exc, f"listing the To Do lists of {user}") from exc
    return [TodoList(connection, user, task_list, page_size=page_size) for task_list in lists]

"""Microsoft To Do through Graph v1.0: ``/users/{id}/todo/lists`` (+ ``/{id}``), tasks per list
(+ ``delta`` and by id).

What Graph does and the simulator copies: a To Do list is a task folder (``IPF.Task``) of the
mailbox; the Tasks folder is the list whose ``wellknownListName`` is ``defaultList``. A ``todoTask``
has no ``changeKey``: its version is its ``@odata.etag``; ``dueDateTime``/``completedDateTime`` are
left out when unset. Task delta takes ``$select``. The ``flaggedEmails`` list is not simulated.
"""

from __future__ import annotations

from typing import Any

from connectors.simulator.graph.common import GraphResponse, entity, project
from connectors.simulator.graph.items import date_time_zone, item_by_id, item_delta, item_list, owned_folder
from connectors.simulator.graph.mail import _paged
from connectors.simulator.graph.router import Ctx, Route, route
from connectors.simulator.model import Folder, Item, Mailbox, iso


def is_task(item: Item) -> bool:
    return item.item_class.startswith("IPM.Task")


def task_lists(mailbox: Mailbox) -> list[Folder]:
    """The mailbox's task folders, the default list (Tasks) first."""
    found = [f for f in mailbox.msgfolderroot.walk() if (f.folder_class or "").startswith("IPF.Task")]
    return sorted(found, key=lambda f: f.distinguished != "tasks")


def task_list_json(folder: Folder) -> dict[str, Any]:
    return {
        "@odata.etag": f'W/"{folder.change_key()}"',
        "displayName": folder.display_name,
        "isOwner": True,
        "isShared": False,
        "wellknownListName": "defaultList" if folder.distinguished == "tasks" else "none",
        "id": folder.rest_id(),
    }


def task_json(item: Item, immutable: bool) -> dict[str, Any]:
    """A Graph ``todoTask`` from the item's details."""
    details = item.details()
    value: dict[str, Any] = {
        "@odata.etag": f'W/"{item.change_key()}"',
        "importance": details.importance,
        "isReminderOn": False,
        "status": details.status,
        "title": details.subject,
        "createdDateTime": iso(item.created),
        "lastModifiedDateTime": iso(item.modified),
        "hasAttachments": False,
        "categories": list(item.categories),
        "id": item.rest_id(immutable),
        "body": {"content": details.body[1], "contentType": details.body[0]},
        "bodyLastModifiedDateTime": iso(item.modified),
    }
    if details.due is not None:
        value["dueDateTime"] = date_time_zone(details.due)
    if details.status == "completed":
        value["completedDateTime"] = date_time_zone(details.completed or item.modified)
    return value


def _list(ctx: Ctx, mailbox: Mailbox) -> Folder:
    return owned_folder(ctx, mailbox, ctx.params["list"], task_lists(mailbox))


def list_task_lists(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    with ctx.tenant.lock:
        values = [project(task_list_json(f), ctx.req.select()) for f in task_lists(mailbox)]
    return _paged(ctx.req, values, f"users('{ctx.params['user']}')/todo/lists", default=10)


def get_task_list(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    value = project(task_list_json(_list(ctx, mailbox)), ctx.req.select())
    return entity(ctx.req, f"users('{ctx.params['user']}')/todo/lists/$entity", value)


def list_tasks(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _list(ctx, mailbox)
    with ctx.tenant.lock:
        items = [i for i in folder.items.values() if is_task(i)]
    context = f"users('{ctx.params['user']}')/todo/lists('{folder.rest_id()}')/tasks"
    return item_list(ctx.req, items, context, task_json, order=lambda i: (i.created, i.key))


def get_task(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    item = item_by_id(ctx, mailbox, ctx.params["task"], [_list(ctx, mailbox)], is_task)
    value = project(task_json(item, ctx.req.immutable_ids), ctx.req.select())
    return entity(ctx.req, f"users('{ctx.params['user']}')/todo/lists/tasks/$entity", value)


def tasks_delta(ctx: Ctx) -> GraphResponse:
    mailbox = ctx.mailbox()
    folder = _list(ctx, mailbox)
    return item_delta(
        ctx,
        folder,
        kind="todoTasks",
        path=f"/users/{ctx.params['user']}/todo/lists/{folder.rest_id()}/tasks/delta",
        context="Collection(todoTask)",
        odata_type="#microsoft.graph.todoTask",
        entity=task_json,
        belongs=is_task,
    )


def routes() -> list[Route]:
    t = "users/{user}/todo/lists"
    return [
        route("GET", t, list_task_lists, "mailbox"),
        route("GET", f"{t}/{{list}}", get_task_list, "mailbox"),
        route("GET", f"{t}/{{list}}/tasks/delta", tasks_delta, "mailbox"),
        route("GET", f"{t}/{{list}}/tasks", list_tasks, "mailbox"),
        route("GET", f"{t}/{{list}}/tasks/{{task}}", get_task, "mailbox"),
    ]

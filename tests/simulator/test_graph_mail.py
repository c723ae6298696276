"""Graph mail against the simulator with the real msgraph-sdk: folders (hidden ones too), paging,
per-folder delta with next/delta links, byte-exact MIME, ``@removed`` after deletes, immutable ids."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.mail_folders.item.child_folders.child_folders_request_builder import (
    ChildFoldersRequestBuilder,
)
from msgraph.generated.users.item.mail_folders.item.messages.delta.delta_request_builder import (
    DeltaRequestBuilder,
)
from msgraph.generated.users.item.mail_folders.mail_folders_request_builder import MailFoldersRequestBuilder

from connectors.simulator.server import RunningSimulator
from tests.simulator.conftest import run
from tests.simulator.graph_client import config, graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # msgraph-sdk's own request classes

BURGEMEESTER = "burgemeester@gemeente-demo.nl"
GRIFFIER = "griffier@gemeente-demo.nl"


async def _pages(builder: Any, first: Any) -> list[Any]:
    values = list(first.value or [])
    page = first
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get(request_configuration=config())
        values += page.value or []
    return values


async def walk_folders(client: Any, user: str, *, hidden: bool = True) -> dict[str, Any]:
    """Every folder Graph shows: the tree under Top of Information Store, plus Recoverable Items
    (by well-known name, then its parent's children). Returns path -> mailFolder."""
    u = client.users.by_user_id(user)
    flag = "true" if hidden else None
    query = MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(include_hidden_folders=flag)
    first = await u.mail_folders.get(request_configuration=config(query=query))
    queue = [(f, "") for f in await _pages(u.mail_folders, first)]
    found: dict[str, Any] = {}
    while queue:
        folder, parent = queue.pop(0)
        path = f"{parent}/{folder.display_name}" if parent else folder.display_name
        found[path] = folder
        if folder.child_folder_count:
            builder = u.mail_folders.by_mail_folder_id(folder.id).child_folders
            child_query = ChildFoldersRequestBuilder.ChildFoldersRequestBuilderGetQueryParameters(
                include_hidden_folders=flag
            )
            page = await builder.get(request_configuration=config(query=child_query))
            queue += [(c, path) for c in await _pages(builder, page)]
    if hidden:
        deletions = await u.mail_folders.by_mail_folder_id("recoverableitemsdeletions").get(
            request_configuration=config()
        )
        builder = u.mail_folders.by_mail_folder_id(deletions.parent_folder_id).child_folders
        child_query = ChildFoldersRequestBuilder.ChildFoldersRequestBuilderGetQueryParameters(
            include_hidden_folders="true"
        )
        for child in await _pages(
            builder, await builder.get(request_configuration=config(query=child_query))
        ):
            found[f"Recoverable Items/{child.display_name}"] = child
    return found


async def delta_round(
    client: Any, user: str, folder_id: str, link: str | None, page_size: int = 3
) -> tuple[list[Any], str]:
    """One complete delta round of a folder: (entries, deltaLink)."""
    builder = client.users.by_user_id(user).mail_folders.by_mail_folder_id(folder_id).messages.delta
    prefer = f"odata.maxpagesize={page_size}"
    if link:
        page = await builder.with_url(link).get(request_configuration=config(prefer))
    else:
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            select=["id", "changeKey", "internetMessageId", "lastModifiedDateTime"]
        )
        page = await builder.get(request_configuration=config(prefer, query=query))
    entries = list(page.value or [])
    pages = 1
    while page.odata_next_link:
        assert len(page.value) == page_size
        page = await builder.with_url(page.odata_next_link).get(request_configuration=config(prefer))
        entries += page.value or []
        pages += 1
    assert page.odata_delta_link
    return entries, page.odata_delta_link


def _graph_visible(box: dict[str, Any]) -> dict[str, dict[str, Any]]:
    folders = {f["id"]: f for f in box["folders"]}
    return {
        i["immutableId"]: i
        for i in box["items"]
        if (folders[i["folderId"]]["folderClass"] or "").startswith("IPF.Note")
        and i["itemClass"].startswith(("IPM.Note", "IPM.Schedule"))
    }


def test_folders_hidden_paging_and_recoverable_items(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    client = graph_client(sim)

    async def scenario() -> None:
        visible = await walk_folders(client, BURGEMEESTER, hidden=False)
        everything = await walk_folders(client, BURGEMEESTER, hidden=True)
        assert "Clutter" not in visible and everything["Clutter"].is_hidden
        for path in ("Inbox/Projecten/Omgevingswet", "Privé", "Archive", "Sync Issues/Conflicts"):
            assert path in visible
        for path in ("Recoverable Items/Deletions", "Recoverable Items/Purges", "Recoverable Items/Versions"):
            assert everything[path].is_hidden and everything[path].total_item_count >= 1
        # Calendar and Contacts are not mail folders
        assert "Calendar" not in everything and "Contacts" not in everything
        # the root listing has more than a default page (10): the SDK followed a nextLink
        assert len([p for p in everything if "/" not in p]) > 10
        box = next(m for m in truth["mailboxes"] if m["address"] == BURGEMEESTER and m["kind"] == "primary")
        expected = {
            f["path"] for f in box["folders"] if (f["folderClass"] or "").startswith("IPF.Note") and f["path"]
        }
        assert set(everything) == expected
        # a well-known name that the mailbox does not have
        with pytest.raises(ODataError) as err:
            await (
                client.users.by_user_id(BURGEMEESTER)
                .mail_folders.by_mail_folder_id("scheduled")
                .get(request_configuration=config())
            )
        assert err.value.response_status_code == 404

    run(scenario())


def test_full_delta_sync_and_mime_byte_exact(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    for user in (BURGEMEESTER, GRIFFIER):
        box = next(m for m in truth["mailboxes"] if m["address"] == user and m["kind"] == "primary")
        expected = _graph_visible(box)

        async def scenario(user: str = user, expected: dict[str, Any] = expected) -> dict[str, str]:
            client = graph_client(sim)  # an httpx client belongs to one event loop
            folders = await walk_folders(client, user)
            seen: dict[str, str] = {}
            for folder in folders.values():
                entries, _ = await delta_round(client, user, folder.id, None)
                for entry in entries:
                    assert "@removed" not in (entry.additional_data or {})
                    assert entry.id not in seen
                    seen[entry.id] = entry.internet_message_id
            for item_id in seen:
                data = (
                    await client.users.by_user_id(user)
                    .messages.by_message_id(item_id)
                    .content.get(request_configuration=config())
                )
                assert hashlib.sha256(data).hexdigest() == expected[item_id]["sha256"]
            return seen

        seen = run(scenario())
        assert set(seen) == set(expected)
        assert all(seen[i] == expected[i]["internetMessageId"] for i in seen)


def test_delete_shows_removed_and_immutable_id_survives_move(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        client = graph_client(sim)

        async def scenario() -> None:
            inbox = "inbox"
            entries, inbox_link = await delta_round(client, GRIFFIER, inbox, None)
            _, deleted_link = await delta_round(client, GRIFFIER, "deleteditems", None)
            victim = entries[0].id
            old_regular = sim.tenant.item_ref(victim).rest_id()
            sim.mutate({"op": "delete", "item": victim})
            sim.mutate({"op": "add-message", "mailbox": GRIFFIER, "folder": "Inbox", "subject": "Nieuw"})
            changes, inbox_link = await delta_round(client, GRIFFIER, inbox, inbox_link)
            removed = [c for c in changes if "@removed" in (c.additional_data or {})]
            added = [c for c in changes if "@removed" not in (c.additional_data or {})]
            assert [c.id for c in removed] == [victim]
            assert removed[0].additional_data["@removed"] == {"reason": "deleted"}
            assert len(added) == 1 and added[0].id != victim
            arrived, deleted_link = await delta_round(client, GRIFFIER, "deleteditems", deleted_link)
            assert [c.id for c in arrived] == [victim]  # same immutable id in Deleted Items
            # without the immutable-id preference the item has a new id and the old one is gone
            fresh = sim.tenant.item_ref(victim).rest_id()
            assert fresh != old_regular
            token = sim.mint_token()
            async with httpx.AsyncClient(
                base_url=sim.graph_url, headers={"Authorization": f"Bearer {token}"}
            ) as raw:
                gone = await raw.get(f"/users/{GRIFFIER}/messages/{old_regular}")
                assert gone.status_code == 404 and gone.json()["error"]["code"] == "ErrorItemNotFound"
                ok = await raw.get(f"/users/{GRIFFIER}/messages/{fresh}", params={"$select": "subject"})
                assert ok.status_code == 200 and ok.json()["id"] == fresh
            # deleting from Deleted Items moves it to Recoverable Items, still the same immutable id
            sim.mutate({"op": "delete", "item": victim})
            moved, _ = await delta_round(client, GRIFFIER, "deleteditems", deleted_link)
            assert [c.id for c in moved if "@removed" in (c.additional_data or {})] == [victim]
            recoverable, _ = await delta_round(client, GRIFFIER, "recoverableitemsdeletions", None)
            assert victim in {c.id for c in recoverable}
            # nothing changed since the last round: an empty page with a new delta link
            again, _ = await delta_round(client, GRIFFIER, inbox, inbox_link)
            assert again == []

        run(scenario())


def test_move_to_archive_mailbox_makes_a_new_item(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        item = next(i for i in sim.tenant.user(BURGEMEESTER).mailbox.by_well_known["inbox"].items.values())
        before = item.immutable_id()
        result = sim.mutate({"op": "move", "item": before, "folder": "Inbox", "archive": True})
        assert result["item"]["mailboxKind"] == "archive"
        assert result["item"]["immutableId"] != before
        assert sim.tenant.item_ref(result["item"]["immutableId"]).mime_bytes() == item.mime_bytes()


def test_change_type_filter_and_expired_sync_state(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        token = sim.mint_token()
        headers = {"Authorization": f"Bearer {token}", "Prefer": 'odata.maxpagesize=50, IdType="ImmutableId"'}
        with httpx.Client(base_url=sim.graph_url, headers=headers) as raw:
            first = raw.get(
                f"/users/{GRIFFIER}/mailFolders/inbox/messages/delta", params={"changeType": "created"}
            ).json()
            link = first["@odata.deltaLink"]
            assert "@odata.nextLink" not in first and first["value"]
            target = first["value"][0]["id"]
            sim.mutate({"op": "update", "item": target, "isRead": False})
            sim.mutate({"op": "add-message", "mailbox": GRIFFIER, "folder": "inbox"})
            created = raw.get(link).json()
            assert len(created["value"]) == 1 and created["value"][0]["id"] != target
            sim.mutate({"op": "invalidate-sync-state", "mailbox": GRIFFIER, "folder": "Inbox"})
            gone = raw.get(created["@odata.deltaLink"])
            assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"
            bad = raw.get(
                f"/users/{GRIFFIER}/mailFolders/inbox/messages/delta", params={"$deltatoken": "garbage"}
            )
            assert bad.status_code == 400


def test_mail_folders_delta_reports_new_folders(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        token = sim.mint_token()
        with httpx.Client(base_url=sim.graph_url, headers={"Authorization": f"Bearer {token}"}) as raw:
            page = raw.get(f"/users/{GRIFFIER}/mailFolders/delta()").json()
            names: set[str] = set()
            while True:
                names |= {f["displayName"] for f in page["value"]}
                if "@odata.nextLink" not in page:
                    break
                page = raw.get(page["@odata.nextLink"]).json()
            assert {"Inbox", "Projecten", "Omgevingswet", "Privé", "Clutter"} <= names
            assert "Calendar" not in names and "Deletions" not in names
            sim.mutate({"op": "create-folder", "mailbox": GRIFFIER, "parent": "Inbox", "name": "Woo 2026"})
            later = raw.get(page["@odata.deltaLink"]).json()
            assert [f["displayName"] for f in later["value"]] == ["Woo 2026"]


def test_delta_received_filter(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    box = next(m for m in truth["mailboxes"] if m["address"] == BURGEMEESTER and m["kind"] == "primary")
    inbox = [i for i in box["items"] if i["folderPath"] == "Inbox"]
    cut = sorted(i["receivedDateTime"] for i in inbox)[len(inbox) // 2]
    token = sim.mint_token()
    headers = {"Authorization": f"Bearer {token}", "Prefer": 'odata.maxpagesize=2, IdType="ImmutableId"'}
    with httpx.Client(base_url=sim.graph_url, headers=headers) as raw:
        page = raw.get(
            f"/users/{BURGEMEESTER}/mailFolders/inbox/messages/delta",
            params={"$filter": f"receivedDateTime ge {cut}"},
        ).json()
        got = list(page["value"])
        while "@odata.nextLink" in page:
            assert "filter" not in page["@odata.nextLink"]  # carried inside the token
            page = raw.get(page["@odata.nextLink"]).json()
            got += page["value"]
        assert {v["id"] for v in got} == {i["immutableId"] for i in inbox if i["receivedDateTime"] >= cut}
        refused = raw.get(
            f"/users/{BURGEMEESTER}/mailFolders/inbox/messages/delta", params={"$filter": "subject eq 'x'"}
        )
        assert refused.status_code == 400

"""The online archive mailbox the way Graph exposes it: mailbox ids from ``settings/exchange``, the
mailbox import/export API's folders and item delta, ``exportItems`` (at most 20 items)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
from msgraph.generated.admin.exchange.mailboxes.item.export_items.export_items_post_request_body import (
    ExportItemsPostRequestBody,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from connectors.simulator.graph.archive import read_export_stream
from connectors.simulator.server import RunningSimulator
from tests.simulator.conftest import run
from tests.simulator.graph_client import config, graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BURGEMEESTER = "burgemeester@gemeente-demo.nl"


def test_list_and_export_archive_items(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    archive_truth = next(
        m for m in truth["mailboxes"] if m["address"] == BURGEMEESTER and m["kind"] == "archive"
    )
    expected = {i["id"]: i for i in archive_truth["items"]}

    async def scenario() -> None:
        client = graph_client(sim)
        settings = await client.users.by_user_id(BURGEMEESTER).settings.exchange.get(
            request_configuration=config()
        )
        archive_id = settings.additional_data["inPlaceArchiveMailboxId"]
        assert archive_id == archive_truth["mailboxId"] and settings.primary_mailbox_id != archive_id
        mailbox = client.admin.exchange.mailboxes.by_mailbox_id(archive_id)
        # walk the folder tree (children of Top of Information Store, then childFolders)
        queue = list((await mailbox.folders.get(request_configuration=config())).value)
        folders = []
        while queue:
            folder = queue.pop(0)
            folders.append(folder)
            if folder.child_folder_count:
                children = await mailbox.folders.by_mailbox_folder_id(folder.id).child_folders.get(
                    request_configuration=config()
                )
                queue += children.value
        assert {f.display_name for f in folders} >= {
            "Inbox",
            "Sent Items",
            "Deleted Items",
            "Oud archief 2019",
        }
        assert next(f for f in folders if f.display_name == "Inbox").well_known_name == "inbox"
        # every item through items/delta, two per page
        seen: list[Any] = []
        for folder in folders:
            builder = mailbox.folders.by_mailbox_folder_id(folder.id).items.delta
            page = await builder.get(request_configuration=config("odata.maxpagesize=2", immutable=False))
            seen += page.value
            while page.odata_next_link:
                page = await builder.with_url(page.odata_next_link).get(
                    request_configuration=config("odata.maxpagesize=2", immutable=False)
                )
                seen += page.value
            assert page.odata_delta_link
        ipm = {i["id"] for i in archive_truth["items"] if not i["folderPath"].startswith("Recoverable Items")}
        assert {i.id for i in seen} == ipm
        assert all(i.type == "IPM.Note" and i.size == expected[i.id]["size"] for i in seen)
        # export in batches of at most 20: opaque streams that carry the exact MIME
        ids = [i.id for i in seen]
        for start in range(0, len(ids), 20):
            batch = ids[start : start + 20]
            result = await mailbox.export_items.post(
                ExportItemsPostRequestBody(item_ids=batch), request_configuration=config(immutable=False)
            )
            assert [e.item_id for e in result.value] == batch
            for entry in result.value:
                assert entry.change_key == expected[entry.item_id]["changeKey"]
                _, mime = read_export_stream(entry.data)
                assert hashlib.sha256(mime).hexdigest() == expected[entry.item_id]["sha256"]
        with pytest.raises(ODataError) as err:
            await mailbox.export_items.post(
                ExportItemsPostRequestBody(item_ids=(ids * 21)[:21]), request_configuration=config()
            )
        assert err.value.response_status_code == 400

    run(scenario())


def test_archive_delta_after_mutation_and_unknown_item(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        user = sim.tenant.user(BURGEMEESTER)
        assert user.archive is not None
        token = sim.mint_token()
        base = f"/admin/exchange/mailboxes/{user.archive.graph_id}"
        with httpx.Client(base_url=sim.graph_url, headers={"Authorization": f"Bearer {token}"}) as raw:
            first = raw.get(f"{base}/folders/inbox/items/delta").json()
            assert "@odata.deltaLink" in first
            primary_item = (
                next(iter(user.mailbox.by_well_known["inbox"].items.values())) if user.mailbox else None
            )
            assert primary_item is not None
            moved = sim.mutate(
                {"op": "move", "item": primary_item.immutable_id(), "folder": "Inbox", "archive": True}
            )
            later = raw.get(first["@odata.deltaLink"]).json()
            assert [v["id"] for v in later["value"]] == [moved["item"]["id"]]
            export = raw.post(
                f"{base}/exportItems", json={"itemIds": [moved["item"]["id"], primary_item.rest_id()]}
            ).json()
            ok, missing = export["value"]
            assert base64.b64decode(ok["data"]).startswith(b"SIMFTS01")
            assert (
                missing["error"]["code"] == "ErrorItemNotFound"
            )  # a primary-mailbox id is not in the archive
            wrong = raw.get("/admin/exchange/mailboxes/MBX:00000000@00000000/folders")
            assert wrong.status_code == 404

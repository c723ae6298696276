"""Calendar events, contacts and To Do tasks through Graph v1.0 against the simulator, with the real
msgraph-sdk: calendarView delta (ranges, paging, ``@removed``, 410, the 1,825-day limit), contact
folders (the default one and below it), To Do lists; the JSON bytes match the ground truth."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

from connectors.graph.entities import canonical_entity
from connectors.simulator.server import RunningSimulator
from connectors.simulator.state import SimulatorConfig
from connectors.simulator.throttle import ThrottleConfig
from tests.simulator.conftest import run
from tests.simulator.graph_client import config, graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MAYOR = "burgemeester@gemeente-demo.nl"
VIEW = ("2024-01-01T00:00:00Z", "2028-01-01T00:00:00Z")


def _box(truth: dict[str, Any], address: str = MAYOR) -> dict[str, Any]:
    return next(m for m in truth["mailboxes"] if m["address"] == address and m["kind"] == "primary")


def _graph(truth: dict[str, Any], graph_type: str) -> dict[str, dict[str, Any]]:
    return {
        i["immutableId"]: i for i in _box(truth)["items"] if (i.get("graph") or {}).get("type") == graph_type
    }


def _removed(entry: Any) -> bool:
    return "@removed" in (entry.additional_data or {})


async def _view_round(client: Any, link: str | None, view: tuple[str, str] = VIEW) -> tuple[list[Any], str]:
    builder = client.users.by_user_id(MAYOR).calendar_view.delta
    prefer = "odata.maxpagesize=2"
    if link:
        page = await builder.with_url(link).get(request_configuration=config(prefer))
    else:
        query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time=view[0], end_date_time=view[1]
        )
        page = await builder.get(request_configuration=config(prefer, query=query))
    entries = list(page.value or [])
    while page.odata_next_link:
        assert len(page.value) == 2 and "skiptoken" in page.odata_next_link.lower()
        page = await builder.with_url(page.odata_next_link).get(request_configuration=config(prefer))
        entries += page.value or []
    assert page.odata_delta_link and "deltatoken" in page.odata_delta_link.lower()
    return entries, page.odata_delta_link


def _raw(sim: RunningSimulator) -> httpx.Client:
    headers = {"Authorization": f"Bearer {sim.mint_token()}", "Prefer": 'IdType="ImmutableId"'}
    return httpx.Client(base_url=sim.graph_url, headers=headers)


def test_calendar_view_delta_and_exact_json(sim: RunningSimulator, truth: dict[str, Any]) -> None:
    events = _graph(truth, "event")
    assert len(events) >= 3 and all(e["graph"]["start"] < VIEW[1] for e in events.values())

    async def scenario() -> None:
        client = graph_client(sim)
        user = client.users.by_user_id(MAYOR)
        default = await user.calendar.get(request_configuration=config())
        calendars = await user.calendars.get(request_configuration=config())
        assert default.is_default_calendar and [c.id for c in calendars.value] == [default.id]
        entries, _ = await _view_round(client, None)
        assert {e.id for e in entries} == set(events) and not any(_removed(e) for e in entries)
        for entry in entries:
            truth_item = events[entry.id]
            assert entry.subject == truth_item["subject"] and entry.change_key == truth_item["changeKey"]
            assert entry.start.time_zone == "UTC" and entry.organizer.email_address.address == MAYOR
            assert entry.attendees and entry.location.display_name
        # the bytes a client stores: the same as the ground truth says, from a delta page or by id
        with _raw(sim) as raw:
            page = raw.get(
                f"/users/{MAYOR}/calendarView/delta",
                params=dict(zip(("startDateTime", "endDateTime"), VIEW, strict=True)),
            )
            for value in page.json()["value"]:
                digest = hashlib.sha256(canonical_entity(value)).hexdigest()
                assert digest == events[value["id"]]["graph"]["sha256"]
                by_id = raw.get(f"/users/{MAYOR}/events/{value['id']}").json()
                assert "@odata.context" in by_id and canonical_entity(by_id) == canonical_entity(value)
        # the listing a reconciliation uses: calendarView with $select and $top, nextLink paging
        listed = await user.calendar.calendar_view.get(
            request_configuration=config(
                query=user.calendar.calendar_view.CalendarViewRequestBuilderGetQueryParameters(
                    start_date_time=VIEW[0], end_date_time=VIEW[1], select=["id", "start"], top=1
                )
            )
        )
        ids = [e.id for e in listed.value]
        while listed.odata_next_link:
            listed = await user.calendar.calendar_view.with_url(listed.odata_next_link).get(
                request_configuration=config()
            )
            ids += [e.id for e in listed.value]
        assert sorted(ids) == sorted(events)

    run(scenario())


def test_calendar_view_rules(sim: RunningSimulator) -> None:
    with _raw(sim) as raw:
        path = f"/users/{MAYOR}/calendarView/delta"
        missing = raw.get(path)
        assert missing.status_code == 400 and missing.json()["error"]["code"] == "ErrorInvalidParameter"
        too_long = raw.get(
            path, params={"startDateTime": "2020-01-01T00:00:00", "endDateTime": "2025-01-02T00:00:00"}
        )
        assert too_long.status_code == 400
        assert too_long.json()["error"]["message"].endswith("Maximum number of days: 1825")
        select = raw.get(
            path, params={"startDateTime": VIEW[0], "endDateTime": VIEW[1], "$select": "subject"}
        )
        assert select.status_code == 400
        # v1.0 has no delta on other calendars (beta has)
        calendar_id = raw.get(f"/users/{MAYOR}/calendar").json()["id"]
        other = raw.get(
            f"/users/{MAYOR}/calendars/{calendar_id}/calendarView/delta",
            params=dict(startDateTime=VIEW[0], endDateTime=VIEW[1]),
        )
        assert other.status_code == 400


def test_calendar_delta_reports_edits_deletions_leaving_the_view_and_410(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        client = graph_client(sim)
        events = sorted(_graph(sim.truth(), "event"))
        edited, deleted, redated = events[0], events[1], events[2]

        async def scenario() -> None:
            _, link = await _view_round(client, None)
            sim.mutate(
                {"op": "edit-item", "item": edited, "subject": "Afspraak: verzet", "location": "Trouwzaal"}
            )
            sim.mutate({"op": "delete", "item": deleted})
            sim.mutate(
                {
                    "op": "edit-item",
                    "item": redated,
                    "start": "2029-05-01T09:00:00Z",
                    "end": "2029-05-01T10:00:00Z",
                }
            )
            changes, link = await _view_round(client, link)
            by_id = {c.id: c for c in changes}
            assert set(by_id) == {edited, deleted, redated}
            assert (
                by_id[edited].subject == "Afspraak: verzet"
                and by_id[edited].location.display_name == "Trouwzaal"
            )
            assert _removed(by_id[deleted]) and _removed(by_id[redated])  # gone, and outside the view now
            assert by_id[deleted].additional_data["@removed"] == {"reason": "deleted"}
            later, _ = await _view_round(client, None, ("2028-01-01T00:00:00Z", "2032-01-01T00:00:00Z"))
            assert [e.id for e in later] == [redated]
            idle, link = await _view_round(client, link)
            assert idle == []
            sim.mutate({"op": "invalidate-sync-state", "mailbox": MAYOR, "folder": "Calendar"})
            with pytest.raises(ODataError) as err:
                await _view_round(client, link)
            assert err.value.response_status_code == 410 and err.value.error.code == "SyncStateNotFound"

        run(scenario())


def test_contact_folders_and_contact_delta(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        client = graph_client(sim)
        [contact] = _graph(sim.truth(), "contact")

        async def delta(folder_id: str, link: str | None = None) -> tuple[list[Any], str]:
            builder = (
                client.users.by_user_id(MAYOR).contact_folders.by_contact_folder_id(folder_id).contacts.delta
            )
            page = await (builder.with_url(link) if link else builder).get(request_configuration=config())
            return list(page.value or []), page.odata_delta_link

        async def scenario() -> None:
            user = client.users.by_user_id(MAYOR)
            default = await user.contact_folders.by_contact_folder_id("contacts").get(
                request_configuration=config()
            )
            assert default.display_name == "Contacts"
            assert (await user.contact_folders.get(request_configuration=config())).value == []
            entries, link = await delta(default.id)
            assert [(e.id, e.parent_folder_id) for e in entries] == [(contact, default.id)]
            assert entries[0].email_addresses and entries[0].company_name and entries[0].business_phones
            sim.mutate(
                {
                    "op": "create-folder",
                    "mailbox": MAYOR,
                    "parent": "Contacts",
                    "name": "Raad",
                    "folderClass": "IPF.Contact",
                }
            )
            [child] = (await user.contact_folders.get(request_configuration=config())).value
            assert child.display_name == "Raad" and child.parent_folder_id == default.id
            children = await user.contact_folders.by_contact_folder_id(child.id).child_folders.get(
                request_configuration=config()
            )
            assert children.value == []
            sim.mutate({"op": "move", "item": contact, "folder": "Contacts/Raad"})
            left, _ = await delta(default.id, link)
            arrived, _ = await delta(child.id)
            assert [(e.id, _removed(e)) for e in left] == [(contact, True)]
            assert [(e.id, e.parent_folder_id) for e in arrived] == [(contact, child.id)]  # same immutable id
            regular = await user.contact_folders.by_contact_folder_id(child.id).contacts.get(
                request_configuration=config(immutable=False)
            )
            assert len(regular.value) == 1 and regular.value[0].id != contact  # a regular id names the folder

        run(scenario())


def test_todo_lists_and_task_delta(fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        client = graph_client(sim)
        tasks = _graph(sim.truth(), "todoTask")

        async def scenario() -> None:
            lists = await client.users.by_user_id(MAYOR).todo.lists.get(request_configuration=config())
            [default] = lists.value
            assert default.display_name == "Tasks" and default.wellknown_list_name.value == "defaultList"
            tasks_builder = client.users.by_user_id(MAYOR).todo.lists.by_todo_task_list_id(default.id).tasks
            page = await tasks_builder.delta.get(request_configuration=config("odata.maxpagesize=2"))
            seen = list(page.value)
            while page.odata_next_link:
                page = await tasks_builder.delta.with_url(page.odata_next_link).get(
                    request_configuration=config("odata.maxpagesize=2")
                )
                seen += page.value
            assert {t.id for t in seen} == set(tasks) and all(t.title and t.status for t in seen)
            first, second = sorted(tasks)[:2]
            sim.mutate({"op": "edit-item", "item": first, "status": "completed"})
            sim.mutate({"op": "delete", "item": second})
            changes = await tasks_builder.delta.with_url(page.odata_delta_link).get(
                request_configuration=config()
            )
            by_id = {t.id: t for t in changes.value}
            assert by_id[first].status.value == "completed" and by_id[first].completed_date_time is not None
            assert _removed(by_id[second]) and set(by_id) == {first, second}

        run(scenario())


def test_new_endpoints_are_throttled_per_mailbox(fresh_sim: Any) -> None:
    config_ = SimulatorConfig(throttle=ThrottleConfig(mailbox_budget=3, mailbox_window=60.0))
    with fresh_sim(config=config_) as sim, _raw(sim) as raw:
        codes = [raw.get(f"/users/{MAYOR}/todo/lists").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        throttled = raw.get(
            f"/users/{MAYOR}/calendarView/delta", params=dict(startDateTime=VIEW[0], endDateTime=VIEW[1])
        )
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1

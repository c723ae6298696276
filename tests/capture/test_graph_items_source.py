"""The Graph JSON source (connectors/graph/items.py) against the simulator: its collections, the
calendarView ranges, an event across a range boundary captured once, retries by id."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.graph.auth import ClientCredentialsTokenSource
from connectors.graph.calendar import FAR_PAST, view_ranges
from connectors.graph.client import connect
from connectors.graph.entities import canonical_entity
from connectors.graph.items import GraphItems
from connectors.simulator.server import RunningSimulator, run_simulator

MAYOR = "burgemeester@gemeente-demo.nl"
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def test_view_ranges_are_fixed_and_within_graphs_limit() -> None:
    whole = view_ranges(None, None, NOW)
    assert whole[0][0] == FAR_PAST and whole[-1][1] > NOW + timedelta(days=365 * 5) >= whole[-1][0]
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(whole))  # contiguous
    assert all((end - start).days <= 1825 for start, end in whole)
    # a designation's pre-start allowance starts the first view; its end closes the last one
    since, until = datetime(2025, 3, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    bounded = view_ranges(since, until, NOW)
    assert bounded == [(datetime(2024, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))]
    assert view_ranges(None, None, NOW + timedelta(days=30)) == whole  # stable from run to run


async def _all_changes(items: GraphItems, folder_id: str) -> list[Any]:
    changes, cursor = [], None
    while True:
        page = await items.folder_changes(folder_id, cursor)
        changes += page.changes
        if page.complete:
            return changes
        cursor = page.next_cursor


def _graph_items(sim: RunningSimulator, graph_type: str | None = "event") -> dict[str, dict[str, Any]]:
    box = next(m for m in sim.truth()["mailboxes"] if m["address"] == MAYOR and m["kind"] == "primary")
    return {
        i["immutableId"]: i
        for i in box["items"]
        if i.get("graph") and graph_type in (None, i["graph"]["type"])
    }


def _source(sim: RunningSimulator) -> GraphItems:
    tokens = ClientCredentialsTokenSource(sim.token_url, sim.client_id, sim.client_secret)
    connection = connect(tokens, base_url=sim.graph_url)
    return GraphItems(connection, MAYOR, page_size=2, now=NOW)


def test_collections_and_an_event_across_a_range_boundary() -> None:
    with run_simulator(seed=7, profile="small") as sim:
        boundary = sorted(_graph_items(sim))[0]
        sim.mutate(
            {
                "op": "edit-item",
                "item": boundary,
                "start": "2027-12-31T23:00:00Z",
                "end": "2028-01-01T01:00:00Z",
            }
        )
        expected = {item_id: i["graph"]["sha256"] for item_id, i in _graph_items(sim, None).items()}

        async def scenario() -> None:
            items = _source(sim)
            folders = await items.list_folders()
            kinds = [f.folder_class for f in folders]
            assert kinds.count("IPF.Appointment") == len(view_ranges(None, None, NOW))
            assert kinds.count("IPF.Contact") == 1 and kinds.count("IPF.Task") == 1
            assert all(f.total_items is None for f in folders) and items.not_captured == []
            seen: dict[str, list[str]] = {}
            for folder in folders:
                for change in await _all_changes(items, folder.folder_id):
                    assert not change.removed and change.entity is not None
                    assert canonical_entity(change.entity) and change.change_key
                    seen.setdefault(change.item_id, []).append(folder.folder_id)
                    assert expected[change.item_id] == _sha(canonical_entity(change.entity))
                listed = await items.list_item_ids(folder.folder_id)
                assert listed == {i for i, where in seen.items() if folder.folder_id in where}
            assert set(seen) == set(expected) and all(len(where) == 1 for where in seen.values())
            [(view_id,)] = [tuple(w) for i, w in seen.items() if i == boundary]
            assert view_id.endswith(":20240101-20280101")  # where it starts, not where it ends
            again = await items.change_for(view_id, boundary)
            assert again is not None and again.entity is not None
            assert _sha(canonical_entity(again.entity)) == expected[boundary]  # by id: the same bytes
            await items.connection.aclose()

        asyncio.run(scenario())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_other_calendars_are_reported_not_captured() -> None:
    with run_simulator(seed=7, profile="small") as sim:
        sim.mutate(
            {"op": "create-folder", "mailbox": MAYOR, "parent": "Calendar", "name": "Raadsagenda",
             "folderClass": "IPF.Appointment"}
        )  # fmt: skip

        async def scenario() -> None:
            items = _source(sim)
            await items.list_folders()
            assert [(c["collection"], c["name"]) for c in items.not_captured] == [("calendar", "Raadsagenda")]
            await items.connection.aclose()

        asyncio.run(scenario())

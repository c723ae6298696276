"""The retention lifecycle in the REST API and on the Dutch pages (issue 21), on a captured simulated
tenant: the mayor (role official) sees her own items inside the window and marks one; she cannot
confirm it herself; an archivist confirms it and Woo search stops showing it at once; holds are
placed and released; the retention run reports; every step is audited by the service the CLI calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from capstone.audit.log import AuditLog
from capstone.services import state_engine
from capstone.web.server import run_web
from tests.web.conftest import CASE, WebWorld
from tests.web.signin import csrf_of, sign_in

API = "/api/v1/retention"


def _api(world: WebWorld, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
    response: httpx.Response = world.client.request(
        method, API + path, headers=world.auth(world.token(user)), **kwargs
    )
    return response


def _last_entry(world: WebWorld) -> Any:
    return list(AuditLog(state_engine(world.settings)).entries())[-1]


def _search(world: WebWorld, q: str) -> dict[str, Any]:
    found = world.client.get(
        f"/api/v1/woo/cases/{CASE}/search",
        params={"q": q, "limit": 500},
        headers=world.auth(world.token("woo")),
    )
    assert found.status_code == 200, found.text
    result: dict[str, Any] = found.json()
    return result


@pytest.fixture(scope="module")
def own(web_world: WebWorld) -> list[dict[str, Any]]:
    response = _api(web_world, "GET", "/own-items", "burgemeester")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


def test_own_items_are_the_callers_mailbox_inside_the_window(
    web_world: WebWorld, own: list[dict[str, Any]]
) -> None:
    assert own, "the mayor's captured mail is inside the (ten-week) window"
    assert {i["mailbox"].casefold() for i in own} == {web_world.upn("burgemeester").casefold()}
    assert all(i["mark"] is None for i in own)
    archivist = _api(web_world, "GET", "/own-items", "archivaris")
    assert archivist.status_code == 403 and archivist.json()["title"] == "Geen toegang"


def test_mark_confirm_by_another_leaves_search_and_is_audited(
    web_world: WebWorld, own: list[dict[str, Any]]
) -> None:
    mine = {i["record_id"] for i in own}
    found = [
        (q, h) for q in ("begroting", "overleg", "vergadering", "de") for h in _search(web_world, q)["hits"]
    ]
    word, target = next(((q, h) for q, h in found if h["record_id"] in mine), (None, None))
    assert word is not None and target is not None, "a search word that finds one of the mayor's own items"
    total_before = _search(web_world, word)["total"]

    marked = _api(web_world, "POST", "/exclusions", "burgemeester",
                  json={"scope": "record", "value": target["record_id"], "category": "prive", "reason": "verjaardag"})  # fmt: skip
    assert marked.status_code == 201, marked.text
    exclusion = marked.json()
    assert exclusion["status"] == "marked" and exclusion["record_ids"] == [target["record_id"]]
    assert exclusion["marked_by"] == web_world.upn("burgemeester")
    assert target["record_id"] in {h["record_id"] for h in _search(web_world, word)["hits"]}  # not yet

    own_confirm = _api(web_world, "POST", f"/exclusions/{exclusion['exclusion_id']}/confirm", "burgemeester")
    assert own_confirm.status_code == 403
    entry = _last_entry(web_world)
    assert (entry.actor, entry.action, entry.outcome) == (
        web_world.upn("burgemeester"),
        "exclusion-confirm",
        "refused",
    )

    confirmed = _api(web_world, "POST", f"/exclusions/{exclusion['exclusion_id']}/confirm", "archivaris",
                     json={"note": "vier ogen"})  # fmt: skip
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["decided_by"] == web_world.upn("archivaris")
    entry = _last_entry(web_world)
    assert (entry.actor, entry.action, entry.outcome) == (
        web_world.upn("archivaris"),
        "exclusion-confirm",
        "allowed",
    )

    after = _search(web_world, word)
    assert target["record_id"] not in {h["record_id"] for h in after["hits"]}
    assert after["total"] == total_before - 1
    view = web_world.client.get(f"/api/v1/woo/cases/{CASE}/documents/{target['doc_id']}",
                                headers=web_world.auth(web_world.token("woo")))  # fmt: skip
    assert view.status_code == 404

    again = _api(web_world, "POST", f"/exclusions/{exclusion['exclusion_id']}/refuse", "archivaris")
    assert again.status_code == 409 and "already confirmed" in again.json()["detail"]
    unknown = _api(web_world, "POST", "/exclusions/no-such-id/confirm", "archivaris")
    assert unknown.status_code == 404
    listed = _api(web_world, "GET", "/exclusions", "auditor", params={"status": "confirmed"})
    assert exclusion["exclusion_id"] in {e["exclusion_id"] for e in listed.json()}
    bad = _api(web_world, "POST", "/exclusions", "burgemeester",
               json={"scope": "mailbox", "value": "x", "category": "prive", "reason": "r"})  # fmt: skip
    assert bad.status_code == 400  # a whole mailbox is never excluded

    run = _api(web_world, "POST", "/run", "archivaris")
    assert run.status_code == 200, run.text
    report = run.json()
    assert report["missing"] == [] and report["objects"] > 0
    assert report["excluded_waiting"] >= 1 and report["excluded_deleted"] == 0  # its lock has not lapsed
    status = _api(web_world, "GET", "/status", "auditor").json()
    assert status["exclusions"]["confirmed"] >= 1 and status["objects"] == report["objects"]


def test_hold_placed_by_woo_officer_released_by_archivist(
    web_world: WebWorld, own: list[dict[str, Any]]
) -> None:
    record_id = own[-1]["record_id"]
    placed = _api(web_world, "POST", "/holds", "woo",
                  json={"ref": CASE, "kind": "woo-case", "reason": "verzoek", "scope": "record", "value": record_id})  # fmt: skip
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["placed_by"] == web_world.upn("woo") and len(hold["blobs"]) == 1
    active = _api(web_world, "GET", "/holds", "auditor", params={"active": "true"}).json()
    assert hold["hold_id"] in {h["hold_id"] for h in active}
    refused = _api(web_world, "POST", f"/holds/{hold['hold_id']}/release", "woo", json={"reason": "klaar"})
    assert refused.status_code == 403
    released = _api(
        web_world, "POST", f"/holds/{hold['hold_id']}/release", "archivaris", json={"reason": "klaar"}
    )
    assert released.status_code == 200 and released.json()["released_by"] == web_world.upn("archivaris")
    assert _api(web_world, "POST", f"/holds/{hold['hold_id']}/release", "archivaris",
                json={"reason": "x"}).status_code == 409  # fmt: skip
    nothing = _api(web_world, "POST", "/holds", "woo",
                   json={"ref": CASE, "kind": "woo-case", "reason": "r", "scope": "record", "value": "nope"})  # fmt: skip
    assert nothing.status_code == 400 and "no archived content" in nothing.json()["detail"]


def test_destruction_list_needs_a_second_archivist(web_world: WebWorld) -> None:
    proposed = _api(web_world, "POST", "/destruction-lists", "archivaris")
    assert proposed.status_code == 201, proposed.text
    summary = proposed.json()
    assert summary["status"] == "proposed" and summary["items"] == 0  # nothing is past a V term
    own = _api(web_world, "POST", f"/destruction-lists/{summary['list_id']}/approve", "archivaris",
               json={"decision_ref": "B-2026-1"})  # fmt: skip
    assert own.status_code == 403 and "another archivist" in own.json()["detail"]
    early = _api(web_world, "POST", f"/destruction-lists/{summary['list_id']}/destroy", "archivaris")
    assert early.status_code == 409


# -- the pages -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(web_world: WebWorld) -> Iterator[str]:
    with run_web(web_world.settings, web_world.web) as url:
        yield url


def test_pages_mark_decide_hold_and_run(
    web_world: WebWorld, base_url: str, own: list[dict[str, Any]]
) -> None:
    with httpx.Client(timeout=120) as mayor:
        sign_in(mayor, base_url, "burgemeester")
        page = mayor.get(base_url + "/prive")
        assert page.status_code == 200 and "Uw berichten binnen het venster" in page.text
        unmarked = next(i for i in own[1:] if i["record_id"] in page.text)
        form = {"scope": "record", "waarde": unmarked["record_id"], "categorie": "partijpolitiek",
                "reden": "partijbijeenkomst <script>"}  # fmt: skip
        assert mayor.post(base_url + "/prive/markeren", data=form).status_code == 403  # no CSRF token
        done = mayor.post(base_url + "/prive/markeren", data={**form, "csrf": csrf_of(page.text)})
        assert done.status_code == 303 and done.headers["location"].startswith("/prive?gemarkeerd=")
        shown = mayor.get(base_url + done.headers["location"])
        assert "Uw markering is vastgelegd" in shown.text
        assert "partijbijeenkomst &lt;script&gt;" in shown.text and "<script>" not in shown.text
        assert mayor.get(base_url + "/bewaren").status_code == 403
    exclusion_id = done.headers["location"].split("=", 1)[1]

    with httpx.Client(timeout=120) as archivist:
        sign_in(archivist, base_url, "archivaris")
        page = archivist.get(base_url + "/bewaren")
        assert page.status_code == 200 and "Bewaren en vernietigen" in page.text
        assert f"/bewaren/uitsluitingen/{exclusion_id}/besluiten" in page.text
        decided = archivist.post(
            base_url + f"/bewaren/uitsluitingen/{exclusion_id}/besluiten",
            data={"csrf": csrf_of(page.text), "besluit": "weigeren", "toelichting": "zakelijk"},
        )
        assert decided.status_code == 303
        page = archivist.get(base_url + "/bewaren")
        assert f"geweigerd door {web_world.upn('archivaris')}" in page.text
        assert f"/bewaren/uitsluitingen/{exclusion_id}/besluiten" not in page.text

        placed = archivist.post(base_url + "/bewaren/blokkades", data={
            "csrf": csrf_of(page.text), "kenmerk": "ZAAK-7", "soort": "legal", "scope": "record",
            "waarde": unmarked["record_id"], "reden": "rechtszaak"})  # fmt: skip
        assert placed.status_code == 303
        page = archivist.get(base_url + "/bewaren")
        assert "ZAAK-7" in page.text and "juridische zaak" in page.text
        run = archivist.post(base_url + "/bewaren/run", data={"csrf": csrf_of(page.text)})
        assert run.status_code == 200 and "Bewaarrun uitgevoerd" in run.text
        assert "Elk object is verantwoord." in run.text
        [hold] = [h for h in _api(web_world, "GET", "/holds", "auditor").json() if h["ref"] == "ZAAK-7"]
        released = archivist.post(base_url + f"/bewaren/blokkades/{hold['hold_id']}/opheffen",
                                  data={"csrf": csrf_of(page.text), "reden": "zaak gesloten"})  # fmt: skip
        assert released.status_code == 303
        assert "opgeheven door" in archivist.get(base_url + "/bewaren").text
        empty = archivist.post(base_url + f"/bewaren/blokkades/{hold['hold_id']}/opheffen",
                               data={"csrf": csrf_of(page.text), "reden": "nogmaals"})  # fmt: skip
        assert empty.status_code == 409 and "already released" in empty.text

    with httpx.Client(timeout=120) as auditor:
        sign_in(auditor, base_url, "auditor")
        page = auditor.get(base_url + "/bewaren")
        assert page.status_code == 200 and "Bewaarrun starten" not in page.text  # reads, decides nothing
        assert "/besluiten" not in page.text

"""The retention lifecycle in the REST API and on the Dutch pages (issue 21), on a captured simulated
tenant: the mayor (role official) sees her own items inside the window and marks one; she cannot
confirm it herself; an archivist confirms it and Woo search stops showing it at once; holds are
placed and released; the retention run reports; every step is audited by the service the CLI calls."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from capstone.audit.log import AuditLog
from capstone.services import open_vault, state_engine
from capstone.settings import Settings
from capstone.web.server import run_web
from tests.retention.conftest import capture, wait_until
from tests.web.conftest import CASE, WebWorld
from tests.web.signin import assert_dutch, csrf_of, sign_in
from vault.layout import blob_key

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
    mayor = web_world.upn("burgemeester").casefold()
    assert {i["owner"].casefold() for i in own if i["kind"] == "mail-message"} == {mayor}
    # Her chats too (a chat of two key officials is in each one's archive).
    assert {i["kind"] for i in own} >= {"mail-message", "chat-message-version"}
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
    # Her own copy alone: an item another official's archive holds as well (the same message in two
    # mailboxes or chats) keeps its blob for that archive when she excludes hers.
    word, target = next(
        ((q, h) for q, h in found if h["record_id"] in mine and h["duplicates"] == 1), (None, None)
    )
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
        assert_dutch(empty, 409, "Deze blokkade is al opgeheven.")

    with httpx.Client(timeout=120) as auditor:
        sign_in(auditor, base_url, "auditor")
        page = auditor.get(base_url + "/bewaren")
        assert page.status_code == 200 and "Bewaarrun starten" not in page.text  # reads, decides nothing
        assert "/besluiten" not in page.text


def test_retention_forms_refuse_bad_input_in_dutch(web_world: WebWorld, base_url: str) -> None:
    """Every retention form with bad input: the service's refusal in Dutch, no English on the page."""
    with httpx.Client(timeout=120) as mayor:
        sign_in(mayor, base_url, "burgemeester")
        token = csrf_of(mayor.get(base_url + "/prive").text)
        mark = {"csrf": token, "scope": "record", "waarde": "geen-record", "categorie": "prive", "reden": "r"}
        assert_dutch(mayor.post(base_url + "/prive/markeren", data={**mark, "categorie": "geheim"}), 400,
                     "geheim is geen categorie; kies privé of partijpolitiek.")  # fmt: skip
        assert_dutch(
            mayor.post(base_url + "/prive/markeren", data={**mark, "reden": ""}), 400, "Vul een reden in."
        )
        assert_dutch(mayor.post(base_url + "/prive/markeren", data=mark), 400,
                     "Er is geen gearchiveerde inhoud voor record geen-record.")  # fmt: skip
    with httpx.Client(timeout=120) as archivist:
        sign_in(archivist, base_url, "archivaris")
        token = csrf_of(archivist.get(base_url + "/bewaren").text)
        hold = {
            "csrf": token,
            "kenmerk": "Z-1",
            "soort": "legal",
            "scope": "record",
            "waarde": "geen",
            "reden": "r",
        }
        assert_dutch(archivist.post(base_url + "/bewaren/blokkades", data={**hold, "soort": "ander"}), 400,
                     "Een blokkade is voor een Woo-verzoek of een juridische zaak")  # fmt: skip
        assert_dutch(archivist.post(base_url + "/bewaren/blokkades", data={**hold, "reden": " "}), 400,
                     "Vul een reden in.")  # fmt: skip
        assert_dutch(archivist.post(base_url + "/bewaren/blokkades/geen/opheffen",
                                    data={"csrf": token, "reden": "r"}), 404, "Deze blokkade bestaat niet.")  # fmt: skip
        assert_dutch(archivist.post(base_url + "/bewaren/uitsluitingen/geen/besluiten",
                                    data={"csrf": token, "besluit": "bevestigen"}), 404, "Deze uitsluiting bestaat niet.")  # fmt: skip
        assert_dutch(archivist.get(base_url + "/bewaren/vernietigingslijsten/geen"), 404,
                     "Deze vernietigingslijst bestaat niet.")  # fmt: skip
        proposed = archivist.post(base_url + "/bewaren/vernietigingslijsten", data={"csrf": token})
        assert proposed.status_code == 303
        no_ref = archivist.post(base_url + proposed.headers["location"] + "/goedkeuren",
                                data={"csrf": token, "besluit": ""})  # fmt: skip
        assert_dutch(no_ref, 400, "Vul het kenmerk van het vernietigingsbesluit in.")


# -- the destruction pages, on a vault of its own with terms of seconds --------------------------------

SHORT_WINDOW, SHORT_TERM = 1, 3  # seconds: exclusion window (plus a margin of 1 s) and the V term


@dataclass
class ShortWorld:
    settings: Settings
    base_url: str
    due: list[str]  # blobs of V records whose term will have ended
    kept: list[str]  # a B record and a V record whose term has not ended: never on the list

    def entries(self) -> list[Any]:
        return list(AuditLog(state_engine(self.settings)).entries())


@pytest.fixture(scope="module")
def short(web_world: WebWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShortWorld]:
    """A second web application on the same OpenID Provider, its own local vault and state database,
    with two V records whose term ends in seconds, a B record and a V record of an hour."""
    home = tmp_path_factory.mktemp("short") / "home"
    settings = Settings(
        home=home, exclusion_window=f"{SHORT_WINDOW}s", exclusion_margin="1s",
        retention_terms={"overig": f"V:{SHORT_TERM}s", "lang": "V:1h"},
    )  # fmt: skip
    vault = open_vault(settings, create=True)
    try:
        due = [capture(vault, f"V record {n}".encode(), item=f"v{n}", category="overig")[0] for n in (1, 2)]
        kept = [capture(vault, b"B record of the mayor", item="b1", category="college")[0]]
        kept.append(capture(vault, b"V record of a longer term", item="v3", category="lang")[0])
        wait_until(datetime.now(UTC) + timedelta(seconds=SHORT_TERM))
    finally:
        vault.close()
    with run_web(settings, web_world.web) as url:
        yield ShortWorld(settings, url, due, kept)


@contextmanager
def _signed_in(base_url: str, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=120) as client:
        sign_in(client, base_url, user)
        yield client


def test_destruction_pages_four_eyes_destroy_and_certificate(web_world: WebWorld, short: ShortWorld) -> None:
    lists = "/bewaren/vernietigingslijsten"
    with _signed_in(short.base_url, "archivaris") as archivist:
        page = archivist.get(short.base_url + "/bewaren")
        assert page.status_code == 200 and "Nog geen vernietigingslijsten." in page.text
        assert "nu te vernietigen: 2" in page.text
        assert archivist.post(short.base_url + lists).status_code == 403  # no CSRF token
        assert short.entries()[-1].action == "web-csrf"
        proposed = archivist.post(short.base_url + lists, data={"csrf": csrf_of(page.text)})
        assert proposed.status_code == 303 and proposed.headers["location"].startswith(lists + "/")
        detail_path = proposed.headers["location"]
        list_id = detail_path.rsplit("/", 1)[1]
        detail = archivist.get(short.base_url + detail_path)
        assert detail.status_code == 200 and "voorgesteld" in detail.text
        assert '<th scope="row">Objecten op de lijst</th><td>2</td>' in detail.text
        assert (
            f"<td>overig</td><td>V:{SHORT_TERM}s</td>" in detail.text and "<td>d-overig</td>" in detail.text
        )

        own = archivist.post(short.base_url + detail_path + "/goedkeuren",
                             data={"csrf": csrf_of(detail.text), "besluit": "VB-2026-12"})  # fmt: skip
        assert own.status_code == 403 and "zelf opgesteld" in own.text and "vier ogen" in own.text
        refusal = next(e for e in reversed(short.entries()) if e.action == "retention-approve")
        assert (refusal.actor, refusal.outcome) == (web_world.upn("archivaris"), "refused")
        early = archivist.post(short.base_url + detail_path + "/vernietigen",
                               data={"csrf": csrf_of(detail.text), "bevestigd": "ja"})  # fmt: skip
        assert_dutch(early, 409, "voorgesteld: alleen een goedgekeurde lijst wordt vernietigd")

    with _signed_in(short.base_url, "archivaris2") as second:
        detail = second.get(short.base_url + detail_path)
        approved = second.post(short.base_url + detail_path + "/goedkeuren",
                               data={"csrf": csrf_of(detail.text), "besluit": "VB-2026-12"})  # fmt: skip
        assert approved.status_code == 303
        detail = second.get(short.base_url + detail_path)
        assert "goedgekeurd" in detail.text and "VB-2026-12" in detail.text
        assert f"{web_world.upn('archivaris2')} op " in detail.text and "/vernietigen" in detail.text

    with _signed_in(short.base_url, "archivaris") as archivist:
        detail = archivist.get(short.base_url + detail_path)
        unconfirmed = archivist.post(short.base_url + detail_path + "/vernietigen",
                                     data={"csrf": csrf_of(detail.text)})  # fmt: skip
        assert unconfirmed.status_code == 400 and "er is niets vernietigd" in unconfirmed.text
        done = archivist.post(short.base_url + detail_path + "/vernietigen",
                              data={"csrf": csrf_of(detail.text), "bevestigd": "ja"})  # fmt: skip
        assert done.status_code == 303 and done.headers["location"].endswith("#verklaring")
        detail = archivist.get(short.base_url + detail_path)
        assert "Verklaring van vernietiging" in detail.text
        assert '<th scope="row">Aantal vernietigd</th><td>2</td>' in detail.text
        assert all(sha in detail.text for sha in short.due)
        certificate = archivist.get(short.base_url + detail_path + "/verklaring")
        assert certificate.status_code == 200 and "attachment" in certificate.headers["content-disposition"]
        sha = hashlib.sha256(certificate.content).hexdigest()
        assert certificate.headers["x-capstone-sha256"] == sha and sha in detail.text
        document = certificate.json()
        assert document["decision_ref"] == "VB-2026-12" and document["title"] == "Verklaring van vernietiging"
        assert (document["proposed_by"], document["approved_by"], document["destroyed_by"]) == (
            web_world.upn("archivaris"), web_world.upn("archivaris2"), web_world.upn("archivaris"),
        )  # fmt: skip
        assert sorted(d["sha256"] for d in document["destroyed"]) == sorted(short.due)
        overview = archivist.get(short.base_url + "/bewaren")
        assert f'href="{detail_path}"' in overview.text and "vernietigd" in overview.text
        assert f"{detail_path}/verklaring" in overview.text
        unknown = archivist.get(short.base_url + lists + "/bestaat-niet")
        assert unknown.status_code == 404 and "Niet gevonden" in unknown.text

    vault = open_vault(short.settings)
    try:
        assert all(vault.store.head(blob_key(s)) is None for s in short.due)
        assert all(vault.store.head(blob_key(s)) is not None for s in short.kept)  # B, and V not yet due
        [record] = [
            r for r in vault.iter_records("destruction-certificate") if r.source["list_id"] == list_id
        ]
        assert record.blob_sha256 == sha and record.record_id in detail.text
    finally:
        vault.close()

    with _signed_in(short.base_url, "auditor") as auditor:  # reads everything, changes nothing
        overview = auditor.get(short.base_url + "/bewaren")
        assert overview.status_code == 200 and "Vernietigingslijst opstellen" not in overview.text
        detail = auditor.get(short.base_url + detail_path)
        assert detail.status_code == 200 and "VB-2026-12" in detail.text
        assert "/goedkeuren" not in detail.text and "/vernietigen" not in detail.text
        assert auditor.get(short.base_url + detail_path + "/verklaring").content == certificate.content
        refused = auditor.post(short.base_url + lists, data={"csrf": csrf_of(overview.text)})
        assert (
            refused.status_code == 403
            and "U heeft hiervoor de rol archivaris (archivist) nodig" in refused.text
        )
        entry = short.entries()[-1]
        assert (entry.actor, entry.action, entry.outcome) == (
            web_world.upn("auditor"),
            "retention-propose",
            "refused",
        )
    with _signed_in(short.base_url, "medewerker") as nobody:
        for path in (detail_path, detail_path + "/verklaring"):
            page = nobody.get(short.base_url + path)
            assert page.status_code == 403 and "U heeft hiervoor de rol" in page.text, path
    with _signed_in(short.base_url, "burgemeester") as mayor:
        page = mayor.get(short.base_url + "/prive")
        assert mayor.post(short.base_url + detail_path + "/vernietigen",
                          data={"csrf": csrf_of(page.text), "bevestigd": "ja"}).status_code == 403  # fmt: skip


def test_prive_page_marks_a_whole_chat(web_world: WebWorld, base_url: str) -> None:
    with httpx.Client(timeout=120) as mayor:
        sign_in(mayor, base_url, "burgemeester")
        page = mayor.get(base_url + "/prive")
        assert "chatbericht" in page.text  # her Teams chats are among her own items
        chats = re.findall(r'<option value="chat:([^"]+)">De hele chat</option>', page.text)
        assert chats, "a chat's rows offer the whole chat"
        before = _api(web_world, "GET", "/own-items", "burgemeester").json()
        marked = {i["chat_id"] for i in before if i["mark"]}  # an earlier test marked a message of it
        chat = next(c for c in reversed(chats) if c not in marked)
        done = mayor.post(base_url + "/prive/markeren", data={
            "csrf": csrf_of(page.text), "doel": f"chat:{chat}", "categorie": "prive", "reden": "familie"})  # fmt: skip
        assert done.status_code == 303, done.text
        after = mayor.get(base_url + done.headers["location"])
        assert f'value="chat:{chat}"' not in after.text  # every row of that chat now shows its mark
    exclusion_id = done.headers["location"].split("=", 1)[1]
    [exclusion] = [e for e in _api(web_world, "GET", "/exclusions", "auditor").json()
                   if e["exclusion_id"] == exclusion_id]  # fmt: skip
    assert (exclusion["scope"], exclusion["value"], exclusion["status"]) == ("chat", chat, "marked")
    own = _api(web_world, "GET", "/own-items", "burgemeester").json()
    in_chat = {i["record_id"] for i in own if i["chat_id"] == chat}
    assert len(in_chat) > 1 and in_chat <= set(exclusion["record_ids"])
    assert {i["mark"] for i in own if i["chat_id"] == chat} == {"marked"}

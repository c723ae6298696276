"""The Dutch pages over real HTTP: sign in through the simulated tenant (authorization code + PKCE),
each role sees its pages and is refused the others (403, Dutch message, audited), CSRF, the CSV
import preview (all or nothing), a Woo officer's search, document, export and download, sign-out."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from capstone.audit.log import AuditLog
from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.web.server import run_web
from tests.web.conftest import CASE, WebWorld
from tests.web.signin import BAD_CSV, GOOD_CSV, HEADER, assert_dutch, csrf_of, sign_in, visible

PAGES = {
    "/register": {"registry-admin"},
    "/register/import": {"registry-admin"},
    "/vastlegging": {"archivist", "auditor"},
    "/woo": {"woo-officer", "auditor"},
    "/audit": {"auditor"},
    "/bewaren": {"archivist", "auditor"},
    "/prive": {"official"},
}
USERS = {
    "beheerder": "registry-admin",
    "archivaris": "archivist",
    "woo": "woo-officer",
    "auditor": "auditor",
    "burgemeester": "official",
    "medewerker": None,
}


@pytest.fixture(scope="module")
def base_url(web_world: WebWorld) -> Iterator[str]:
    with run_web(web_world.settings, web_world.web) as url:
        yield url


def _client() -> httpx.Client:
    return httpx.Client(timeout=60)


@pytest.mark.parametrize("username", list(USERS))
def test_each_role_sees_its_pages_and_is_refused_the_others(
    web_world: WebWorld, base_url: str, username: str
) -> None:
    role = USERS[username]
    with _client() as client:
        home = sign_in(client, base_url, username)
        assert home.status_code == 200 and f"{username}@{web_world.domain}" in home.text
        set_cookie = next(
            r.headers["set-cookie"]
            for r in home.history
            if "capstone_sessie=" in r.headers.get("set-cookie", "")
        )
        assert "httponly" in set_cookie.lower() and "samesite=lax" in set_cookie.lower()
        for path, roles in PAGES.items():
            page = client.get(base_url + path)
            if role in roles:
                assert page.status_code == 200, (username, path, page.text[:500])
            else:
                assert page.status_code == 403, (username, path)
                assert "U heeft hiervoor de rol" in page.text and "nodig" in page.text
                entry = list(AuditLog(state_engine(web_world.settings)).entries())[-1]
                assert (entry.actor, entry.outcome) == (web_world.upn(username), "refused")


def test_anonymous_is_sent_to_sign_in_and_public_register_is_open(base_url: str) -> None:
    with _client() as client:
        page = client.get(base_url + "/register")
        assert page.status_code == 303 and page.headers["location"].startswith("/aanmelden")
        public = client.get(base_url + "/openbaar/register")
        assert (
            public.status_code == 200
            and "Marieke van Dalen" in public.text
            and "@gemeente-demo.nl" not in public.text
        )


def test_csrf_and_sign_out(web_world: WebWorld, base_url: str) -> None:
    with _client() as client:
        home = sign_in(client, base_url, "auditor")
        assert client.post(base_url + "/audit/verifieren", data={"csrf": "wrong"}).status_code == 403
        verified = client.post(base_url + "/audit/verifieren", data={"csrf": csrf_of(home.text)})
        assert verified.status_code == 200 and "in orde" in verified.text
        out = client.post(base_url + "/afmelden", data={"csrf": csrf_of(home.text)})
        assert out.status_code == 303 and "/oauth2/v2.0/logout" in out.headers["location"]
        assert client.get(base_url + "/audit").status_code == 303  # the session has ended


def test_registry_admin_imports_a_bad_csv_then_a_good_one(web_world: WebWorld, base_url: str) -> None:
    registry = Registry(state_engine(web_world.settings))
    before = len(registry.designations())
    with _client() as client:
        page = (
            client.get(base_url + "/register/import", headers={})
            if sign_in(client, base_url, "beheerder")
            else None
        )
        assert page is not None and page.status_code == 200
        token = csrf_of(page.text)
        bad = client.post(
            base_url + "/register/import",
            data={"csrf": token},
            files={"bestand": ("dt.csv", BAD_CSV.encode(), "text/csv")},
        )
        assert bad.status_code == 200 and "2025-13-45" in bad.text and "Er is niets vastgelegd" in bad.text
        assert "vastleggen</button>" not in bad.text
        assert len(registry.designations()) == before  # nothing written
        good = client.post(
            base_url + "/register/import",
            data={"csrf": token},
            files={"bestand": ("dt.csv", GOOD_CSV.encode(), "text/csv")},
        )
        assert good.status_code == 200 and "Pieter Postma" in good.text and "Sanne Smit" in good.text
        assert len(registry.designations()) == before  # a preview writes nothing
        payload = good.text.split('name="payload" value="')[1].split('"')[0]
        done = client.post(
            base_url + "/register/import/bevestigen",
            data={"csrf": token, "payload": payload, "filename": "dt.csv"},
        )
        assert done.status_code == 200 and "2 aanwijzingen zijn vastgelegd" in done.text
        assert len(registry.designations()) == before + 2
        too_big = client.post(
            base_url + "/register/import",
            data={"csrf": token},
            files={"bestand": ("x.csv", b"x" * (web_world.web.max_upload_bytes + 1), "text/csv")},
        )
        assert too_big.status_code == 413 and "groter dan" in too_big.text  # refused by the page
        huge = b"x" * (3 * web_world.web.max_upload_bytes)
        flood = client.post(
            base_url + "/register/import",
            data={"csrf": token},
            files={"bestand": ("x.csv", huge, "text/csv")},
        )
        assert flood.status_code == 413 and "te groot" in flood.text  # refused before any parsing


def test_woo_officer_searches_reads_exports_and_downloads(web_world: WebWorld, base_url: str) -> None:
    with _client() as client:
        sign_in(client, base_url, "woo")
        cases = client.get(base_url + "/woo")
        assert CASE in cases.text and (
            "op-tijd" in cases.text or "te-laat" in cases.text or "dringend" in cases.text
        )
        found = client.get(f"{base_url}/woo/{CASE}", params={"q": "begroting"})
        assert found.status_code == 200 and "resultaten" in found.text and "Per soort" in found.text
        assert "Per functionaris" in found.text and "Per jaar" in found.text
        log = list(AuditLog(state_engine(web_world.settings)).entries())
        assert [e.action for e in log[-2:]] == ["search", "search-facets"]  # one search, one facet count
        total = int(found.text.split("<h2>")[2].split(" resultaten")[0])
        mails = int(found.text.split(">e-mail</a>: ")[1].split("<")[0])
        assert 0 < mails <= total
        assert "<td>mail</td>" not in found.text and ">attachment<" not in found.text  # kinds in Dutch
        link = found.text.split(f'href="/woo/{CASE}/document/')[1].split('"')[0]
        document = client.get(f"{base_url}/woo/{CASE}/document/{link}")
        assert document.status_code == 200 and "SHA-256" in document.text
        mail_hit = (
            found.text.split("<td>e-mail</td>")[0].rsplit(f'href="/woo/{CASE}/document/', 1)[1].split('"')[0]
        )
        mail = client.get(f"{base_url}/woo/{CASE}/document/{mail_hit}")
        assert mail.status_code == 200 and "Van" in mail.text
        assert client.get(f"{base_url}/woo/{CASE}/document/no-such-doc").status_code == 404
        started = client.post(f"{base_url}/woo/{CASE}/exporteren", data={"csrf": csrf_of(found.text)})
        assert started.status_code == 303
        job_url = base_url + started.headers["location"]
        import time

        deadline = time.monotonic() + 240
        while "klaar" not in (page := client.get(job_url)).text:
            assert "mislukt" not in page.text, page.text
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert "geverifieerd" in page.text
        download = client.get(job_url + "/download")
        assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
        assert any(n.endswith("manifest.json") for n in names) and any("inventarislijst" in n for n in names)
    with _client() as other:
        sign_in(other, base_url, "auditor")
        assert other.get(job_url + "/download").status_code == 404  # not theirs


def test_registry_admin_designates_with_field_errors_then_ends_and_withdraws(
    web_world: WebWorld, base_url: str
) -> None:
    registry = Registry(state_engine(web_world.settings))
    with _client() as client:
        sign_in(client, base_url, "beheerder")
        form_page = client.get(base_url + "/register/aanwijzen")
        assert form_page.status_code == 200
        fields = {
            "csrf": csrf_of(form_page.text), "name": "Karel Kok", "mail": "geen-adres", "function": "Directeur",
            "organisation_unit": "Directie", "category": "ambtelijke-top", "start_date": "2026-02-30",
            "deciding_body": "Directieteam Gemeente Demo", "decision_date": "2026-01-10",
            "decision_reference": "DT-2026-001", "capture_mail": "yes",
        }  # fmt: skip
        before = len(registry.designations())
        refused = client.post(base_url + "/register/aanwijzen", data=fields)
        assert (
            refused.status_code == 400
            and 'id="fout-mail"' in refused.text
            and 'id="fout-start_date"' in refused.text
        )
        assert 'aria-invalid="true"' in refused.text and 'value="Karel Kok"' in refused.text  # input kept
        assert len(registry.designations()) == before
        fields.update(mail="k.kok@gemeente-demo.nl", start_date="2026-02-01")
        created = client.post(base_url + "/register/aanwijzen", data=fields)
        assert created.status_code == 303, created.text
        history_url = base_url + created.headers["location"]
        designation_id = history_url.split("/register/")[1].split("/")[0]
        assert registry.get(designation_id).name == "Karel Kok"
        history = client.get(history_url)
        token = csrf_of(history.text)
        ended = client.post(base_url + f"/register/{designation_id}/wijzigen",
                            data={"csrf": token, "actie": "beeindigen", "end_date": "2026-06-30", "reason": "vertrek"})  # fmt: skip
        assert ended.status_code == 303 and str(registry.get(designation_id).end_date) == "2026-06-30"
        corrected = client.post(base_url + f"/register/{designation_id}/wijzigen",
                                data={"csrf": token, "actie": "corrigeren", "name": "Karel de Kok", "reason": "spelling"})  # fmt: skip
        assert corrected.status_code == 303 and registry.get(designation_id).name == "Karel de Kok"
        withdrawn = client.post(base_url + f"/register/{designation_id}/wijzigen",
                                data={"csrf": token, "actie": "intrekken", "reason": "dubbel"})  # fmt: skip
        assert withdrawn.status_code == 303 and registry.get(designation_id).withdrawn
        events = [e.event_type.value for e in registry.history(designation_id)]
        assert len(events) == 4
        assert (
            client.post(
                base_url + f"/register/{designation_id}/wijzigen", data={"actie": "intrekken", "reason": "x"}
            ).status_code
            == 403
        )


def test_idle_timeout_ends_the_session(web_world: WebWorld) -> None:
    from tests.web.conftest import web_settings

    strict = web_settings(web_world.sim, idle_timeout_seconds=0)
    with run_web(web_world.settings, strict) as url, _client() as client:
        landed = sign_in(client, url, "auditor")
        assert landed.status_code == 200
        assert client.get(url + "/audit").status_code == 303  # idle longer than 0 s: sign in again


def test_archivist_sees_runs_chart_and_verifies_the_vault(web_world: WebWorld, base_url: str) -> None:
    import re
    import time

    with _client() as client:
        sign_in(client, base_url, "archivaris")
        page = client.get(base_url + "/vastlegging")
        assert page.status_code == 200 and "<svg" in page.text and "Marieke van Dalen" in page.text
        assert re.search(r'class="klein">[\w-]+: \d+', page.text)  # items and bytes per part
        run_id = re.search(r'href="/vastlegging/run/([^"]+)"', page.text)
        assert run_id
        run = client.get(f"{base_url}/vastlegging/run/{run_id.group(1)}")
        assert run.status_code == 200 and "Reconciliatie" in run.text and "<dd>volledig</dd>" in run.text
        assert client.get(base_url + "/vastlegging/run/no-such-run").status_code == 404
        started = client.post(base_url + "/vastlegging/verifieren", data={"csrf": csrf_of(page.text)})
        assert started.status_code == 303
        deadline = time.monotonic() + 120
        while "klaar" not in (job := client.get(base_url + started.headers["location"])).text:
            assert "mislukt" not in job.text and time.monotonic() < deadline
            time.sleep(0.3)
        assert "all_well" in job.text and "True" in job.text
        again = client.get(base_url + "/vastlegging")
        assert "Laatste verificatie" in again.text and "alles in orde" in again.text


def test_sign_in_returns_only_to_a_page_of_this_site(base_url: str) -> None:
    with _client() as client:
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
            client.get(base_url + "/aanmelden", params={"next": target})
            page = client.get(base_url + "/aanmelden", params={"next": target}, follow_redirects=True)
            from lxml import html as lxml_html

            tree = lxml_html.fromstring(page.text)
            form = next(f for f in tree.forms if f.fields.get("login_hint") == "auditor")
            landed = client.post(
                str(page.url.copy_with(path=form.action, query=None)),
                data=dict(form.fields),
                follow_redirects=True,
            )
            assert str(landed.url) == base_url + "/", target


def test_the_case_search_has_the_clis_filters(web_world: WebWorld, base_url: str) -> None:
    """Sender, recipient, folder and attachment narrow the page's search exactly as the API's (the
    CLI's filters), and the page says how many it found."""
    api = web_world.auth(web_world.token("woo"))
    every = web_world.client.get(f"/api/v1/woo/cases/{CASE}/search", params={"q": "begroting"}, headers=api)
    hits = every.json()["hits"]
    mail = next(h for h in hits if h["kind"] == "mail")
    shown = web_world.client.get(f"/api/v1/woo/cases/{CASE}/documents/{mail['doc_id']}", headers=api).json()
    sender, recipient = shown["document"]["sender"], shown["document"]["to"][0]
    folder = mail["folder_path"].split("/")[0]
    cases = [
        ({"afzender": sender}, {"sender": sender}),
        ({"ontvanger": recipient}, {"recipient": recipient}),
        ({"map": folder}, {"folder": folder}),
        ({"bijlage": "ja"}, {"has_attachment": "true"}),
        ({"bijlage": "nee"}, {"has_attachment": "false"}),
    ]
    with _client() as client:
        sign_in(client, base_url, "woo")
        for page_filter, api_filter in cases:
            expected = web_world.client.get(
                f"/api/v1/woo/cases/{CASE}/search", params={"q": "begroting"} | api_filter, headers=api
            ).json()["total"]
            page = client.get(f"{base_url}/woo/{CASE}", params={"q": "begroting"} | page_filter)
            assert page.status_code == 200
            assert f"<h2>{expected} resultaten</h2>" in page.text, page_filter
        narrowed = [
            web_world.client.get(
                f"/api/v1/woo/cases/{CASE}/search", params={"q": "begroting"} | f, headers=api
            ).json()["total"]
            for _, f in cases[3:]
        ]
        assert sum(narrowed) == every.json()["total"] and all(n < every.json()["total"] for n in narrowed)


def test_registry_forms_refuse_bad_input_in_dutch(web_world: WebWorld, base_url: str) -> None:
    """Designate, end, correct, withdraw and the CSV import, each with bad input: the Dutch message at
    its field, no English service text on the page (the CLI keeps the English, see tests/registry)."""
    registry = Registry(state_engine(web_world.settings))
    with _client() as client:
        sign_in(client, base_url, "beheerder")
        token = csrf_of(client.get(base_url + "/register/aanwijzen").text)
        fields = {
            "csrf": token, "name": "", "mail": "geen-adres", "function": "Directeur\x01",
            "organisation_unit": "Directie", "category": "ambtelijke-top", "start_date": "2026-03-01",
            "end_date": "2026-02-01", "deciding_body": "DT", "decision_date": "2999-01-01",
            "decision_reference": "DT-2026-777", "capture_mail": "yes",
        }  # fmt: skip
        refused = client.post(base_url + "/register/aanwijzen", data=fields)
        assert_dutch(
            refused, 400, "Naam: Dit veld is verplicht.", "geen-adres is geen geldig e-mailadres.",
            "Functie: Hierin staan stuurtekens", "De einddatum 2026-02-01 ligt vóór de begindatum 2026-03-01.",
            "De datum van het besluit (2999-01-01) ligt in de toekomst.",
        )  # fmt: skip
        assert 'id="fout-mail"' in refused.text and 'id="fout-decision_date"' in refused.text
        taken = registry.designations()[0]
        fields.update(name="Karel Kok", mail=taken.accounts[0].primary_smtp, function="Directeur",
                      end_date="", decision_date="2026-01-10", start_date=taken.start_date.isoformat())  # fmt: skip
        overlap = client.post(base_url + "/register/aanwijzen", data=fields)
        assert_dutch(
            overlap,
            409,
            "Overlap met een andere aanwijzing",
            f"valt al onder aanwijzing {taken.designation_id}",
        )

        fields.update(mail="k.kok2@gemeente-demo.nl", start_date="2026-02-01")
        created = client.post(base_url + "/register/aanwijzen", data=fields)
        assert created.status_code == 303, visible(created)
        designation_id = created.headers["location"].split("/register/")[1].split("/")[0]
        change = base_url + f"/register/{designation_id}/wijzigen"
        bad_date = client.post(change, data={"csrf": token, "actie": "beeindigen", "end_date": "31-02-2026",
                                             "reason": "vertrek"})  # fmt: skip
        assert_dutch(bad_date, 400, "31-02-2026 is geen datum; schrijf JJJJ-MM-DD")
        assert 'id="fout-beeindigen-end_date"' in bad_date.text and 'value="vertrek"' in bad_date.text
        assert "<td>aangewezen</td>" in bad_date.text  # the history's events in Dutch
        before = client.post(change, data={"csrf": token, "actie": "beeindigen", "end_date": "2026-01-01",
                                           "reason": "vertrek"})  # fmt: skip
        assert_dutch(before, 400, "De einddatum 2026-01-01 ligt vóór de begindatum 2026-02-01.")
        no_reason = client.post(change, data={"csrf": token, "actie": "intrekken", "reason": ""})
        assert_dutch(no_reason, 400, "Reden: Dit veld is verplicht.")
        same = client.post(
            change, data={"csrf": token, "actie": "corrigeren", "name": "Karel Kok", "reason": "x"}
        )
        assert_dutch(same, 400, "de waarden zijn gelijk aan wat al is vastgelegd")
        assert len(registry.history(designation_id)) == 1  # nothing was written
        assert (
            client.post(change, data={"csrf": token, "actie": "intrekken", "reason": "dubbel"}).status_code
            == 303
        )
        gone = client.post(change, data={"csrf": token, "actie": "intrekken", "reason": "nogmaals"})
        assert_dutch(gone, 409, f"De aanwijzing {designation_id} is ingetrokken")
        assert_dutch(
            client.get(base_url + "/register/geen-id/historie"), 404, "Er is geen aanwijzing geen-id."
        )
        assert_dutch(client.get(base_url + "/register", params={"op": "morgen"}), 400, "geen datum")

        page = client.get(base_url + "/register/import")
        bad_rows = BAD_CSV.replace("p.postma@gemeente-demo.nl,,,", "p.postma@,,,").replace(
            ",yes,yes,no\nSanne", ",misschien,yes,no\nSanne"
        )
        preview = client.post(base_url + "/register/import", data={"csrf": csrf_of(page.text)},
                              files={"bestand": ("dt.csv", bad_rows.encode(), "text/csv")})  # fmt: skip
        assert_dutch(preview, 200, "2025-13-45 is geen datum", "p.postma@ is geen geldig e-mailadres.",
                     "misschien is geen ja of nee.", "Aangewezen vanaf")  # fmt: skip
        columns = client.post(base_url + "/register/import", data={"csrf": csrf_of(page.text)},
                              files={"bestand": ("dt.csv", b"naam;kleur\nA;rood\n", "text/csv")})  # fmt: skip
        assert_dutch(columns, 200, "Onbekende kolom(men): kleur", "Verplichte kolom(men) ontbreken")
        latin = client.post(base_url + "/register/import", data={"csrf": csrf_of(page.text)},
                            files={"bestand": ("dt.csv", "naam\nJosé\n".encode("latin-1"), "text/csv")})  # fmt: skip
        assert_dutch(latin, 200, "geen UTF-8-tekst")
        clash = GOOD_CSV.replace("Sanne Smit,,s.smit@", "Sanne Smit,,p.postma@")
        twice = client.post(base_url + "/register/import", data={"csrf": csrf_of(page.text)},
                            files={"bestand": ("dt.csv", clash.encode(), "text/csv")})  # fmt: skip
        assert_dutch(twice, 200, "valt ook onder regel 2 in een overlappende periode")
        one = HEADER + (
            "Olga Ouwens,,o.ouwens@gemeente-demo.nl,,,o.ouwens@gemeente-demo.nl,Directeur,Sociaal,"
            "ambtelijke-top,2025-01-01,,Directieteam Gemeente Demo,2024-12-15,DT-2024-100,yes,yes,no\n"
        )
        payload = base64.b64encode(one.encode()).decode()
        confirm = {"csrf": csrf_of(page.text), "payload": payload, "filename": "olga.csv"}
        assert client.post(base_url + "/register/import/bevestigen", data=confirm).status_code == 200
        again = client.post(base_url + "/register/import/bevestigen", data=confirm)
        assert_dutch(again, 409, "Dit bestand is al eerder geïmporteerd (olga.csv")


def test_the_audit_page_filters_through_the_service_and_refuses_a_bad_date_in_dutch(
    web_world: WebWorld, base_url: str
) -> None:
    with _client() as client:
        sign_in(client, base_url, "auditor")
        woo_user = web_world.upn("woo")
        page = client.get(base_url + "/audit", params={"gebruiker": woo_user})
        assert page.status_code == 200
        rows = page.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
        assert rows and all(f"<td>{woo_user}</td>" in row for row in rows)
        [entry] = list(AuditLog(state_engine(web_world.settings)).entries())[-1:]
        assert (entry.action, entry.detail.get("user")) == ("audit-show", woo_user)  # the service filtered
        bad = client.get(base_url + "/audit", params={"van": "31-12-2026"})
        assert bad.status_code == 400 and "Vul een datum in als JJJJ-MM-DD." in bad.text
        assert 'aria-invalid="true"' in bad.text
        backwards = client.get(base_url + "/audit", params={"van": "2026-12-31", "tot": "2026-01-01"})
        assert backwards.status_code == 400 and "De einddatum ligt vóór de begindatum." in backwards.text

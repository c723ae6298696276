"""The Woo officer's review and publication pages (issue 19) on one captured simulated tenant.

Over plain HTTP: a role without woo-officer is refused the review screen, its page images and its
forms (403, Dutch, audited); a form without its CSRF token is refused and writes nothing; input the
service refuses is shown on the form (400) and nothing is written; whoever assessed is refused the
collegiale toets; publication before the toets is refused.

In Debian's Chromium (Playwright, ``browser``): a Woo officer opens the case, searches, opens a
mail's review screen, redacts its sender's e-mail address on ground 5.1.2e, has the suggestions
found and rejects one, assesses it deels openbaar, requires the collegiale toets and is refused publication; a second officer gives the toets;
the first publishes and downloads the package. The published PDF (``pdftotext``) lacks the address
and shows the ground code, and its page rendered by ``pdftoppm`` is dark exactly where the address
was in the unredacted rendition (which is light there). axe-core finds no serious violation on the
new pages; screenshots go to ``.test-artifacts/web/``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pytest

from capstone.access import WOO_OFFICER, Actor
from capstone.audit.log import AuditLog
from capstone.index.model import SearchQuery
from capstone.services import state_engine
from capstone.web.server import run_web
from capstone.woo.review_service import WooReview
from capstone.woo.service import WooService
from tests.web.conftest import CASE, WebWorld
from tests.web.signin import csrf_of, sign_in
from tests.web.test_browser import ARGS, AXE, CHROMIUM
from tests.web.test_browser import Session as BrowserSession

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class Review:
    world: WebWorld
    base_url: str
    plain: str  # a mail about the begroting without attachments
    family: str  # one with attachments

    def service(self, username: str = "woo") -> WooReview:
        actor = Actor(self.world.upn(username), frozenset({WOO_OFFICER}))
        return WooReview(WooService(self.world.settings, actor))

    def audit_tail(self) -> Any:
        return list(AuditLog(state_engine(self.world.settings)).entries())[-1]


@pytest.fixture(scope="module")
def review(web_world: WebWorld) -> Iterator[Review]:
    officer = Actor(web_world.upn("woo"), frozenset({WOO_OFFICER}))
    woo = WooService(web_world.settings, officer)
    woo.assign(CASE, web_world.upn("collega"))
    found = woo.search(CASE, SearchQuery(text="begroting", kinds=("mail",), limit=50, order="date"))
    mails = [h.doc_id for h in found.hits]
    with_attachments = [d for d in mails if woo.view(CASE, d).attachments]
    plain = [d for d in mails if d not in with_attachments]
    assert plain and with_attachments, (
        "the sample tenant has mails about the begroting, some with attachments"
    )
    with run_web(web_world.settings, web_world.web) as url:
        yield Review(web_world, url, plain[0], with_attachments[0])


def _client() -> httpx.Client:
    return httpx.Client(timeout=120)


def _screen(review: Review, doc_id: str) -> str:
    return f"{review.base_url}/woo/{CASE}/document/{doc_id}/beoordelen"


# -- refusals over HTTP ---------------------------------------------------------------------------------


def test_a_role_without_woo_officer_is_refused_the_review_pages(review: Review) -> None:
    doc = review.plain
    with _client() as client:
        home = sign_in(client, review.base_url, "auditor")
        token = csrf_of(home.text)
        for path in ("beoordelen", "pagina/1.png", "rendition.pdf"):
            page = client.get(f"{review.base_url}/woo/{CASE}/document/{doc}/{path}")
            assert page.status_code == 403, path
            assert "U heeft hiervoor de rol Woo-behandelaar (woo-officer) nodig" in page.text
            entry = review.audit_tail()
            assert (entry.actor, entry.outcome) == (review.world.upn("auditor"), "refused")
        posted = client.post(
            f"{review.base_url}/woo/{CASE}/document/{doc}/lakken",
            data={"csrf": token, "soort": "text", "tekst": "begroting", "grond": "5.1.2e"},
        )
        assert posted.status_code == 403 and "Woo-behandelaar (woo-officer)" in posted.text
        for action in ("suggesties", "beoordelen"):
            refused = client.post(
                f"{review.base_url}/woo/{CASE}/document/{doc}/{action}",
                data={"csrf": token, "beoordeling": "openbaar"},
            )
            assert refused.status_code == 403 and "Woo-behandelaar (woo-officer)" in refused.text, action
        assert review.service().store.marks(CASE, doc) == []
        case = client.get(f"{review.base_url}/woo/{CASE}")  # the auditor sees where the toets stands
        assert case.status_code == 200 and "Collegiale toets" in case.text and "/beoordelen" not in case.text
        assert (
            client.post(f"{review.base_url}/woo/{CASE}/publiceren", data={"csrf": token}).status_code == 403
        )


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(review: Review) -> None:
    doc = review.plain
    with _client() as client:
        sign_in(client, review.base_url, "woo")
        screen = client.get(_screen(review, doc))
        assert screen.status_code == 200, screen.text[:500]
        for token in (None, "fout"):
            data = {"soort": "text", "tekst": "begroting", "grond": "5.1.2e"}
            if token:
                data["csrf"] = token
            refused = client.post(f"{review.base_url}/woo/{CASE}/document/{doc}/lakken", data=data)
            assert refused.status_code == 403 and "Het formulier is verlopen" in refused.text
            assessed = client.post(
                f"{review.base_url}/woo/{CASE}/document/{doc}/beoordelen",
                data={"beoordeling": "niet openbaar", "grond": "5.1.2e"} | ({"csrf": token} if token else {}),
            )
            assert assessed.status_code == 403
        assert review.service().store.marks(CASE, doc) == []
        assert review.service().store.history(CASE, doc) == []
        entry = review.audit_tail()
        assert (entry.action, entry.outcome) == ("web-csrf", "refused")


def test_refused_input_is_shown_on_the_form_and_nothing_is_written(review: Review) -> None:
    doc = review.plain
    base = f"{review.base_url}/woo/{CASE}/document/{doc}"
    with _client() as client:
        sign_in(client, review.base_url, "woo")
        token = csrf_of(client.get(f"{base}/beoordelen").text)
        partial = client.post(f"{base}/beoordelen", data={"csrf": token, "beoordeling": "deels openbaar"})
        assert partial.status_code == 400 and "Niet vastgelegd" in partial.text
        assert "Bij &#39;deels openbaar&#39; hoort ten minste één lakmarkering" in partial.text
        assert 'role="alert"' in partial.text and "needs at least" not in partial.text  # Dutch only
        withheld = client.post(f"{base}/beoordelen", data={"csrf": token, "beoordeling": "niet openbaar"})
        assert withheld.status_code == 400
        assert "Bij &#39;niet openbaar&#39; hoort ten minste één weigeringsgrond" in withheld.text
        unknown = client.post(
            f"{base}/lakken", data={"csrf": token, "soort": "text", "tekst": "begroting", "grond": "5.1.9z"}
        )
        assert unknown.status_code == 400 and "5.1.9z is geen weigeringsgrond van de Woo" in unknown.text
        assert 'value="begroting"' in unknown.text  # the officer's input is kept
        region = client.post(
            f"{base}/lakken",
            data={"csrf": token, "soort": "region", "pagina": "1", "x0": "300", "y0": "10", "x1": "100",
                  "y1": "20", "grond": "5.1.2e"},
        )  # fmt: skip
        assert region.status_code == 400 and "Het gebied is leeg of omgekeerd" in region.text
        assert review.service().store.marks(CASE, doc) == []
        assert review.service().store.history(CASE, doc) == []


def test_whoever_assessed_is_refused_the_collegiale_toets(review: Review) -> None:
    doc = review.family
    with _client() as client:
        sign_in(client, review.base_url, "woo")
        token = csrf_of(client.get(_screen(review, doc)).text)
        assessed = client.post(
            f"{review.base_url}/woo/{CASE}/document/{doc}/beoordelen",
            data={
                "csrf": token,
                "beoordeling": "niet openbaar",
                "grond": "5.1.2i",
                "toelichting": "intern",
                "familie": "ja",
            },
        )
        assert assessed.status_code == 303 and "melding=beoordeeld" in assessed.headers["location"]
        screen = client.get(review.base_url + assessed.headers["location"])
        assert (
            "niet openbaar" in screen.text
            and "5.1.2i" in screen.text
            and "De beoordeling is vastgelegd" in screen.text
        )
        case = client.get(f"{review.base_url}/woo/{CASE}")
        assert "Collegiale toets geven" not in case.text and "een andere Woo-behandelaar" in case.text
        approve = client.post(f"{review.base_url}/woo/{CASE}/collegiale-toets", data={"csrf": token})
        assert (
            approve.status_code == 403 and "u heeft zelf documenten in deze zaak beoordeeld" in approve.text
        )
        entry = review.audit_tail()
        assert (entry.action, entry.outcome) == ("approve", "refused")
        assert review.service().store.state(CASE).approval is None


def test_the_case_page_assesses_a_selection_and_every_hit_of_a_search(review: Review) -> None:
    search = {"q": "begroting", "soort": "mail"}
    with _client() as client:
        sign_in(client, review.base_url, "woo")
        case = client.get(f"{review.base_url}/woo/{CASE}", params=search)
        assert case.status_code == 200
        token = csrf_of(case.text)
        assert (
            f"/woo/{CASE}/document/{review.plain}/beoordelen" in case.text
            and "nog niet beoordeeld" in case.text
        )
        empty = client.post(f"{review.base_url}/woo/{CASE}/beoordelen",
                            data={"csrf": token, "bereik": "selectie", "beoordeling": "openbaar"} | search)  # fmt: skip
        assert empty.status_code == 400 and "kies eerst documenten" in empty.text
        chosen = client.post(
            f"{review.base_url}/woo/{CASE}/beoordelen",
            data={"csrf": token, "bereik": "selectie", "beoordeling": "niet openbaar", "grond": "5.2",
                  "familie": "ja", "doc": [review.plain, review.family]} | search,
        )  # fmt: skip
        assert chosen.status_code == 303, chosen.text[:500]
        current = review.service().store.current(CASE)
        family = [d for d in current if d.startswith(review.family + ":")]
        assert family and all(current[d].grounds == ("5.2",) for d in [review.plain, review.family, *family])
        everything = client.post(
            f"{review.base_url}/woo/{CASE}/beoordelen",
            data={"csrf": token, "bereik": "zoekopdracht", "beoordeling": "niet openbaar", "grond": "5.1.2e",
                  "familie": "ja", "toelichting": "persoonlijke levenssfeer"} | search,
        )  # fmt: skip
        assert everything.status_code == 303
        shown = client.get(review.base_url + everything.headers["location"])
        hits = shown.text.count('/beoordelen">Beoordelen')
        assert (
            hits >= 2 and "nog niet beoordeeld" not in shown.text and "document(en) beoordeeld" in shown.text
        )
        assert shown.text.count("niet openbaar (5.1.2e)") == hits
        current = review.service().store.current(CASE)
        assert (
            current[review.plain].grounds == ("5.1.2e",)
            and current[review.plain].toelichting == "persoonlijke levenssfeer"
        )


def test_marks_are_placed_drawn_and_decided_on_the_review_screen(review: Review) -> None:
    from capstone.woo.review import MarkInput

    doc, store = review.plain, review.service().store
    base = f"{review.base_url}/woo/{CASE}/document/{doc}"
    with _client() as client:
        sign_in(client, review.base_url, "woo")
        token = csrf_of(client.get(f"{base}/beoordelen").text)
        blank = pymupdf.Pixmap(client.get(f"{base}/pagina/1.png").content)
        placed = client.post(
            f"{base}/lakken",
            data={"csrf": token, "soort": "region", "pagina": "1", "x0": "400", "y0": "700", "x1": "550",
                  "y1": "760", "grond": "5.1.2.i"},
        )  # fmt: skip
        assert placed.status_code == 303 and placed.headers["location"].endswith("melding=gelakt")
        (region,) = store.marks(CASE, doc)
        assert (region.kind, region.ground, region.rect, region.status) == (
            "region", "5.1.2i", (400.0, 700.0, 550.0, 760.0), "accepted",
        )  # fmt: skip
        image = client.get(f"{base}/pagina/1.png")
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        drawn = pymupdf.Pixmap(image.content)
        centre = (round(475 * 1.5), round(715 * 1.5))  # pixels per point: 1.5; above the label
        assert sum(blank.pixel(*centre)) > 600 and sum(drawn.pixel(*centre)) == 0
        assert client.get(f"{base}/pagina/99.png").status_code == 404
        # a suggestion (as the suggestion engine stores it) is shown, and rejected on the screen
        (proposed,) = review.service().propose(
            CASE, doc, [MarkInput("text", "5.1.2e", text="Beste")], "email"
        )
        screen = client.get(f"{base}/beoordelen")
        assert "voorgesteld" in screen.text and "suggestie (e-mailadres)" in screen.text
        rejected = client.post(f"{base}/lakken/{proposed.mark_id}", data={"csrf": token, "besluit": "reject"})
        assert rejected.status_code == 303 and rejected.headers["location"].endswith("melding=besloten")
        withdrawn = client.post(
            f"{base}/lakken/{region.mark_id}", data={"csrf": token, "besluit": "withdraw"}
        )
        assert withdrawn.status_code == 303
        again = client.post(f"{base}/lakken/{region.mark_id}", data={"csrf": token, "besluit": "withdraw"})
        assert again.status_code == 400
        assert "Deze lakmarkering is ingetrokken; ze kan niet meer ingetrokken worden." in again.text
        assert {m.mark_id: m.status for m in store.marks(CASE, doc)} == {
            region.mark_id: "withdrawn", proposed.mark_id: "rejected",
        }  # fmt: skip
        screen = client.get(f"{base}/beoordelen")
        assert "ingetrokken" in screen.text and "afgewezen" in screen.text


# -- the whole walk in Chromium -------------------------------------------------------------------------


class Session(BrowserSession):
    """test_browser's signed-in context (CSP and axe checks on every page), with the page's main text."""

    def main(self) -> str:
        return str(self.page.inner_text("main"))


def _render(pdf: Path, page: int, out: Path) -> pymupdf.Pixmap:
    """Page ``page`` of ``pdf`` rendered by poppler at 72 dpi (one pixel per PDF point)."""
    subprocess.run(
        ["pdftoppm", "-r", "72", "-gray", "-f", str(page), "-l", str(page), "-singlefile", "-png", str(pdf), str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return pymupdf.Pixmap(str(out) + ".png")


def _mean(pix: pymupdf.Pixmap, rect: tuple[float, float, float, float]) -> float:
    x0, y0, x1, y1 = (round(v) for v in rect)
    values: list[int] = [
        int(pix.pixel(x, y)[0]) for x in range(x0 + 1, x1 - 1) for y in range(y0 + 1, y1 - 1)
    ]
    assert values, rect
    return sum(values) / len(values)


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists() or not AXE.exists(),
    reason=f"needs {CHROMIUM} (Debian package chromium) and {AXE} (npm axe-core, `make unit` installs both)",
)
def test_officer_redacts_assesses_a_colleague_approves_and_the_package_has_the_box(
    review: Review, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from capstone.woo.pdf.marks import RedactionMark
    from capstone.woo.pdf.redact import plan

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    doc = review.plain
    # The package must hold a withheld family: assessed here, not left to an earlier test of the
    # module, so this test also runs on its own (pytest -k).
    review.service().assess(CASE, [review.family], "niet openbaar", grounds=["5.1.2i"], family=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        woo = Session(browser, review.base_url, "woo")
        page = woo.page
        woo.sign_in()
        page.goto(f"{review.base_url}/woo")
        page.get_by_role("link", name=CASE).click()
        page.get_by_label("Zoektermen").fill("begroting")
        page.get_by_label("Soort").select_option("mail")
        page.get_by_role("button", name="Zoeken").click()
        page.wait_for_url(f"**/woo/{CASE}?q=begroting**")
        woo.check("woo-zaak-beoordelen")
        page.locator(f"a[href='/woo/{CASE}/document/{doc}/beoordelen']").click()
        page.wait_for_url("**/beoordelen")
        woo.check("woo-beoordelingsscherm")
        image = page.locator("figure.pagina img").first
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
        rendition = tmp_path / "rendition.pdf"
        fetched = woo.context.request.get(f"{review.base_url}/woo/{CASE}/document/{doc}/rendition.pdf")
        assert fetched.status == 200
        rendition.write_bytes(fetched.body())
        text = subprocess.run(
            ["pdftotext", str(rendition), "-"], capture_output=True, text=True, check=True
        ).stdout
        address = ADDRESS.search(text)
        assert address is not None, text[:500]
        span = address.group(0)

        page.get_by_label("Te lakken tekst").fill(span)
        page.get_by_label("Weigeringsgrond", exact=False).first.select_option("5.1.2e")
        page.get_by_role("button", name="Tekst lakken").click()
        page.wait_for_url("**/beoordelen?melding=gelakt")
        row = page.locator("tr", has_text=span)
        assert "geaccepteerd" in row.inner_text() and "5.1.2e" in row.inner_text()
        page.get_by_role("button", name="Suggesties zoeken").click()
        page.wait_for_url("**/beoordelen?melding=suggesties**")
        proposed = [m for m in review.service().store.marks(CASE, doc) if m.status == "proposed"]
        assert proposed and all(m.origin.startswith("suggestion:") and m.text != span for m in proposed)
        assert page.locator("tr", has_text="voorgesteld").count() == len(proposed)
        woo.check("woo-beoordelingsscherm-suggesties")
        rejected = page.locator("tr", has_text="afgewezen").count()
        page.locator("tr", has_text="voorgesteld").first.get_by_role("button", name="Afwijzen").click()
        page.wait_for_url("**/beoordelen?melding=besloten")
        assert page.locator("tr", has_text="afgewezen").count() == rejected + 1
        assert page.locator("tr", has_text="voorgesteld").count() == len(proposed) - 1
        page.get_by_label("deels openbaar").check()
        page.get_by_role("button", name="Beoordeling vastleggen").click()
        page.wait_for_url("**/beoordelen?melding=beoordeeld")
        assert "deels openbaar" in page.inner_text("#huidige-beoordeling")
        woo.check("woo-beoordelingsscherm-beoordeeld")

        page.get_by_role("link", name=f"Terug naar de zaak {CASE}").click()
        page.get_by_role("button", name="Collegiale toets vereisen voor publicatie").click()
        page.wait_for_url("**melding=regel**")
        assert "nog niet gegeven" in page.inner_text("#toets-stand")
        woo.check("woo-zaak-toets-vereist")
        page.get_by_role("button", name="Publiceren").click()
        page.wait_for_load_state()
        assert "Publiceren is geweigerd" in woo.main()  # refused before anything is written
        woo.check("woo-publiceren-geweigerd")

        collega = Session(browser, review.base_url, "collega")
        collega.sign_in()
        collega.page.goto(f"{review.base_url}/woo/{CASE}")
        collega.page.get_by_label("Opmerking bij de toets").fill("akkoord, lakking terecht")
        collega.page.get_by_role("button", name="Collegiale toets geven").click()
        collega.page.wait_for_url("**melding=goedgekeurd**")
        assert "gegeven door " + review.world.upn("collega") in collega.page.inner_text("#toets-stand")
        collega.check("woo-zaak-toets-gegeven")
        collega.context.close()

        page.goto(f"{review.base_url}/woo/{CASE}")
        page.get_by_role("button", name="Publiceren").click()
        page.wait_for_url("**/taken/**")
        for _ in range(600):
            if "klaar" in woo.main():
                break
            assert "mislukt" not in woo.main(), woo.main()
            page.wait_for_timeout(500)
            page.reload()
        woo.check("woo-publicatie")
        assert "Het publicatiepakket is geverifieerd" in woo.main()
        with page.expect_download() as info:
            page.get_by_role("link", name="Download het publicatiepakket (zip)").click()
        package = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
        woo.context.close()
        browser.close()

    names = package.namelist()
    manifest = json.loads(package.read(next(n for n in names if n.endswith("/manifest.json"))))
    listed = {d["doc_id"]: d for d in manifest["documents"]}
    assert listed[doc]["judgement"] == "partial_public" and listed[doc]["grounds"] == ["5.1.2e"]
    family = [d for d in listed.values() if d["doc_id"].startswith(review.family)]
    assert len(family) >= 2 and all(d["judgement"] == "not_public" and d["file"] is None for d in family)
    published = tmp_path / "published.pdf"
    published.write_bytes(package.read(next(n for n in names if n.endswith("/" + listed[doc]["file"]))))
    out = subprocess.run(
        ["pdftotext", str(published), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert span not in out and "5.1.2e" in out
    assert span.encode() not in published.read_bytes()
    boxes = plan(rendition.read_bytes(), [RedactionMark(ground="5.1.2e", text=span)])
    assert boxes
    for n, box in enumerate(boxes):
        before = _mean(_render(rendition, box.page, tmp_path / f"voor-{n}"), box.rect)
        after = _mean(_render(published, box.page, tmp_path / f"na-{n}"), box.rect)
        print(f"box {box.rect}: mean grey before {before:.0f}, after {after:.0f}")  # the report's figures
        assert before > 150 and after < 90, (box, before, after)  # light text on white, then the black box

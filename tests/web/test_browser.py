"""The web UI in Debian's Chromium (Playwright): sign in as each demo user through the simulated
tenant, each role sees its pages and is refused the others, a Woo officer searches, reads, exports
and downloads, a registry admin imports a CSV with a bad row then a good one; axe-core finds no
serious or critical WCAG 2.1 A/AA violation on any page, the CSP blocks nothing of ours, and a
screenshot of every page is kept under ``.test-artifacts/web/``."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capstone.registry.service import Registry
from capstone.services import state_engine
from capstone.web.server import run_web
from tests.web.conftest import CASE, WebWorld
from tests.web.signin import BAD_CSV, GOOD_CSV
from tests.web.test_pages import PAGES, USERS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".cache/npm/node_modules/axe-core/axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / ".test-artifacts" / "web"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

if not CHROMIUM.exists() or not AXE.exists():
    pytest.skip(  # a reason in code: `make unit` installs both (DEBIAN_PACKAGES, the Makefile's axe step)
        f"needs {CHROMIUM} (Debian package chromium) and {AXE} (npm axe-core)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def base_url(web_world: WebWorld) -> Iterator[str]:
    with run_web(web_world.settings, web_world.web) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    """After the world is set up: Playwright's sync API keeps an event loop in this thread, so the
    world's capture (asyncio.run) must come first."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


class Session:
    """One signed-in browser context; collects CSP violations and checks every page with axe."""

    def __init__(self, browser: Any, base_url: str, username: str) -> None:
        self.context = browser.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.base_url, self.username = base_url, username
        self.csp_errors: list[str] = []
        self.page.on(
            "console",
            lambda m: self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def sign_in(self) -> None:
        self.page.goto(self.base_url + "/aanmelden")
        self.page.locator("li", has_text=f"{self.username}@").get_by_role("button").click()
        self.page.wait_for_url(self.base_url + "/")

    def visit(self, path: str, name: str) -> int:
        response = self.page.goto(self.base_url + path)
        assert response is not None
        self.check(name)
        return int(response.status)

    def check(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.username}-{name}.png"), full_page=True)
        self.page.evaluate(AXE.read_text())  # through the DevTools protocol: the page's CSP stays on
        violations = self.page.evaluate(
            """async () => (await axe.run(document, {runOnly: {type: 'tag',
                 values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
        )
        assert violations == [], (name, violations)
        assert self.csp_errors == [], (name, self.csp_errors)

    def close(self) -> None:
        self.context.close()


@pytest.mark.parametrize("username", list(USERS))
def test_each_demo_user_sees_their_pages_accessibly(browser: Any, base_url: str, username: str) -> None:
    session = Session(browser, base_url, username)
    try:
        session.visit("/", "start-anoniem")
        session.visit("/openbaar/register", "openbaar-register")
        session.sign_in()
        session.check("start")
        for path, roles in PAGES.items():
            status = session.visit(path, path.strip("/").replace("/", "-"))
            if USERS[username] in roles:
                assert status == 200, (username, path)
            else:
                assert status == 403, (username, path)
                assert "U heeft hiervoor de rol" in session.page.inner_text("main")
        if username == "archivaris":
            session.page.goto(base_url + "/vastlegging")
            session.page.locator("a[href^='/vastlegging/run/']").first.click()
            session.page.wait_for_url("**/vastlegging/run/**")
            session.check("vastlegging-run")
            session.page.goto(base_url + "/bewaren")
            session.page.get_by_role("button", name="Vernietigingslijst opstellen").click()
            session.page.wait_for_url("**/bewaren/vernietigingslijsten/**")
            assert "voorgesteld" in session.page.inner_text("main")
            session.check("vernietigingslijst")  # the approval form of a proposed list
            session.visit("/bewaren", "bewaren-met-lijst")
        session.page.get_by_role("button", name="Afmelden").click()
        session.page.wait_for_load_state()
        assert session.page.goto(base_url + "/audit") is not None
        assert (
            "/aanmelden" in session.page.url
            or "Aanmelden bij de gesimuleerde tenant" in session.page.content()
        )
    finally:
        session.close()


def test_woo_officer_searches_reads_exports_and_downloads(browser: Any, base_url: str) -> None:
    session = Session(browser, base_url, "woo")
    page = session.page
    try:
        session.sign_in()
        session.visit("/woo", "woo-zaken")
        page.get_by_role("link", name=CASE).click()
        page.get_by_label("Zoektermen").fill("begroting")
        page.get_by_role("button", name="Zoeken").click()
        page.wait_for_url(f"**/woo/{CASE}?q=begroting**")
        session.check("woo-zoeken")
        assert "resultaten" in page.inner_text("main")
        page.locator(f"a[href^='/woo/{CASE}/document/']").first.click()
        page.wait_for_url("**/document/**")
        session.check("woo-document")
        page.go_back()
        page.get_by_role("button", name="Export maken").click()
        page.wait_for_url("**/taken/**")
        for _ in range(480):
            if "klaar" in page.inner_text("main"):
                break
            assert "mislukt" not in page.inner_text("main")
            page.wait_for_timeout(500)
            page.reload()
        session.check("woo-export")
        assert "geverifieerd" in page.inner_text("main")
        with page.expect_download() as info:
            page.get_by_role("link", name="Download de export (zip)").click()
        names = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes())).namelist()
        assert any(n.endswith("manifest.json") for n in names)
    finally:
        session.close()


def test_registry_admin_imports_a_bad_csv_then_a_good_one(
    browser: Any, base_url: str, web_world: WebWorld, tmp_path: Path
) -> None:
    registry = Registry(state_engine(web_world.settings))
    before = len(registry.designations())
    bad, good = tmp_path / "dt-fout.csv", tmp_path / "dt.csv"
    bad.write_text(
        BAD_CSV.replace("Pieter Postma", "Petra Prins")
        .replace("Sanne Smit", "Sven Stam")
        .replace("p.postma", "p.prins")
        .replace("s.smit", "s.stam")
    )
    good.write_text(
        GOOD_CSV.replace("Pieter Postma", "Petra Prins")
        .replace("Sanne Smit", "Sven Stam")
        .replace("p.postma", "p.prins")
        .replace("s.smit", "s.stam")
    )
    session = Session(browser, base_url, "beheerder")
    page = session.page
    try:
        session.sign_in()
        session.visit("/register/import", "register-import")
        page.get_by_label("CSV-bestand").set_input_files(str(bad))
        page.get_by_role("button", name="Controleren").click()
        page.wait_for_load_state()
        session.check("register-import-fout")
        assert "2025-13-45" in page.inner_text("main") and "Er is niets vastgelegd" in page.inner_text("main")
        assert page.get_by_role("button", name="vastleggen").count() == 0
        assert len(registry.designations()) == before
        page.get_by_label("CSV-bestand").set_input_files(str(good))
        page.get_by_role("button", name="Controleren").click()
        page.wait_for_load_state()
        session.check("register-import-voorbeeld")
        assert len(registry.designations()) == before
        page.get_by_role("button", name="Alle 2 aanwijzingen vastleggen").click()
        page.wait_for_load_state()
        assert "2 aanwijzingen zijn vastgelegd" in page.inner_text("main")
        assert len(registry.designations()) == before + 2
        session.visit("/register", "register")
        assert "Petra Prins" in page.inner_text("main")
        page.get_by_role("link", name="Sleutelfunctionaris aanwijzen").click()
        page.wait_for_url("**/register/aanwijzen")
        session.check("register-aanwijzen")
        page.get_by_label("Naam").fill("Ria Rood")
        page.get_by_label("E-mailadres (primair)").fill("geen adres")
        with page.expect_navigation():
            page.get_by_role("button", name="Aanwijzing vastleggen").click()
        session.check("register-aanwijzen-fouten")
        assert "verbeter de gemarkeerde velden" in page.inner_text("main")
        assert page.get_by_label("Naam").input_value() == "Ria Rood"
        session.visit("/register", "register-na")
        page.locator("a[href$='/historie']").first.click()
        page.wait_for_url("**/historie")
        session.check("register-historie")
    finally:
        session.close()


def test_the_accessibility_check_finds_a_real_violation(browser: Any, base_url: str) -> None:
    """The checker is live: an unlabelled field and grey-on-white text are reported."""
    session = Session(browser, base_url, "medewerker")
    try:
        session.page.set_content(
            '<html lang="nl"><head><title>x</title></head><body><main><h1>x</h1><input type="text">'
            '<p style="color:#ddd">onleesbaar</p></main></body></html>'
        )
        with pytest.raises(AssertionError, match=r"label|color-contrast"):
            session.check("negatief-voorbeeld")
    finally:
        session.close()

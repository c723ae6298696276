"""Signing in through the simulated tenant's login page with a plain HTTP client (no browser)."""

from __future__ import annotations

import re

import httpx
from lxml import html as lxml_html

HEADER = (
    "name,personnel_number,mail,aliases,entra_object_id,upn,function,organisation_unit,category,start_date,"
    "end_date,deciding_body,decision_date,decision_reference,capture_mail,capture_chats,capture_history\n"
)
GOOD_CSV = HEADER + (
    "Pieter Postma,,p.postma@gemeente-demo.nl,,,p.postma@gemeente-demo.nl,Directeur Sociaal Domein,Sociaal,"
    "ambtelijke-top,2025-01-01,,Directieteam Gemeente Demo,2024-12-15,DT-2024-099,yes,yes,no\n"
    "Sanne Smit,,s.smit@gemeente-demo.nl,,,s.smit@gemeente-demo.nl,Directeur Ruimte,Ruimte,"
    "ambtelijke-top,2025-01-01,,Directieteam Gemeente Demo,2024-12-15,DT-2024-099,yes,yes,no\n"
)
BAD_CSV = GOOD_CSV.replace(
    "2025-01-01,,Directieteam Gemeente Demo,2024-12-15,DT-2024-099,yes,yes,no\nSanne",
    "2025-13-45,,Directieteam Gemeente Demo,2024-12-15,DT-2024-099,yes,yes,no\nSanne",
)


def sign_in(client: httpx.Client, base_url: str, username: str) -> httpx.Response:
    """Start at the web app's sign-in, pick ``username`` on the provider's login page, follow the
    redirects back; returns the page the app lands on."""
    page = client.get(f"{base_url}/aanmelden", follow_redirects=True)
    assert page.status_code == 200 and "Aanmelden bij de gesimuleerde tenant" in page.text, page.text
    tree = lxml_html.fromstring(page.text)
    form = next(f for f in tree.forms if f.fields.get("login_hint") == username)
    action = str(page.url.copy_with(path=form.action, query=None))
    return client.post(action, data=dict(form.fields), follow_redirects=True)


def csrf_of(text: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', text)
    assert match, "no CSRF token on the page"
    return match.group(1)


# Words of the services' English messages (the CLI's): none may reach a Dutch page.
ENGLISH = re.compile(
    r"\b(is not|is required|lies (before|in the future)|unknown|already|nothing to|needs a|"
    r"overlapping|covered by|no archived|designation \S+ was|not a date|yes/no|refused|"
    r"no (hold|exclusion|destruction list)|only an|past their|four eyes|another archivist)\b",
    re.IGNORECASE,
)


def visible(page: httpx.Response) -> str:
    """The text a reader sees (not attribute values such as field names)."""
    text: str = lxml_html.fromstring(page.text).text_content()
    return " ".join(text.split())


def assert_dutch(page: httpx.Response, status: int, *expected: str) -> None:
    shown = visible(page)
    assert page.status_code == status, shown
    for text in expected:
        assert text in shown, (text, shown)
    assert not ENGLISH.search(shown), ENGLISH.search(shown)

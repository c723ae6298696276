"""Untrusted HTML (a Teams message body, a mail's HTML body, a calendar item's body) as safe HTML
for a transcript or a rendition, through ``nh3`` (ammonia, an HTML5 parser) and an explicit
allow-list.

Only formatting elements survive, with no attributes except a link's ``http(s)``/``mailto`` target
and an image's alt text and size; ``script``/``style``/``template``/``iframe`` contents are dropped,
while the visible fallback text of other elements that are removed (``<object>``, ``<noscript>``,
``<svg>``, also when unclosed) is kept as text. Images are shown only when the archive holds them
(``resolve_image`` returns a ``data:`` URI), never loaded from elsewhere. Teams' own elements become
readable: ``<at>`` a mention, ``<attachment>`` whatever ``render_attachment`` says about it.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable

import nh3

ALLOWED_TAGS = frozenset({
    "p", "br", "b", "strong", "i", "em", "u", "s", "strike", "del", "ins", "span", "div", "ul", "ol",
    "li", "blockquote", "pre", "code", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody",
    "tfoot", "tr", "td", "th", "hr", "sub", "sup", "a", "img", "at", "attachment",
})  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "at": set[str](),
    "attachment": {"id"},
}
DROP_CONTENT = frozenset({"script", "style", "template", "iframe", "head", "title", "textarea", "select"})
_SAFE_LINK = ("http://", "https://", "mailto:")
_MISSING = "https://capstone.invalid/missing-image/"
_MISSING_IMG = re.compile(r'<img src="' + re.escape(_MISSING) + r'([^"]*)"[^>]*>')
_ATTACHMENT = re.compile(r'<attachment(?: id="([^"]*)")?>')


def sanitize_html(
    body: str,
    *,
    resolve_image: Callable[[str], str | None] = lambda _: None,
    render_attachment: Callable[[str], str] = lambda _: "",
) -> str:
    nonce = secrets.token_hex(8)

    def attribute(element: str, name: str, value: str) -> str | None:
        if element == "a" and name == "href":
            return value if value.strip().lower().startswith(_SAFE_LINK) else None
        if element == "img" and name == "src":
            uri = resolve_image(value)
            return uri if uri is not None else _MISSING + nonce + value
        if element == "img" and name in ("width", "height"):
            return value if value.isdigit() and int(value) <= 4000 else None
        return value

    cleaned = nh3.clean(
        body,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        clean_content_tags=set(DROP_CONTENT),
        attribute_filter=attribute,
        url_schemes={"http", "https", "mailto", "data", "cid"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )

    def missing(match: re.Match[str]) -> str:
        value = match.group(1)
        if not value.startswith(nonce):
            return ""
        src = value[len(nonce) :]
        label = "afbeelding niet in het archief"
        return f'<span class="missing-image" title="{src}">[{label}]</span>'

    cleaned = _MISSING_IMG.sub(missing, cleaned)
    cleaned = re.sub(r"<img ", '<img class="inline-image" ', cleaned)
    cleaned = _ATTACHMENT.sub(lambda m: render_attachment(html.unescape(m.group(1) or "")), cleaned)
    cleaned = cleaned.replace("</attachment>", "")
    return cleaned.replace("<at>", '<span class="mention">@').replace("</at>", "</span>")


def text_to_html(text: str) -> str:
    """A ``text`` body: escaped, line breaks kept."""
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))

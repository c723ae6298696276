"""A Teams message body as safe HTML for a transcript.

Teams bodies are HTML. A transcript keeps their formatting but nothing active: only a short list of
formatting elements survives, with no attributes except a link's ``http(s)``/``mailto`` target
and an image's size; all text is escaped again; ``script``/``style`` contents are dropped; images are
shown only when the archive holds them (``resolve_image`` returns a ``data:`` URI), never loaded
from elsewhere. Teams' own elements become readable: ``<at>`` a mention, ``<attachment>`` whatever
``render_attachment`` says about it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from html.parser import HTMLParser

_ALLOWED = frozenset({
    "p", "br", "b", "strong", "i", "em", "u", "s", "strike", "del", "ins", "span", "div", "ul", "ol",
    "li", "blockquote", "pre", "code", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody",
    "tfoot", "tr", "td", "th", "hr", "sub", "sup", "a", "img",
})  # fmt: skip
_VOID = frozenset({"br", "hr", "img"})
_DROP_CONTENT = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head", "title"}
)
_SAFE_LINK = ("http://", "https://", "mailto:")
# Opening one of these ends an open paragraph (as an HTML parser would), so no <p> nests in a <p>.
_CLOSES_P = frozenset(
    {"p", "div", "ul", "ol", "table", "blockquote", "pre", "hr", "h1", "h2", "h3", "h4", "h5", "h6"}
)


class _Sanitizer(HTMLParser):
    def __init__(
        self,
        resolve_image: Callable[[str], str | None],
        render_attachment: Callable[[str], str],
    ) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.skip = 0  # inside an element whose content is dropped
        self.resolve_image = resolve_image
        self.render_attachment = render_attachment

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        values = {k.lower(): v or "" for k, v in attrs}
        if tag in _DROP_CONTENT:
            self.skip += 1
            return
        if self.skip:
            return
        if tag == "at":
            self.out.append('<span class="mention">@')
            self.stack.append("at")
            return
        if tag == "attachment":
            self.out.append(self.render_attachment(values.get("id", "")))
            self.stack.append("attachment")
            return
        if tag not in _ALLOWED:
            return
        if tag == "img":
            self._image(values)
            return
        if tag in _CLOSES_P and "p" in self.stack:
            self.handle_endtag("p")
        if tag == "a":
            href = values.get("href", "").strip()
            if href.lower().startswith(_SAFE_LINK):
                self.out.append(f'<a href="{html.escape(href, quote=True)}" rel="noopener noreferrer">')
            else:
                self.out.append("<a>")
        else:
            self.out.append(f"<{tag}>")
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() not in _VOID:
            self.handle_endtag(tag)

    def _image(self, values: dict[str, str]) -> None:
        src = values.get("src", "")
        uri = self.resolve_image(src)
        alt = values.get("alt") or ""
        if uri is None:
            label = "afbeelding niet in het archief"
            self.out.append(
                f'<span class="missing-image" title="{html.escape(src, quote=True)}">[{label}]</span>'
            )
            return
        size = "".join(
            f' {name}="{int(values[name])}"'
            for name in ("width", "height")
            if values.get(name, "").isdigit() and int(values[name]) <= 4000
        )
        self.out.append(f'<img class="inline-image" src="{uri}" alt="{html.escape(alt, quote=True)}"{size}>')

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in _DROP_CONTENT:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip or tag not in self.stack:
            return
        while self.stack:
            open_tag = self.stack.pop()
            self.out.append(self._close(open_tag))
            if open_tag == tag:
                break

    @staticmethod
    def _close(tag: str) -> str:
        if tag == "at":
            return "</span>"
        if tag == "attachment":
            return ""
        return f"</{tag}>"

    def handle_data(self, data: str) -> None:
        if self.skip or (self.stack and self.stack[-1] == "attachment"):
            return
        self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        self.close()
        while self.stack:
            self.out.append(self._close(self.stack.pop()))
        return "".join(self.out)


def sanitize_html(
    body: str,
    *,
    resolve_image: Callable[[str], str | None] = lambda _: None,
    render_attachment: Callable[[str], str] = lambda _: "",
) -> str:
    parser = _Sanitizer(resolve_image, render_attachment)
    parser.feed(body)
    return parser.result()


def text_to_html(text: str) -> str:
    """A ``text`` body: escaped, line breaks kept."""
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))

"""Credentials go to the configured Graph endpoint only.

The state database keeps whole ``@odata.nextLink`` / ``@odata.deltaLink`` URLs as cursors, and a
server may hand back any URL as its next link. When the Graph endpoint is reconfigured (a proxy, a
national cloud, another simulator port) a stored cursor still names the old host; sent as it is, the
request would carry the bearer token there. :class:`OriginGuard` sits in the transport, before the
``Authorization`` header is set, so no code path (SDK request builders, raw downloads, ``$batch``,
Teams) can send it anywhere else.

A URL on another origin is **rewritten** onto the configured base (same path below the API version,
same query), not refused: a reconfiguration is a legitimate operator act, and refusing would stop
the capture of every official until each cursor was reset by hand. The token inside the query is
opaque; the configured server decides whether it knows it, and when it does not it answers as for
an expired cursor (410 / ``syncStateNotFound``), after which capture starts that folder's round
again and nothing is lost. A URL that is not http(s) at all is refused.

Example::

    guard = OriginGuard("https://graph.microsoft.com/v1.0")
    guard.rebase("https://old.example/v1.0/users/a/messages/delta?$deltatoken=x")
    # -> "https://graph.microsoft.com/v1.0/users/a/messages/delta?$deltatoken=x"
"""

from __future__ import annotations

import re

import httpx

from capstone.logging import get_logger

log = get_logger("graph.origin")

# The API version segment of a Graph path: everything after it is the resource.
_VERSION = re.compile(r"/(v1\.0|beta)(?=/|$)", re.IGNORECASE)


class ForeignOriginError(PermissionError):
    """A request would carry credentials to a URL that cannot be mapped onto the configured base."""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme.lower(), url.host.lower(), port)


class OriginGuard:
    """Maps every request URL onto the configured base URL's origin (scheme, host, port)."""

    def __init__(self, base_url: str) -> None:
        base = httpx.URL(base_url.rstrip("/"))
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"the Graph base URL {base_url!r} is not an http(s) URL")
        self.base = base
        self.origin = _origin(base)
        self.base_path = base.path.rstrip("/")

    def allows(self, url: httpx.URL) -> bool:
        return _origin(url) == self.origin

    def rebase(self, url: str | httpx.URL) -> httpx.URL:
        """``url`` when it is on the configured origin, else the same resource on the configured
        base; :class:`ForeignOriginError` for a URL that is not http(s)."""
        target = httpx.URL(str(url))
        if target.scheme not in ("http", "https") or not target.host:
            raise ForeignOriginError(
                f"refused to send Graph credentials to {target.scheme}: URL (not http/https)"
            )
        if self.allows(target):
            return target
        path = target.path
        match = _VERSION.search(path)
        # Below the version segment the path names the resource; the configured base supplies the
        # prefix and the version (a stored link of another API version keeps the base's version).
        resource = path[match.end() :] if match else path
        rebased = self.base.copy_with(path=self.base_path + resource, query=target.query or None)
        log.warning(
            "graph_url_rebased",
            stored_host=target.host,
            stored_port=target.port,
            configured_host=self.base.host,
            configured_port=self.base.port,
        )
        return rebased

    def apply(self, request: httpx.Request) -> httpx.Request:
        """The request itself when its URL is on the configured origin, else a copy on the base
        (``Host`` header included). Called before credentials are attached."""
        if self.allows(request.url):
            return request
        rebased = self.rebase(request.url)
        headers = httpx.Headers(request.headers)
        headers.pop("Authorization", None)  # never forward credentials a caller may have set
        headers["Host"] = rebased.netloc.decode("ascii")
        return httpx.Request(
            request.method, rebased, headers=headers, content=request.content, extensions=request.extensions
        )

"""Fault injection: server errors, 503 with Retry-After, connection resets, slow responses and
truncated bodies, chosen deterministically from a seed.

A spec reads ``seed=7,rate=0.05,kinds=500,503,reset,slow,truncate`` (optional ``slow=2.0`` seconds,
``retry_after=1``, ``max=N`` faults in all, ``paths=/v1.0/users|/EWS`` prefixes, ``auth=true`` to
include the token endpoint), and ``fail=ID1|ID2`` (optional ``fail_status=500``): every request that
names one of these ids (an item, a folder, a chat message, a hosted content: in its path, a
``$batch`` entry's path, or the ``itemIds`` of an ``exportItems`` call) fails, always, whatever the
rate: a poison item that never heals until the spec is changed. Whether the n-th request for a given method and URL fails depends only
on ``(seed, method, URL, n)``, so a run replays identically however requests interleave. Faults are
off unless a spec is given, and never touch the ``/_sim/`` admin endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote

from capstone.logging import get_logger

log = get_logger("simulator.faults")

KINDS = ("500", "503", "reset", "slow", "truncate")
Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass(frozen=True)
class FaultSpec:
    seed: int = 0
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    slow_seconds: float = 2.0
    retry_after: int = 1
    max_faults: int | None = None
    paths: tuple[str, ...] = ()
    include_auth: bool = False
    fail: tuple[str, ...] = ()  # ids whose every request fails with ``fail_status``
    fail_status: int = 500

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and bool(self.kinds)

    def permanent(self, target: str) -> int | None:
        """The status a request for ``target`` (path and query, or an item id) always fails with."""
        if not self.fail:
            return None
        plain = unquote(target)
        return self.fail_status if any(i in plain for i in self.fail) else None

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """Parse ``seed=7,rate=0.05,kinds=500,503,reset`` (values after ``kinds=`` and ``paths=``
        continue until the next ``key=``)."""
        if not text or text.strip().lower() in ("off", "none", "0"):
            return cls()
        values: dict[str, list[str]] = {}
        current: str | None = None
        for token in text.split(","):
            token = token.strip()
            if not token:
                continue
            if "=" in token:
                key, _, value = token.partition("=")
                current = key.strip().lower()
                values[current] = [value.strip()] if value.strip() else []
            elif current is not None:
                values[current].append(token)
            else:
                raise ValueError(f"fault spec: {token!r} has no key (expected key=value)")
        spec = cls()
        for key, items in values.items():
            first = items[0] if items else ""
            if key == "seed":
                spec = replace(spec, seed=int(first))
            elif key == "rate":
                rate = float(first)
                if not 0 <= rate <= 1:
                    raise ValueError("fault spec: rate must be between 0 and 1")
                spec = replace(spec, rate=rate)
            elif key == "kinds":
                kinds = tuple(k.lower() for item in items for k in item.split("|") if k)
                unknown = set(kinds) - set(KINDS)
                if unknown:
                    raise ValueError(
                        f"fault spec: unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}"
                    )
                spec = replace(spec, kinds=kinds)
            elif key == "slow":
                spec = replace(spec, slow_seconds=float(first))
            elif key in ("retry_after", "retry-after"):
                spec = replace(spec, retry_after=int(first))
            elif key == "max":
                spec = replace(spec, max_faults=int(first))
            elif key == "paths":
                spec = replace(spec, paths=tuple(p for item in items for p in item.split("|") if p))
            elif key == "fail":
                spec = replace(spec, fail=tuple(p for item in items for p in item.split("|") if p))
            elif key in ("fail_status", "fail-status"):
                status = int(first)
                if not 400 <= status <= 599:
                    raise ValueError("fault spec: fail_status must be an HTTP error status (400-599)")
                spec = replace(spec, fail_status=status)
            elif key == "auth":
                spec = replace(spec, include_auth=first.lower() in ("1", "true", "yes"))
            else:
                raise ValueError(f"fault spec: unknown key {key!r}")
        return spec

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rate": self.rate,
            "kinds": list(self.kinds),
            "slowSeconds": self.slow_seconds,
            "retryAfter": self.retry_after,
            "max": self.max_faults,
            "paths": list(self.paths),
            "auth": self.include_auth,
            "fail": list(self.fail),
            "failStatus": self.fail_status,
        }


@dataclass
class Faults:
    spec: FaultSpec = field(default_factory=FaultSpec)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[str] = Counter()

    def configure(self, spec: FaultSpec) -> None:
        with self._lock:
            self.spec = spec
            self._seen.clear()
            self.injected.clear()

    def applies_to(self, path: str) -> bool:
        if path.startswith("/_sim"):
            return False
        if "/oauth2/" in path and not self.spec.include_auth:
            return False
        return not self.spec.paths or any(path.startswith(p) for p in self.spec.paths)

    def decide(self, method: str, target: str) -> str | None:
        """The fault for this request, or None."""
        spec = self.spec
        if not spec.enabled:
            return None
        with self._lock:
            if spec.max_faults is not None and sum(self.injected.values()) >= spec.max_faults:
                return None
            self._seen[(method, target)] += 1
            n = self._seen[(method, target)]
            digest = hashlib.sha256(f"{spec.seed}:{method}:{target}:{n}".encode()).digest()
            if int.from_bytes(digest[:8], "big") / 2**64 >= spec.rate:
                return None
            kind = spec.kinds[int.from_bytes(digest[8:12], "big") % len(spec.kinds)]
            self.injected[kind] += 1
            return kind

    def permanent(self, target: str) -> int | None:
        """The status a request naming a failing id always gets (counted), or None."""
        status = self.spec.permanent(target)
        if status is not None:
            with self._lock:
                self.injected[f"fail-{status}"] += 1
        return status

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"spec": self.spec.describe(), "injected": dict(self.injected)}


def _transport(send: Any) -> Any:
    """uvicorn's asyncio transport behind an ASGI ``send`` (its request/response cycle's)."""
    owner = getattr(send, "__self__", None)
    return getattr(owner, "transport", None)


async def _abort(send: Any, *, reset: bool = True) -> None:
    """Drop the TCP connection: a reset (RST, via SO_LINGER 0), or a plain close after what was
    already sent (the client then sees a truncated body)."""
    transport = _transport(send)
    if transport is None:
        raise ConnectionResetError("simulated connection reset")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    for _ in range(3):  # let uvicorn notice the connection is gone, so it sends nothing more
        await asyncio.sleep(0)


class FaultMiddleware:
    """ASGI middleware applying :class:`Faults` to every HTTP request it is allowed to touch."""

    def __init__(self, app: Any, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.faults.applies_to(scope["path"]):
            await self.app(scope, receive, send)
            return
        target = scope["path"] + (
            "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
        )
        permanent = self.faults.permanent(target)
        if permanent is not None:
            log.info("fault_injected", kind=f"fail-{permanent}", method=scope["method"], path=scope["path"])
            await self._error(send, permanent, scope["path"].lower().startswith("/ews"))
            return
        kind = self.faults.decide(scope["method"], target)
        if kind is None:
            await self.app(scope, receive, send)
            return
        log.info("fault_injected", kind=kind, method=scope["method"], path=scope["path"])
        ews = scope["path"].lower().startswith("/ews")
        if kind in ("500", "503"):
            await self._error(send, int(kind), ews)
        elif kind == "reset":
            await _abort(send)
        elif kind == "slow":
            await asyncio.sleep(self.faults.spec.slow_seconds)
            await self.app(scope, receive, send)
        elif kind == "truncate":
            await self._truncated(scope, receive, send)

    async def _error(self, send: Any, status: int, ews: bool) -> None:
        headers = [(b"connection", b"close")]
        if ews:
            code = "ErrorServerBusy" if status == 503 else "ErrorInternalServerError"
            body = (
                '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/'
                'envelope/"><s:Body><s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/'
                f'services/2006/types">a:{code}</faultcode><faultstring xml:lang="en-US">Simulated '
                f"server fault.</faultstring></s:Fault></s:Body></s:Envelope>"
            ).encode()
            headers.append((b"content-type", b"text/xml; charset=utf-8"))
        else:
            code = {503: "ServiceUnavailable", 429: "TooManyRequests"}.get(status, "InternalServerError")
            body = json.dumps(
                {
                    "error": {
                        "code": code,
                        "message": "Simulated service fault; please retry.",
                        "innerError": {},
                    }
                }
            ).encode()
            headers.append((b"content-type", b"application/json"))
        if status in (429, 503):
            headers.append((b"retry-after", str(self.faults.spec.retry_after).encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _truncated(self, scope: Scope, receive: Any, send: Any) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if start is None or len(body) < 2:
            if start is not None:
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await _abort(send, reset=False)

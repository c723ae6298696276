"""The HTTP transport under every Graph request: authentication, immutable ids, throttling, retries.

Both msgraph-sdk (through kiota's middleware) and our streaming downloads go through one
:class:`GraphTransport`, so every request to a mailbox shares one set of rules, as Microsoft's
Outlook throttling counts them: per app and mailbox at most ``concurrency`` requests at once (4) and
``budget`` requests per ``window`` seconds (10,000 per 10 minutes). We pace ourselves to stay inside
the budget with a margin (``pace_fraction``, 90 %: the server may still count requests we did not
send, e.g. those of a process killed a minute ago), honour ``Retry-After`` on 429/503, back off with
jitter on 5xx and connection resets, and renew the token once on a 401.

A 429 for the request budget teaches the mailbox's limiter what the server counts: every request to
that mailbox waits for its ``Retry-After``, and the window is taken as full from then on, so pacing
resumes at the rate the server's window drains instead of hammering it. A 429 is waited out, never
counted as a failed attempt: throttling alone does not turn an item into a failure (only
``max_throttle_seconds`` of waiting for one request ends it). A ``$batch`` counts as what it is to Outlook: each of its
requests against its own mailbox's budget, and up to ``concurrency`` of them in flight at once.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx

from capstone.logging import get_logger
from connectors.graph.netio import asyncio_http_transport
from connectors.graph.origin import OriginGuard

log = get_logger("graph.transport")

TokenSource = Callable[[bool], Awaitable[str]]  # force_refresh -> bearer token

_MAILBOX_PATH = re.compile(r"/(?:users|mailboxes)/([^/?]+)", re.IGNORECASE)
_RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class ThrottleStats:
    requests: int = 0
    throttled: int = 0  # 429/503 answers
    retries: int = 0
    wait_seconds: float = 0.0  # time spent waiting for Retry-After, backoff or our own pacing
    errors: int = 0
    delta_requests: int = 0  # .../delta() pages: what an idle incremental run costs
    content_requests: int = 0  # $value downloads and exportItems calls
    round_trips: int = 0  # HTTP requests that carried them (one $batch carries up to 20)


@dataclass
class _MailboxLimiter:
    concurrency: asyncio.Semaphore
    budget: int
    window: float
    sent: deque[float] = field(default_factory=deque)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    blocked_until: float = 0.0  # the server's last Retry-After for the budget, as a monotonic time
    learned: int = 0  # 429s for the budget that refilled the window
    # Taking several concurrency slots (a batch) is serialised, so two batches never each hold
    # part of the slots while waiting for the rest.
    multi_slot: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def acquire_budget(self) -> float:
        """Wait until one more request fits in the sliding window; returns the seconds waited."""
        waited = 0.0
        async with self.lock:
            while True:
                now = time.monotonic()
                if now < self.blocked_until:
                    delay = self.blocked_until - now
                    waited += delay
                    await asyncio.sleep(delay)
                    continue
                while self.sent and now - self.sent[0] >= self.window:
                    self.sent.popleft()
                if len(self.sent) < self.budget:
                    self.sent.append(now)
                    return waited
                delay = self.window - (now - self.sent[0]) + 0.001
                waited += delay
                await asyncio.sleep(delay)

    def learn(self, retry_after: float) -> None:
        """The server said its budget is used up for ``retry_after`` seconds: nobody sends before
        then, and the window counts as full, its requests spread over the last ``window`` seconds
        and aging out from ``retry_after`` on (so the budget comes back at the pace the server's
        window drains, not all at once)."""
        now = time.monotonic()
        self.blocked_until = max(self.blocked_until, now + retry_after)
        while self.sent and now - self.sent[0] >= self.window:
            self.sent.popleft()
        missing = self.budget - len(self.sent)
        if missing <= 0:
            return
        first = min(now, max(now - self.window + retry_after, now - self.window + 0.001))
        step = (now - first) / missing
        self.sent = deque(sorted([*self.sent, *(first + step * i for i in range(missing))]))
        self.learned += 1


@dataclass(frozen=True)
class TransportPolicy:
    concurrency: int = 4  # Outlook: 4 concurrent requests per app per mailbox
    budget: int = 10_000  # Outlook: 10,000 requests per 10 minutes per app per mailbox
    window: float = 600.0
    max_attempts: int = 8  # attempts for server errors and resets; a 429 is not an attempt
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 300.0
    pace_fraction: float = 0.9  # pace to 90 % of the budget: a margin for what we do not see
    max_throttle_seconds: float = 3600.0  # one request waits out 429s for at most this long

    @property
    def paced_budget(self) -> int:
        return max(1, int(self.budget * self.pace_fraction))


def mailbox_key(url: httpx.URL) -> str:
    match = _MAILBOX_PATH.search(url.path)
    return unquote(match.group(1)).lower() if match else "-tenant-"


def with_immutable_ids(prefer: str | None) -> str:
    """A ``Prefer`` header value that also asks for immutable ids."""
    if prefer and "IdType" in prefer:
        return prefer
    immutable = 'IdType="ImmutableId"'
    return f"{prefer}, {immutable}" if prefer else immutable


def _release_slots(held: list[tuple[_MailboxLimiter, int]]) -> None:
    for limiter, count in held:
        for _ in range(count):
            limiter.concurrency.release()


class _ReleasingStream(httpx.AsyncByteStream):
    """Holds the mailbox's concurrency slot until the response body is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class GraphTransport(httpx.AsyncBaseTransport):
    """Wraps a real transport with Graph's rules. ``streaming_paths`` are not buffered."""

    def __init__(
        self,
        token_source: TokenSource,
        *,
        policy: TransportPolicy | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
        immutable_ids: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        base_url: str | None = None,
    ) -> None:
        self._token_source = token_source
        # Credentials go to this origin only (see connectors.graph.origin); connect() always sets it.
        self.origin_guard = OriginGuard(base_url) if base_url else None
        self.policy = policy or TransportPolicy()
        self._inner = inner or asyncio_http_transport(retries=0)
        self.immutable_ids = immutable_ids  # every request, batched ones too, asks for immutable ids
        self._limiters: dict[str, _MailboxLimiter] = {}
        self._aliases: dict[str, str] = {}
        self._sleep = sleep
        self.stats = ThrottleStats()
        self.stats_by_mailbox: dict[str, ThrottleStats] = {}

    def same_mailbox(self, alias: str, mailbox: str) -> None:
        """Requests addressed by ``alias`` (the export API's ``MBX:`` id of a user's primary
        mailbox) go to the mailbox ``mailbox`` (the user) and share its limits, as Outlook counts
        them per mailbox, however it is addressed."""
        alias_key = unquote(alias).lower()
        target = unquote(mailbox).lower()
        if alias_key != target:
            self._aliases[alias_key] = target

    def key(self, url: httpx.URL) -> str:
        """The mailbox a request URL addresses, aliases resolved."""
        found = mailbox_key(url)
        return self._aliases.get(found, found)

    def _units(self, request: httpx.Request) -> list[tuple[str, str]]:
        """(mailbox key, path) of every Graph request this HTTP request carries, itself or each
        request inside a ``$batch``."""
        if request.method == "POST" and request.url.path.endswith("/$batch"):
            try:
                entries = json.loads(request.content).get("requests") or []
            except (ValueError, AttributeError):
                entries = []
            units = []
            for entry in entries:
                url = httpx.URL("http://graph" + str(entry.get("url") or "/"))
                units.append((self.key(url), url.path))
            if units:
                return units
        return [(self.key(request.url), request.url.path)]

    def _limiter(self, key: str) -> _MailboxLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = _MailboxLimiter(
                asyncio.Semaphore(self.policy.concurrency), self.policy.paced_budget, self.policy.window
            )
            self._limiters[key] = limiter
        return limiter

    def _mailbox_stats(self, key: str) -> ThrottleStats:
        return self.stats_by_mailbox.setdefault(key, ThrottleStats())

    async def wait(self, seconds: float, key: str) -> None:
        """Sleep on behalf of ``key``'s mailbox; counted as throttle wait."""
        self.stats.wait_seconds += seconds
        self._mailbox_stats(key).wait_seconds += seconds
        await self._sleep(seconds)

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter"

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        value = response.headers.get("Retry-After")
        if value is not None:
            try:
                return min(max(float(value), 0.0), self.policy.max_retry_after)
            except ValueError:
                pass
        return self.backoff(attempt)

    def learn_throttle(self, key: str, retry_after: float) -> None:
        """The server answered a request to ``key``'s mailbox 429 for its budget (e.g. inside a
        ``$batch``): that mailbox's requests wait ``retry_after`` and pacing takes its window as full."""
        self._limiter(key).learn(retry_after)

    def note_batch_retry(self, key: str, *, throttled: int, retries: int) -> None:
        """Requests inside a batch answered 429/5xx and are sent again: counted like single ones."""
        for target in (self.stats, self._mailbox_stats(key)):
            target.throttled += throttled
            target.retries += retries

    async def _acquire_slots(self, slots: dict[str, int]) -> list[tuple[_MailboxLimiter, int]]:
        """Concurrency slots per mailbox, in key order, so two multi-slot holders cannot deadlock."""
        held: list[tuple[_MailboxLimiter, int]] = []
        try:
            for key in sorted(slots):
                limiter, count = self._limiter(key), slots[key]
                if count == 1:
                    await limiter.concurrency.acquire()
                    held.append((limiter, 1))
                    continue
                async with limiter.multi_slot:
                    for _ in range(count):
                        await limiter.concurrency.acquire()
                        if held and held[-1][0] is limiter:
                            held[-1] = (limiter, held[-1][1] + 1)
                        else:
                            held.append((limiter, 1))
        except BaseException:
            _release_slots(held)
            raise
        return held

    def _count(self, units: list[tuple[str, str]], streaming: bool) -> None:
        for key in {key for key, _ in units}:
            self._mailbox_stats(key).round_trips += 1
        for key, path in units:
            stats = self._mailbox_stats(key)
            self.stats.requests += 1
            stats.requests += 1
            if "/delta" in path:
                stats.delta_requests += 1
            elif streaming or path.endswith("/exportItems"):
                stats.content_requests += 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.origin_guard is not None:  # before anything reads the URL or sets Authorization
            request = self.origin_guard.apply(request)
        units = self._units(request)
        key = units[0][0]
        slots: dict[str, int] = {}
        for unit_key, _ in units:
            slots[unit_key] = min(slots.get(unit_key, 0) + 1, self.policy.concurrency)
        streaming = request.url.path.endswith("/$value")
        if self.immutable_ids:
            request.headers["Prefer"] = with_immutable_ids(request.headers.get("Prefer"))
        body = request.content  # requests are small JSON documents: safe to resend
        force_refresh = False
        last_error: Exception | None = None
        attempt = 0
        throttled_for = 0.0
        while attempt < self.policy.max_attempts:
            # A slot first, then the budget: the request is counted when it is really sent, as the
            # server counts it (counted earlier, a request that waited for a slot would age out of
            # our window before it leaves the server's, and the server would answer 429).
            held = await self._acquire_slots(slots)
            try:
                for unit_key, _ in units:  # every request of a batch counts against its mailbox
                    paced = await self._limiter(unit_key).acquire_budget()
                    if paced:
                        self.stats.wait_seconds += paced
                        self._mailbox_stats(unit_key).wait_seconds += paced
            except BaseException:
                _release_slots(held)
                raise
            released = False

            def release(held: list[tuple[_MailboxLimiter, int]] = held) -> None:
                nonlocal released
                if not released:
                    released = True
                    _release_slots(held)

            try:
                token = await self._token_source(force_refresh)
                attempt_request = httpx.Request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    content=body,
                    extensions=request.extensions,
                )
                attempt_request.headers["Authorization"] = f"Bearer {token}"
                self._count(units, streaming)
                response = await self._inner.handle_async_request(attempt_request)
                if response.status_code == 401 and not force_refresh:
                    await response.aclose()
                    release()
                    force_refresh = True
                    continue
                if response.status_code == 429 and throttled_for < self.policy.max_throttle_seconds:
                    # Throttled: waited out, not an attempt. A budget 429 is learnt by the limiter
                    # of every mailbox the request addressed, so their other requests wait too.
                    delay = self._retry_after(response, attempt)
                    concurrency = await _is_concurrency_429(response)
                    release()
                    if not concurrency:
                        for unit_key in {k for k, _ in units}:
                            self._limiter(unit_key).learn(delay)
                    for target in (self.stats, self._mailbox_stats(key)):
                        target.throttled += 1
                        target.retries += 1
                    throttled_for += delay
                    log.info("graph_throttled", mailbox=key, delay=round(delay, 3), budget=not concurrency)
                    await self.wait(delay, key)
                    continue
                if response.status_code in _RETRY_STATUS and attempt + 1 < self.policy.max_attempts:
                    delay = self._retry_after(response, attempt)
                    stats = self._mailbox_stats(key)
                    if response.status_code in (429, 503):
                        self.stats.throttled += 1
                        stats.throttled += 1
                    self.stats.retries += 1
                    stats.retries += 1
                    await response.aclose()
                    release()
                    log.info("graph_retry", status=response.status_code, mailbox=key, delay=round(delay, 3))
                    await self.wait(delay, key)
                    attempt += 1
                    continue
                if streaming and response.status_code == 200:
                    return httpx.Response(
                        response.status_code,
                        headers=response.headers,
                        stream=_ReleasingStream(response.stream, release),  # type: ignore[arg-type]
                        extensions=response.extensions,
                        request=request,
                    )
                # Buffer the body here so a truncated or reset body is retried like any other fault.
                content = await _read_all(response)
                release()
                return httpx.Response(
                    response.status_code,
                    headers=_without_encoding(response.headers),
                    content=content,
                    request=request,
                )
            except (httpx.TransportError, _TruncatedBody) as exc:
                release()
                last_error = exc
                if attempt + 1 >= self.policy.max_attempts:
                    break
                self.stats.retries += 1
                self._mailbox_stats(key).retries += 1
                delay = self.backoff(attempt)
                log.info("graph_retry", error=type(exc).__name__, mailbox=key, delay=round(delay, 3))
                await self.wait(delay, key)
                attempt += 1
            except BaseException:
                release()
                raise
        self.stats.errors += 1
        self._mailbox_stats(key).errors += 1
        raise httpx.TransportError(
            f"Graph request failed after {self.policy.max_attempts} attempts: {last_error}"
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _TruncatedBody(Exception):
    pass


async def _is_concurrency_429(response: httpx.Response) -> bool:
    """A 429 for too many requests at once (``MailboxConcurrency``), not for the request budget."""
    try:
        body = await _read_all(response)
    except (httpx.HTTPError, httpx.StreamError, _TruncatedBody):
        return False
    return b"MailboxConcurrency" in body[:4096]


async def _read_all(response: httpx.Response) -> bytes:
    chunks = []
    try:
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
    finally:
        await response.aclose()
    content = b"".join(chunks)
    expected = response.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) != len(content):
        raise _TruncatedBody(f"body truncated: {len(content)} of {expected} bytes")
    return content


def _without_encoding(headers: httpx.Headers) -> httpx.Headers:
    # aiter_raw returns the bytes as sent; keep Content-Encoding so httpx decodes them once.
    cleaned = httpx.Headers(headers)
    cleaned.pop("Transfer-Encoding", None)
    return cleaned

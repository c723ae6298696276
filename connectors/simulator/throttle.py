"""Throttling as Exchange Online applies it to Graph (Outlook resources) and as Teams applies it to
``getAllMessages``.

Outlook: per app per mailbox at most ``concurrency`` requests at once (4) and ``budget`` requests
per ``window`` seconds (10,000 per 10 minutes); over either, 429 with ``Retry-After``. Throttled
requests still count against the window, so a client that ignores ``Retry-After`` stays throttled.
Teams ``getAllMessages``: 200 requests per second per app per tenant.

``time_scale`` divides every window (and therefore every ``Retry-After``) so tests and benchmarks
can exercise a 10-minute budget in seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ThrottleConfig:
    enabled: bool = True
    mailbox_concurrency: int = 4
    mailbox_budget: int = 10_000
    mailbox_window: float = 600.0
    teams_budget: int = 200
    teams_window: float = 1.0
    time_scale: float = 1.0

    def scaled(self, seconds: float) -> float:
        return seconds / self.time_scale if self.time_scale > 0 else seconds


@dataclass(frozen=True)
class Verdict:
    """The outcome of admitting a request: ``retry_after`` is None when admitted."""

    retry_after: float | None = None
    reason: str = ""  # "MailboxConcurrency" or "Requests"
    release: Callable[[], None] = lambda: None

    @property
    def admitted(self) -> bool:
        return self.retry_after is None


@dataclass
class _Bucket:
    sent: deque[float] = field(default_factory=deque)
    in_flight: int = 0
    requests: int = 0
    throttled_concurrency: int = 0
    throttled_rate: int = 0


class Throttle:
    def __init__(
        self, config: ThrottleConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or ThrottleConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def admit_mailbox(self, app_id: str, mailbox: str) -> Verdict:
        cfg = self.config
        return self._admit(
            ("outlook", app_id, mailbox), cfg.mailbox_budget, cfg.mailbox_window, cfg.mailbox_concurrency
        )

    def admit_teams_export(self, app_id: str) -> Verdict:
        cfg = self.config
        return self._admit(("teams-export", app_id), cfg.teams_budget, cfg.teams_window, None)

    def _admit(self, key: tuple[str, ...], budget: int, window: float, concurrency: int | None) -> Verdict:
        if not self.config.enabled:
            return Verdict()
        span = self.config.scaled(window)
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket())
            now = self._clock()
            while bucket.sent and now - bucket.sent[0] >= span:
                bucket.sent.popleft()
            bucket.sent.append(now)  # throttled requests count too
            bucket.requests += 1
            if concurrency is not None and bucket.in_flight >= concurrency:
                bucket.throttled_concurrency += 1
                return Verdict(retry_after=max(1.0, self.config.scaled(1.0)), reason="MailboxConcurrency")
            if len(bucket.sent) > budget:
                bucket.throttled_rate += 1
                # The next request fits once all but budget-1 of the counted requests have aged out.
                oldest_needed = bucket.sent[len(bucket.sent) - budget]
                wait = oldest_needed + span - now
                return Verdict(retry_after=max(1.0, math.ceil(wait)), reason="Requests")
            bucket.in_flight += 1

        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    bucket.in_flight -= 1

        return Verdict(release=release)

    def stats(self) -> list[dict[str, object]]:
        with self._lock:
            return [
                {
                    "scope": key[0],
                    "app": key[1],
                    "mailbox": key[2] if len(key) > 2 else None,
                    "requests": b.requests,
                    "inFlight": b.in_flight,
                    "throttledConcurrency": b.throttled_concurrency,
                    "throttledRate": b.throttled_rate,
                }
                for key, b in self._buckets.items()
            ]

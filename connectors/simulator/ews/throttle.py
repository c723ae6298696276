"""EWS throttling as on-premises Exchange applies it, and a switchable storm of throttling errors.

- ``EWSMaxConcurrency`` (default 10): at most that many EWS requests of one budget at once. The
  budget charged is the impersonated mailbox's when ``ExchangeImpersonation`` is used, the caller's
  otherwise. Over it: a SOAP fault ``ErrorServerBusy`` whose ``MessageXml`` carries
  ``BackOffMilliseconds`` (and ``Policy`` = ``MaxConcurrency``), as Exchange answers.
- A storm (``POST /_sim/ews {"storm": {"count": N, "code": ..., "backOffMs": M}}``): the next N
  EWS requests fail with ``ErrorServerBusy`` (with ``BackOffMilliseconds``),
  ``ErrorExceededConnectionCount`` or ``ErrorTooManyObjectsOpened``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

STORM_CODES = ("ErrorServerBusy", "ErrorExceededConnectionCount", "ErrorTooManyObjectsOpened")


@dataclass
class EwsThrottleConfig:
    enabled: bool = True
    max_concurrency: int = 10  # EWSMaxConcurrency
    back_off_ms: int = 200  # BackOffMilliseconds suggested when over the concurrency limit


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    back_off_ms: int | None = None
    policy: str | None = None


@dataclass
class _Storm:
    remaining: int = 0
    code: str = "ErrorServerBusy"
    back_off_ms: int = 100


@dataclass
class EwsThrottle:
    config: EwsThrottleConfig = field(default_factory=EwsThrottleConfig)
    in_flight: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    _storm: _Storm = field(default_factory=_Storm)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def storm(self, count: int, code: str = "ErrorServerBusy", back_off_ms: int = 100) -> None:
        if code not in STORM_CODES:
            raise ValueError(f"storm code must be one of {', '.join(STORM_CODES)}")
        with self._lock:
            self._storm = _Storm(max(0, count), code, max(0, back_off_ms))

    def admit(self, budget: str) -> tuple[Refusal | None, Callable[[], None]]:
        """(None, release) when admitted, else (the refusal, a no-op)."""
        with self._lock:
            if self._storm.remaining > 0:
                self._storm.remaining -= 1
                storm = self._storm
                self.refused[storm.code] = self.refused.get(storm.code, 0) + 1
                return _storm_refusal(storm), _noop
            cfg = self.config
            if cfg.enabled and self.in_flight.get(budget, 0) >= cfg.max_concurrency:
                self.refused["MaxConcurrency"] = self.refused.get("MaxConcurrency", 0) + 1
                return (
                    Refusal(
                        "ErrorServerBusy",
                        "You have exceeded the available concurrent connections for your account. "
                        "Try again once your other requests have completed.",
                        back_off_ms=cfg.back_off_ms,
                        policy="MaxConcurrency",
                    ),
                    _noop,
                )
            self.in_flight[budget] = self.in_flight.get(budget, 0) + 1
            self.peak[budget] = max(self.peak.get(budget, 0), self.in_flight[budget])
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self.in_flight[budget] -= 1

        return None, release

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "enabled": self.config.enabled,
                "maxConcurrency": self.config.max_concurrency,
                "backOffMs": self.config.back_off_ms,
                "stormRemaining": self._storm.remaining,
                "inFlight": dict(self.in_flight),
                "peak": dict(self.peak),
                "refused": dict(self.refused),
            }


def _noop() -> None:
    return None


def _storm_refusal(storm: _Storm) -> Refusal:
    if storm.code == "ErrorServerBusy":
        return Refusal(
            "ErrorServerBusy",
            "The server cannot service this request right now. Try again later.",
            back_off_ms=storm.back_off_ms,
        )
    if storm.code == "ErrorExceededConnectionCount":
        return Refusal(
            storm.code, "You have exceeded the maximum number of connections allowed for your account."
        )
    return Refusal(storm.code, "The server has too many objects of this type open. Try again later.")

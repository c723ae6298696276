"""Live progress of a capture on a terminal: items, MB, rate and throttle waits per account."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from capstone.capture.mail import CaptureCounters


class CaptureProgress:
    """A ``rich`` table refreshed a few times a second; silent when not on a terminal."""

    def __init__(
        self, wait_seconds: Callable[[str], float | None] | None = None, *, enabled: bool = True
    ) -> None:
        """``wait_seconds`` tells an account's throttling wait so far (the connectors')."""
        self._counters: dict[str, CaptureCounters] = {}
        self._wait_seconds = wait_seconds or (lambda account: None)
        self._started = time.monotonic()
        self._console = Console(stderr=True)
        self._live: Live | None = None
        self.enabled = enabled and self._console.is_terminal

    def update(self, account: str, counters: CaptureCounters) -> None:
        self._counters[account] = counters
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Table:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        table = Table(title=f"Capture - {elapsed:,.0f} s", expand=False)
        for column in (
            "account",
            "items",
            "MB",
            "items/s",
            "excluded",
            "moves",
            "deleted",
            "errors",
            "throttle wait",
        ):
            table.add_column(column, justify="left" if column == "account" else "right")
        for account, c in sorted(self._counters.items()):
            seconds = self._wait_seconds(account)
            wait = f"{seconds:,.1f} s" if seconds is not None else "-"
            table.add_row(
                account,
                f"{c.items:,}",
                f"{c.bytes / 1e6:,.1f}",
                f"{c.items / elapsed:,.1f}",
                f"{c.excluded:,}",
                f"{c.moves:,}",
                f"{c.deletions:,}",
                f"{c.errors:,}",
                wait,
            )
        return table

    def __enter__(self) -> CaptureProgress:
        if self.enabled:
            self._live = Live(self._render(), console=self._console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

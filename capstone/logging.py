"""Structured logging: key-value events through structlog.

JSON lines when stderr is not a terminal (services, CI), readable console output on a terminal.
Log events carry identifiers, counts and sizes only: never secrets, tokens or message contents.
Values under keys that look like secrets are masked as a last line of defence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_MARKERS = ("secret", "password", "token", "authorization", "credential", "body", "content")


def _mask_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        lowered = key.lower()
        if any(marker in lowered for marker in _SECRET_MARKERS) and not lowered.endswith(
            ("_count", "_bytes", "_type", "_sha256")
        ):
            event_dict[key] = "***"
    return event_dict


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog once for the process. ``fmt`` is ``auto``, ``json`` or ``console``."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries log through the stdlib; keep them quiet unless debugging.
    logging.basicConfig(level=logging.WARNING if level != "debug" else logging.DEBUG, stream=sys.stderr)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger with ``component=name``. Lazy: it takes the configuration in force when it
    first logs, so module-level loggers created before :func:`configure_logging` still follow it.

    Until something configures logging, Capstone's defaults apply (stderr, secrets masked):
    structlog's own default would print to stdout, which carries the CLI's ``--json`` documents."""
    if not structlog.is_configured():
        configure_logging()
    return structlog.get_logger(component=name) if name else structlog.get_logger()

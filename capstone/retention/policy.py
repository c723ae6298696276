"""The lifecycle policy from settings: exclusion window, margin and a term per selectielijst category."""

from __future__ import annotations

import re
from datetime import timedelta

from capstone.settings import Settings
from vault.retention import LifecyclePolicy, Term

_SPAN = re.compile(r"^(\d+)\s*([wdhms]?)$")
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_span(text: str) -> timedelta:
    """``10w``, ``70d``, ``12h``, ``30m``, ``5s`` (a bare number: seconds) -> a timedelta."""
    match = _SPAN.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a span like 10w, 70d, 12h or 30s")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2) or "s"])


def lifecycle_policy(settings: Settings) -> LifecyclePolicy:
    years = settings.retention_years
    return LifecyclePolicy(
        window=parse_span(settings.exclusion_window),
        margin=parse_span(settings.exclusion_margin),
        default_term=Term("B", years=years),
        terms={
            category: Term.parse(spec, default_years=years)
            for category, spec in settings.retention_terms.items()
        },
    )

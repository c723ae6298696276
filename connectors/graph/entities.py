"""Graph entities (events, contacts, To Do tasks): the one canonical form in which one is stored,
and how their times read.

Graph's delta pages carry the whole entity; Capstone stores it as JSON bytes that do not depend on
the response it came in: per-response annotations (``@odata.context``, ``@odata.type`` which delta
pages send and a GET by id does not, ``@odata.nextLink``...) are dropped, the entity's own version
tag ``@odata.etag`` is kept, keys are sorted, no insignificant white space, UTF-8. The same item
read twice, from a delta page or by id, gives the same bytes, hence the same blob and record.

The simulator's ground truth hashes its own JSON with this very function, so a test can compare
what the vault holds with what the tenant serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENTITY_MEDIA_TYPE = "application/json"
KEPT_ANNOTATIONS = frozenset({"@odata.etag"})


def entity_document(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The entity without per-response annotations (top level; nested values are kept as sent)."""
    return {key: value for key, value in entity.items() if "@" not in key or key in KEPT_ANNOTATIONS}


def canonical_entity(entity: Mapping[str, Any]) -> bytes:
    """The bytes Capstone stores for ``entity``. Text with a lone UTF-16 surrogate (Graph sends it
    as a ``\\udXXX`` escape, e.g. an emoji a client cut in half) has no UTF-8 form: that entity is
    written with every non-ASCII character escaped, as Graph sent it, the same bytes every time."""
    document = entity_document(entity)
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(document, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """A Graph ``DateTimeOffset`` string or ``dateTimeTimeZone`` object as an aware datetime.
    Without ``Prefer: outlook.timezone`` (Capstone never sends it) Graph gives UTC."""
    if isinstance(value, dict):
        text, zone_name = value.get("dateTime"), value.get("timeZone") or "UTC"
    else:
        text, zone_name = value, "UTC"
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        try:
            zone: Any = UTC if zone_name.upper() == "UTC" else ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC  # a Windows zone name: not sent without outlook.timezone; read as UTC
        moment = moment.replace(tzinfo=zone)
    return moment


def time_text(value: Any) -> str | None:
    moment = parse_time(value)
    return None if moment is None else utc_iso(moment)

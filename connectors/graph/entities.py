"""The one canonical form in which a Graph entity (an event, contact or To Do task) is stored.

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
from typing import Any

ENTITY_MEDIA_TYPE = "application/json"
KEPT_ANNOTATIONS = frozenset({"@odata.etag"})


def entity_document(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The entity without per-response annotations (top level; nested values are kept as sent)."""
    return {key: value for key, value in entity.items() if "@" not in key or key in KEPT_ANNOTATIONS}


def canonical_entity(entity: Mapping[str, Any]) -> bytes:
    """The bytes Capstone stores for ``entity``."""
    return json.dumps(
        entity_document(entity), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")

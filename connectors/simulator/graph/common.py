"""Plumbing shared by the Graph routes: requests and responses independent of the HTTP server (so
``$batch`` can run sub-requests through the same code), OData errors, paging tokens, ``Prefer``."""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from connectors.simulator.model import NotFoundError, Tenant

JSON_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
MAX_PAGE = 1000


class GraphError(Exception):
    """An OData error response: ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(what: str, code: str = "ErrorItemNotFound") -> GraphError:
    return GraphError(404, code, f"The specified object was not found in the store., {what}")


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


@dataclass
class GraphRequest:
    method: str
    path: str  # after the version segment, without query: "/users/x/mailFolders"
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # "http://127.0.0.1:8123/v1.0"
    version: str = "v1.0"
    app_id: str | None = None  # set once the token is checked
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    segments: list[str] = field(default_factory=list)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as exc:
            raise bad_request(f"Invalid JSON in the request body: {exc}") from None

    # -- Prefer --------------------------------------------------------------------------------

    def prefer(self) -> dict[str, str]:
        """``Prefer: odata.maxpagesize=2, IdType="ImmutableId"`` -> {"odata.maxpagesize": "2", ...}."""
        prefs: dict[str, str] = {}
        for raw in (self.header("prefer") or "").split(","):
            if not raw.strip():
                continue
            name, _, value = raw.strip().partition("=")
            prefs[name.strip().lower()] = value.strip().strip('"')
        return prefs

    @property
    def immutable_ids(self) -> bool:
        return self.prefer().get("idtype", "").lower() == "immutableid"

    def page_size(self, default: int, *, top_is_page: bool = True, maximum: int = MAX_PAGE) -> int:
        prefs = self.prefer()
        value: str | None = prefs.get("odata.maxpagesize")
        if value is None and top_is_page:
            value = self.query.get("$top")
        if value is None:
            return default
        try:
            size = int(value)
        except ValueError:
            raise bad_request(f"Invalid page size {value!r}") from None
        if size < 1:
            raise bad_request(f"Invalid page size {value!r}")
        return min(size, maximum)

    def int_query(self, name: str, default: int) -> int:
        value = self.query.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise bad_request(f"Invalid value {value!r} for {name}") from None
        if number < 0:
            raise bad_request(f"Invalid value {value!r} for {name}")
        return number

    def select(self) -> set[str] | None:
        raw = self.query.get("$select")
        if not raw:
            return None
        return {s.strip().lower() for s in raw.split(",") if s.strip()}

    def flag(self, name: str) -> bool:
        for key, value in self.query.items():
            if key.lower() == name.lower():
                return value.strip().lower() == "true"
        return False

    def link(self, path: str, query: dict[str, str] | None = None) -> str:
        """An absolute URL on this Graph endpoint (``@odata.nextLink``, ``deltaLink``)."""
        url = self.base_url + path
        if query:
            url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        return url

    def preference_applied(self) -> dict[str, str]:
        applied = []
        prefs = self.prefer()
        if "odata.maxpagesize" in prefs:
            applied.append(f"odata.maxpagesize={prefs['odata.maxpagesize']}")
        if self.immutable_ids:
            applied.append('IdType="ImmutableId"')
        return {"Preference-Applied": ", ".join(applied)} if applied else {}


@dataclass
class GraphResponse:
    status: int = 200
    payload: Any = None  # JSON document
    content: bytes | None = None  # raw bytes body
    stream: Iterable[bytes] | None = None  # streamed body (with ``length``)
    length: int | None = None
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    on_close: Callable[[], None] | None = None

    def body_bytes(self) -> bytes:
        if self.payload is not None:
            return json.dumps(self.payload, ensure_ascii=False).encode("utf-8")
        if self.content is not None:
            return self.content
        if self.stream is not None:
            return b"".join(self.stream)
        return b""

    def iter_body(self) -> Iterator[bytes]:
        if self.stream is not None:
            yield from self.stream
        else:
            yield self.body_bytes()


def error_response(error: GraphError, request: GraphRequest | None = None) -> GraphResponse:
    request_id = request.request_id if request else str(uuid.uuid4())
    client_id = (request.header("client-request-id") if request else None) or request_id
    return GraphResponse(
        status=error.status,
        payload={
            "error": {
                "code": error.code,
                "message": error.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_id,
                },
            }
        },
        content_type="application/json",
        headers=dict(error.headers),
    )


def collection(
    request: GraphRequest,
    context: str,
    values: list[dict[str, Any]],
    *,
    next_link: str | None = None,
    delta_link: str | None = None,
    count: int | None = None,
) -> GraphResponse:
    payload: dict[str, Any] = {"@odata.context": f"{request.base_url}/$metadata#{context}"}
    if count is not None:
        payload["@odata.count"] = count
    if next_link:
        payload["@odata.nextLink"] = next_link
    payload["value"] = values
    if delta_link:
        payload["@odata.deltaLink"] = delta_link
    return GraphResponse(payload=payload, headers=request.preference_applied())


def entity(request: GraphRequest, context: str, value: dict[str, Any]) -> GraphResponse:
    payload = {"@odata.context": f"{request.base_url}/$metadata#{context}", **value}
    return GraphResponse(payload=payload, headers=request.preference_applied())


def project(
    value: dict[str, Any], select: set[str] | None, always: Iterable[str] = ("id",)
) -> dict[str, Any]:
    """Apply ``$select`` (case-insensitive); annotations (``@odata.*``) and ``always`` stay."""
    if select is None:
        return value
    keep = select | {a.lower() for a in always}
    return {k: v for k, v in value.items() if k.startswith("@") or k.lower() in keep}


# -- paging and state tokens ---------------------------------------------------------------------


def encode_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, kind: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
    except (ValueError, TypeError):
        raise bad_request("The provided state token is malformed.", "ErrorInvalidSyncStateData") from None
    if not isinstance(state, dict) or state.get("k") != kind:
        raise bad_request(
            "The provided state token is not valid for this request.", "ErrorInvalidSyncStateData"
        )
    return state


def sync_state_gone() -> GraphError:
    return GraphError(
        410,
        "SyncStateNotFound",
        "The sync state for this request is no longer valid; start a new round without a token.",
    )


def retry_after_seconds(seconds: float) -> str:
    """Retry-After as whole seconds (kiota only parses integers), at least 1."""
    return str(max(1, math.ceil(seconds)))


# -- paths -----------------------------------------------------------------------------------------

_KEY_SEGMENT = re.compile(r"^([A-Za-z$][\w.$]*)\((.*)\)$")


def split_path(raw_path: str) -> list[str]:
    """OData path segments: ``mailFolders('X')`` -> ``mailFolders``, ``X``; ``delta()`` -> ``delta``;
    each segment percent-decoded after splitting (ids may contain ``%2F``)."""
    segments: list[str] = []
    for piece in raw_path.split("/"):
        if not piece:
            continue
        text = unquote(piece)
        match = _KEY_SEGMENT.match(text)
        if match:
            name, inner = match.groups()
            segments.append(name)
            inner = inner.strip()
            if inner:
                if inner.startswith("'") and inner.endswith("'"):
                    inner = inner[1:-1].replace("''", "'")
                segments.append(inner)
        else:
            segments.append(text)
    return segments


def resolve_user(tenant: Tenant, ref: str) -> Any:
    try:
        return tenant.user(ref)
    except NotFoundError:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.") from None

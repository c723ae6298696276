"""JSON batching: up to 20 Graph GET requests in one HTTP round trip (``POST /$batch``).

Graph answers every request of a batch on its own, inside a ``200`` for the batch as a whole: a
request may be throttled (``429`` with its own ``Retry-After``; Outlook throttles each request of a
batch individually and counts it against the mailbox) or fail with a 5xx. Such requests are sent
again, in a new batch, once the longest ``Retry-After`` among them has passed (or after a jittered
backoff when none was given); the others are done. The transport counts each request of a batch
against its own mailbox's budget (see ``GraphTransport``).

Requests are built by msgraph-sdk's request builders (``to_get_request_information``), so a batched
request is exactly the request the SDK would have sent on its own; the batch document itself is the
one Graph documents (``{"requests": [{"id", "method", "url", "headers"}]}``, URLs relative to the
version root).

Example::

    infos = {"inbox": builder.to_get_request_information(config("odata.maxpagesize=100"))}
    answers = await send_batch(connection, infos)       # {"inbox": BatchAnswer(status=200, ...)}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from capstone.logging import get_logger
from connectors.base import SourceError
from connectors.graph.client import GraphConnection
from connectors.graph.transport import with_immutable_ids

log = get_logger("graph.batch")

MAX_REQUESTS = 20  # Graph's limit per batch
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class BatchAnswer:
    """One request's answer: its status, headers and JSON body (``None`` when it had none)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error_code(self) -> str | None:
        error = (self.body or {}).get("error")
        return str(error.get("code")) if isinstance(error, dict) and error.get("code") else None


def _relative(url: str, base_url: str) -> str:
    """``https://graph.microsoft.com/v1.0/users/x?y`` -> ``/users/x?y`` (batch URLs are relative)."""
    parts, base = urlsplit(url), urlsplit(base_url)
    path = parts.path
    if path.startswith(base.path):
        path = path[len(base.path) :] or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def _entry(request_id: str, info: Any, connection: GraphConnection) -> dict[str, Any]:
    headers = {
        name: values if isinstance(values, str) else ", ".join(sorted(values))
        for name, values in info.request_headers.items()
    }
    if connection.transport.immutable_ids:  # a batch's headers are not its requests' headers
        prefer = next((k for k in headers if k.lower() == "prefer"), "Prefer")
        headers[prefer] = with_immutable_ids(headers.get(prefer))
    base_url = connection.base_url
    return {"id": request_id, "method": "GET", "url": _relative(info.url, base_url), "headers": headers}


def _answer(entry: dict[str, Any]) -> BatchAnswer:
    body = entry.get("body")
    headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
    return BatchAnswer(int(entry.get("status") or 0), headers, body if isinstance(body, dict) else None)


def _retry_after(answer: BatchAnswer) -> float | None:
    for name, value in answer.headers.items():
        if name.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None


async def _post(connection: GraphConnection, entries: list[dict[str, Any]]) -> dict[str, BatchAnswer]:
    response = await connection.raw.post(
        f"{connection.base_url}/$batch",
        content=json.dumps({"requests": entries}).encode(),
        headers={"Content-Type": "application/json"},
    )
    if response.status_code != 200:
        raise SourceError(
            f"$batch of {len(entries)} requests: Graph answered {response.status_code}",
            status=response.status_code,
        )
    answers = {str(e.get("id")): _answer(e) for e in response.json().get("responses", [])}
    missing = [e["id"] for e in entries if e["id"] not in answers]
    if missing:
        raise SourceError(f"$batch answered without the requests {', '.join(missing)}")
    return answers


async def send_batch(connection: GraphConnection, requests: Mapping[str, Any]) -> dict[str, BatchAnswer]:
    """Send GET requests (id -> kiota ``RequestInformation``) in batches of at most 20; return every
    request's final answer. Throttled and failed requests are retried as the transport would retry a
    single request (``Retry-After`` honoured, jittered backoff, at most ``max_attempts`` times); an
    answer still throttled after that is returned as it is, for the caller to report."""
    transport = connection.transport
    # Batch ids are short numbers (callers' keys, such as folder ids, need not suit Graph).
    keys = list(requests)
    pending = {str(n): _entry(str(n), requests[key], connection) for n, key in enumerate(keys, 1)}
    final: dict[str, BatchAnswer] = {}
    for attempt in range(transport.policy.max_attempts):
        if not pending:
            break
        ids = list(pending)
        retry: dict[str, BatchAnswer] = {}
        for start in range(0, len(ids), MAX_REQUESTS):
            chunk = [pending[rid] for rid in ids[start : start + MAX_REQUESTS]]
            try:
                answers = await _post(connection, chunk)
            except httpx.TransportError as exc:
                raise SourceError(f"$batch failed: {exc}") from exc
            for rid, answer in answers.items():
                if rid not in pending:
                    continue
                if answer.status in RETRY_STATUS and attempt + 1 < transport.policy.max_attempts:
                    retry[rid] = answer
                else:
                    final[rid] = answer
        pending = {rid: entry for rid, entry in pending.items() if rid in retry}
        if pending:
            delays = [_retry_after(a) for a in retry.values()]
            given = [d for d in delays if d is not None]
            delay = min(max(given), transport.policy.max_retry_after) if given else transport.backoff(attempt)
            throttled = sum(1 for a in retry.values() if a.status in (429, 503))
            key = transport.key(httpx.URL(f"http://graph{next(iter(pending.values()))['url']}"))
            if any(a.status == 429 and "MailboxConcurrency" not in str(a.body) for a in retry.values()):
                transport.learn_throttle(key, delay)  # the server's budget is spent: pace to it
            transport.note_batch_retry(key, throttled=throttled, retries=len(retry))
            log.info("graph_batch_retry", mailbox=key, requests=len(retry), throttled=throttled,
                     delay=round(delay, 3))  # fmt: skip
            await transport.wait(delay, key)
    return {keys[int(rid) - 1]: answer for rid, answer in final.items()}

"""JSON batching (``POST /$batch``): up to 20 requests, each authenticated, throttled and answered
on its own (a 429 with ``Retry-After`` can sit inside a 200 batch response), ``dependsOn`` honoured
(a failed dependency is 424)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.simulator.graph.common import (
    GraphError,
    GraphRequest,
    GraphResponse,
    bad_request,
    error_response,
)
from connectors.simulator.graph.router import GraphApi

MAX_REQUESTS = 20


def _sub_request(parent: GraphRequest, entry: dict[str, Any]) -> GraphRequest:
    url = str(entry.get("url") or "")
    if url.startswith("http"):
        raise bad_request("Batch request URLs must be relative, such as /users.")
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    headers = {k.lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    headers.setdefault("authorization", parent.header("authorization") or "")
    body = entry.get("body")
    raw: bytes
    if body is None:
        raw = b""
    elif isinstance(body, str) and not headers.get("content-type", "").startswith("application/json"):
        raw = base64.b64decode(body)
    else:
        raw = json.dumps(body).encode()
    return GraphRequest(
        method=str(entry.get("method") or "GET").upper(),
        path=parts.path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=raw,
        base_url=parent.base_url,
        version=parent.version,
        app_id=parent.app_id,
    )


def _as_entry(entry_id: str, response: GraphResponse) -> dict[str, Any]:
    headers = {
        "Content-Type": response.content_type.split(";")[0]
        if response.payload is None
        else response.content_type
    }
    headers.update(response.headers)
    out: dict[str, Any] = {"id": entry_id, "status": response.status, "headers": headers}
    if response.payload is not None:
        out["body"] = response.payload
    else:
        data = response.body_bytes()
        if data:
            out["body"] = base64.b64encode(data).decode("ascii")
    if response.on_close is not None:
        response.on_close()
    return out


def run_batch(api: GraphApi, req: GraphRequest) -> GraphResponse:
    try:
        req.app_id = api.sim.tokens.authenticate(req.header("authorization"))
        document = req.json()
        entries = document.get("requests") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise bad_request("The batch request must contain a 'requests' array.", "BadRequest")
        if len(entries) > MAX_REQUESTS:
            raise bad_request(
                f"The batch request exceeds the limit of {MAX_REQUESTS} requests.", "BadRequest"
            )
        ids = [str(e.get("id", "")) for e in entries]
        if len({i.lower() for i in ids}) != len(ids) or any(not i for i in ids):
            raise bad_request("Batch request ids must be present and unique.", "BadRequest")
    except GraphError as exc:
        return error_response(exc, req)
    results: dict[str, dict[str, Any]] = {}
    by_id = {str(e["id"]): e for e in entries}
    done: set[str] = set()

    def run(entry_id: str, stack: tuple[str, ...] = ()) -> dict[str, Any]:
        if entry_id in results:
            return results[entry_id]
        entry = by_id[entry_id]
        for dependency in entry.get("dependsOn") or []:
            dependency = str(dependency)
            if dependency not in by_id or dependency in stack:
                results[entry_id] = _as_entry(
                    entry_id, error_response(bad_request(f"Invalid dependsOn '{dependency}'."), req)
                )
                return results[entry_id]
            result = run(dependency, (*stack, entry_id))
            if not 200 <= int(result["status"]) < 300:
                failed = GraphError(424, "FailedDependency", "Request failed because of a failed dependency.")
                results[entry_id] = _as_entry(entry_id, error_response(failed, req))
                return results[entry_id]
        try:
            sub = _sub_request(req, entry)
        except GraphError as exc:
            results[entry_id] = _as_entry(entry_id, error_response(exc, req))
            return results[entry_id]
        fault = (
            api.sim.faults.decide(sub.method, "$batch:" + sub.path) if api.sim.faults.spec.enabled else None
        )
        permanent = api.sim.faults.permanent(sub.path) if api.sim.faults.spec.fail else None
        if permanent is not None:
            response = error_response(
                GraphError(permanent, "InternalServerError", "Simulated permanent fault."), sub
            )
        elif fault in ("500", "503"):
            headers = {"Retry-After": str(api.sim.faults.spec.retry_after)} if fault == "503" else {}
            code = "ServiceUnavailable" if fault == "503" else "InternalServerError"
            response = error_response(
                GraphError(int(fault), code, "Simulated service fault; please retry.", headers), sub
            )
        else:
            response = api.dispatch(sub, authenticated=True)
        results[entry_id] = _as_entry(entry_id, response)
        done.add(entry_id)
        return results[entry_id]

    for entry_id in by_id:
        run(entry_id)
    return GraphResponse(payload={"responses": [results[i] for i in ids]}, content_type="application/json")

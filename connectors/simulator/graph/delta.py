"""Graph delta queries over the tenant's change logs.

A round starts without a token (an initial round: everything present) or with a ``$deltatoken``
(everything changed since the previous round ended), and pages through ``@odata.nextLink``
(``$skiptoken``) until a page carries ``@odata.deltaLink``. A token is an encoded position in the
folder's append-only log, so pages of one round are a fixed snapshot: changes made while a client
is paging show up in the next round. Query options of the first request (``$select``,
``changeType``, ``$filter``) are carried in the tokens, as Graph does; page size comes from each request's
``Prefer: odata.maxpagesize``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.simulator import ids
from connectors.simulator.graph.common import (
    GraphError,
    GraphRequest,
    GraphResponse,
    bad_request,
    collection,
    decode_token,
    encode_token,
    sync_state_gone,
)
from connectors.simulator.model import OP_REMOVE, Change, Folder, Item, Mailbox
from connectors.simulator.state import Simulator

ChangesFn = Callable[[int, int, bool, bool], list[Change]]
RenderFn = Callable[[list[Change], bool, dict[str, Any]], list[dict[str, Any]]]


def gone_from(folder: Folder, item: Item, change: Change, immutable: bool) -> bool:
    """Whether a logged change shows in ``folder``'s delta as ``@removed``: the item was removed, purged
    or moved away, or (with regular ids, which change with each version) superseded by a newer one."""
    return (
        change.op == OP_REMOVE
        or item.purged
        or item.folder is not folder
        or (not immutable and item.gen != change.gen)
    )


def removed_entry(
    odata_type: str, mailbox: Mailbox, folder: Folder, change: Change, immutable: bool
) -> dict[str, Any]:
    """The ``@removed`` entry of a delta page, under the id the client knows the item by."""
    removed_id = (
        ids.immutable_id(mailbox.guid, change.key)
        if immutable
        else ids.item_id(mailbox.guid, folder.key, change.key, change.gen)
    )
    return {"@odata.type": odata_type, "id": removed_id, "@removed": {"reason": "deleted"}}


def token_scope(req: GraphRequest, kind: str) -> list[Any] | None:
    """The collection a request's ``$skiptoken``/``$deltatoken`` belongs to (None without one), for
    views whose range the first request set and the tokens carry (calendarView)."""
    token = next(
        (
            req.query[k]
            for k in ("$skiptoken", "$skipToken", "$deltatoken", "$deltaToken")
            if req.query.get(k)
        ),
        None,
    )
    if token is None:
        return None
    scope = decode_token(token, kind).get("sc")
    if not isinstance(scope, list):
        raise bad_request("The provided state token is malformed.", "ErrorInvalidSyncStateData")
    return scope


def run_delta(
    sim: Simulator,
    req: GraphRequest,
    *,
    kind: str,
    scope: list[Any],
    epoch: int,
    changes: ChangesFn,
    render: RenderFn,
    path: str,
    context: str,
    default_page: int = 10,
    change_types: bool = True,
    keep: Callable[[Change, dict[str, Any]], bool] | None = None,
    cap: int | None = None,
) -> GraphResponse:
    query = req.query
    skip = query.get("$skiptoken") or query.get("$skipToken")
    delta = query.get("$deltatoken") or query.get("$deltaToken")
    end = sim.tenant.seq
    if skip or delta:
        state = decode_token(skip or delta or "", kind)
        if state.get("sc") != scope:
            raise bad_request("The state token belongs to another collection.", "ErrorInvalidSyncStateData")
        if state.get("ep") != epoch:
            raise sync_state_gone()
        params: dict[str, Any] = state.get("p") or {}
        if skip:
            start, end, offset, initial = int(state["b"]), int(state["e"]), int(state["o"]), bool(state["i"])
        else:
            start, offset, initial = int(state["b"]), 0, False
    else:
        start, offset, initial = 0, 0, True
        params = {}
        if query.get("$select"):
            params["select"] = query["$select"]
        change_type = query.get("changeType")
        if change_type:
            if not change_types or change_type not in ("created", "updated", "deleted"):
                raise bad_request(f"Invalid changeType {change_type!r}: use created, updated or deleted.")
            params["changeType"] = change_type
        if query.get("$top"):
            params["top"] = query["$top"]
        if query.get("$filter"):
            params["filter"] = query["$filter"]
    if start > end:
        raise GraphError(400, "ErrorInvalidSyncStateData", "The state token is from the future.")
    immutable = req.immutable_ids
    key = (kind, tuple(scope), epoch, start, end, immutable, initial)
    entries: list[Change] = sim.delta_cache.get(key, lambda: changes(start, end, immutable, initial))
    wanted = params.get("changeType")
    if wanted:
        entries = [c for c in entries if c.change_type == wanted]
    if keep is not None:
        entries = [c for c in entries if keep(c, params)]
    if cap is not None and params.get("filter") and initial:
        entries = entries[:cap]
    size = req.page_size(int(params.get("top") or default_page), top_is_page=False)
    page = entries[offset : offset + size]
    values = render(page, immutable, params)
    base = {"k": kind, "sc": scope, "ep": epoch, "p": params}
    if offset + size < len(entries):
        token = encode_token({**base, "b": start, "e": end, "o": offset + size, "i": int(initial)})
        return collection(req, context, values, next_link=req.link(path, {"$skiptoken": token}))
    token = encode_token({**base, "b": end})
    return collection(req, context, values, delta_link=req.link(path, {"$deltatoken": token}))

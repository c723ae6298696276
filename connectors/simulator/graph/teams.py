"""Teams chats through Graph: ``/users/{id}/chats``, ``/chats/{id}`` (+ ``members``, ``messages``,
``hostedContents`` and their ``$value``) and ``/users/{id}/chats/getAllMessages``.

Behaviour copied from Graph: per-chat message lists take ``$top`` up to 50 and ``$orderby``
``lastModifiedDateTime desc`` (default) or ``createdDateTime desc``, and honour ``$filter`` only on
the ordering property; ``getAllMessages`` takes ``model=A|B`` (without it, evaluation mode with a
monthly message quota, then 402) and ``$filter=lastModifiedDateTime gt X and lastModifiedDateTime
lt Y``. Edited messages carry ``lastEditedDateTime``; deleted ones ``deletedDateTime`` and an empty
body. System events are ``systemEventMessage`` only with ``Prefer: include-unknown-enum-members``
(otherwise ``unknownFutureValue``). Hosted-content metadata has null ``contentBytes``/``contentType``;
the bytes come from ``$value`` with the type in ``Content-Type``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from connectors.simulator.generator import GRAPH_PLACEHOLDER
from connectors.simulator.graph.common import (
    GraphError,
    GraphRequest,
    GraphResponse,
    bad_request,
    collection,
    decode_token,
    encode_token,
    entity,
)
from connectors.simulator.graph.router import Ctx, Route, route
from connectors.simulator.model import Chat, ChatMessage, NotFoundError, Reaction, User, iso, parse_iso

CHAT_PAGE_MAX = 50
_FILTER_CLAUSE = re.compile(
    r"^\s*(lastModifiedDateTime|createdDateTime)\s+(gt|lt|ge|le)\s+(\S+)\s*$", re.IGNORECASE
)


def _identity(user: User, tenant_id: str, *, display: bool = True) -> dict[str, Any]:
    return {
        "application": None,
        "device": None,
        "user": {
            "@odata.type": "#microsoft.graph.teamworkUserIdentity",
            "id": user.id,
            "displayName": user.display_name if display else None,
            "userIdentityType": "aadUser",
            "tenantId": tenant_id,
        },
    }


def chat_json(ctx: Ctx, chat: Chat) -> dict[str, Any]:
    tenant_id = ctx.tenant.tenant_id
    return {
        "id": chat.id,
        "topic": chat.topic,
        "createdDateTime": iso(chat.created, ms=True),
        "lastUpdatedDateTime": iso(chat.last_updated, ms=True),
        "chatType": chat.chat_type,
        "webUrl": f"https://teams.microsoft.com/l/chat/{chat.id}/0?tenantId={tenant_id}",
        "tenantId": tenant_id,
        "isHiddenForAllMembers": False,
        "onlineMeetingInfo": chat.online_meeting,
    }


def member_json(ctx: Ctx, chat: Chat, member: Any) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.aadUserConversationMember",
        "id": member.id,
        "roles": list(member.roles),
        "displayName": member.user.display_name,
        "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
        "userId": member.user.id,
        "email": member.user.upn,
        "tenantId": ctx.tenant.tenant_id,
    }


def _reaction(reaction: Reaction, tenant_id: str) -> dict[str, Any]:
    return {
        "reactionType": reaction.reaction_type,
        "displayName": None,
        "reactionContentUrl": None,
        "createdDateTime": iso(reaction.created, ms=True),
        "user": _identity(reaction.user, tenant_id, display=False),
    }


def message_json(req: GraphRequest, ctx: Ctx, message: ChatMessage) -> dict[str, Any]:
    tenant_id = ctx.tenant.tenant_id
    unknown_enums = "include-unknown-enum-members" in (req.header("prefer") or "").lower()
    message_type = message.message_type
    if message_type == "systemEventMessage" and not unknown_enums:
        message_type = "unknownFutureValue"
    body = message.body
    users = {u.id: u for u in ctx.tenant.users}
    history = []
    for entry in message.history:
        reaction = entry["reaction"]
        user = users.get(reaction["user"])
        history.append(
            {
                "modifiedDateTime": iso(entry["modifiedDateTime"], ms=True),
                "actions": entry["actions"],
                "reaction": {
                    "reactionType": reaction["reactionType"],
                    "displayName": None,
                    "reactionContentUrl": None,
                    "createdDateTime": iso(reaction["createdDateTime"], ms=True),
                    "user": _identity(user, tenant_id, display=False) if user else None,
                },
            }
        )
    return {
        "@odata.type": "#microsoft.graph.chatMessage",
        "id": message.id,
        "replyToId": message.reply_to_id,
        "etag": message.etag,
        "messageType": message_type,
        "createdDateTime": iso(message.created, ms=True),
        "lastModifiedDateTime": iso(message.last_modified, ms=True),
        "lastEditedDateTime": iso(message.last_edited, ms=True) if message.last_edited else None,
        "deletedDateTime": iso(message.deleted, ms=True) if message.deleted else None,
        "subject": message.subject,
        "summary": None,
        "chatId": message.chat.id,
        "importance": message.importance,
        "locale": "en-us",
        "webUrl": None,
        "channelIdentity": None,
        "policyViolation": None,
        "eventDetail": message.event_detail,
        "from": _identity(message.sender, tenant_id) if message.sender else None,
        "body": {
            "contentType": body.content_type,
            "content": body.content.replace(GRAPH_PLACEHOLDER, req.base_url),
        },
        "attachments": [dict(a) for a in message.attachments] if message.deleted is None else [],
        "mentions": [dict(m) for m in message.mentions] if message.deleted is None else [],
        "reactions": [_reaction(r, tenant_id) for r in message.reactions],
        "messageHistory": history,
    }


def _chat(ctx: Ctx) -> Chat:
    try:
        chat = ctx.tenant.chat(ctx.params["chat"])
    except NotFoundError:
        raise GraphError(404, "NotFound", f"Chat '{ctx.params['chat']}' was not found.") from None
    if "user" in ctx.params:
        user = ctx.user()
        if user not in chat.member_users():
            raise GraphError(404, "NotFound", f"Chat '{chat.id}' was not found for the user.")
    return chat


def _message(ctx: Ctx) -> ChatMessage:
    chat = _chat(ctx)
    message = chat.messages.get(ctx.params["message"])
    if message is None:
        raise GraphError(404, "NotFound", f"Message '{ctx.params['message']}' was not found.")
    return message


def _prefix(ctx: Ctx) -> str:
    return f"/users/{ctx.params['user']}/chats" if "user" in ctx.params else "/chats"


def list_chats(ctx: Ctx) -> GraphResponse:
    user = ctx.user()
    req = ctx.req
    top = req.int_query("$top", CHAT_PAGE_MAX) or CHAT_PAGE_MAX
    if top > CHAT_PAGE_MAX:
        raise bad_request(f"Invalid page size requested. The maximum page size is {CHAT_PAGE_MAX}.")
    skip = int(decode_token(req.query["$skiptoken"], "chats")["o"]) if req.query.get("$skiptoken") else 0
    expand = (req.query.get("$expand") or "").lower()
    with ctx.tenant.lock:
        chats = sorted(ctx.tenant.chats_of(user), key=lambda c: (-c.last_updated, c.id))
        page = chats[skip : skip + top]
        values = []
        for chat in page:
            value = chat_json(ctx, chat)
            if "members" in expand:
                value["members"] = [member_json(ctx, chat, m) for m in chat.members]
            values.append(value)
    next_link = None
    if skip + top < len(chats):
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = encode_token({"k": "chats", "o": skip + top})
        next_link = req.link(req.path, query)
    return collection(req, f"users('{ctx.params['user']}')/chats", values, next_link=next_link)


def get_chat(ctx: Ctx) -> GraphResponse:
    chat = _chat(ctx)
    return entity(ctx.req, "chats/$entity", chat_json(ctx, chat))


def list_members(ctx: Ctx) -> GraphResponse:
    chat = _chat(ctx)
    values = [member_json(ctx, chat, m) for m in chat.members]
    return collection(ctx.req, f"chats('{chat.id}')/members", values, count=len(values))


def _parse_filter(text: str) -> list[tuple[str, str, float]]:
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _FILTER_CLAUSE.match(part)
        if not match:
            raise bad_request(f"Invalid filter clause: {part!r}")
        prop, op, value = match.groups()
        try:
            clauses.append((prop.lower(), op.lower(), parse_iso(value.strip("'"))))
        except ValueError:
            raise bad_request(f"Invalid date in filter clause: {part!r}") from None
    return clauses


def _stamp(message: ChatMessage, prop: str) -> float:
    return message.last_modified if prop == "lastmodifieddatetime" else message.created


def _keyset_page(
    ctx: Ctx,
    messages: list[ChatMessage],
    *,
    prop: str,
    descending: bool,
    default_top: int,
    context: str,
    kind: str,
    check: Callable[[ChatMessage], bool] | None = None,
) -> GraphResponse:
    """Keyset paging on (timestamp, chat, id): no message is skipped when others change between
    pages (a changed message may show up again, later)."""
    req = ctx.req
    top = req.int_query("$top", default_top) or default_top
    if top > CHAT_PAGE_MAX:
        raise bad_request(f"Invalid page size requested. The maximum page size is {CHAT_PAGE_MAX}.")

    def key(m: ChatMessage) -> tuple[int, str, int]:
        return (round(_stamp(m, prop) * 1000), m.chat.id, int(m.id))

    ordered = sorted(messages, key=key, reverse=descending)
    if req.query.get("$skiptoken"):
        state = decode_token(req.query["$skiptoken"], kind)
        after = (int(state["t"]), str(state["c"]), int(state["m"]))
        ordered = [m for m in ordered if (key(m) < after if descending else key(m) > after)]
    if check is not None:
        ordered = [m for m in ordered if check(m)]
    page = ordered[:top]
    values = [message_json(req, ctx, m) for m in page]
    next_link = None
    if len(ordered) > top:
        last = key(page[-1])
        query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = encode_token({"k": kind, "t": last[0], "c": last[1], "m": last[2]})
        next_link = req.link(req.path, query)
    return collection(req, context, values, next_link=next_link, count=len(values))


def list_messages(ctx: Ctx) -> GraphResponse:
    chat = _chat(ctx)
    req = ctx.req
    orderby = (req.query.get("$orderby") or "lastModifiedDateTime desc").strip()
    parts = orderby.split()
    prop = parts[0].lower()
    if prop not in ("lastmodifieddatetime", "createddatetime") or (
        len(parts) > 1 and parts[1].lower() != "desc"
    ):
        raise bad_request("Only $orderby=lastModifiedDateTime desc or createdDateTime desc is supported.")
    clauses = _parse_filter(req.query["$filter"]) if req.query.get("$filter") else []
    # Graph ignores a $filter on another property than the one ordered by.
    clauses = [c for c in clauses if c[0] == prop]
    if prop == "createddatetime" and any(op != "lt" for _, op, _ in clauses):
        raise bad_request("createdDateTime supports only the lt operator.")
    with ctx.tenant.lock:
        messages = list(chat.messages.values())
        return _keyset_page(
            ctx,
            messages,
            prop=prop,
            descending=True,
            default_top=20,
            context=f"chats('{chat.id}')/messages",
            kind="chatMessages",
            check=lambda m: all(_matches(m, c) for c in clauses),
        )


def _matches(message: ChatMessage, clause: tuple[str, str, float]) -> bool:
    prop, op, value = clause
    stamp = _stamp(message, prop)
    return {"gt": stamp > value, "lt": stamp < value, "ge": stamp >= value, "le": stamp <= value}[op]


def get_message(ctx: Ctx) -> GraphResponse:
    message = _message(ctx)
    return entity(
        ctx.req, f"chats('{message.chat.id}')/messages/$entity", message_json(ctx.req, ctx, message)
    )


def list_hosted(ctx: Ctx) -> GraphResponse:
    message = _message(ctx)
    values = [{"id": h.id, "contentBytes": None, "contentType": None} for h in message.hosted]
    return collection(ctx.req, f"chats('{message.chat.id}')/messages('{message.id}')/hostedContents", values)


def _hosted(ctx: Ctx) -> Any:
    message = _message(ctx)
    for hosted in message.hosted:
        if hosted.id == ctx.params["hosted"]:
            return hosted
    raise GraphError(404, "NotFound", "Hosted content was not found.")


def get_hosted(ctx: Ctx) -> GraphResponse:
    hosted = _hosted(ctx)
    return entity(
        ctx.req,
        "chats/messages/hostedContents/$entity",
        {"id": hosted.id, "contentBytes": None, "contentType": None},
    )


def get_hosted_value(ctx: Ctx) -> GraphResponse:
    hosted = _hosted(ctx)
    return GraphResponse(content=hosted.data, content_type=hosted.content_type)


def get_all_messages(ctx: Ctx) -> GraphResponse:
    user = ctx.user()
    req = ctx.req
    model = req.query.get("model")
    if model is not None and model not in ("A", "B"):
        raise bad_request(f"Invalid value '{model}' for the model parameter; use A or B.")
    clauses = _parse_filter(req.query["$filter"]) if req.query.get("$filter") else []
    if any(prop != "lastmodifieddatetime" or op not in ("gt", "lt") for prop, op, _ in clauses):
        raise bad_request("getAllMessages supports only lastModifiedDateTime gt/lt filters.")
    with ctx.tenant.lock:
        messages = [m for chat in ctx.tenant.chats_of(user) for m in chat.messages.values()]
        response = _keyset_page(
            ctx,
            messages,
            prop="lastmodifieddatetime",
            descending=False,
            default_top=20,
            context="Collection(chatMessage)",
            kind="allMessages",
            check=lambda m: all(_matches(m, c) for c in clauses),
        )
    if model is None:
        app = req.app_id or "-"
        served = len(response.payload["value"]) if isinstance(response.payload, dict) else 0
        used = ctx.sim.evaluation_used.get(app, 0)
        if used + max(served, 1) > ctx.sim.config.evaluation_quota:
            raise GraphError(
                402,
                "PaymentRequired",
                "Evaluation mode capacity has been exceeded. Use a valid billing model (model=A or model=B).",
            )
        ctx.sim.evaluation_used[app] = used + max(served, 1)
    return response


def routes() -> list[Route]:
    out: list[Route] = [
        route("GET", "users/{user}/chats/getAllMessages", get_all_messages, "teams-export"),
        route("GET", "users/{user}/chats", list_chats),
    ]
    for prefix in ("users/{user}/chats/{chat}", "chats/{chat}"):
        out += [
            route("GET", prefix, get_chat),
            route("GET", f"{prefix}/members", list_members),
            route("GET", f"{prefix}/messages", list_messages),
            route("GET", f"{prefix}/messages/{{message}}", get_message),
            route("GET", f"{prefix}/messages/{{message}}/hostedContents", list_hosted),
            route("GET", f"{prefix}/messages/{{message}}/hostedContents/{{hosted}}", get_hosted),
            route("GET", f"{prefix}/messages/{{message}}/hostedContents/{{hosted}}/$value", get_hosted_value),
        ]
    return out

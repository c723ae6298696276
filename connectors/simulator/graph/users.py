"""``/users``, ``/users/{id}`` and ``/users/{id}/settings/exchange`` (the mailbox ids the mailbox
import/export API takes: ``primaryMailboxId`` and, documented in beta, ``inPlaceArchiveMailboxId``)."""

from __future__ import annotations

from typing import Any

from connectors.simulator.graph.common import GraphResponse, collection, entity, project
from connectors.simulator.graph.router import Ctx, Route, route
from connectors.simulator.model import User


def user_json(user: User) -> dict[str, Any]:
    return {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": None,
        "officeLocation": "Stadhuis",
        "preferredLanguage": "nl-NL",
        "surname": user.surname,
        "userPrincipalName": user.upn,
        "id": user.id,
    }


def list_users(ctx: Ctx) -> GraphResponse:
    req = ctx.req
    values = [project(user_json(u), req.select()) for u in ctx.tenant.users]
    top = req.int_query("$top", 100) or 100
    skip = req.int_query("$skip", 0)
    next_link = None
    if skip + top < len(values):
        next_link = req.link("/users", {"$top": str(top), "$skip": str(skip + top)})
    return collection(req, "users", values[skip : skip + top], next_link=next_link)


def get_user(ctx: Ctx) -> GraphResponse:
    user = ctx.user()
    return entity(ctx.req, "users/$entity", project(user_json(user), ctx.req.select()))


def exchange_settings(ctx: Ctx) -> GraphResponse:
    user = ctx.user()
    value: dict[str, Any] = {"id": user.id}
    if user.mailbox is not None:
        value["primaryMailboxId"] = user.mailbox.graph_id
    if user.archive is not None and (ctx.req.version == "beta" or ctx.sim.config.archive_id_in_v1):
        value["inPlaceArchiveMailboxId"] = user.archive.graph_id
    return entity(ctx.req, f"users('{ctx.params['user']}')/settings/exchange/$entity", value)


def routes() -> list[Route]:
    return [
        route("GET", "users", list_users),
        route("GET", "users/{user}", get_user),
        route("GET", "users/{user}/settings/exchange", exchange_settings),
    ]

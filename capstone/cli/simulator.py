"""``capstone simulator``: the simulated Microsoft 365 / Exchange tenant (demo and tests).

capstone simulator serve --port 8400 --seed 7 --profile small
capstone simulator truth --json --url http://127.0.0.1:8400
capstone simulator delete --url http://127.0.0.1:8400 <item id>
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import click
import httpx

from capstone.cli.context import fail, print_json

DEFAULT_URL = "http://127.0.0.1:8400"
_URL_HELP = "Base URL of a running simulator (CAPSTONE_SIMULATOR_URL, default http://127.0.0.1:8400)."


def _url_option(func: Any) -> Any:
    return click.option(
        "--url",
        default=lambda: os.environ.get("CAPSTONE_SIMULATOR_URL", DEFAULT_URL),
        show_default=DEFAULT_URL,
        help=_URL_HELP,
    )(func)


def _post(url: str, path: str, document: dict[str, Any]) -> dict[str, Any]:
    try:
        response = httpx.post(url.rstrip("/") + path, json=document, timeout=60)
    except httpx.TransportError as exc:
        fail(f"cannot reach the simulator at {url}: {exc}")
    try:
        payload: dict[str, Any] = response.json()
    except ValueError:
        fail(f"the simulator answered HTTP {response.status_code} without JSON")
    if response.status_code != 200:
        fail(str(payload.get("error") or payload))
    return payload


@click.group("simulator")
def group() -> None:
    """The simulated Microsoft 365 tenant: Graph (mail, archive mailbox, Teams), EWS, OAuth2.

    Only for demos and tests: it serves synthetic (or imported) mail, never real tenants."""


@group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8400, show_default=True, type=int, help="0 picks a free port.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--profile", type=click.Choice(["small", "demo", "large", "huge"]), default="small", show_default=True
)
@click.option("--faults", default=None, help='e.g. "seed=7,rate=0.05,kinds=500,503,reset,slow,truncate".')
@click.option(
    "--time-scale", default=1.0, show_default=True, type=float, help="Divide throttling windows by X."
)
@click.option(
    "--import",
    "imports",
    multiple=True,
    metavar="PATH:MAILBOX:FOLDER",
    help="Import an .eml directory or mbox into a mailbox folder, byte-exact (repeatable).",
)
@click.option("--token-lifetime", default=3599.0, show_default=True, type=float, help="Seconds.")
@click.option("--client-id", default=None, help="App (client) id the token endpoint accepts.")
@click.option("--client-secret", default=None, help="Its secret.")
@click.option(
    "--budget", default=10_000, show_default=True, type=int, help="Requests per app per mailbox per window."
)
@click.option("--window", default=600.0, show_default=True, type=float, help="Throttling window, seconds.")
@click.option(
    "--concurrency", default=4, show_default=True, type=int, help="Concurrent requests per app per mailbox."
)
@click.option("--no-throttle", is_flag=True, help="Turn throttling off.")
@click.option("--latency", default=0.0, show_default=True, type=float, help="Extra seconds per request.")
def serve(
    host: str,
    port: int,
    seed: int,
    profile: str,
    faults: str | None,
    time_scale: float,
    imports: tuple[str, ...],
    token_lifetime: float,
    client_id: str | None,
    client_secret: str | None,
    budget: int,
    window: float,
    concurrency: int,
    no_throttle: bool,
    latency: float,
) -> None:
    """Serve the tenant. Prints one JSON line with its endpoints and credentials on stdout."""
    from connectors.simulator.faults import FaultSpec
    from connectors.simulator.importer import parse_import_spec
    from connectors.simulator.server import serve as run_server
    from connectors.simulator.state import SimulatorConfig
    from connectors.simulator.throttle import ThrottleConfig

    try:
        spec = FaultSpec.parse(faults)
        parsed_imports = tuple(parse_import_spec(i) for i in imports)
    except ValueError as exc:
        fail(str(exc))
    if time_scale <= 0:
        fail("--time-scale must be positive")
    config = SimulatorConfig(
        seed=seed,
        profile=profile,
        token_lifetime=token_lifetime,
        time_scale=time_scale,
        throttle=ThrottleConfig(
            enabled=not no_throttle,
            mailbox_concurrency=concurrency,
            mailbox_budget=budget,
            mailbox_window=window,
        ),
        faults=spec,
        latency=latency,
        imports=parsed_imports,
    )
    if client_id:
        config.client_id = client_id
    if client_secret:
        config.client_secret = client_secret
    click.echo(
        f"simulated tenant: seed {seed}, profile {profile}, faults {'on' if spec.enabled else 'off'}",
        err=True,
    )
    try:
        run_server(config, host=host, port=port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc}")


@group.command("truth")
@click.option("--json", "as_json", is_flag=True, help="Print the whole ground truth as JSON.")
@click.option(
    "--url", default=None, help="Ask a running simulator (else compute offline from --seed/--profile)."
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--profile", type=click.Choice(["small", "demo", "large", "huge"]), default="small", show_default=True
)
@click.option("--mailbox", default=None, help="Only this mailbox (address).")
@click.option("--no-hashes", is_flag=True, help="Skip MIME sizes and SHA-256 (fast for the large profile).")
def truth_command(
    as_json: bool, url: str | None, seed: int, profile: str, mailbox: str | None, no_hashes: bool
) -> None:
    """Every mailbox, folder, item (ids, SHA-256 of its MIME), chat message and version."""
    if url:
        params = {"hashes": "false" if no_hashes else "true"}
        if mailbox:
            params["mailbox"] = mailbox
        try:
            response = httpx.get(url.rstrip("/") + "/_sim/truth", params=params, timeout=600)
        except httpx.TransportError as exc:
            fail(f"cannot reach the simulator at {url}: {exc}")
        if response.status_code != 200:
            fail(f"the simulator answered HTTP {response.status_code}")
        document = response.json()
    else:
        from connectors.simulator.generator import build_tenant
        from connectors.simulator.truth import truth

        document = truth(build_tenant(seed, profile), hashes=not no_hashes, mailbox=mailbox)
    if as_json:
        print_json(document)
        return
    tenant = document["tenant"]
    click.echo(
        f"tenant {tenant['domain']} ({tenant['id']}), seed {tenant['seed']}, profile {tenant['profile']}"
    )
    for box in document["mailboxes"]:
        hidden = sum(1 for f in box["folders"] if f["hidden"])
        click.echo(
            f"  {box['address']:<45} {box['kind']:<8} {len(box['folders']):>4} folders ({hidden} hidden) "
            f"{len(box['items']):>7} items"
        )
    counts = document["counts"]
    click.echo(
        f"  {counts['chats']} chats, {counts['chatMessages']} chat messages, "
        f"{counts['chatMessageVersions']} versions"
    )


@group.command("add-message")
@_url_option
@click.option("--mailbox", required=True, help="Owner's address.")
@click.option(
    "--folder", default="inbox", show_default=True, help="Well-known name or path, e.g. Inbox/Projecten."
)
@click.option("--archive", is_flag=True, help="Into the user's archive mailbox.")
@click.option(
    "--eml", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Exact MIME to add."
)
@click.option("--subject", default=None)
@click.option("--from", "sender", default=None)
@click.option("--body", default=None)
def add_message(
    url: str,
    mailbox: str,
    folder: str,
    archive: bool,
    eml: Path | None,
    subject: str | None,
    sender: str | None,
    body: str | None,
) -> None:
    """Add a message (a new item appears in delta and sync)."""
    document: dict[str, Any] = {"op": "add-message", "mailbox": mailbox, "folder": folder, "archive": archive}
    if eml is not None:
        document["mime"] = base64.b64encode(eml.read_bytes()).decode("ascii")
    for key, value in (("subject", subject), ("from", sender), ("body", body)):
        if value is not None:
            document[key] = value
    print_json(_post(url, "/_sim/mutations", document))


@group.command("move")
@_url_option
@click.argument("item")
@click.argument("folder")
@click.option("--mailbox", default=None, help="Target mailbox owner (default: the item's).")
@click.option("--archive", is_flag=True, help="Into the owner's archive mailbox (a new item there).")
def move(url: str, item: str, folder: str, mailbox: str | None, archive: bool) -> None:
    """Move ITEM (any id) to FOLDER."""
    document: dict[str, Any] = {"op": "move", "item": item, "folder": folder, "archive": archive}
    if mailbox:
        document["mailbox"] = mailbox
    print_json(_post(url, "/_sim/mutations", document))


@group.command("delete")
@_url_option
@click.argument("item")
@click.option("--hard", is_flag=True, help="Shift-delete: straight to Recoverable Items.")
def delete(url: str, item: str, hard: bool) -> None:
    """Delete ITEM: to Deleted Items, from there to Recoverable Items."""
    print_json(_post(url, "/_sim/mutations", {"op": "delete", "item": item, "hard": hard}))


@group.command("purge")
@_url_option
@click.argument("item")
def purge(url: str, item: str) -> None:
    """Purge ITEM: Deletions -> Purges while on hold, otherwise gone."""
    print_json(_post(url, "/_sim/mutations", {"op": "purge", "item": item}))


@group.command("edit-chat-message")
@_url_option
@click.argument("chat")
@click.argument("message")
@click.argument("content")
def edit_chat_message(url: str, chat: str, message: str, content: str) -> None:
    """Edit a chat message (a new version; lastEditedDateTime changes)."""
    print_json(
        _post(
            url,
            "/_sim/mutations",
            {"op": "edit-chat-message", "chat": chat, "message": message, "content": content},
        )
    )


@group.command("delete-chat-message")
@_url_option
@click.argument("chat")
@click.argument("message")
def delete_chat_message(url: str, chat: str, message: str) -> None:
    """Delete a chat message (deletedDateTime set, body emptied)."""
    print_json(_post(url, "/_sim/mutations", {"op": "delete-chat-message", "chat": chat, "message": message}))


@group.command("faults")
@_url_option
@click.argument("spec", required=False, default="off")
def faults_command(url: str, spec: str) -> None:
    """Switch fault injection of a running simulator (SPEC, or "off")."""
    print_json(_post(url, "/_sim/faults", {"spec": spec}))


@group.command("mutate")
@_url_option
@click.argument("document")
def mutate(url: str, document: str) -> None:
    """Apply any mutation given as a JSON DOCUMENT (see connectors/simulator/mutations.py)."""
    try:
        parsed = json.loads(document)
    except ValueError as exc:
        fail(f"invalid JSON: {exc}")
    print_json(_post(url, "/_sim/mutations", parsed))

"""``capstone retention``, ``capstone exclusion``, ``capstone hold``: the retention lifecycle (issue 21).

Every command goes through :class:`~capstone.retention.service.RetentionService`, which checks roles
and audits; refusals exit with code 3, bad input with code 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from capstone.access import AccessDenied
from capstone.cli.context import AppContext, fail, pass_app, print_json
from capstone.cli.db import get_engine

if TYPE_CHECKING:
    from capstone.retention.service import DestructionSummary, Exclusion, Hold, RetentionService

T = TypeVar("T")
_SCOPES = ["record", "item", "conversation", "chat"]


def _service(app: AppContext) -> RetentionService:
    from capstone.access import actor_from_settings
    from capstone.retention.service import RetentionService

    try:
        return RetentionService(app.settings, actor_from_settings(app.settings), engine=get_engine(app))
    except ValueError as exc:
        fail(str(exc))


def _run(action: Callable[[], T]) -> T:
    """Refusals (already audited) exit 3; bad input and vault errors one clear line, exit 2."""
    from vault import VaultError

    try:
        return action()
    except AccessDenied as exc:
        fail(f"refused: {exc}", code=3)
    except (ValueError, VaultError) as exc:
        fail(str(exc))


class _Showable(Protocol):
    def to_json(self) -> Any: ...


S = TypeVar("S", bound=_Showable)


def _show(found: S | Sequence[S], as_json: bool, echo: Callable[[S], None]) -> None:
    """One result or a list of them: JSON (``to_json``) or one line each through ``echo``."""
    items: Sequence[S] = found if isinstance(found, Sequence) else [found]
    if as_json:
        print_json(found.to_json() if not isinstance(found, Sequence) else [i.to_json() for i in items])
        return
    for item in items:
        echo(item)


def _show_document(doc: dict[str, Any], as_json: bool, *, width: int) -> None:
    if as_json:
        print_json(doc)
        return
    for key, value in doc.items():
        click.echo(f"{key:{width}} {value}")


def _echo_exclusion(ex: Exclusion) -> None:
    decided = f"  {ex.status} by {ex.decided_by}" if ex.decided_by else ""
    click.echo(
        f"{ex.exclusion_id}  [{ex.status}]  {ex.category}  {ex.scope}={ex.value}  "
        f"records={len(ex.record_ids)}  marked by {ex.marked_by}{decided}"
    )


def _echo_hold(hold: Hold) -> None:
    state = f"released by {hold.released_by}" if hold.released_by else "active"
    click.echo(
        f"{hold.hold_id}  [{state}]  {hold.kind} {hold.ref}  objects={len(hold.blobs)}  by {hold.placed_by}"
    )


def _echo_list(summary: DestructionSummary) -> None:
    click.echo(f"vernietigingslijst {summary.list_id}  [{summary.status}]  objects={summary.items}")
    if summary.decision_ref:
        click.echo(f"  besluit {summary.decision_ref}, approved by {summary.approved_by}")
    for group in summary.groups:
        click.echo(
            f"  {group['designation_id'] or '-'}  {group['category'] or '-'}  {group['term']}  "
            f"{group['objects']} objects, {group['bytes']} bytes, {group['from']} .. {group['until']}"
        )
    if summary.status == "destroyed":
        click.echo(
            f"  destroyed {summary.destroyed}; verklaring van vernietiging sha256 {summary.certificate_sha256}"
        )
    for refused in summary.refused:
        click.echo(f"  refused {refused['sha256']}: {refused['reason']}")


# -- retention --------------------------------------------------------------------------------------


@click.group("retention")
def group() -> None:
    """The retention lifecycle: provisional locks, securing, destruction of V records."""


@group.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status_command(app: AppContext, as_json: bool) -> None:
    """Where every object stands: in its window, secured, excluded, held, due, removed."""
    _show_document(_run(lambda: _service(app).status()), as_json, width=26)


@group.command("run")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def run_command(app: AppContext, as_json: bool) -> None:
    """Secure objects whose window passed; delete lapsed confirmed exclusions (record first)."""
    report = _run(lambda: _service(app).run())
    _show_document(report.to_json(), as_json, width=18)
    if report.missing:
        fail(f"{len(report.missing)} objects are missing without an exclusion or destruction record", code=1)


@group.command("propose")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def propose_command(app: AppContext, as_json: bool) -> None:
    """Draw up a vernietigingslijst: V objects whose term ended, not held, not excluded."""
    summary = _run(lambda: _service(app).propose())
    _show(summary, as_json, _echo_list)


@group.command("approve")
@click.argument("list_id")
@click.option("--decision", "decision_ref", required=True, help="Reference of the destruction decision.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def approve_command(app: AppContext, list_id: str, decision_ref: str, as_json: bool) -> None:
    """Approve a list (an archivist other than the proposer)."""
    summary = _run(lambda: _service(app).approve(list_id, decision_ref))
    _show(summary, as_json, _echo_list)


@group.command("destroy")
@click.argument("list_id")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def destroy_command(app: AppContext, list_id: str, as_json: bool) -> None:
    """Destroy what an approved list names and may go; store the verklaring van vernietiging."""
    summary = _run(lambda: _service(app).destroy(list_id))
    _show(summary, as_json, _echo_list)


@group.command("lists")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def lists_command(app: AppContext, as_json: bool) -> None:
    """Every vernietigingslijst, newest first (archivist, auditor)."""
    _show(_run(lambda: _service(app).destruction_lists()), as_json, _echo_list)


@group.command("certificate")
@click.argument("list_id")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the verklaring (JSON, as stored) to this file instead of stdout.")  # fmt: skip
@pass_app
def certificate_command(app: AppContext, list_id: str, output: str | None) -> None:
    """The verklaring van vernietiging of a destroyed list, read back from the vault (verified)."""
    certificate = _run(lambda: _service(app).certificate(list_id))
    if output is None:
        click.echo(certificate.data.decode())
        return
    try:
        with open(output, "xb") as handle:  # never overwrite a file
            handle.write(certificate.data)
    except FileExistsError:
        fail(f"{output} exists; not overwritten")
    click.echo(f"{output}: sha256 {certificate.sha256}, record {certificate.record_id}")


# -- exclusion --------------------------------------------------------------------------------------


@click.group("exclusion")
def exclusion_group() -> None:
    """Privé / partijpolitiek exclusions within the window: mark, then a second person decides."""


@exclusion_group.command("mark")
@click.option("--scope", type=click.Choice(_SCOPES), default="item", show_default=True)
@click.option("--value", required=True, help="Record id, source item id, conversation id or chat id.")
@click.option("--category", required=True, help="prive or partijpolitiek.")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def mark_command(app: AppContext, scope: str, value: str, category: str, reason: str, as_json: bool) -> None:
    """Mark items, a conversation or a chat (key official or delegate: role official)."""
    from capstone.retention.objects import Scope
    from capstone.retention.service import ExclusionCategory

    ex = _run(lambda: _service(app).mark(Scope(scope), value, ExclusionCategory.parse(category), reason))
    _show(ex, as_json, _echo_exclusion)


def _decision_command(
    name: str, decide: Callable[[RetentionService, str, str | None], Exclusion], help_text: str
) -> None:
    """``exclusion confirm`` and ``exclusion refuse``: the same arguments, one service method each."""

    @exclusion_group.command(name, help=help_text)
    @click.argument("exclusion_id")
    @click.option("--note", default=None)
    @click.option("--json", "as_json", is_flag=True)
    @pass_app
    def command(app: AppContext, exclusion_id: str, note: str | None, as_json: bool) -> None:
        ex = _run(lambda: decide(_service(app), exclusion_id, note))
        _show(ex, as_json, _echo_exclusion)


_decision_command(
    "confirm",
    lambda service, exclusion_id, note: service.confirm(exclusion_id, note),
    "Confirm a mark (archivist, not the marker): search and exports stop showing it at once.",
)
_decision_command(
    "refuse",
    lambda service, exclusion_id, note: service.refuse(exclusion_id, note),
    "Refuse a mark (archivist, not the marker): the content is secured like any other.",
)


@exclusion_group.command("list")
@click.option("--status", type=click.Choice(["marked", "confirmed", "refused"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_command(app: AppContext, status: str | None, as_json: bool) -> None:
    """Exclusions and their decisions."""
    _show(_run(lambda: _service(app).exclusions(status)), as_json, _echo_exclusion)


# -- hold -------------------------------------------------------------------------------------------


@click.group("hold")
def hold_group() -> None:
    """Holds for a Woo case or a legal matter: S3 legal hold, never deleted while held."""


@hold_group.command("place")
@click.option("--ref", required=True, help="Woo case or legal matter reference.")
@click.option("--kind", type=click.Choice(["woo-case", "legal"]), required=True)
@click.option("--reason", required=True)
@click.option("--scope", type=click.Choice([*_SCOPES, "mailbox"]), default="item", show_default=True)
@click.option("--value", required=True, help="What the hold covers (id of the scope, or a mailbox).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def place_command(
    app: AppContext, ref: str, kind: str, reason: str, scope: str, value: str, as_json: bool
) -> None:
    """Place a hold (archivist or Woo officer)."""
    from capstone.retention.objects import Scope

    hold = _run(lambda: _service(app).place_hold(ref, kind, reason, Scope(scope), value))
    _show(hold, as_json, _echo_hold)


@hold_group.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def release_command(app: AppContext, hold_id: str, reason: str, as_json: bool) -> None:
    """Release a hold (archivist; audited): its objects follow their lifecycle again."""
    hold = _run(lambda: _service(app).release_hold(hold_id, reason))
    _show(hold, as_json, _echo_hold)


@hold_group.command("list")
@click.option("--active", is_flag=True, help="Only holds not released.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def holds_command(app: AppContext, active: bool, as_json: bool) -> None:
    """Holds, active and released."""
    _show(_run(lambda: _service(app).holds(active_only=active)), as_json, _echo_hold)


def register(cli: Any) -> None:
    cli.add_command(group)
    cli.add_command(exclusion_group)
    cli.add_command(hold_group)

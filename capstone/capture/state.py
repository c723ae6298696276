"""The capture engine's state database: runs, folder cursors, captured items, removals, errors.

Everything that advances a cursor happens in one transaction with the item rows it depends on,
and only after the vault confirmed the page's blobs and records (:meth:`CaptureState.commit_page`).
Under ``capstone capture worker`` every write also checks the worker's fencing token
(:mod:`capstone.capture.leases`): a worker that lost its lease can no longer commit.
Works on SQLite (embedded default) and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from capstone.capture.leases import check_fence, session_lost_is_lease_lost
from capstone.capture.tables import (
    capture_errors,
    capture_latest,
    capture_runs,
    captured_items,
    folder_cursors,
    pending_removals,
)
from capstone.db.engine import write_transaction
from connectors.base import FolderInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ItemRow:
    item_id: str
    folder_id: str
    change_key: str | None
    blob_sha256: str | None
    record_id: str | None
    size: int | None
    state: str  # captured, excluded, out_of_window
    deleted_in_source: bool


@dataclass(frozen=True)
class FolderEvent:
    event: str  # folder-created, folder-renamed, folder-moved, folder-removed
    folder_id: str
    path: str
    previous_path: str | None = None


@dataclass(frozen=True)
class ItemError:
    item_id: str
    folder_id: str
    error: str


# The parts of an account (``mailbox_kind`` in the state tables) that each run source captures.
# Both are names stored in existing state databases (the Graph connector's, from before the
# connector seam): never renamed without a migration. Other connectors register theirs
# (``register_source_kinds``, called by ``capstone.services``).
KINDS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "graph-mail": ("primary", "primary-export", "primary-json", "archive"),
    "graph-teams": ("teams",),
}


def register_source_kinds(source: str, kinds: tuple[str, ...]) -> None:
    """Make a connector's run source and its state kinds known (idempotent; a stored name keeps
    its kinds: registering different ones is an error)."""
    known = KINDS_BY_SOURCE.setdefault(source, kinds)
    if known != kinds:
        raise ValueError(f"run source {source} already has the state kinds {known}, not {kinds}")


def kinds_of_source(source: str) -> tuple[str, ...]:
    return KINDS_BY_SOURCE.get(source, KINDS_BY_SOURCE["graph-mail"])


@dataclass
class LatestRuns:
    account: str
    source: str
    last: dict[str, Any]  # the newest run (running, complete, incomplete or failed)
    last_complete: dict[str, Any] | None = None


class CaptureState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    @contextmanager
    def _write(self, account: str | None = None) -> Iterator[Connection]:
        """A write transaction, refused (:class:`~capstone.capture.leases.LeaseLost`) when the task
        runs under a worker's lease that another worker took over since (the fencing token)."""
        with session_lost_is_lease_lost(), write_transaction(self.engine) as conn:
            check_fence(conn, account)
            yield conn

    # -- runs --------------------------------------------------------------------------------------

    def start_or_resume_run(self, designation_id: str, account: str, source: str) -> tuple[str, bool]:
        """The unfinished run of this account and source if there is one (after a crash), else a new one."""
        with self._write(account) as conn:
            row = conn.execute(
                select(capture_runs.c.run_id).where(
                    capture_runs.c.account == account,
                    capture_runs.c.source == source,
                    capture_runs.c.status == "running",
                )
            ).first()
            if row is not None:
                return str(row[0]), True
            run_id = f"{utcnow().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:12]}"
            conn.execute(
                capture_runs.insert().values(
                    run_id=run_id,
                    designation_id=designation_id,
                    account=account,
                    source=source,
                    status="running",
                    started_at=utcnow(),
                    items_new=0,
                    bytes_new=0,
                    errors=0,
                )
            )
            conn.execute(
                self._insert(capture_latest)
                .values(account=account, source=source, last_run_id=run_id)
                .on_conflict_do_update(
                    index_elements=[capture_latest.c.account, capture_latest.c.source],
                    set_={"last_run_id": run_id},
                )
            )
            return run_id, False

    def add_run_progress(self, run_id: str, items: int, size: int) -> None:
        with self._write() as conn:
            conn.execute(
                update(capture_runs)
                .where(capture_runs.c.run_id == run_id)
                .values(
                    items_new=capture_runs.c.items_new + items,
                    bytes_new=capture_runs.c.bytes_new + size,
                )
            )

    def finish_run(
        self, run_id: str, *, status: str, errors: int, manifest_key: str | None, summary: dict[str, Any]
    ) -> None:
        with self._write() as conn:
            conn.execute(
                update(capture_runs)
                .where(capture_runs.c.run_id == run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    errors=errors,
                    manifest_key=manifest_key,
                    summary=summary,
                )
            )
            if status == "complete":
                row = conn.execute(
                    select(capture_runs.c.account, capture_runs.c.source).where(
                        capture_runs.c.run_id == run_id
                    )
                ).first()
                if row is not None:
                    conn.execute(
                        update(capture_latest)
                        .where(capture_latest.c.account == row[0], capture_latest.c.source == row[1])
                        .values(last_complete_run_id=run_id)
                    )

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(capture_runs).where(capture_runs.c.run_id == run_id)).mappings().first()
        return None if row is None else dict(row)

    def latest_runs(self) -> list[LatestRuns]:
        """Per account and source: the newest run and the newest complete one. One row each from
        ``capture_latest``, so ``capture status`` and the metrics cost the same after a year of runs
        as after one."""
        found: list[LatestRuns] = []
        with self.engine.connect() as conn:
            pointers = conn.execute(
                select(capture_latest).order_by(capture_latest.c.account, capture_latest.c.source)
            ).all()
            wanted = {r.last_run_id for r in pointers} | {
                r.last_complete_run_id for r in pointers if r.last_complete_run_id
            }
            runs = {
                str(row["run_id"]): dict(row)
                for row in conn.execute(
                    select(capture_runs).where(capture_runs.c.run_id.in_(sorted(wanted)))
                ).mappings()
            }
        for pointer in pointers:
            last = runs.get(pointer.last_run_id)
            if last is None:
                continue
            complete = runs.get(pointer.last_complete_run_id) if pointer.last_complete_run_id else None
            found.append(LatestRuns(str(pointer.account), str(pointer.source), last, complete))
        return found

    def runs(self, account: str | None = None) -> list[dict[str, Any]]:
        query = select(capture_runs).order_by(capture_runs.c.started_at)
        if account is not None:
            query = query.where(capture_runs.c.account == account)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- folders -----------------------------------------------------------------------------------

    def sync_folders(self, account: str, kind: str, folders: Sequence[FolderInfo]) -> list[FolderEvent]:
        """Record the folder tree; return what changed since the last run (renames, moves, new, gone)."""
        events: list[FolderEvent] = []
        now = utcnow()
        with self._write(account) as conn:
            known = {
                r.folder_id: r
                for r in conn.execute(
                    select(folder_cursors).where(
                        folder_cursors.c.account == account, folder_cursors.c.mailbox_kind == kind
                    )
                )
            }
            seen = set()
            for folder in folders:
                seen.add(folder.folder_id)
                old = known.get(folder.folder_id)
                if old is None:
                    if known:  # the first run sees every folder as new: not an event
                        events.append(FolderEvent("folder-created", folder.folder_id, folder.path))
                    conn.execute(
                        folder_cursors.insert().values(
                            account=account,
                            mailbox_kind=kind,
                            folder_id=folder.folder_id,
                            path=folder.path,
                            parent_id=folder.parent_id,
                            hidden=folder.hidden,
                            present=True,
                            updated_at=now,
                        )
                    )
                    continue
                if old.path != folder.path or not old.present:
                    moved = old.parent_id != folder.parent_id
                    events.append(
                        FolderEvent(
                            "folder-moved" if moved else "folder-renamed",
                            folder.folder_id,
                            folder.path,
                            old.path,
                        )
                    )
                    conn.execute(
                        update(folder_cursors)
                        .where(
                            folder_cursors.c.account == account,
                            folder_cursors.c.mailbox_kind == kind,
                            folder_cursors.c.folder_id == folder.folder_id,
                        )
                        .values(path=folder.path, parent_id=folder.parent_id, present=True, updated_at=now)
                    )
            for folder_id, old in known.items():
                if folder_id not in seen and old.present:
                    events.append(FolderEvent("folder-removed", folder_id, old.path))
                    conn.execute(
                        update(folder_cursors)
                        .where(
                            folder_cursors.c.account == account,
                            folder_cursors.c.mailbox_kind == kind,
                            folder_cursors.c.folder_id == folder_id,
                        )
                        .values(present=False, updated_at=now)
                    )
        return events

    def cursor(self, account: str, kind: str, folder_id: str) -> str | None:
        """Where to resume this folder: the pending next link, else the delta link, else None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(folder_cursors.c.pending_link, folder_cursors.c.delta_link).where(
                    folder_cursors.c.account == account,
                    folder_cursors.c.mailbox_kind == kind,
                    folder_cursors.c.folder_id == folder_id,
                )
            ).first()
        if row is None:
            return None
        link = row[0] or row[1]
        return None if link is None else str(link)

    def reset_cursor(self, account: str, kind: str, folder_id: str) -> None:
        with self._write(account) as conn:
            conn.execute(
                update(folder_cursors)
                .where(
                    folder_cursors.c.account == account,
                    folder_cursors.c.mailbox_kind == kind,
                    folder_cursors.c.folder_id == folder_id,
                )
                .values(pending_link=None, delta_link=None, updated_at=utcnow())
            )

    def folder_paths(self, account: str, kind: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(folder_cursors.c.folder_id, folder_cursors.c.path).where(
                    folder_cursors.c.account == account, folder_cursors.c.mailbox_kind == kind
                )
            )
            return {str(a): str(b) for a, b in rows}

    # -- items -------------------------------------------------------------------------------------

    def items(self, account: str, kind: str, item_ids: Iterable[str]) -> dict[str, ItemRow]:
        ids = list(item_ids)
        found: dict[str, ItemRow] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for r in conn.execute(
                    select(captured_items).where(
                        captured_items.c.account == account,
                        captured_items.c.mailbox_kind == kind,
                        captured_items.c.item_id.in_(chunk),
                    )
                ):
                    found[r.item_id] = ItemRow(
                        r.item_id,
                        r.folder_id,
                        r.change_key,
                        r.blob_sha256,
                        r.record_id,
                        r.size,
                        r.state,
                        r.deleted_in_source,
                    )
        return found

    def commit_page(
        self,
        *,
        account: str,
        kind: str,
        folder_id: str,
        run_id: str,
        next_cursor: str | None,
        final_cursor: str | None,
        items: Sequence[ItemRow],
        removals: Sequence[str],
        errors: Sequence[ItemError],
        resolved_errors: Sequence[str] = (),
    ) -> None:
        """One transaction: item rows, removals, errors, and the folder's cursor."""
        now = utcnow()
        with self._write(account) as conn:
            if items:
                upsert = self._insert(captured_items)
                upsert = upsert.on_conflict_do_update(
                    index_elements=["account", "mailbox_kind", "item_id"],
                    set_={
                        name: upsert.excluded[name]
                        for name in (
                            "folder_id", "change_key", "blob_sha256", "record_id", "size", "state",
                            "deleted_in_source", "last_run",
                        )
                    },
                )  # fmt: skip
                rows = [
                    {
                        "account": account,
                        "mailbox_kind": kind,
                        "item_id": item.item_id,
                        "folder_id": item.folder_id,
                        "change_key": item.change_key,
                        "blob_sha256": item.blob_sha256,
                        "record_id": item.record_id,
                        "size": item.size,
                        "state": item.state,
                        "deleted_in_source": item.deleted_in_source,
                        "first_run": run_id,
                        "last_run": run_id,
                    }
                    for item in {item.item_id: item for item in items}.values()  # the last row of an id wins
                ]
                conn.execute(upsert, rows)  # one statement, executemany: not one compile per row
            if removals:
                conn.execute(
                    self._insert(pending_removals).on_conflict_do_nothing(),
                    [
                        {
                            "account": account,
                            "mailbox_kind": kind,
                            "item_id": i,
                            "folder_id": folder_id,
                            "run_id": run_id,
                        }
                        for i in dict.fromkeys(removals)
                    ],
                )
            for error in errors:
                stmt = self._insert(capture_errors).values(
                    account=account,
                    mailbox_kind=kind,
                    item_id=error.item_id,
                    folder_id=error.folder_id,
                    run_id=run_id,
                    error=error.error,
                    attempts=1,
                    first_seen=now,
                    last_seen=now,
                )
                stmt = stmt.on_conflict_do_update(
                    index_elements=["account", "mailbox_kind", "item_id"],
                    set_={
                        "error": stmt.excluded.error,
                        "run_id": stmt.excluded.run_id,
                        "last_seen": stmt.excluded.last_seen,
                        "attempts": capture_errors.c.attempts + 1,
                    },
                )
                conn.execute(stmt)
            if resolved_errors:
                conn.execute(
                    capture_errors.delete().where(
                        capture_errors.c.account == account,
                        capture_errors.c.mailbox_kind == kind,
                        capture_errors.c.item_id.in_(list(resolved_errors)),
                    )
                )
            values: dict[str, Any] = {"updated_at": now}
            if next_cursor is not None:
                values["pending_link"] = next_cursor
            elif final_cursor is not None:
                values.update(pending_link=None, delta_link=final_cursor)
            conn.execute(
                update(folder_cursors)
                .where(
                    folder_cursors.c.account == account,
                    folder_cursors.c.mailbox_kind == kind,
                    folder_cursors.c.folder_id == folder_id,
                )
                .values(**values)
            )

    def pending_removals(self, account: str, kind: str) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(pending_removals.c.item_id, pending_removals.c.folder_id).where(
                    pending_removals.c.account == account, pending_removals.c.mailbox_kind == kind
                )
            )
            return [(str(a), str(b)) for a, b in rows]

    def resolve_removals(
        self, account: str, kind: str, deleted: Sequence[str], resolved: Sequence[tuple[str, str]]
    ) -> None:
        """Mark ``deleted`` items as deleted in the source and drop the resolved removal rows."""
        with self._write(account) as conn:
            if deleted:
                conn.execute(
                    update(captured_items)
                    .where(
                        captured_items.c.account == account,
                        captured_items.c.mailbox_kind == kind,
                        captured_items.c.item_id.in_(list(deleted)),
                    )
                    .values(deleted_in_source=True)
                )
            for item_id, folder_id in resolved:
                conn.execute(
                    pending_removals.delete().where(
                        pending_removals.c.account == account,
                        pending_removals.c.mailbox_kind == kind,
                        pending_removals.c.item_id == item_id,
                        pending_removals.c.folder_id == folder_id,
                    )
                )

    def open_errors(self, account: str, kind: str | None = None) -> list[dict[str, Any]]:
        query = select(capture_errors).where(capture_errors.c.account == account)
        if kind is not None:
            query = query.where(capture_errors.c.mailbox_kind == kind)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def held_by_folder(self, account: str, kind: str) -> dict[str, dict[str, int]]:
        """Per folder: items the vault holds (captured) or accountably excluded, not deleted in source."""
        result: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(captured_items.c.folder_id, captured_items.c.state, func.count())
                .where(
                    and_(
                        captured_items.c.account == account,
                        captured_items.c.mailbox_kind == kind,
                        captured_items.c.deleted_in_source.is_(False),
                    )
                )
                .group_by(captured_items.c.folder_id, captured_items.c.state)
            )
            for folder_id, state, count in rows:
                result.setdefault(str(folder_id), {})[str(state)] = int(count)
        return result

    def item_ids_in_folder(self, account: str, kind: str, folder_id: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(captured_items.c.item_id).where(
                    captured_items.c.account == account,
                    captured_items.c.mailbox_kind == kind,
                    captured_items.c.folder_id == folder_id,
                    captured_items.c.deleted_in_source.is_(False),
                )
            )
            return {str(r[0]) for r in rows}

    def totals(self, account: str, kinds: Sequence[str] | None = None) -> dict[str, int]:
        query = select(func.count(), func.coalesce(func.sum(captured_items.c.size), 0)).where(
            captured_items.c.account == account, captured_items.c.state == "captured"
        )
        if kinds is not None:
            query = query.where(captured_items.c.mailbox_kind.in_(list(kinds)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return {"items": int(row[0]) if row else 0, "bytes": int(row[1]) if row else 0}

"""One manifest chain, any number of writers: appends serialised through the state database.

Design (issue 20): the vault keeps **one** verifiable sequence of manifests, also with many capture
workers on several machines. Every append runs while its writer holds the vault's row in
``vault_chain_heads`` (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite, the embedded default on
one machine, an exclusive file lock beside the vault catalog). Holding it, the writer

1. refuses to append for a capture whose lease was taken over (the fencing token, same transaction);
2. brings its local catalog up to the head the row names: the few manifests other workers appended
   since it last wrote are read from the vault (each worker has its own catalog cache);
3. appends ``seq + 1`` chained to that head, and moves the row to it before letting go.

So two writers never PUT the same manifest key: no sequence conflict, no second version of a
manifest key on a server that ignores conditional writes (Ceph RGW), no full ``sync_catalog``
listing per conflict. The vault's own retry on :class:`~vault.VaultConflictError` stays as the
safety net for writers that do not go through the state database.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy.exc
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql

from capstone.capture.leases import check_fence, current_fence, session_lost_is_lease_lost
from capstone.capture.tables import vault_chain_heads
from capstone.db.engine import make_engine, write_transaction
from capstone.logging import get_logger
from vault import Vault, layout
from vault.records import sha256_hex
from vault.vault import ManifestConfirm

log = get_logger("capture.chain")


def vault_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def catch_up(vault: Vault, head_seq: int) -> int:
    """Record in the local catalog the manifests up to ``head_seq`` it does not know (written by
    other processes). Returns how many were read; stops at a gap (left to ``verify``)."""
    known = vault.catalog.head_manifest()
    start = 1 if known is None else known[0] + 1
    read = 0
    for seq in range(start, head_seq + 1):
        key = layout.manifest_key(seq)
        try:
            with vault.store.open(key) as handle:
                data = handle.read()
        except KeyError:
            log.warning("chain_catch_up_gap", seq=seq)
            break
        doc = json.loads(data)
        vault.catalog.record_manifest(
            seq, key, sha256_hex(data), doc.get("run_id"), doc.get("kind"),
            ((entry[0], entry[1]) for entry in doc.get("records", [])),
        )  # fmt: skip
        read += 1
    return read


class ChainGuard:
    """``vault.manifest_guard``: see the module docstring. Lazy: the database is opened on the first
    append, and a database without the table (not migrated) leaves appends as they were."""

    def __init__(self, database_url: str, vault_url: str, lock_dir: Path) -> None:
        self.database_url = database_url
        self.key = vault_key(vault_url)
        self.lock_path = lock_dir / f"vault-chain-{self.key[:16]}.lock"
        self._engine: Engine | None = None
        self._usable: bool | None = None
        self._lock = threading.Lock()

    def _database(self) -> Engine | None:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self.database_url)
            return self._engine

    @contextmanager
    def __call__(self, vault: Vault) -> Iterator[ManifestConfirm | None]:
        """Held around an append; what it yields, when not None, the vault calls right before each
        manifest PUT (PostgreSQL: the fence checked again in the chain's transaction, which also
        finds a session the server ended while this writer stalled, so it never PUTs after that)."""
        engine = self._database()
        assert engine is not None
        if engine.dialect.name == "postgresql":
            with self._postgresql(engine, vault) as confirm:
                yield confirm
            return
        with self._file_lock():  # one machine: processes share the catalog, the lock orders them
            if self._usable is not False and current_fence() is not None:
                with self._fence_only(engine):
                    yield None
                return
            yield None

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _fence_only(self, engine: Engine) -> Iterator[None]:
        """SQLite: the fencing check before the append (a single worker, no take-over race)."""
        try:
            with engine.connect() as conn:
                check_fence(conn)
        except sqlalchemy.exc.OperationalError:
            self._usable = False  # not migrated: nothing to fence against
        yield

    @contextmanager
    def _postgresql(self, engine: Engine, vault: Vault) -> Iterator[ManifestConfirm | None]:
        table = vault_chain_heads
        if self._usable is None:
            try:
                with write_transaction(engine) as conn:
                    conn.execute(
                        postgresql.insert(table)
                        .values(
                            vault=self.key, seq=0, manifest_key="", sha256="", updated_at=datetime.now(UTC)
                        )
                        .on_conflict_do_nothing()
                    )
                self._usable = True
            except sqlalchemy.exc.ProgrammingError:  # not migrated yet: appends stay as they were
                self._usable = False
        if not self._usable:
            yield None
            return
        with session_lost_is_lease_lost(), write_transaction(engine) as conn:
            row = conn.execute(select(table).where(table.c.vault == self.key).with_for_update()).one()
            check_fence(conn)  # after the chain lock: the lease row is held only while appending
            if row.seq:
                catch_up(vault, int(row.seq))
            yield lambda: check_fence(conn)
            head = vault.catalog.head_manifest()
            if head is not None and head[0] > int(row.seq):
                conn.execute(
                    update(table)
                    .where(table.c.vault == self.key)
                    .values(seq=head[0], manifest_key=head[1], sha256=head[2], updated_at=datetime.now(UTC))
                )


def install(vault: Vault, database_url: str, vault_url: str, lock_dir: Path) -> Vault:
    vault.manifest_guard = ChainGuard(database_url, vault_url, lock_dir)
    return vault

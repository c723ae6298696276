"""The vault's local catalog: a cache of which records, segments and manifests the vault holds.

Like borg's cache it is derived data: it lives outside the vault (under the data directory), and is
rebuilt from the store by :meth:`Catalog.sync` whenever it is missing or behind. It lets a writer skip
records the vault already holds (so a replayed capture writes nothing new) without reading segments.
The highest manifest sequence ever seen is remembered, so a manifest removed from the end of the chain
is still detected by ``verify``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY,
    record_sha256 TEXT NOT NULL,
    segment_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    blob_sha256 TEXT,
    size INTEGER,
    manifest_seq INTEGER  -- NULL until a manifest lists the record
);
CREATE INDEX IF NOT EXISTS records_kind ON records(kind);
CREATE INDEX IF NOT EXISTS records_blob ON records(blob_sha256);
CREATE INDEX IF NOT EXISTS records_unmanifested ON records(manifest_seq) WHERE manifest_seq IS NULL;
CREATE TABLE IF NOT EXISTS manifests (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, sha256 TEXT NOT NULL, run_id TEXT, kind TEXT
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The run that wrote each record (its ``capture.run_id``, '' when it names none): a manifest adopts
-- only the unlisted records of its own run, so a record slipped into the vault joins no chain.
CREATE TABLE IF NOT EXISTS record_runs (record_id TEXT PRIMARY KEY, run_id TEXT NOT NULL);
-- The store's content-addressed keys (blobs, segments) as its last listing showed them, plus those
-- written since: lets an S3 store skip asking the server whether a key exists (see vault.s3).
-- verified: 1 when a writer of this host stored or checked the object itself (locked, right bytes);
-- seen: when a listing or a writer last saw the key (a listing drops keys it did not see).
CREATE TABLE IF NOT EXISTS store_keys (
    key TEXT PRIMARY KEY, verified INTEGER NOT NULL, versions INTEGER NOT NULL, seen REAL NOT NULL
);
"""


class Catalog:
    """A thread-safe SQLite cache of the vault's contents."""

    def __init__(self, path: Path | None) -> None:
        target = ":memory:" if path is None else str(path)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- segments and records ----------------------------------------------------------------------

    def known_segments(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT key FROM segments")}

    def add_segment(
        self,
        key: str,
        sha256: str,
        size: int,
        records: Iterable[tuple[str, str, str, str | None, int | None]],
    ) -> None:
        """Register a segment and its records ``(record_id, record_sha256, kind, blob_sha256, size)``."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("INSERT OR IGNORE INTO segments VALUES (?, ?, ?)", (key, sha256, size))
                self._db.executemany(
                    "INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    [(rid, rsha, key, kind, blob, sz) for rid, rsha, kind, blob, sz in records],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def find_records(self, record_ids: list[str]) -> dict[str, tuple[str, str, str, str | None]]:
        """Known records among ``record_ids``: id -> (record_sha256, segment_key, kind, blob_sha256)."""
        found: dict[str, tuple[str, str, str, str | None]] = {}
        with self._lock:
            for start in range(0, len(record_ids), 500):
                chunk = record_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for rid, rsha, seg, kind, blob in self._db.execute(
                    "SELECT record_id, record_sha256, segment_key, kind, blob_sha256 "
                    f"FROM records WHERE record_id IN ({marks})",
                    chunk,
                ):
                    found[rid] = (rsha, seg, kind, blob)
        return found

    def record_location(self, record_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT segment_key FROM records WHERE record_id = ?", (record_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def segments_of_kind(self, kind: str | None) -> list[str]:
        with self._lock:
            if kind is None:
                rows = self._db.execute("SELECT key FROM segments ORDER BY key")
            else:
                rows = self._db.execute(
                    "SELECT DISTINCT segment_key FROM records WHERE kind = ? ORDER BY segment_key", (kind,)
                )
            return [str(r[0]) for r in rows]

    def records_by_kind(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind ORDER BY kind")
            return {str(kind): int(count) for kind, count in rows}

    def has_blob_reference(self, blob_sha256: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM records WHERE blob_sha256 = ? LIMIT 1", (blob_sha256,)
            ).fetchone()
        return row is not None

    def referenced_blobs(self, blob_sha256s: Iterable[str]) -> set[str]:
        """Those of ``blob_sha256s`` that some record references (one query per 500)."""
        wanted = sorted(set(blob_sha256s))
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    str(row[0])
                    for row in self._db.execute(
                        f"SELECT DISTINCT blob_sha256 FROM records WHERE blob_sha256 IN ({marks})", chunk
                    )
                )
        return found

    # -- manifests ---------------------------------------------------------------------------------

    def unmanifested(self, run_id: str | None = None) -> list[tuple[str, str, str]]:
        """Records no manifest lists yet (e.g. written by a run that crashed): (id, sha256, segment);
        with ``run_id``, only those that run wrote."""
        with self._lock:
            rows = self._db.execute(
                "SELECT r.record_id, r.record_sha256, r.segment_key FROM records r "
                + self._unlisted_where(run_id),
                () if run_id is None else (run_id,),
            )
            return [(str(a), str(b), str(c)) for a, b, c in rows]

    @staticmethod
    def _unlisted_where(run_id: str | None) -> str:
        if run_id is None:
            return "WHERE r.manifest_seq IS NULL"
        return (
            "JOIN record_runs rr ON rr.record_id = r.record_id WHERE r.manifest_seq IS NULL AND rr.run_id = ?"
        )

    def unmanifested_count(self, run_id: str | None = None) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM records r " + self._unlisted_where(run_id),
                () if run_id is None else (run_id,),
            ).fetchone()
        return int(row[0])

    def unmanifested_blobs(self, run_id: str | None = None) -> set[str]:
        """Blobs referenced by the records no manifest lists yet (of ``run_id``, when given)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT r.blob_sha256 FROM records r "
                + self._unlisted_where(run_id)
                + " AND r.blob_sha256 IS NOT NULL",
                () if run_id is None else (run_id,),
            )
            return {str(row[0]) for row in rows}

    def add_record_runs(self, runs: Iterable[tuple[str, str]]) -> None:
        """Remember which run wrote each record: ``(record_id, run_id)``; the first one seen stays."""
        rows = list(runs)
        with self._lock:
            self._db.execute("BEGIN")  # one transaction (one WAL commit), not one per row
            try:
                self._db.executemany("INSERT OR IGNORE INTO record_runs VALUES (?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def unlisted_runs_of(self, record_ids: Sequence[str], *, prefix: str) -> set[str]:
        """Runs whose name starts with ``prefix`` that wrote some of ``record_ids`` and still have
        records no manifest lists: runs that were killed before their own manifest."""
        runs: set[str] = set()
        with self._lock:
            for start in range(0, len(record_ids), 500):
                chunk = list(record_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                for (run,) in self._db.execute(
                    "SELECT DISTINCT rr.run_id FROM record_runs rr JOIN records r "
                    "ON r.record_id = rr.record_id WHERE r.manifest_seq IS NULL "
                    f"AND rr.record_id IN ({marks})",
                    chunk,
                ):
                    if str(run).startswith(prefix):
                        runs.add(str(run))
        return runs

    def segments_of_runless_unlisted(self) -> list[str]:
        """Segments holding unlisted records whose run is not known yet (a catalog made before
        runs were tracked, or a process killed between the two inserts)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT r.segment_key FROM records r LEFT JOIN record_runs rr "
                "ON rr.record_id = r.record_id WHERE r.manifest_seq IS NULL AND rr.record_id IS NULL"
            )
            return [str(row[0]) for row in rows]

    def listed_records(self, record_ids: list[str]) -> dict[str, str]:
        """Of ``record_ids``, those a manifest lists: id -> the SHA-256 of the listed record line.
        A record whose line hashes otherwise (or that no manifest lists) is outside the chain."""
        listed: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(record_ids), 500):
                chunk = record_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for rid, rsha in self._db.execute(
                    "SELECT record_id, record_sha256 FROM records "
                    f"WHERE manifest_seq IS NOT NULL AND record_id IN ({marks})",
                    chunk,
                ):
                    listed[str(rid)] = str(rsha)
        return listed

    def mark_manifested(self, seq: int, listed: Iterable[tuple[str, str]]) -> None:
        """Mark the records a manifest lists, ``(record_id, record_sha256)``: a record line only.
        Two writers can write lines with the same record id and different bytes (a stale capture
        worker after a take-over: its own ``captured_at``); a manifest listing the other line
        leaves this catalog's line unlisted, for its writer's next manifest of that run to list."""
        with self._lock:
            self._db.executemany(
                "UPDATE records SET manifest_seq = ? "
                "WHERE record_id = ? AND record_sha256 = ? AND manifest_seq IS NULL",
                [(seq, rid, rsha) for rid, rsha in listed],
            )

    def add_manifest(self, seq: int, key: str, sha256: str, run_id: str | None, kind: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO manifests VALUES (?, ?, ?, ?, ?)", (seq, key, sha256, run_id, kind)
            )
            self._db.execute(
                "INSERT INTO settings VALUES ('max_manifest_seq', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = MAX(CAST(value AS INTEGER), excluded.value)",
                (str(seq),),
            )

    def record_manifest(
        self,
        seq: int,
        key: str,
        sha256: str,
        run_id: str | None,
        kind: str | None,
        listed: Iterable[tuple[str, str]],
    ) -> None:
        """:meth:`add_manifest` and :meth:`mark_manifested` in one transaction. When it fails (a full
        disk), the catalog knows neither, so the next :meth:`Vault.sync_catalog` adopts the manifest
        already in the vault, records included, and no later manifest lists its records again."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self.add_manifest(seq, key, sha256, run_id, kind)
                self.mark_manifested(seq, listed)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def known_manifests(self) -> dict[int, tuple[str, str]]:
        with self._lock:
            return {
                int(seq): (str(key), str(sha))
                for seq, key, sha in self._db.execute("SELECT seq, key, sha256 FROM manifests")
            }

    def head_manifest(self) -> tuple[int, str, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, key, sha256 FROM manifests ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    def max_manifest_seq_seen(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE name = 'max_manifest_seq'").fetchone()
        return int(row[0]) if row else 0

    def runs_by_kind(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT COALESCE(kind, '?'), COUNT(*) FROM manifests GROUP BY 1 ORDER BY 1"
            )
            return {str(k): int(n) for k, n in rows}

    def iter_manifest_keys(self) -> Iterator[tuple[int, str]]:
        with self._lock:
            rows = list(self._db.execute("SELECT seq, key FROM manifests ORDER BY seq"))
        yield from ((int(s), str(k)) for s, k in rows)

    # -- the store's keys (a presence index for the S3 store) --------------------------------------

    def store_key_state(self, key: str) -> int | None:
        """None: not seen; 0: listed by the store; 1: stored or checked by a writer of this host."""
        with self._lock:
            row = self._db.execute("SELECT verified FROM store_keys WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def add_store_key(self, key: str) -> None:
        """A writer stored ``key`` (or checked the object the store already held)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO store_keys VALUES (?, 1, 1, ?) ON CONFLICT(key) DO UPDATE "
                "SET verified = 1, seen = excluded.seen",
                (key, time.time()),
            )

    def forget_store_key(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM store_keys WHERE key = ?", (key,))

    def add_listed_keys(self, keys: Iterable[tuple[str, int]], started: float) -> None:
        """Keys a listing that started at ``started`` showed, with their number of real versions."""
        with self._lock:
            self._db.executemany(
                "INSERT INTO store_keys VALUES (?, 0, ?, ?) ON CONFLICT(key) DO UPDATE "
                "SET versions = excluded.versions, seen = MAX(seen, excluded.seen)",
                [(key, versions, started) for key, versions in keys],
            )

    def finish_listing(self, started: float, seconds: float) -> None:
        """Drop the keys the listing did not show (gone from the store) unless a writer stored them
        after it started, and remember when the listing was taken and how long it took."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.execute("DELETE FROM store_keys WHERE seen < ?", (started,))
                self._db.executemany(
                    "INSERT INTO settings VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    [("store_keys_listed_at", repr(started)), ("store_keys_listing_seconds", repr(seconds))],
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def last_listing(self) -> tuple[float, float] | None:
        """``(started, seconds)`` of the last complete listing of the store's keys, if any."""
        with self._lock:
            rows = dict(
                self._db.execute(
                    "SELECT name, value FROM settings WHERE name IN "
                    "('store_keys_listed_at', 'store_keys_listing_seconds')"
                ).fetchall()
            )
        if "store_keys_listed_at" not in rows:
            return None
        return float(rows["store_keys_listed_at"]), float(rows.get("store_keys_listing_seconds", 0.0))

    def second_versions(self) -> dict[str, int]:
        """Keys the last listing showed with more than one real version: key -> versions."""
        with self._lock:
            rows = self._db.execute("SELECT key, versions FROM store_keys WHERE versions > 1 ORDER BY key")
            return {str(key): int(n) for key, n in rows}

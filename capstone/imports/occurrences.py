"""What a mailbox import has met so far, kept on disk so that memory stays flat however many
messages a source holds.

Two facts per message decide its record: its *ordinal*, how often this import met the same bytes
(SHA-256) in the same folder before it (identical copies each keep a record of their own, and a
re-import meets them in the same order, so it gives them the same ordinals and record ids), and
whether this import met its bytes before in any folder (then it is no duplicate of what capture or
another import holds). In memory these were a dict and a set growing by about 0.6 kB per message
(the import of 100,000 messages peaked 47 MB above that of 20,000); here they are a table in a
private temporary SQLite database, which SQLite deletes when it is closed (or its process ends).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

_CHUNK = 400  # SHA-256s per query (well below SQLite's limit of host parameters)


class Occurrences:
    """The (folder, SHA-256) pairs an import met, with how often; one reader and writer at a time."""

    def __init__(self) -> None:
        # "": a private temporary database on disk, removed when the connection closes.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE met (folder TEXT NOT NULL, sha256 TEXT NOT NULL, times INTEGER NOT NULL, "
            "PRIMARY KEY (sha256, folder)) WITHOUT ROWID"
        )

    def meet(self, keys: Sequence[tuple[str, str]]) -> list[tuple[int, bool]]:
        """For each ``(folder, sha256)`` in order: its ordinal (how often it was met before) and
        whether its SHA-256 was met before in any folder; then each counts as met."""
        times: dict[tuple[str, str], int] = {}
        shas_met: set[str] = set()
        wanted = sorted({sha for _, sha in keys})
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for folder, sha, count in self._db.execute(
                f"SELECT folder, sha256, times FROM met WHERE sha256 IN ({marks})", chunk
            ):
                times[(str(folder), str(sha))] = int(count)
                shas_met.add(str(sha))
        answers: list[tuple[int, bool]] = []
        for key in keys:
            answers.append((times.get(key, 0), key[1] in shas_met))
            times[key] = times.get(key, 0) + 1
            shas_met.add(key[1])
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO met VALUES (?, ?, ?) ON CONFLICT (sha256, folder) DO UPDATE SET times = excluded.times",
                [(folder, sha, times[(folder, sha)]) for folder, sha in dict.fromkeys(keys)],
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return answers

    def close(self) -> None:
        self._db.close()

"""The import's memory of what it met (ordinals of identical copies, blobs met in any folder) is a
temporary database on disk: the same answers the former dict and set gave, across batches."""

from __future__ import annotations

from capstone.imports.occurrences import Occurrences

A, B = "a" * 64, "b" * 64


def test_ordinals_count_per_folder_and_bytes_across_batches() -> None:
    met = Occurrences()
    try:
        # First batch: A twice in Inbox (ordinals 0, 1), A again in Archief (its first there, but
        # its bytes were met before), B once.
        assert met.meet([("Inbox", A), ("Inbox", A), ("Archief", A), ("Inbox", B)]) == [
            (0, False),
            (1, True),
            (0, True),
            (0, False),
        ]
        # A later batch goes on counting where the first one stopped.
        assert met.meet([("Inbox", A), ("Archief", B), ("Inbox", B), ("Verzonden", "c" * 64)]) == [
            (2, True),
            (0, True),
            (1, True),
            (0, False),
        ]
        assert met.meet([]) == []
    finally:
        met.close()


def test_many_distinct_messages_in_one_batch_are_asked_in_chunks() -> None:
    met = Occurrences()
    try:
        keys = [("Inbox", f"{n:064x}") for n in range(1500)]  # more than one query's worth
        assert met.meet(keys) == [(0, False)] * 1500
        assert met.meet(keys[::-1]) == [(1, True)] * 1500
    finally:
        met.close()

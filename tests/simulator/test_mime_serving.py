"""How the simulator serves MIME: once rendered when it is small, streamed when large, and in chunks
that carry the same bytes however they were generated."""

from __future__ import annotations

import hashlib

from connectors.simulator.app import coalesced
from connectors.simulator.generator import BIG_ATTACHMENT_MIN, build_tenant
from connectors.simulator.model import Item, Tenant


def _messages(tenant: Tenant) -> list[Item]:
    return [i for i in tenant.present_items() if i.item_class.startswith("IPM.Note")]


def test_a_small_message_is_rendered_once_whole_and_its_info_remembered() -> None:
    item = _messages(build_tenant(5, "small"))[0]
    expected = b"".join(item.mime_chunks())
    whole = item.mime_whole(1 << 20)
    assert whole == expected
    assert item._info == (len(expected), hashlib.sha256(expected).hexdigest())
    assert item.mime_info() == (len(expected), hashlib.sha256(expected).hexdigest())


def test_a_message_over_the_limit_is_not_held_but_its_info_is_right() -> None:
    tenant = build_tenant(5, "demo")
    big = next(i for i in _messages(tenant) if len(b"".join(i.mime_chunks())) >= BIG_ATTACHMENT_MIN)
    expected = b"".join(big.mime_chunks())
    assert big.mime_whole(len(expected) - 1) is None
    assert big.mime_info() == (len(expected), hashlib.sha256(expected).hexdigest())
    assert big.mime_whole(len(expected) - 1) is None  # known too large: not rendered again
    assert big.mime_whole(len(expected)) == expected


def test_coalesced_chunks_carry_the_same_bytes_in_pieces_of_at_least_the_size() -> None:
    pieces = [bytes([n % 251]) * (n % 97 + 1) for n in range(2000)]
    chunks = list(coalesced(iter(pieces), size=1000))
    assert b"".join(chunks) == b"".join(pieces)
    assert all(len(c) >= 1000 for c in chunks[:-1])
    assert all(len(c) < 1000 + 97 for c in chunks)
    assert list(coalesced(iter([]), size=10)) == []

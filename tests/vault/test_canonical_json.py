"""canonical_json must write exactly the bytes of its definition (the standard library's encoder):
record ids and the SHA-256 of every record line rest on them. The fast path (orjson) is checked
against that definition over every code point and the values records hold, and the values it does
not handle must take the definition's own path."""

from __future__ import annotations

import enum
import json
import math
from collections import OrderedDict
from typing import Any

import pytest

from vault.records import Record, _plain, canonical_json


def definition(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_every_code_point_as_key_and_as_value_is_written_as_the_definition_writes_it() -> None:
    points = [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 97), 0x10FFFF]
    for start in range(0, len(points), 512):
        chunk = points[start : start + 512]
        document = {chr(point) + "k": [chr(point), f"a{chr(point)}b"] for point in chunk}
        assert _plain(document)
        assert canonical_json(document) == definition(document)


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


@pytest.mark.parametrize(
    "document",
    [
        None,
        True,
        0,
        -1,
        2**63 - 1,
        -(2**63),
        2**64 - 1,
        2**64,  # beyond orjson's integers: the definition's path
        -(2**70),
        "",
        [],
        {},
        (1, "two", None),
        {"b": [1, {"d": False, "c": None}], "a": {"z": [], "y": ()}, "é": 1, "Z": 2, "\U0001f600": 3},
        {"x": 0.5},  # floats: the definition's path (their text differs between the two)
        {"x": [1e16, 1e-7, 123456789.125, -0.0]},
        {"x": math.inf, "y": math.nan},
        {1: "int key", 2: "another"},  # keys that are not strings: the definition's path
        {"colour": Colour.RED, "name": Name("n")},  # subclasses: the definition's path
        OrderedDict([("b", 1), ("a", 2)]),
        {"deep": [[[[[[{"a": [[[]]]}]]]]]]},
    ],
)
def test_documents_are_written_as_the_definition_writes_them(document: Any) -> None:
    assert canonical_json(document) == definition(document)


def test_values_the_fast_path_does_not_take() -> None:
    assert not _plain({"x": 0.5})
    assert not _plain({1: "a"})
    assert not _plain([Name("n")])
    assert not _plain(OrderedDict(a=1))
    assert _plain({"a": [1, "b", None, True, (2,)]})


def test_a_lone_surrogate_is_refused_as_the_definition_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        definition({"x": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        canonical_json({"x": "\ud800"})


def test_a_record_line_and_its_id_take_the_fast_path_and_equal_the_definition() -> None:
    record = Record(
        kind="mail-message",
        source={"system": "mailbox-import", "folder_path": "Inbox/Überleg", "position": {"offset": 12}},
        capture={"run_id": "r", "captured_at": "2026-12-07T00:00:00+00:00"},
        blob_sha256="ab" * 32,
        size=123,
        media_type="message/rfc822",
        designation={"official": "Marieke van Dalen"},
    )
    document = record.to_document()
    assert _plain(document) and _plain(record.identity())
    assert record.canonical_line() == definition(document)
    assert canonical_json(record.identity()) == definition(record.identity())


def test_a_cyclic_document_is_refused_as_the_definition_refuses_it() -> None:
    cyclic: dict[str, Any] = {"a": [1]}
    cyclic["a"].append(cyclic)
    with pytest.raises(ValueError, match="Circular reference"):
        definition(cyclic)
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(cyclic)

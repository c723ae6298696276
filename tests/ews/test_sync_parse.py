"""``SyncFolderItems`` changes read by :func:`connectors.ews.sync.item_change` hold exactly what
exchangelib's own item objects hold, for every form a value can take: the fast readings of
timestamps and ids (the module docstring) must never give another value than exchangelib would."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from exchangelib.folders import BaseFolder
from lxml import etree

from connectors.base import ItemChange
from connectors.ews.sync import _iso, item_change

T = "http://schemas.microsoft.com/exchange/services/2006/types"

STAMPS = [
    "2026-03-04T09:15:00Z",  # Exchange's usual form: the fast reading
    "0999-01-01T00:00:00Z",
    "2026-03-04T09:15:00.123Z",  # fractions: not the format exchangelib parses (None)
    "2026-03-04T10:15:00+01:00",  # an offset: converted to UTC
    "2026-03-04T09:15:00",  # naive local time
    "2026-02-30T09:15:00Z",  # no such day
    "2026-03-04T24:00:00Z",
    "2026-03-04T09:15:60Z",
    "٢٠٢٦-03-04T09:15:00Z",  # not ASCII digits
    "gisteren",
    "",
    None,  # no element at all
]
IDS: list[tuple[str | None, str | None] | None] = [
    ("AAMkAD1=", "CQAAAB=="),
    ("AAMkAD2=", None),
    ("", ""),
    None,
]
MODELS = ["Message", "CalendarItem", "Contact", "Task", "MeetingRequest", "Item"]


def element(
    tag: str,
    stamps: tuple[str | None, str | None, str | None],
    ids: tuple[str | None, str | None] | None,
    conversation: tuple[str | None, str | None] | None,
    *,
    item_class: str | None = "IPM.Note",
    size: str | None = "12345",
    message_id: str | None = "<a@b.nl>",
) -> Any:
    elem = etree.Element(f"{{{T}}}{tag}", nsmap={"t": T})

    def child(name: str, text: str | None) -> None:
        if text is not None:
            etree.SubElement(elem, f"{{{T}}}{name}").text = text

    def id_child(name: str, values: tuple[str | None, str | None] | None) -> None:
        if values is not None:
            sub = etree.SubElement(elem, f"{{{T}}}{name}")
            for attr, value in zip(("Id", "ChangeKey"), values, strict=True):
                if value is not None:
                    sub.set(attr, value)

    id_child("ItemId", ids)
    child("ItemClass", item_class)
    child("Size", size)
    child("DateTimeReceived", stamps[0])
    child("DateTimeCreated", stamps[1])
    child("InternetMessageId", message_id)
    child("LastModifiedTime", stamps[2])
    id_child("ConversationId", conversation)
    return elem


def as_exchangelib_reads_it(elem: Any) -> ItemChange:
    """The change built from exchangelib's whole item object, as the connector did before."""
    model = BaseFolder.item_model_from_tag(elem.tag)
    item = model.from_xml(elem=elem, account=None)
    conversation = getattr(item, "conversation_id", None)
    return ItemChange(
        item_id=item.id,
        change_key=item.changekey,
        last_modified=_iso(item.last_modified_time),
        internet_message_id=getattr(item, "message_id", None),
        conversation_id=conversation.id if conversation else None,
        item_type=item.item_class or model.__name__,
        size=item.size,
        received=_iso(item.datetime_received),
        created=_iso(item.datetime_created),
    )


@pytest.mark.parametrize("stamp", STAMPS)
def test_every_form_of_timestamp_reads_as_exchangelib_reads_it(stamp: str | None) -> None:
    for tag in MODELS:
        for stamps in ((stamp, stamp, stamp), (stamp, "2026-01-02T03:04:05Z", None)):
            elem = element(tag, stamps, ("AAMkAD1=", "CQAAAB=="), ("AAQkAD=", None))
            assert item_change(elem, None) == as_exchangelib_reads_it(elem), (tag, stamps)


def test_ids_and_the_other_fields_read_as_exchangelib_reads_them() -> None:
    stamps = ("2026-03-04T09:15:00Z", "2026-03-04T09:14:00Z", "2026-03-05T10:00:00Z")
    for tag, ids, conversation in itertools.product(MODELS, IDS, IDS):
        for extra in (
            {},
            {"item_class": None, "size": None, "message_id": None},
            {"item_class": "", "size": "", "message_id": ""},
            {"size": "veel"},
            {"size": " 42 "},
            {"size": "4_2"},
        ):
            elem = element(tag, stamps, ids, conversation, **extra)  # type: ignore[arg-type]
            assert item_change(elem, None) == as_exchangelib_reads_it(elem), (tag, ids, conversation, extra)


def test_the_usual_form_is_kept_as_sent() -> None:
    elem = element("Message", ("2026-03-04T09:15:00Z",) * 3, ("AAMkAD1=", "CQAAAB=="), ("AAQkAD=", None))
    change = item_change(elem, None)
    assert (change.received, change.item_id, change.change_key, change.conversation_id) == (
        "2026-03-04T09:15:00Z",
        "AAMkAD1=",
        "CQAAAB==",
        "AAQkAD=",
    )


def test_a_repeated_element_reads_as_its_first_as_exchangelib_reads_it() -> None:
    stamps = ("2026-03-04T09:15:00Z", "2026-03-04T09:14:00Z", "2026-03-05T10:00:00Z")
    for name, text in (
        ("DateTimeReceived", "2027-01-01T00:00:00Z"),
        ("Size", "7"),
        ("ItemClass", "IPM.Other"),
    ):
        elem = element("Message", stamps, ("AAMkAD1=", "CQAAAB=="), ("AAQkAD=", None))
        etree.SubElement(elem, f"{{{T}}}{name}").text = text
        etree.SubElement(elem, f"{{{T}}}ItemId").set("Id", "other")
        assert item_change(elem, None) == as_exchangelib_reads_it(elem), name

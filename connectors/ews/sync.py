"""``SyncFolderItems`` read straight into the capture's :class:`~connectors.base.ItemChange`.

exchangelib turns every change of a page into a whole item object: each of the model's fields
(sixty-odd for a message: subject, body, recipients, flags ...) looked up in the XML and set
through its validating ``__setattr__``, though the page asked for seven properties only. That was
the larger part of the CPU a capture spends per item. :class:`ChangeSyncFolderItems` reads from
each change element only the fields the capture uses, each through exchangelib's own field parser
(the same lookups, the same datetime and naive-datetime handling, the same defaults), so the
values are exactly those the item objects held, and builds no item object.

Two readings are cheaper still, and give the same values: a timestamp in Exchange's usual form
(``2026-03-04T09:15:00Z``) is already the text :func:`_iso` would make of the parsed datetime, so
it is only checked (a valid date and time) and kept, not parsed with ``strptime`` and formatted back;
an ``ItemId`` or ``ConversationId`` is read from its attributes, as exchangelib reads them, without
building the element object; and the item's children are looked up by tag once, not searched again
for every field. Any other form of timestamp (an offset, a naive local time, fractions of a second,
garbage) or of number goes through exchangelib's own parser as before.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from exchangelib.fields import DateTimeField, InvalidField
from exchangelib.folders import BaseFolder
from exchangelib.items import Item
from exchangelib.properties import ConversationId, ItemId
from exchangelib.services import SyncFolderItems

from connectors.base import ItemChange
from connectors.ews.mime import WholeResponse

# The item properties a page asks for (``additional_fields``) and :func:`item_change` reads.
ITEM_FIELD_NAMES = (
    "item_class",
    "size",
    "datetime_received",
    "datetime_created",
    "last_modified_time",
    "conversation_id",
)
MESSAGE_FIELD_NAMES = ("message_id",)  # only item types that have it (messages, meeting messages)


@dataclass(frozen=True)
class _ModelFields:
    name: str  # the model's class name: the item type when the page gave no ItemClass
    fields: tuple[tuple[Any, str], ...]  # (field, its element's tag): text and number fields
    timestamps: tuple[tuple[Any, str], ...]  # the DateTimeFields


@cache
def _model_fields(model: type[Item]) -> _ModelFields:
    fields, timestamps = [], []
    for name in ITEM_FIELD_NAMES + MESSAGE_FIELD_NAMES:
        try:
            field = model.get_field_by_fieldname(name)
        except InvalidField:  # e.g. no message_id on a calendar item: its value stays None
            continue
        if isinstance(field, DateTimeField):
            timestamps.append((field, field.response_tag()))
        elif name != "conversation_id":  # read with the item id, from its attribute
            fields.append((field, field.response_tag()))
    return _ModelFields(model.__name__, tuple(fields), tuple(timestamps))


_ITEM_ID_TAG = ItemId.response_tag()
_CONVERSATION_ID_TAG = ConversationId.response_tag()
_UTC_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")  # what Exchange sends


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text: str = value.isoformat()
    return text.replace("+00:00", "Z")


def _text(child: Any) -> str | None:
    """A child element's text as exchangelib's ``get_xml_attr`` gives it (None when empty)."""
    return (child.text or None) if child is not None else None


def _value(field: Any, text: str | None, elem: Any, account: Any) -> Any:
    """What ``field.from_xml`` gives for an element whose text is ``text``: a text field's text, a
    number field's ``int``, anything else (a number that is not one, say) from exchangelib itself."""
    if text is None:
        return field.default
    if field.value_cls is str:
        return text
    if field.value_cls is int:
        with suppress(ValueError):
            return int(text)
    return field.from_xml(elem=elem, account=account)


def _timestamp(field: Any, text: str | None, elem: Any, account: Any) -> str | None:
    """:func:`_iso` of the field's value as exchangelib parses it (see the module docstring)."""
    if text and _UTC_SECONDS.fullmatch(text):
        try:
            datetime.fromisoformat(text[:-1])  # the checks strptime makes of a date and a time
        except ValueError:
            pass
        else:
            return text  # exactly _iso(EWSDateTime.from_string(text))
    return _iso(field.from_xml(elem=elem, account=account))


def _ids(child: Any) -> tuple[str | None, str | None]:
    """(Id, ChangeKey) of an id element, each None when absent or empty (as exchangelib reads
    attribute fields); (None, None) without the element."""
    if child is None:
        return None, None
    return child.get("Id") or None, child.get("ChangeKey") or None


def item_change(elem: Any, account: Any) -> ItemChange:
    """The :class:`ItemChange` of the item element of a ``Create`` or ``Update`` change."""
    model = _model_fields(BaseFolder.item_model_from_tag(elem.tag))
    children: dict[Any, Any] = {}
    for child in elem:  # each tag's first element, as ``find`` gives it
        children.setdefault(child.tag, child)
    values = {f.name: _value(f, _text(children.get(tag)), elem, account) for f, tag in model.fields}
    times = {f.name: _timestamp(f, _text(children.get(tag)), elem, account) for f, tag in model.timestamps}
    ident: Any  # None without an ItemId, as the item object's ``id`` gave it
    ident, change_key = _ids(children.get(_ITEM_ID_TAG))
    return ItemChange(
        item_id=ident,
        change_key=change_key,
        last_modified=times.get("last_modified_time"),
        internet_message_id=values.get("message_id"),
        conversation_id=_ids(children.get(_CONVERSATION_ID_TAG))[0],
        item_type=values.get("item_class") or model.name,
        size=values.get("size"),
        received=times.get("datetime_received"),
        created=times.get("datetime_created"),
    )


class ChangeSyncFolderItems(WholeResponse, SyncFolderItems):  # type: ignore[misc]
    """exchangelib's ``SyncFolderItems`` (request, paging state, errors: all its own), its response
    parsed in one piece, each change yielded as ``(change type, ItemChange or None)``: None for a
    read-flag change (the item's content, its MIME, did not change)."""

    def _elem_to_obj(self, elem: Any) -> tuple[str, ItemChange | None]:
        change_type: str = self.change_types_map[elem.tag]
        if change_type == self.READ_FLAG_CHANGE:
            return change_type, None
        if change_type == self.DELETE:
            item_id = ItemId.from_xml(elem=elem.find(ItemId.response_tag()), account=self.account)
            return change_type, ItemChange(item_id=item_id.id, removed=True)
        return change_type, item_change(elem[0], self.account)

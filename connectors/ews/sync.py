"""``SyncFolderItems`` read straight into the capture's :class:`~connectors.base.ItemChange`.

exchangelib turns every change of a page into a whole item object: each of the model's fields
(sixty-odd for a message: subject, body, recipients, flags ...) looked up in the XML and set
through its validating ``__setattr__``, though the page asked for seven properties only. That was
the larger part of the CPU a capture spends per item. :class:`ChangeSyncFolderItems` reads from
each change element only the fields the capture uses, each through exchangelib's own field parser
(the same lookups, the same datetime and naive-datetime handling, the same defaults), so the
values are exactly those the item objects held, and builds no item object.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from exchangelib.fields import InvalidField
from exchangelib.folders import BaseFolder
from exchangelib.items import Item
from exchangelib.properties import ItemId
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
    id_field: Any
    fields: tuple[Any, ...]


@cache
def _model_fields(model: type[Item]) -> _ModelFields:
    fields = []
    for name in ITEM_FIELD_NAMES + MESSAGE_FIELD_NAMES:
        try:
            fields.append(model.get_field_by_fieldname(name))
        except InvalidField:  # e.g. no message_id on a calendar item: its value stays None
            continue
    return _ModelFields(model.__name__, model.get_field_by_fieldname("_id"), tuple(fields))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    text: str = value.isoformat()
    return text.replace("+00:00", "Z")


def item_change(elem: Any, account: Any) -> ItemChange:
    """The :class:`ItemChange` of the item element of a ``Create`` or ``Update`` change."""
    model = _model_fields(BaseFolder.item_model_from_tag(elem.tag))
    values = {field.name: field.from_xml(elem=elem, account=account) for field in model.fields}
    item_id = model.id_field.from_xml(elem=elem, account=account)
    ident: Any = item_id.id if item_id is not None else None  # as the item's ``id`` property gives it
    conversation = values.get("conversation_id")
    return ItemChange(
        item_id=ident,
        change_key=item_id.changekey if item_id is not None else None,
        last_modified=_iso(values.get("last_modified_time")),
        internet_message_id=values.get("message_id"),
        conversation_id=conversation.id if conversation else None,
        item_type=values.get("item_class") or model.name,
        size=values.get("size"),
        received=_iso(values.get("datetime_received")),
        created=_iso(values.get("datetime_created")),
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

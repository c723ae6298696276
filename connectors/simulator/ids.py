"""Exchange-shaped identifiers for the simulated tenant.

Exchange hands out opaque base64 identifiers. Graph's REST ids are the EWS ids with the URL-safe
alphabet (``translateExchangeIds`` converts ``ewsId`` <-> ``restId`` that way), so one binary id
serves both protocols here:

- a *regular* item id names the item in its current folder and changes whenever the item moves
  (it carries the folder and a move generation);
- an *immutable* id (``Prefer: IdType="ImmutableId"``) names the item for its whole life in one
  mailbox; a move to another mailbox (the archive) makes a new item;
- folder ids are stable;
- change keys change on every modification of the item.

The simulator decodes every id it receives, so a stale regular id (an item that moved) is a 404,
as on Exchange.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from typing import Literal

_ITEM_TAG = b"\x00\x03\x24\x00"  # base64 "AAMkA...", as Exchange item ids
_IMMUTABLE_TAG = b"\x00\x09\x00\x2e"  # base64 "AAkALg...", as Exchange immutable ids
_FOLDER_TAG = b"\x00\x01\x2e\x00"  # base64 "AAEuA..."
_CHANGE_KEY_TAG = b"\x09\x00\x00\x00\x16\x00\x00\x00"  # base64 "CQAAABYAAAA..."

IdKind = Literal["item", "immutable", "folder"]


@dataclass(frozen=True)
class ParsedId:
    kind: IdKind
    mailbox_guid: bytes
    folder_key: int = 0
    item_key: int = 0
    gen: int = 0


def stable_uuid(*parts: object) -> uuid.UUID:
    """A UUID derived from ``parts`` (deterministic across runs and machines)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "capstone-simulator:" + ":".join(str(p) for p in parts))


def stable_hex(length: int, *parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:length]


def _encode(raw: bytes, rest: bool) -> str:
    text = base64.b64encode(raw).decode("ascii")
    return text.replace("+", "-").replace("/", "_") if rest else text


def _decode(text: str) -> bytes | None:
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def item_id(mailbox_guid: bytes, folder_key: int, item_key: int, gen: int, *, rest: bool = True) -> str:
    raw = (
        _ITEM_TAG
        + mailbox_guid
        + b"\x46\x00"
        + folder_key.to_bytes(4, "big")
        + item_key.to_bytes(6, "big")
        + (gen & 0xFFFF).to_bytes(2, "big")
    )
    return _encode(raw, rest)


def immutable_id(mailbox_guid: bytes, item_key: int, *, rest: bool = True) -> str:
    raw = _IMMUTABLE_TAG + mailbox_guid + b"\x07\x00" + item_key.to_bytes(6, "big") + b"\x00\x00"
    return _encode(raw, rest)


def folder_id(mailbox_guid: bytes, folder_key: int, *, rest: bool = True) -> str:
    raw = _FOLDER_TAG + mailbox_guid + b"\x01\x00" + folder_key.to_bytes(4, "big")
    return _encode(raw, rest)


def change_key(mailbox_guid: bytes, change_no: int) -> str:
    return _encode(_CHANGE_KEY_TAG + mailbox_guid + change_no.to_bytes(6, "big"), rest=False)


def parse(text: str) -> ParsedId | None:
    """Decode any id this module makes (REST or EWS alphabet); None if it is not one of ours."""
    raw = _decode(text)
    if raw is None or len(raw) < 26:
        return None
    tag, guid, rest = raw[:4], raw[4:20], raw[20:]
    if tag == _ITEM_TAG and len(rest) == 14:
        return ParsedId(
            "item",
            guid,
            folder_key=int.from_bytes(rest[2:6], "big"),
            item_key=int.from_bytes(rest[6:12], "big"),
            gen=int.from_bytes(rest[12:14], "big"),
        )
    if tag == _IMMUTABLE_TAG and len(rest) == 10:
        return ParsedId("immutable", guid, item_key=int.from_bytes(rest[2:8], "big"))
    if tag == _FOLDER_TAG and len(rest) == 6:
        return ParsedId("folder", guid, folder_key=int.from_bytes(rest[2:6], "big"))
    return None


def to_ews(rest_id: str) -> str:
    return rest_id.replace("-", "+").replace("_", "/")


def to_rest(ews_id: str) -> str:
    return ews_id.replace("+", "-").replace("/", "_")


def mailbox_guid(seed: int, address: str, kind: str) -> bytes:
    return stable_uuid(seed, "mailbox", address.lower(), kind).bytes


def graph_mailbox_id(seed: int, address: str, kind: str) -> str:
    """The id the mailbox import/export API uses: ``MBX:e0643f21@a7809c93``."""
    return f"MBX:{stable_hex(8, seed, address.lower(), kind)}@{stable_hex(8, seed, 'tenant')}"


def hosted_content_id(seed: int, chat_id: str, message_id: str, n: int) -> str:
    """Shaped like Teams' ids: base64 of ``id=x_0-weu-d1-<hex>,type=1,url=...``."""
    token = stable_hex(32, seed, chat_id, message_id, n)
    text = (
        f"id=x_0-weu-d1-{token},type=1,"
        f"url=https://eu-api.asm.skype.com/v1/objects/0-weu-d1-{token}/views/imgo"
    )
    return base64.b64encode(text.encode()).decode("ascii").rstrip("=")

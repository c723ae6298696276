"""SMS Backup & Restore (Android) XML: ``<smses>`` with ``<sms>`` and ``<mms>`` elements.

An ``<sms>`` carries ``address``, ``date`` (ms since the epoch, UTC), ``type`` (1 received, 2 sent),
``body`` and ``contact_name``. An ``<mms>`` carries ``date``, ``msg_box`` (1 received, 2 sent),
``address`` (several joined by ``~`` in a group), ``<parts>`` (``<part ct=... text=... data=...>``: the
SMIL layout, text parts, media parts with their bytes in base64) and ``<addrs>`` (type 137 is the
sender). The file is read with ``iterparse`` and each element cleared after use, so memory stays
flat whatever the backup's size; the validating pass parses the whole file (and decodes every
part's base64) before anything is written, so a damaged backup is refused whole.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from lxml import etree

from capstone.imports.model import ExportSummary, ImportRefused, InlineMedia, PhoneMessage, PhoneSystem

_NULL = ("", "null", "(Unknown)")
_FROM = "137"
_OWN = "Ik"  # stands for the official's own messages when the backup does not name the phone's owner


def _value(element: etree._Element, name: str) -> str:
    value = element.get(name) or ""
    return "" if value in _NULL else value


def _moment(element: etree._Element) -> datetime:
    stamp = element.get("date") or ""
    try:
        millis = int(stamp)
    except ValueError:
        raise ImportRefused(f"an <{element.tag!s}> has no valid date ({stamp[:20]!r})") from None
    seconds = millis / 1000 if millis > 10_000_000_000 else millis  # some MMS dates are in seconds
    return datetime.fromtimestamp(seconds, tz=UTC)


def normalise_address(address: str) -> str:
    """``+31 6 1234-5678`` -> ``+31612345678``; group addresses (``a~b``) sorted, so a thread keeps
    its key whatever the order the backup lists them in."""
    parts = []
    for part in address.split("~"):
        kept = "".join(ch for ch in part if ch.isdigit() or ch == "+")
        parts.append(kept or part.strip())
    return "~".join(sorted(p for p in parts if p))


class SmsBackupExport:
    system = PhoneSystem.SMS

    def __init__(
        self, path: Path, *, timezone: str = "Europe/Amsterdam", own_name: str | None = None
    ) -> None:
        if not path.is_file():
            raise ImportRefused(f"{path}: no such file")
        self.path = path
        self.own_name = own_name or _OWN
        self.zone = ZoneInfo(timezone)
        self.declared: str | None = None

    def originals(self) -> list[Path]:
        return [self.path]

    def close(self) -> None:
        return None

    def open_media(self, name: str) -> BinaryIO | None:
        return None  # MMS media travel inline (base64), see PhoneMessage.inline_media

    def _elements(self) -> Iterator[etree._Element]:
        try:
            context = etree.iterparse(
                str(self.path),
                events=("start", "end"),
                huge_tree=True,
                resolve_entities=False,
                no_network=True,
            )
            root_seen = False
            for event, element in context:
                if event == "start":
                    if not root_seen:
                        root_seen = True
                        if element.tag != "smses":
                            raise ImportRefused(
                                f"{self.path}: not an SMS Backup & Restore file (root <{element.tag!s}>, "
                                "expected <smses>)"
                            )
                        self.declared = element.get("count")
                    continue
                if (
                    element.tag in ("sms", "mms")
                    and element.getparent() is not None
                    and (
                        element.getparent().tag == "smses"  # type: ignore[union-attr]
                    )
                ):
                    yield element
                    element.clear(keep_tail=False)
                    parent = element.getparent()
                    while parent is not None and element.getprevious() is not None:
                        del parent[0]
        except etree.XMLSyntaxError as exc:
            raise ImportRefused(f"{self.path}: damaged XML ({exc.msg}, line {exc.lineno})") from None

    def validate(self) -> ExportSummary:
        summary = ExportSummary()
        self.declared = None
        for element in self._elements():
            message = self._message(element)
            summary.messages += 1
            summary.chats.setdefault(message.chat_id, set()).add(message.sender)
            summary.media_referenced += len(message.inline_media)
        if self.declared is not None:
            try:
                summary.declared = int(self.declared)
            except ValueError:
                summary.declared = None
        if summary.messages == 0 and not summary.declared:
            raise ImportRefused(f"{self.path}: the backup holds no messages")
        return summary

    def messages(self) -> Iterator[PhoneMessage]:
        for element in self._elements():
            yield self._message(element)

    def _message(self, element: etree._Element) -> PhoneMessage:
        if element.tag == "sms":
            return self._sms(element)
        return self._mms(element)

    def _sms(self, element: etree._Element) -> PhoneMessage:
        address = normalise_address(_value(element, "address"))
        contact = _value(element, "contact_name") or address
        outgoing = element.get("type") == "2"
        return PhoneMessage(
            system=PhoneSystem.SMS,
            chat_id=address,
            chat_title=contact,
            sender=self.own_name if outgoing else contact,
            sent_at=_moment(element).astimezone(self.zone),
            text=_value(element, "body"),
            details={
                "type": "sms",
                "direction": "out" if outgoing else "in",
                "address": address,
                "box": element.get("type"),
            },
        )

    def _mms(self, element: etree._Element) -> PhoneMessage:
        address = normalise_address(_value(element, "address"))
        contact = _value(element, "contact_name") or address
        outgoing = element.get("msg_box") == "2"
        sender_address = ""
        for addr in element.iterfind("addrs/addr"):
            if addr.get("type") == _FROM:
                sender_address = normalise_address(_value(addr, "address"))
        texts: list[str] = []
        media: list[InlineMedia] = []
        for index, part in enumerate(element.iterfind("parts/part")):
            content_type = (part.get("ct") or "application/octet-stream").lower()
            if content_type == "application/smil":
                continue
            if content_type.startswith("text/plain"):
                texts.append(_value(part, "text"))
                continue
            data = part.get("data")
            if not data:
                continue
            try:
                payload = base64.b64decode(data, validate=False)
            except (binascii.Error, ValueError):
                raise ImportRefused(f"{self.path}: an MMS part holds damaged base64 data") from None
            name = _value(part, "name") or _value(part, "cl") or _value(part, "fn") or f"part-{index}"
            media.append(InlineMedia(name=name, media_type=content_type, data=payload))
        single = "~" not in address
        if outgoing:
            sender = self.own_name
        elif single:
            sender = contact
        else:
            sender = sender_address or "?"
        return PhoneMessage(
            system=PhoneSystem.SMS,
            chat_id=address,
            chat_title=contact if single else (_value(element, "contact_name") or address.replace("~", ", ")),
            sender=sender,
            sent_at=_moment(element).astimezone(self.zone),
            text="\n".join(t for t in texts if t),
            media=tuple(m.name for m in media),
            inline_media=tuple(media),
            details={
                "type": "mms",
                "direction": "out" if outgoing else "in",
                "address": address,
                "box": element.get("msg_box"),
                "subject": _value(element, "sub"),
            },
        )


def looks_like_sms_backup(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() != ".xml":
        return False
    with path.open("rb") as handle:
        head = handle.read(2048)
    return b"<smses" in head or path.suffix.lower() == ".xml"

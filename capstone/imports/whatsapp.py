"""WhatsApp "Chat exporteren" / "Export chat": the text file and its media, as a zip or a folder.

Both platforms and their locales are read:

- Android: ``15-01-2026 09:15 - Jan de Vries: tekst`` (Dutch), ``15/01/2026, 09:15 - Jan: text``
  (English), ``1/15/26, 9:15 AM - Jan: text`` (US, 12-hour clock); media as
  ``IMG-20260115-WA0001.jpg (bestand bijgevoegd)`` / ``(file attached)``, or ``<Media weggelaten>`` /
  ``<Media omitted>`` in an export without media; system lines have no ``sender:``.
- iOS: ``[15-01-2026 09:15:42] Jan de Vries: tekst``, ``[1/15/26, 9:15:42 AM] Jan: text``; media as
  ``<bijgevoegd: 00000012-PHOTO-2026-01-15-09-15-42.jpg>`` / ``<attached: ...>``, ``afbeelding
  weggelaten`` / ``image omitted``; system lines start with a left-to-right mark.

A line that does not start a message continues the previous one (multi-line messages). Whether a
date is day-first or month-first is decided over the whole file in the validating pass (a field
above 12 settles it; otherwise ``-`` and ``.`` dates are day-first, ``/`` dates with a 12-hour clock
month-first, as WhatsApp writes them in those locales). Times are the phone's local time, read in
the import's time zone.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, cast
from zoneinfo import ZoneInfo

from capstone.imports.model import ExportSummary, ImportRefused, PhoneMessage, PhoneSystem

_LRM = "\u200e"
_SPACES = "[ \u202f\u00a0]"
_DATE = r"(?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})[./-](?P<c>\d{2,4})"
_TIME = rf"(?P<h>\d{{1,2}})[:.](?P<m>\d{{2}})(?:[:.](?P<s>\d{{2}}))?(?:{_SPACES}?(?P<ampm>[AaPp]\.?{_SPACES}?[Mm]\.?))?"
_ANDROID = re.compile(rf"^{_LRM}?{_DATE},?{_SPACES}{_TIME}{_SPACES}-{_SPACES}(?P<rest>.*)$")
_IOS = re.compile(rf"^{_LRM}?\[{_DATE},?{_SPACES}{_TIME}\]{_SPACES}(?P<rest>.*)$")
_ATTACHED_ANDROID = re.compile(r"^(?P<name>[^\n<>/\\]+?\.\w{1,5})\s\((?:bestand bijgevoegd|file attached)\)$")
_ATTACHED_IOS = re.compile(rf"{_LRM}?<(?:bijgevoegd|attached|Anhang): (?P<name>[^<>\n]+)>")
_OMITTED = re.compile(
    r"^\u200e?(?:<Media weggelaten>|<Media omitted>|<Media ausgeschlossen>|"
    r"(?:afbeelding|video|audio|sticker|GIF|document|image|Kontaktkarte|contactkaart|Contact card)"
    r" (?:weggelaten|omitted))$",
    re.IGNORECASE,
)
_DELETED = re.compile(
    r"^\u200e?(?:Dit bericht is verwijderd|Je hebt dit bericht verwijderd|This message was deleted|"
    r"You deleted this message)\.?$"
)
_SYSTEM_VERB = re.compile(
    r" (?:heeft|hebt|has|have|changed|created|added|removed|left|joined|wijzigde|maakte) ", re.IGNORECASE
)
_TITLE = re.compile(r"^WhatsApp[ -][Cc]hat(?: met| with| -)? ?(?P<title>.+)$")
_TEXT_NAMES = ("_chat.txt",)


def chat_title_from_name(name: str) -> str:
    """``WhatsApp Chat met Jan de Vries.txt`` -> ``Jan de Vries`` (else the file's stem)."""
    stem = Path(name).stem
    match = _TITLE.match(stem)
    return (match.group("title") if match else stem).strip() or stem


@dataclass
class _DateOrder:
    day_first: bool | None = None  # None: undecided
    slash_ampm: bool = False
    dash: bool = False

    def observe(self, match: re.Match[str]) -> None:
        a, b = int(match.group("a")), int(match.group("b"))
        if len(match.group("a")) == 4:
            return  # year first: 2026-01-15, unambiguous
        if a > 12:
            self.day_first = True
        elif b > 12:
            self.day_first = False
        if match.group("sep") in "-.":
            self.dash = True
        elif match.group("ampm"):
            self.slash_ampm = True

    def decided(self) -> bool:
        if self.day_first is not None:
            return self.day_first
        return not (self.slash_ampm and not self.dash)


def _moment(match: re.Match[str], day_first: bool, zone: ZoneInfo) -> datetime:
    a, b, c = match.group("a"), match.group("b"), match.group("c")
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    else:
        year = int(c) + (2000 if len(c) == 2 else 0)
        day, month = (int(a), int(b)) if day_first else (int(b), int(a))
    hour, minute = int(match.group("h")), int(match.group("m"))
    second = int(match.group("s") or 0)
    ampm = (match.group("ampm") or "").lower().replace(".", "").replace(" ", "").replace("\u202f", "")
    if ampm:
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


def _header(line: str) -> tuple[re.Match[str], str] | None:
    for pattern, platform in ((_IOS, "ios"), (_ANDROID, "android")):
        match = pattern.match(line)
        if match:
            return match, platform
    return None


@dataclass
class _Raw:
    match: re.Match[str]
    platform: str
    lines: list[str]


class WhatsAppExport:
    """A WhatsApp export: ``.zip`` (text file and media), a folder, or the text file alone."""

    system = PhoneSystem.WHATSAPP

    def __init__(self, path: Path, *, timezone: str, chat_title: str | None = None) -> None:
        self.path = path
        self.zone = ZoneInfo(timezone)
        self._zip: zipfile.ZipFile | None = None
        self._media: dict[str, str] = {}  # name -> zip member or file path
        self._day_first = True
        self._validated = False
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".txt")
            if len(files) != 1:
                raise ImportRefused(
                    f"{path}: a WhatsApp export folder holds one chat text file, found {len(files)}"
                )
            self._text_name = files[0].name
            self._media = {p.name: str(p) for p in path.iterdir() if p.is_file() and p != files[0]}
            self.chat_title = chat_title or chat_title_from_name(
                files[0].name if files[0].name not in _TEXT_NAMES else path.name
            )
        elif path.suffix.lower() == ".zip" and not zipfile.is_zipfile(path):
            raise ImportRefused(f"{path}: damaged zip file (no readable central directory)")
        elif zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
                names = [i.filename for i in self._zip.infolist() if not i.is_dir()]
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise ImportRefused(f"{path}: damaged zip file ({exc})") from None
            texts: list[str] = [n for n in names if n.lower().endswith(".txt") and "/" not in n.strip("/")]
            if len(texts) != 1:
                raise ImportRefused(f"{path}: not a WhatsApp export (expected one chat .txt in the zip)")
            self._text_name = texts[0]
            self._media = {Path(n).name: n for n in names if n != texts[0]}
            self.chat_title = chat_title or chat_title_from_name(
                texts[0] if texts[0] not in _TEXT_NAMES else path.name
            )
        elif path.is_file():
            self._text_name = path.name
            self.chat_title = chat_title or chat_title_from_name(path.name)
        else:
            raise ImportRefused(f"{path}: no such file or folder")

    def originals(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.is_file())
        return [self.path]

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    # -- reading -----------------------------------------------------------------------------------

    def _open_text(self) -> BinaryIO:
        if self._zip is not None:
            return cast(BinaryIO, self._zip.open(self._text_name))
        if self.path.is_dir():
            return (self.path / self._text_name).open("rb")
        return self.path.open("rb")

    def _lines(self) -> Iterator[str]:
        with self._open_text() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline=None)
            for line in text:
                yield line.rstrip("\n")

    def _raw_messages(self) -> Iterator[_Raw]:
        current: _Raw | None = None
        for number, line in enumerate(self._lines(), start=1):
            found = _header(line)
            if found is not None:
                if current is not None:
                    yield current
                current = _Raw(found[0], found[1], [found[0].group("rest")])
            elif current is None:
                if line.strip():
                    raise ImportRefused(
                        f"{self.path}: line {number} is not a WhatsApp message line: not a WhatsApp chat export"
                    )
            else:
                current.lines.append(line)
        if current is not None:
            yield current

    def validate(self) -> ExportSummary:
        summary = ExportSummary(media_files=len(self._media))
        order = _DateOrder()
        try:
            if self._zip is not None:
                bad = self._zip.testzip()
                if bad is not None:
                    raise ImportRefused(f"{self.path}: damaged zip file (member {bad} fails its CRC check)")
            for raw in self._raw_messages():
                order.observe(raw.match)
                summary.messages += 1
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ImportRefused(f"{self.path}: damaged zip file ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ImportRefused(f"{self.path}: the chat text is not UTF-8 ({exc.reason})") from None
        if summary.messages == 0:
            raise ImportRefused(f"{self.path}: no messages: not a WhatsApp chat export")
        self._day_first = order.decided()
        self._validated = True
        for message in self.messages():
            if not message.system_message:
                summary.chats.setdefault(message.chat_id, set()).add(message.sender)
            summary.chats.setdefault(message.chat_id, set())
            summary.media_referenced += len(message.media)
        return summary

    def messages(self) -> Iterator[PhoneMessage]:
        if not self._validated:
            raise RuntimeError("validate() first: it decides the date order")
        for raw in self._raw_messages():
            try:
                moment = _moment(raw.match, self._day_first, self.zone)
            except ValueError as exc:
                raise ImportRefused(
                    f"{self.path}: impossible date in {raw.match.group(0)[:40]!r}: {exc}"
                ) from None
            yield self._message(raw, moment)

    def _message(self, raw: _Raw, moment: datetime) -> PhoneMessage:
        first = raw.lines[0]
        sender, body_first = "", first
        system = False
        if ": " in first:
            sender, body_first = first.split(": ", 1)
            sender = sender.strip(_LRM).strip()
            if _SYSTEM_VERB.search(sender):  # "Jan heeft het onderwerp gewijzigd naar: ..." has no sender
                sender, body_first, system = "", first, True
        else:
            system = True
        lines = [body_first, *raw.lines[1:]]
        text = "\n".join(lines)
        if raw.platform == "ios" and sender and body_first.startswith(_LRM) and len(lines) == 1:
            # iOS writes system lines as "<chat>: \u200e<text>"; attachments and markers also carry
            # the mark, so only a marked line that is none of those is a system message.
            plain = body_first.strip(_LRM).strip()
            system = not (_ATTACHED_IOS.search(body_first) or _OMITTED.match(plain) or _DELETED.match(plain))
        media: list[str] = []
        if raw.platform == "ios":
            for match in _ATTACHED_IOS.finditer(text):
                media.append(match.group("name").strip())
            text = _ATTACHED_IOS.sub("", text)
        else:
            kept = []
            for line in lines:
                attached = _ATTACHED_ANDROID.match(line.strip(_LRM))
                if attached:
                    media.append(attached.group("name"))
                else:
                    kept.append(line)
            text = "\n".join(kept)
        text = text.strip("\n").strip(_LRM) if media else text.strip(_LRM)
        omitted = bool(_OMITTED.match(text.strip()))
        deleted = bool(_DELETED.match(text.strip()))
        if system:
            sender = ""
        return PhoneMessage(
            system=PhoneSystem.WHATSAPP,
            chat_id=self.chat_title,
            chat_title=self.chat_title,
            sender=sender,
            sent_at=moment,
            text=text,
            system_message=system,
            deleted=deleted,
            media_omitted=omitted,
            media=tuple(media),
            details={"platform": raw.platform},
        )

    def open_media(self, name: str) -> BinaryIO | None:
        member = self._media.get(name)
        if member is None:
            return None
        if self._zip is not None:
            return cast(BinaryIO, self._zip.open(member))
        return Path(member).open("rb")


def looks_like_whatsapp(path: Path) -> bool:
    """A cheap guess from the name and the first lines (the service refuses what no parser takes)."""
    if path.is_dir():
        return any(p.suffix.lower() == ".txt" for p in path.iterdir())
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return any(n.lower().endswith(".txt") for n in archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return True  # a damaged zip: the WhatsApp parser refuses it with a clear line
    if path.suffix.lower() != ".txt":
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).decode("utf-8", "replace").lstrip("\ufeff")
    return any(_header(line) for line in head.splitlines()[:5])

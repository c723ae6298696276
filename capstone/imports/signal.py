"""Signal Desktop chats as exported by ``signal-export`` (``sigexport``).

Its output is one folder per chat, named after the contact or group, holding ``chat.md`` (Markdown),
``data.json`` (one JSON object per line: ``date`` (ISO, the desktop's local time without a zone),
``sender``, ``body``, ``quote``, ``sticker``, ``reactions``, ``attachments`` (``name``, ``path``
relative to the chat folder), ``deleted``, ``call``, ``missed``), ``index.html`` and ``media/``.
This importer reads ``data.json`` (the Markdown is the same content, less exactly) and accepts the
export's root folder (every chat), one chat folder, or either zipped.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast
from zoneinfo import ZoneInfo

from capstone.imports.model import ExportSummary, ImportRefused, PhoneMessage, PhoneSystem

DATA_NAME = "data.json"


class SignalExport:
    system = PhoneSystem.SIGNAL

    def __init__(self, path: Path, *, timezone: str) -> None:
        self.path = path
        self.zone = ZoneInfo(timezone)
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            files = sorted(str(p.relative_to(path).as_posix()) for p in path.rglob(DATA_NAME))
        elif zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ImportRefused(f"{path}: damaged zip file ({exc})") from None
            files = sorted(n for n in self._zip.namelist() if PurePosixPath(n).name == DATA_NAME)
        else:
            raise ImportRefused(f"{path}: a signal-export output is a folder (or zip) with <chat>/data.json")
        if not files:
            raise ImportRefused(f"{path}: no {DATA_NAME}: not a signal-export output")
        self._data_files = files

    def originals(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.rglob("*") if p.is_file())
        return [self.path]

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def _open(self, relative: str) -> BinaryIO:
        if self._zip is not None:
            return cast(BinaryIO, self._zip.open(relative))
        return (self.path / relative).open("rb")

    def _chat_of(self, data_file: str) -> str:
        parent = PurePosixPath(data_file).parent
        if parent.name:
            return parent.name
        return self.path.stem if self._zip is not None else self.path.name

    def _documents(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for data_file in self._data_files:
            chat = self._chat_of(data_file)
            with self._open(data_file) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict")
                for number, line in enumerate(text, start=1):
                    if not line.strip():
                        continue
                    try:
                        document = json.loads(line)
                    except ValueError:
                        raise ImportRefused(f"{self.path}: {data_file} line {number} is not JSON") from None
                    if not isinstance(document, dict) or "date" not in document:
                        raise ImportRefused(f"{self.path}: {data_file} line {number} is not a message")
                    yield data_file, chat, document

    def validate(self) -> ExportSummary:
        summary = ExportSummary()
        try:
            if self._zip is not None and self._zip.testzip() is not None:
                raise ImportRefused(f"{self.path}: damaged zip file (a member fails its CRC check)")
            for message in self.messages():
                summary.messages += 1
                summary.chats.setdefault(message.chat_id, set()).add(message.sender)
                summary.media_referenced += len(message.media)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise ImportRefused(f"{self.path}: damaged export ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ImportRefused(f"{self.path}: data.json is not UTF-8 ({exc.reason})") from None
        return summary

    def messages(self) -> Iterator[PhoneMessage]:
        for data_file, chat, doc in self._documents():
            try:
                moment = datetime.fromisoformat(str(doc["date"]))
            except ValueError:
                raise ImportRefused(f"{self.path}: {data_file}: bad date {str(doc['date'])[:30]!r}") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.zone)
            folder = PurePosixPath(data_file).parent
            media = []
            for attachment in doc.get("attachments") or []:
                if isinstance(attachment, dict) and attachment.get("path"):
                    media.append(str(folder / str(attachment["path"]).removeprefix("./")))
            reactions = [list(r) if isinstance(r, list | tuple) else r for r in doc.get("reactions") or []]
            body = str(doc.get("body") or "")
            yield PhoneMessage(
                system=PhoneSystem.SIGNAL,
                chat_id=chat,
                chat_title=chat,
                sender=str(doc.get("sender") or ""),
                sent_at=moment,
                text=body,
                deleted=bool(doc.get("deleted")),
                media=tuple(media),
                details={
                    k: v
                    for k, v in {
                        "quote": doc.get("quote") or None,
                        "reactions": reactions or None,
                        "call": bool(doc.get("call")) or None,
                        "missed": bool(doc.get("missed")) or None,
                        "sticker": (doc.get("sticker") or {}).get("emoji")
                        if isinstance(doc.get("sticker"), dict)
                        else None,
                    }.items()
                    if v is not None
                },
            )

    def open_media(self, name: str) -> BinaryIO | None:
        if self._zip is not None:
            try:
                return cast(BinaryIO, self._zip.open(name))
            except KeyError:
                return None
        candidate = (self.path / name).resolve()
        if not candidate.is_file() or not candidate.is_relative_to(self.path.resolve()):
            return None
        return candidate.open("rb")


def looks_like_signal(path: Path) -> bool:
    if path.is_dir():
        return (path / DATA_NAME).is_file() or any(path.glob(f"*/{DATA_NAME}"))
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return any(PurePosixPath(n).name == DATA_NAME for n in archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False

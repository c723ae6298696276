"""A self-contained HTML transcript of one Teams chat, from the vault alone.

Everything comes from the vault's records and blobs: the chat's metadata, every captured version of
every message, inline images (embedded as ``data:`` URIs, so the file opens anywhere, offline), the
reference attachments that were recorded but not captured. Each message shows its current state
with edits and deletions visibly marked (``bewerkt``, ``verwijderd``) and, under it, every version
the archive holds, oldest first: what a message said before it was edited or deleted stays
readable. All source content is escaped; the page loads nothing from elsewhere (its Content Security
Policy allows only inline styles and ``data:`` images).
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from capstone import __version__
from capstone.chats.archive import (
    ArchivedChat,
    ArchivedMessage,
    MessageVersion,
    list_chats,
    load_chat,
    parse_stamp,
)
from capstone.chats.sanitize import sanitize_html, text_to_html
from vault import Vault

TIMEZONE = ZoneInfo("Europe/Amsterdam")
_HOSTED_SRC = re.compile(r"/chats/[^/]+/messages/([^/]+)/hostedContents/([^/]+)/\$value")
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
_CHAT_TYPES = {"oneOnOne": "1-op-1-chat", "group": "groepschat", "meeting": "vergaderchat"}
_REACTIONS = {
    "like": ("\N{THUMBS UP SIGN}", "duim omhoog"),
    "heart": ("\N{HEAVY BLACK HEART}", "hartje"),
    "laugh": ("\N{SMILING FACE WITH OPEN MOUTH AND TIGHTLY-CLOSED EYES}", "lach"),
    "surprised": ("\N{FACE WITH OPEN MOUTH}", "verbaasd"),
    "sad": ("\N{CRYING FACE}", "verdrietig"),
    "angry": ("\N{POUTING FACE}", "boos"),
}
_VERSION_LABELS = {
    "original": "origineel",
    "edited": "bewerkt",
    "edited-before": "bewerkt (vóór de eerste vastlegging)",
    "deleted": "verwijderd",
    "deleted-before": "verwijderd (vóór de eerste vastlegging)",
    "restored": "hersteld",
    "reactions": "reacties gewijzigd",
    "changed": "gewijzigd",
}
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:60rem;color:#1b1b1b;line-height:1.45}
header.chat{border-bottom:2px solid #444;margin-bottom:1.5rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dl.meta dt{font-weight:600}
article.message{border:1px solid #ccc;border-radius:6px;padding:.6rem .9rem;margin:.8rem 0}
article.system{background:#f4f4f4;color:#555;font-style:italic}
article.deleted{border-color:#b00020;background:#fff6f6}
article.edited{border-left:4px solid #c77700}
.sender{font-weight:600}.when{color:#555;margin-left:.5rem;font-size:.9em}
.badge{display:inline-block;font-size:.75em;font-weight:700;text-transform:uppercase;border-radius:3px;padding:0 .35rem;margin-left:.4rem}
.badge.edited{background:#c77700;color:#fff}.badge.deleted{background:#b00020;color:#fff}
.deleted-note{color:#b00020;font-weight:600}
.deleted-content{text-decoration:line-through;color:#666}
.reactions{font-size:.9em;color:#333;margin-top:.3rem}
.reference{background:#eef3fb;border-radius:3px;padding:0 .3rem}
.note,.provenance{color:#666;font-size:.8em}
details.versions{margin-top:.5rem;font-size:.92em}
li.version{margin:.4rem 0;padding-left:.3rem;border-left:3px solid #ddd}
li.version.deleted{border-left-color:#b00020}li.version.edited{border-left-color:#c77700}
img.inline-image{max-width:100%;height:auto;border:1px solid #ddd}
.mention{color:#2b4fa8;font-weight:600}
footer{margin-top:2rem;border-top:1px solid #ccc;color:#555;font-size:.85em}
"""


@dataclass(frozen=True)
class TranscriptInfo:
    chat_id: str
    title: str
    messages: int
    versions: int
    images: int
    path: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def format_moment(stamp: str | None) -> str:
    moment = parse_stamp(stamp)
    if moment is None:
        return "onbekend tijdstip"
    return moment.astimezone(TIMEZONE).strftime("%d-%m-%Y %H:%M:%S")


def _time(stamp: str | None) -> str:
    return f'<time datetime="{_e(stamp or "")}">{_e(format_moment(stamp))}</time>'


def _duration(value: str | None) -> str:
    match = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", value or "")
    if not value or not match:
        return value or ""
    days, hours, minutes, seconds = match.groups()
    parts = []
    if days:
        parts.append(f"{int(days)} d")
    if hours:
        parts.append(f"{int(hours)} u")
    if minutes:
        parts.append(f"{int(minutes)} min")
    if seconds:
        parts.append(f"{round(float(seconds))} s")
    return " ".join(parts) or "0 s"


def classify(previous: dict[str, Any] | None, current: dict[str, Any]) -> str:
    """What a version changed compared with the version before it."""
    deleted = bool(current.get("deletedDateTime"))
    if previous is None:
        if deleted:
            return "deleted-before"
        return "edited-before" if current.get("lastEditedDateTime") else "original"
    was_deleted = bool(previous.get("deletedDateTime"))
    if deleted and not was_deleted:
        return "deleted"
    if was_deleted and not deleted:
        return "restored"
    if current.get("lastEditedDateTime") != previous.get("lastEditedDateTime") or current.get(
        "body"
    ) != previous.get("body"):
        return "edited"
    if current.get("reactions") != previous.get("reactions"):
        return "reactions"
    return "changed"


class _Renderer:
    def __init__(self, vault: Vault, chat: ArchivedChat) -> None:
        self.vault = vault
        self.chat = chat
        self.names = chat.member_names()
        self._images: dict[tuple[str, str], str | None] = {}
        self.images_embedded: set[tuple[str, str]] = set()

    # -- helpers -----------------------------------------------------------------------------------

    def person(self, identity: dict[str, Any] | None) -> str:
        identity = identity or {}
        for kind in ("user", "application", "device"):
            who = identity.get(kind) or {}
            if who:
                name = who.get("displayName") or self.names.get(str(who.get("id")))
                if name:
                    return str(name) + (" (app)" if kind == "application" else "")
                return str(who.get("id") or "onbekend")
        return "onbekend"

    def image(self, src: str) -> str | None:
        match = _HOSTED_SRC.search(src)
        if match is None:
            return None
        key = (unquote(match.group(1)), unquote(match.group(2)))
        if key not in self._images:
            hosted = self.chat.hosted.get(key)
            uri = None
            if hosted is not None and hosted.media_type.split(";")[0].strip().lower() in _IMAGE_TYPES:
                data = self.vault.read_blob(hosted.blob_sha256)
                media = hosted.media_type.split(";")[0].strip().lower()
                uri = f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"
            self._images[key] = uri
        if self._images[key] is not None:
            self.images_embedded.add(key)
        return self._images[key]

    def attachment(self, message: dict[str, Any], attachment_id: str) -> str | None:
        for attachment in message.get("attachments") or []:
            if str(attachment.get("id")) == attachment_id:
                return self.attachment_html(message, attachment)
        return None

    def attachment_html(self, message: dict[str, Any], attachment: dict[str, Any]) -> str:
        name = attachment.get("name") or attachment.get("id") or "bijlage"
        url = attachment.get("contentUrl") or ""
        if attachment.get("contentType") == "reference":
            recorded = (str(message.get("id")), str(attachment.get("id"))) in self.chat.references
            note = "bestand niet gearchiveerd" + ("; vastgelegd als bronverwijzing" if recorded else "")
            return (
                f'<span class="reference" data-attachment-id="{_e(attachment.get("id"))}">'
                f'\N{PAPERCLIP} {_e(name)} <span class="note">({note}: {_e(url)})</span></span>'
            )
        return (
            f'<span class="reference" data-attachment-id="{_e(attachment.get("id"))}">'
            f'\N{PAPERCLIP} {_e(name)} <span class="note">({_e(attachment.get("contentType") or "bijlage")}'
            f"{': ' + _e(url) if url else ''})</span></span>"
        )

    def body(self, message: dict[str, Any]) -> str:
        body = message.get("body") or {}
        content = str(body.get("content") or "")
        rendered: set[str] = set()

        def inline(attachment_id: str) -> str:
            found = self.attachment(message, attachment_id)
            if found is None:
                return ""
            rendered.add(attachment_id)
            return found

        if str(body.get("contentType") or "text").lower() == "html":
            out = sanitize_html(content, resolve_image=self.image, render_attachment=inline)
        else:
            out = text_to_html(content)
        extra = [
            self.attachment_html(message, a)
            for a in message.get("attachments") or []
            if str(a.get("id")) not in rendered
        ]
        if extra:
            out += '<div class="attachments">' + " ".join(extra) + "</div>"
        return out

    def reactions(self, message: dict[str, Any]) -> str:
        reactions = message.get("reactions") or []
        if not reactions:
            return ""
        grouped: dict[str, list[str]] = {}
        for reaction in reactions:
            grouped.setdefault(str(reaction.get("reactionType") or "?"), []).append(
                self.person(reaction.get("user"))
            )
        parts = []
        for kind, people in grouped.items():
            symbol, label = _REACTIONS.get(kind, (kind, kind))
            parts.append(
                f'<span class="reaction" data-reaction="{_e(kind)}" title="{_e(label)}">{_e(symbol)} '
                f"{len(people)} ({_e(', '.join(people))})</span>"
            )
        return '<div class="reactions">Reacties: ' + " · ".join(parts) + "</div>"

    def system_event(self, message: dict[str, Any]) -> str:
        detail = message.get("eventDetail") or {}
        kind = str(detail.get("@odata.type") or "").rsplit(".", 1)[-1]
        initiator = self.person(detail.get("initiator")) if detail.get("initiator") else "iemand"

        def members() -> str:
            names = [
                str(m.get("displayName") or self.names.get(str(m.get("id"))) or m.get("id"))
                for m in detail.get("members") or []
            ]
            return ", ".join(names) or "deelnemers"

        if kind == "membersAddedEventMessageDetail":
            return f"{initiator} heeft {members()} aan de chat toegevoegd."
        if kind == "membersDeletedEventMessageDetail":
            return f"{initiator} heeft {members()} uit de chat verwijderd."
        if kind == "membersJoinedEventMessageDetail":
            return f"{members()} zijn de chat binnengekomen."
        if kind == "membersLeftEventMessageDetail":
            return f"{members()} hebben de chat verlaten."
        if kind == "callStartedEventMessageDetail":
            return f"{initiator} is een gesprek begonnen."
        if kind == "callEndedEventMessageDetail":
            return f"Gesprek beëindigd (duur {_duration(detail.get('callDuration'))})."
        if kind == "chatRenamedEventMessageDetail":
            return f"{initiator} heeft de chat hernoemd naar “{detail.get('chatDisplayName') or ''}”."
        return f"Systeemgebeurtenis: {kind or 'onbekend'}."

    # -- messages ----------------------------------------------------------------------------------

    def message(self, archived: ArchivedMessage) -> str:
        current = archived.current
        versions = archived.versions
        kinds = [classify(versions[i - 1].message if i else None, v.message) for i, v in enumerate(versions)]
        deleted = bool(current.get("deletedDateTime"))
        edited = any(k in ("edited", "edited-before") for k in kinds) or bool(
            current.get("lastEditedDateTime")
        )
        is_system = str(current.get("messageType")) in ("systemEventMessage", "unknownFutureValue") and bool(
            current.get("eventDetail")
        )
        classes = ["message"] + (["system"] if is_system else []) + (["edited"] if edited else [])
        classes += ["deleted"] if deleted else []
        head = [
            f'<span class="sender">{_e("Systeem" if is_system else self.person(current.get("from")))}</span>'
        ]
        head.append(f'<span class="when">{_time(str(current.get("createdDateTime") or ""))}</span>')
        if edited:
            head.append(
                f'<span class="badge edited" data-marker="bewerkt" title="laatst bewerkt '
                f'{_e(format_moment(current.get("lastEditedDateTime")))}">bewerkt</span>'
            )
        if deleted:
            head.append('<span class="badge deleted" data-marker="verwijderd">verwijderd</span>')
        parts = [
            f'<article class="{" ".join(classes)}" id="m-{_e(archived.message_id)}" '
            f'data-message-id="{_e(archived.message_id)}" data-versions="{len(versions)}">',
            "<header>" + " ".join(head) + "</header>",
        ]
        if current.get("replyToId"):
            reply = str(current["replyToId"])
            parts.append(
                f'<div class="note">Antwoord op <a href="#m-{_e(reply)}">bericht {_e(reply)}</a></div>'
            )
        if is_system:
            parts.append(f'<div class="body system-event">{_e(self.system_event(current))}</div>')
        elif deleted:
            parts.append(
                f'<p class="deleted-note">Dit bericht is verwijderd op {_e(format_moment(current.get("deletedDateTime")))}.</p>'
            )
            before = [v for v in versions if not v.message.get("deletedDateTime")]
            if before:
                parts.append(
                    '<div class="note">Inhoud vóór de verwijdering, zoals vastgelegd in het archief:</div>'
                    f'<div class="body deleted-content">{self.body(before[-1].message)}</div>'
                )
            else:
                parts.append('<div class="note">De inhoud is niet vastgelegd vóór de verwijdering.</div>')
        else:
            parts.append(f'<div class="body">{self.body(current)}</div>')
        parts.append(self.reactions(current))
        parts.append(self.history(versions, kinds, open_=edited or deleted, system=is_system))
        parts.append("</article>")
        return "\n".join(p for p in parts if p)

    def history(self, versions: list[MessageVersion], kinds: list[str], *, open_: bool, system: bool) -> str:
        items = []
        for version, kind in zip(versions, kinds, strict=True):
            message = version.message
            css = "deleted" if kind.startswith("deleted") else "edited" if kind.startswith("edited") else kind
            if system:
                content = f'<div class="body system-event">{_e(self.system_event(message))}</div>'
            elif kind.startswith("deleted"):
                content = '<div class="note">(inhoud verwijderd in de bron)</div>'
            elif kind in ("reactions", "changed"):
                content = '<div class="note">(inhoud ongewijzigd)</div>'
            else:
                content = f'<div class="body">{self.body(message)}</div>'
            record = version.record
            items.append(
                f'<li class="version {_e(css)}" data-kind="{_e(kind)}" data-version="{_e(version.version)}" '
                f'data-record-id="{_e(record.record_id)}" data-blob-sha256="{_e(record.blob_sha256 or "")}">'
                f'<span class="version-label">{_e(_VERSION_LABELS[kind])}</span> {_time(version.version)}'
                f"{content}{self.reactions(message)}"
                f'<div class="provenance">record {_e(record.record_id[:16])}…, vastgelegd '
                f"{_e(format_moment(str(record.capture.get('captured_at') or '')))}"
                f" (run {_e(record.capture.get('run_id') or '?')})</div></li>"
            )
        return (
            f'<details class="versions"{" open" if open_ else ""}><summary>Versies in het archief '
            f"({len(versions)})</summary><ol>{''.join(items)}</ol></details>"
        )

    # -- page --------------------------------------------------------------------------------------

    def page(self, generated_at: datetime) -> tuple[str, TranscriptInfo]:
        chat = self.chat
        messages = chat.ordered_messages()
        body = "\n".join(self.message(m) for m in messages)
        versions = sum(len(m.versions) for m in messages)
        created = [m.created for m in messages]
        members = ", ".join(
            _e(m.get("displayName") or "?") + (f" &lt;{_e(m['email'])}&gt;" if m.get("email") else "")
            for m in chat.members
        )
        meta = [
            ("Chat", f"<code>{_e(chat.chat_id)}</code>"),
            ("Soort", _e(_CHAT_TYPES.get(chat.chat_type or "", chat.chat_type or "onbekend"))),
            ("Onderwerp", _e(chat.topic or "(geen onderwerp)")),
            ("Deelnemers", members or "onbekend"),
            ("Aanwijzing in de records", _e(", ".join(sorted(chat.officials)) or "onbekend")),
            ("Berichten", str(len(messages))),
            ("Versies", str(versions)),
            ("Afbeeldingen", str(len(self.images_embedded))),
            (
                "Periode",
                f"{_e(format_moment(min(created)))} – {_e(format_moment(max(created)))}" if created else "-",
            ),
            ("Samengesteld", _e(format_moment(generated_at.isoformat()))),
        ]
        title = f"Chattranscript: {chat.title()}"
        html_text = "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="nl">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta http-equiv="Content-Security-Policy" '
                "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f'<meta name="generator" content="Capstone {_e(__version__)}">',
                f"<title>{_e(title)}</title>",
                f"<style>{_STYLE}</style>",
                "</head>",
                f'<body data-chat-id="{_e(chat.chat_id)}">',
                '<header class="chat">',
                f"<h1>{_e(title)}</h1>",
                '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta) + "</dl>",
                '<p class="note">Samengesteld uit de write-once kluis van Capstone, zonder de bron te '
                "raadplegen. Elk bericht toont de huidige stand; <b>bewerkt</b> en <b>verwijderd</b> "
                "markeren wijzigingen in de bron. Onder elk bericht staan alle versies die het archief "
                "bevat, oudste eerst. Tijden in Nederlandse tijd.</p>",
                "</header>",
                '<main class="transcript">',
                body,
                "</main>",
                "<footer>Bron: Microsoft Teams (Microsoft Graph), vastgelegd door Capstone "
                f"{_e(__version__)}. De integriteit van de kluis is te controleren met "
                "<code>capstone vault verify</code>.</footer>",
                "</body>",
                "</html>",
                "",
            ]
        )
        info = TranscriptInfo(chat.chat_id, chat.title(), len(messages), versions, len(self.images_embedded))
        return html_text, info


def render_transcript(
    vault: Vault, chat_id: str, *, generated_at: datetime | None = None
) -> tuple[str, TranscriptInfo]:
    """The transcript's HTML and what it contains; raises ChatNotFoundError for an unknown chat."""
    renderer = _Renderer(vault, load_chat(vault, chat_id))
    return renderer.page(generated_at or datetime.now(UTC))


def write_transcript(vault: Vault, chat_id: str, path: Path, *, overwrite: bool = True) -> TranscriptInfo:
    """Write the transcript to ``path``; with ``overwrite=False`` an existing file is never replaced
    (:class:`FileExistsError`, also when another process creates it meanwhile)."""
    text, info = render_transcript(vault, chat_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    if overwrite:
        tmp.replace(path)
    else:
        try:
            os.link(tmp, path)  # fails when the name exists: never replaces a file
        except FileExistsError:
            raise FileExistsError(f"{path} exists: not overwritten (--force replaces it)") from None
        finally:
            tmp.unlink(missing_ok=True)
    return TranscriptInfo(info.chat_id, info.title, info.messages, info.versions, info.images, str(path))


def transcript_filename(title: str, chat_id: str) -> str:
    """A readable, safe file name: the chat's title as ASCII, and a short hash of its id."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_title).strip("-").lower()[:60] or "chat"
    return f"{slug}-{hashlib.sha256(chat_id.encode('utf-8')).hexdigest()[:8]}.html"


def write_transcripts(vault: Vault, directory: Path, only: set[str] | None = None) -> list[TranscriptInfo]:
    """A transcript of every chat the vault holds (of those in ``only``, when given), one file each
    in ``directory``."""
    written = []
    for summary in list_chats(vault):
        if only is not None and summary.chat_id not in only:
            continue
        title = summary.topic or ", ".join(summary.members) or summary.chat_id
        path = directory / transcript_filename(title, summary.chat_id)
        written.append(write_transcript(vault, summary.chat_id, path))
    return sorted(written, key=lambda info: (info.title.lower(), info.chat_id))

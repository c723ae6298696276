"""A Woo export: the documents a case's searches found, as files a legal assessment can work from.

Per document: the original (EML for mail, the captured JSON for a chat, a calendar event, contact or
task, the opaque stream for other items), a readable HTML rendition (not for opaque streams), each
mail attachment as a document of its own (same Family; the parts are those of the one MIME walker
the index uses, so attachment ``N`` is index document ``<record_id>:N``), and
``inventarislijst.csv``/``.xlsx``.

Duplicates are exact: copies with the same bytes (SHA-256) in several key officials' mailboxes become
one document listing every source, and each other copy gets a row marked "dubbel" that points to it.
Messages that share a Message-ID but differ in their bytes (resent mail, list copies, bounces) are
each exported, the later ones "related" (column Gerelateerd ID) to the first.

An export is all or nothing: it is written into a temporary folder beside ``out``, verified, and
only then renamed into place; a failure removes the folder and raises :class:`ExportError` naming
the document. A rendition that fails never costs the original: the original is exported and the
failure is recorded in the manifest and the inventarislijst (Toelichting). ``manifest.json`` names
every file's SHA-256 and the vault records it came from, so :func:`verify_export` can prove later
that nothing was changed, added or left out.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from capstone.chats.archive import load_chat
from capstone.chats.transcript import write_transcript
from capstone.index.model import IndexDocument, SearchHit, SearchIndex
from capstone.logging import get_logger
from capstone.mime.walker import Attachment, Walk, parse, walk
from capstone.woo.fixity import DirectoryCheck, sha256_of_file
from capstone.woo.inventory import InventoryRow, write_csv, write_xlsx
from capstone.woo.rendition import TITLES, render_entity, render_mail
from vault import Vault

EXPORT_FORMAT = "capstone-woo-export/1"
ENTITY_FILE_TYPES = {"event": "afspraak", "contact": "contactpersoon", "task": "taak"}
MANIFEST = "manifest.json"
MAX_NAME_BYTES = 200  # of a file name (most file systems allow 255), the extension kept
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)

log = get_logger("woo.export")


class ExportError(ValueError):
    """An export that could not be completed; nothing of it is left behind."""


@dataclass
class ExportedFile:
    path: str
    sha256: str
    size: int
    role: str  # original | attachment | rendition | inventory
    document_id: int | None = None
    record_ids: list[str] = field(default_factory=list)
    blob_sha256: str | None = None
    duplicate_records: list[str] = field(default_factory=list)  # the "dubbel" copies in other mailboxes
    rendition_error: str | None = None  # why the original has no rendition (originals only)
    related_to: int | None = None  # a message with the same Message-ID but other bytes

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExportReport:
    case_ref: str
    directory: str
    documents: int = 0
    duplicates: int = 0
    files: list[ExportedFile] = field(default_factory=list)
    rows: list[InventoryRow] = field(default_factory=list)
    stale_removed: list[str] = field(default_factory=list)  # partial folders of killed exports

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case_ref,
            "directory": self.directory,
            "documents": self.documents,
            "duplicates": self.duplicates,
            "stale_partials_removed": self.stale_removed,
            "files": len(self.files),
            "bytes": sum(f.size for f in self.files),
            "inventory": [
                str(Path(self.directory) / "inventarislijst.csv"),
                str(Path(self.directory) / "inventarislijst.xlsx"),
            ],
        }


def _cut_bytes(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")[:limit]
    return encoded.decode("utf-8", "ignore")


def safe_name(name: str, fallback: str) -> str:
    """A file name that is safe on every file system an export is copied to: no path separators or
    control characters, no Windows reserved name (``CON``, ``NUL.txt``, ``com1.pdf`` get a leading
    underscore), at most :data:`MAX_NAME_BYTES` bytes in UTF-8, cut before the extension so it is
    kept."""
    name = unicodedata.normalize("NFC", name)
    cleaned = re.sub(r"[^\w.\- ]+", "_", name, flags=re.UNICODE).strip(" .")
    if not cleaned:
        return fallback
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > 16:
        stem, extension = cleaned, ""
    suffix = f".{extension}" if extension else ""
    if len(cleaned.encode("utf-8")) > MAX_NAME_BYTES:
        stem = _cut_bytes(stem, MAX_NAME_BYTES - len(suffix.encode("utf-8"))).rstrip(" .") or fallback
        cleaned = stem + suffix
    if _WINDOWS_RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    return cleaned


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def _source(doc: IndexDocument) -> str:
    place = doc.folder_path or doc.chat_id
    who = f"{doc.official} " if doc.official else ""
    return f"{who}<{doc.account}> {place}".strip()


class _Exporter:
    def __init__(
        self, vault: Vault, index: SearchIndex, case_ref: str, out: Path, excluded: Collection[str] = ()
    ) -> None:
        self.vault, self.index, self.case_ref, self.out = vault, index, case_ref, out
        self.excluded = frozenset(excluded)  # record ids of confirmed exclusions: never exported
        self.report = ExportReport(case_ref, str(out))
        self.next_id = 1
        self.threads: dict[str, int] = {}

    def _id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def _docnr(self, doc_id: int) -> str:
        return f"{self.case_ref}-{doc_id:05d}"

    def _thread(self, key: str) -> int | None:
        if not key:
            return None
        return self.threads.setdefault(key, len(self.threads) + 1)

    def _file(
        self, relative: str, role: str, doc_id: int | None, records: list[str], blob: str | None = None
    ) -> ExportedFile:
        sha, size = sha256_of_file(self.out / relative)
        entry = ExportedFile(relative, sha, size, role, doc_id, records, blob)
        self.report.files.append(entry)
        return entry

    def _original(self, doc: IndexDocument, sha256: str, extension: str) -> tuple[int, str, ExportedFile]:
        """A new document's folder with its original copied byte-exact from the vault (the SHA-256 is
        verified on the way): its number, its folder and the original's entry in the manifest."""
        doc_id = self._id()
        folder = f"documents/{doc_id:05d}"
        (self.out / folder).mkdir(parents=True, exist_ok=True)
        original = f"{folder}/{doc_id:05d}.{extension}"
        with open(self.out / original, "wb") as handle:
            self.vault.copy_blob_to(sha256, handle)
        return doc_id, folder, self._file(original, "original", doc_id, [doc.record_id], sha256)

    # -- mail ---------------------------------------------------------------------------------------

    def mail(self, copies: list[IndexDocument], related_to: int | None = None) -> int:
        """One exported mail from copies with identical bytes (the first is exported, the others are
        "dubbel" rows pointing to it); its number."""
        canonical = copies[0]
        assert canonical.blob_sha256 is not None
        doc_id, folder, entry = self._original(canonical, canonical.blob_sha256, "eml")
        entry.duplicate_records = [c.record_id for c in copies[1:]]
        entry.related_to = related_to
        thread = self._thread(canonical.thread_id or canonical.message_id)
        sources = [_source(c) for c in copies]
        notes: list[str] = []
        structure: Walk | None = None
        try:
            structure = walk(parse((self.out / entry.path).read_bytes()))
            rendition = f"{folder}/{doc_id:05d}.html"
            (self.out / rendition).write_text(
                render_mail(structure, canonical.subject, sources), encoding="utf-8"
            )
            self._file(rendition, "rendition", doc_id, [canonical.record_id])
            notes.extend(structure.problems())
        except Exception as exc:  # a rendition problem never costs the original
            entry.rendition_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            notes.append(f"rendition mislukt ({entry.rendition_error}); het origineel is geëxporteerd")
            log.warning("rendition_failed", record_id=canonical.record_id, error=type(exc).__name__)
        toelichting = "; ".join([canonical.subject, *notes]) if notes else canonical.subject
        if related_to is not None:
            toelichting = f"{toelichting} (zelfde Message-ID als {self._docnr(related_to)}, andere inhoud)"
        self.report.rows.append(
            InventoryRow(
                id=doc_id,
                document=self._docnr(doc_id),
                datum=_day(canonical.date),
                family=doc_id,
                thread_id=thread,
                bestandsnaam=f"{doc_id:05d}.eml",
                file_type="email",
                toelichting=toelichting[:500],
                gerelateerd_id=related_to,
                sources=sources,
                sha256=canonical.blob_sha256,
            )
        )
        self.report.documents += 1
        if structure is not None:
            for attachment in structure.attachments:
                self._attachment(attachment, doc_id, thread, canonical, sources)
        for copy in copies[1:]:
            dup_id = self._id()
            self.report.rows.append(
                InventoryRow(
                    id=dup_id,
                    document=self._docnr(dup_id),
                    datum=_day(copy.date),
                    family=dup_id,
                    thread_id=thread,
                    bestandsnaam=f"{doc_id:05d}.eml",
                    file_type="email",
                    toelichting=f"dubbel van {self._docnr(doc_id)} (bron: {_source(copy)})",
                    gerelateerd_id=doc_id,
                    beoordeling="dubbel",
                    sources=[_source(copy)],
                    sha256=copy.blob_sha256 or "",
                )
            )
            self.report.duplicates += 1
        return doc_id

    def _attachment(
        self,
        attachment: Attachment,
        family: int,
        thread: int | None,
        mail: IndexDocument,
        sources: list[str],
    ) -> None:
        doc_id = self._id()
        name = safe_name(attachment.filename, f"bijlage-{attachment.number}")
        if attachment.inner is not None and not name.lower().endswith(".eml"):
            name = safe_name(name + ".eml", f"bijlage-{attachment.number}.eml")
        folder = f"documents/{doc_id:05d}"
        (self.out / folder).mkdir(parents=True, exist_ok=True)
        relative = f"{folder}/{name}"
        content = attachment.content()
        (self.out / relative).write_bytes(content.data)
        entry = self._file(relative, "attachment", doc_id, [f"{mail.record_id}:{attachment.number}"])
        suffix = Path(relative).suffix.lstrip(".").lower() or attachment.media_type
        toelichting = f"bijlage bij {self._docnr(family)}"
        if content.problem:
            toelichting += f"; kon niet worden gedecodeerd ({content.problem}): de bytes zoals verzonden"
        self.report.rows.append(
            InventoryRow(
                id=doc_id,
                document=self._docnr(doc_id),
                datum=_day(mail.date),
                family=family,
                thread_id=thread,
                bestandsnaam=Path(relative).name,
                file_type=suffix,
                toelichting=toelichting,
                sources=sources,
                sha256=entry.sha256,
            )
        )
        self.report.documents += 1

    # -- chats and other items -------------------------------------------------------------------

    def chat(self, chat_id: str, hits: list[IndexDocument]) -> None:
        chat = load_chat(self.vault, chat_id)
        doc_id = self._id()
        folder = f"documents/{doc_id:05d}"
        (self.out / folder).mkdir(parents=True, exist_ok=True)
        versions = [v for m in chat.ordered_messages() for v in m.versions]
        original = f"{folder}/{doc_id:05d}.json"
        document = {"chat": chat.chat, "members": chat.members, "versions": [v.message for v in versions]}
        (self.out / original).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        entry = self._file(original, "original", doc_id, [v.record.record_id for v in versions])
        write_transcript(self.vault, chat_id, self.out / folder / f"{doc_id:05d}.html")
        self._file(f"{folder}/{doc_id:05d}.html", "rendition", doc_id, [])
        self.chat_row(doc_id, hits, f"Teams-chat {chat.title()[:200]}", entry)

    def chat_row(self, doc_id: int, hits: list[IndexDocument], title: str, entry: ExportedFile) -> None:
        """The inventarislijst row of a chat exported as one document (Teams or an imported phone
        chat): dated by its first hit, its JSON original named, its hits counted."""
        first = min((h.date for h in hits if h.date), default=None)
        self.report.rows.append(
            InventoryRow(
                id=doc_id,
                document=self._docnr(doc_id),
                datum=_day(first),
                family=doc_id,
                thread_id=None,
                bestandsnaam=f"{doc_id:05d}.json",
                file_type="chat",
                toelichting=f"{title}: {len(hits)} treffer(s)",
                sources=sorted({_source(h) for h in hits}),
                sha256=entry.sha256,
            )
        )
        self.report.documents += 1

    def entity(self, doc: IndexDocument) -> None:
        """A calendar event, contact or task: its Graph JSON byte-exact, and a readable rendition."""
        assert doc.blob_sha256 is not None
        doc_id, folder, entry = self._original(doc, doc.blob_sha256, "json")
        original = entry.path
        entity = json.loads((self.out / original).read_bytes())
        rendition = f"{folder}/{doc_id:05d}.html"
        page = render_entity(doc.kind, entity if isinstance(entity, dict) else {}, [_source(doc)])
        (self.out / rendition).write_text(page, encoding="utf-8")
        self._file(rendition, "rendition", doc_id, [doc.record_id])
        self.report.rows.append(
            InventoryRow(
                id=doc_id,
                document=self._docnr(doc_id),
                datum=_day(doc.date),
                family=doc_id,
                thread_id=None,
                bestandsnaam=f"{doc_id:05d}.json",
                file_type=ENTITY_FILE_TYPES[doc.kind],
                toelichting=f"{TITLES[doc.kind]}: {doc.subject}"[:300],
                sources=[_source(doc)],
                sha256=doc.blob_sha256,
            )
        )
        self.report.documents += 1

    def item(self, doc: IndexDocument) -> None:
        assert doc.blob_sha256 is not None
        doc_id, _, _ = self._original(doc, doc.blob_sha256, "bin")
        self.report.rows.append(
            InventoryRow(
                id=doc_id,
                document=self._docnr(doc_id),
                datum=_day(doc.date),
                family=doc_id,
                thread_id=None,
                bestandsnaam=f"{doc_id:05d}.bin",
                file_type=doc.media_type or "item",
                toelichting=(doc.subject or "item")[:300] + " (opaque Exchange export stream)",
                sources=[_source(doc)],
                sha256=doc.blob_sha256,
            )
        )
        self.report.documents += 1


def _mail_groups(copies: list[IndexDocument]) -> list[list[IndexDocument]]:
    """Copies sharing a duplicate key (a Message-ID), split by their bytes: one group per SHA-256,
    in the order of their first copy."""
    groups: dict[str, list[IndexDocument]] = {}
    for copy in copies:
        groups.setdefault(str(copy.blob_sha256), []).append(copy)
    return list(groups.values())


def _export_into(
    vault: Vault,
    index: SearchIndex,
    case_ref: str,
    hits: Iterable[SearchHit],
    out: Path,
    on_document: Callable[[int], None] | None,
    keep: Callable[[IndexDocument], bool] | None = None,
    excluded: Collection[str] = (),
) -> _Exporter:
    exporter = _Exporter(vault, index, case_ref, out, excluded)
    mails: dict[str, None] = {}
    chats: dict[str, list[IndexDocument]] = {}
    phone_chats: dict[str, list[IndexDocument]] = {}
    items: dict[str, None] = {}
    for hit in hits:
        if hit.kind == "attachment" and hit.parent_id:
            mails[hit.parent_id] = None
        elif hit.kind == "mail":
            mails[hit.doc_id] = None
        elif hit.kind == "chat-message":
            doc = index.get(hit.doc_id)
            if doc is not None:
                chats.setdefault(doc.chat_id, []).append(doc)
        elif hit.kind == "phone-chat":  # imported phone chats (capstone/imports/)
            doc = index.get(hit.doc_id)
            if doc is not None:
                phone_chats.setdefault(doc.chat_id, []).append(doc)
        else:
            items[hit.doc_id] = None
    done_keys: set[str] = set()
    count = 0

    def step(what: str, action: Callable[..., Any], *args: Any) -> Any:
        nonlocal count
        try:
            result = action(*args)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(
                f"export failed at {what}: {type(exc).__name__}: {str(exc)[:300]}; nothing was written"
            ) from exc
        count += 1
        if on_document:
            on_document(count)
        return result

    for doc_id in mails:
        doc = index.get(doc_id)
        if doc is None or doc.duplicate_key in done_keys:
            continue
        done_keys.add(doc.duplicate_key)
        copies = [
            d
            for d in index.duplicates_of(doc.duplicate_key)
            if d.kind == "mail"
            and d.blob_sha256
            and d.record_id not in exporter.excluded
            and (keep is None or keep(d))
        ]
        copies.sort(key=lambda d: (d.date or datetime.min.replace(tzinfo=UTC), d.account, d.doc_id))
        groups = _mail_groups(copies or [doc])
        first: int | None = None
        for group in groups:
            what = f"mail {group[0].record_id} (document {exporter._docnr(exporter.next_id)})"
            number = step(what, exporter.mail, group, first)
            first = number if first is None else first
    for chat_id, chat_hits in chats.items():
        step(f"chat {chat_id}", exporter.chat, chat_id, chat_hits)
    for chat_key, phone_hits in phone_chats.items():
        from capstone.imports.export import export_phone_chat

        step(f"phone chat {chat_key}", export_phone_chat, exporter, chat_key, phone_hits)
    for doc_id in items:
        doc = index.get(doc_id)
        if doc is not None and doc.blob_sha256:
            what = f"{doc.kind} {doc.record_id} (document {exporter._docnr(exporter.next_id)})"
            step(what, exporter.entity if doc.kind in ENTITY_FILE_TYPES else exporter.item, doc)
    report = exporter.report
    write_csv(out / "inventarislijst.csv", report.rows, case_ref)
    exporter._file("inventarislijst.csv", "inventory", None, [])
    write_xlsx(out / "inventarislijst.xlsx", report.rows, case_ref)
    exporter._file("inventarislijst.xlsx", "inventory", None, [])
    manifest = {
        "format": EXPORT_FORMAT,
        "case": case_ref,
        "created_at": datetime.now(UTC).isoformat(),
        "vault": vault.store.url,
        "documents": report.documents,
        "duplicates": report.duplicates,
        "files": [f.to_json() for f in report.files],
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return exporter


def export_documents(
    vault: Vault,
    index: SearchIndex,
    case_ref: str,
    hits: Iterable[SearchHit],
    out: Path,
    *,
    on_document: Callable[[int], None] | None = None,
    keep: Callable[[IndexDocument], bool] | None = None,
    excluded: Collection[str] = (),
) -> ExportReport:
    """Write the export of ``hits`` into ``out`` (which must not exist or be empty), all or nothing:
    into a temporary folder beside it first, verified, then renamed into place. On any failure the
    temporary folder is removed and :class:`ExportError` says which document failed and why. The
    partial folders of exports killed before they finished (kill -9, power loss) beside ``out`` are
    removed first and named in the report. ``excluded``: record ids never to export (confirmed
    privé/partijpolitiek exclusions), also when they are a copy or a chat message of a hit."""
    out = Path(os.path.abspath(out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} is not empty: an export goes into a new directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_partials(out.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{PARTIAL}{os.getpid()}-", dir=out.parent))
    try:
        exporter = _export_into(vault, index, case_ref, hits, staging, on_document, keep, excluded)
        check = verify_export(vault, staging)
        if not check.ok:
            raise ExportError(f"export failed its own verification: {check.problems[0]}; nothing was written")
        if out.exists():
            out.rmdir()  # the empty folder the caller made
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report = exporter.report
    report.directory = str(out)
    report.stale_removed = stale
    return report


PARTIAL = ".partial-"  # .<out>.partial-<pid>-<random>: an export being written by process <pid>


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_partials(parent: Path) -> list[str]:
    """Remove the partial folders of exports whose process is gone (killed before it could clean
    up); an export still being written by a live process is left alone. Returns what was removed."""
    removed = []
    for folder in sorted(parent.glob(f".*{PARTIAL}*")):
        pid_text = folder.name.rsplit(PARTIAL, 1)[1].split("-", 1)[0]
        if not folder.is_dir() or folder.is_symlink() or not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
        log.warning("stale_export_removed", folder=str(folder))
    return removed


ExportCheck = DirectoryCheck  # the check of a written folder: capstone.woo.fixity


def verify_export(vault: Vault, out: Path) -> ExportCheck:
    """Re-hash every file against the manifest, find added or missing files, and check every
    original against its vault record (same blob, same bytes)."""
    check = ExportCheck(str(out))
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        check.problems.append(f"{manifest_path} is missing: this is not a Capstone export")
        return check
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != EXPORT_FORMAT:
        check.problems.append(f"unknown export format {manifest.get('format')!r}")
        return check
    listed = {f["path"]: f for f in manifest["files"]}
    present = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {MANIFEST}
    for extra in sorted(present - set(listed)):
        check.problems.append(f"{extra}: not in the manifest (added after the export)")
    for path, entry in listed.items():
        check.files += 1
        target = out / path
        if not target.is_file():
            check.problems.append(f"{path}: missing")
            continue
        sha, size = sha256_of_file(target)
        if sha != entry["sha256"] or size != entry["size"]:
            check.problems.append(
                f"{path}: altered (SHA-256 {sha[:12]}…, manifest says {entry['sha256'][:12]}…)"
            )
            continue
        if entry["role"] == "original":
            if entry.get("blob_sha256") and entry["blob_sha256"] != sha:
                check.problems.append(f"{path}: differs from the vault blob it was exported from")
            for record_id in entry["record_ids"]:
                record = vault.get_record(record_id)
                if record is None:
                    check.problems.append(f"{path}: vault record {record_id} does not exist")
                elif entry.get("blob_sha256") and record.blob_sha256 != entry["blob_sha256"]:
                    check.problems.append(f"{path}: vault record {record_id} names another blob")
            for record_id in entry.get("duplicate_records") or []:
                if not vault.has_record(record_id):
                    check.problems.append(f"{path}: the duplicate's vault record {record_id} does not exist")
    _check_inventory(out, listed, check)
    return check


def _check_inventory(out: Path, listed: dict[str, Any], check: ExportCheck) -> None:
    """Every row of the inventarislijst names a document that was exported: its SHA-256 is that of
    an exported original or attachment (a "dubbel" row: of the original it duplicates)."""
    inventory = out / "inventarislijst.csv"
    if "inventarislijst.csv" not in listed or not inventory.is_file():
        check.problems.append("inventarislijst.csv: missing")
        return
    exported = {f["sha256"] for f in listed.values() if f["role"] in ("original", "attachment")}
    with open(inventory, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            sha = (row.get("SHA-256") or "").strip()
            if sha not in exported:
                check.problems.append(
                    f"inventarislijst row {row.get('Document') or row.get('ID')}: its SHA-256 "
                    f"{sha[:12] or '(none)'}… matches no exported file"
                )

"""A Woo publication package: what the government's Woo platform (minvws/nl-rdo-woo-web) takes.

Layout of ``out`` (a new, empty directory)::

    documenten/<ID>.pdf               one PDF per openbaar / deels openbaar document (redactions burned in)
    uploads/<case>-documenten-001.zip the same PDFs in zip archives of at most ZIP_LIMIT bytes
    productierapport.xlsx / .csv      one row per document in the platform's columns and values
    manifest.json                     every other file's SHA-256 and size, the documents, the vault
                                      records (source and derived) they come from

Platform rules followed (commit 00828238):

* ``src/Domain/Upload/Process/DocumentNumberExtractor.php`` matches an uploaded file to its document
  by the leading ``[a-zA-Z0-9]+`` of its name, so a document ID is digits only and its file is
  ``<ID>.pdf``;
* ``src/Domain/Publication/Dossier/Type/WooDecision/Document/Document.php`` (``shouldBeUploaded``):
  only *openbaar* and *deels openbaar* documents take a file - nothing else is in the package;
* ``src/Domain/Upload/FileType/FileType.php`` (``getMaxUploadSize``): a zip upload is at most 4 GiB.

A copy of an assessed document that follows its original is a row *niet openbaar* with the ground
``dubbel`` (``Citation::DUBBEL``: "inhoud is in een ander document al beoordeeld") and the original's
ID in *Gerelateerd ID*; its content is published once, as the original. A mail's attachments share
its Family (the mail's ID) and Thread ID. The case reference is the *Matter* as its
:func:`~capstone.woo.cases.ref_slug` and the *Zaaknummer* as :func:`~capstone.woo.cases.ref_zaaknummer`
(the platform allows no ``/`` in either).

A publication is all or nothing: written into a temporary folder beside ``out``, verified (including
the productierapport by :mod:`capstone.woo.platform_reader`), then renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capstone.access import AUDITOR, WOO_OFFICER
from capstone.index.model import IndexDocument
from capstone.services import open_vault
from capstone.woo.cases import ref_slug, ref_zaaknummer
from capstone.woo.fixity import DirectoryCheck, sha256_of_file
from capstone.woo.grounds import DUBBEL, Judgement, grounds_cell
from capstone.woo.package_pdf import PublishError, make_pdf
from capstone.woo.platform_reader import read_report
from capstone.woo.productierapport import CSV_NAME, XLSX_NAME, ReportRow, write_report
from capstone.woo.review import Mark

if TYPE_CHECKING:
    from capstone.woo.review_service import Effective, WooReview

PACKAGE_FORMAT = "capstone-woo-publication/1"
MANIFEST = "manifest.json"
ZIP_LIMIT = 4 * 1024**3  # FileType::ZIP->getMaxUploadSize()
_ZIP_ENTRY_OVERHEAD = 30 + 46 + 2 * 64 + 20 + 28  # local + central header, name twice, zip64 extras
_ZIP_END = 22 + 56 + 20
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20
_EXTRACTABLE_ID = re.compile(r"^[a-zA-Z0-9]+$")

_ATTACHMENT_TYPES = {
    "pdf": "pdf", "doc": "doc", "docx": "doc", "odt": "doc", "rtf": "doc", "txt": "doc",
    "xls": "spreadsheet", "xlsx": "spreadsheet", "ods": "spreadsheet", "csv": "spreadsheet",
    "ppt": "presentation", "pptx": "presentation", "odp": "presentation",
    "png": "image", "jpg": "image", "jpeg": "image", "gif": "image", "tif": "image", "tiff": "image",
    "bmp": "image", "webp": "image", "eml": "email", "msg": "email", "html": "html", "htm": "html",
    "xml": "xml", "vcf": "vcard", "mp3": "audio", "wav": "audio", "m4a": "audio", "mp4": "video",
    "mov": "video",
}  # fmt: skip
_KIND_TYPES = {
    "mail": "email", "chat-message": "chat", "phone-chat": "chat", "contact": "vcard", "event": "note",
    "task": "note",
}  # fmt: skip


def source_type(doc: IndexDocument) -> str:
    """The platform's ``SourceType`` value (column *File type*) of a document."""
    if doc.kind == "attachment":
        suffix = Path(doc.filename or "").suffix.lower().lstrip(".")
        return _ATTACHMENT_TYPES.get(suffix, "unknown")
    return _KIND_TYPES.get(doc.kind, "unknown")


@dataclass
class PackageDocument:
    number: int
    effective: Effective
    family: int
    thread: int | None
    marks: list[Mark] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.number)

    @property
    def published(self) -> bool:
        return self.effective.follows is None and self.effective.assessment.judgement.published


@dataclass
class PublishReport:
    case_ref: str
    directory: str
    documents: int = 0
    pdfs: int = 0
    zips: list[str] = field(default_factory=list)
    derived_records: list[str] = field(default_factory=list)
    rows: list[ReportRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "case": self.case_ref,
            "directory": self.directory,
            "documents": self.documents,
            "pdfs": self.pdfs,
            "zips": self.zips,
            "derived_records": self.derived_records,
            "productierapport": [
                str(Path(self.directory) / XLSX_NAME),
                str(Path(self.directory) / CSV_NAME),
            ],
        }


PackageCheck = DirectoryCheck  # the check of a written folder: capstone.woo.fixity


# -- planning ------------------------------------------------------------------------------------------


def _plan(
    review: WooReview, index: Any, case: Any, scope: Any, entries: list[Effective]
) -> list[PackageDocument]:
    """Numbers, families and threads of the documents, and every reason not to publish them."""
    ref = case.ref
    by_id = {e.doc_id: e for e in entries}
    own = review.store.current(ref)
    gone = sorted(set(own) - set(by_id))
    if gone:
        raise PublishError(
            f"assessed documents no longer in the case (gone from the index, excluded, or outside the scope): "
            f"{', '.join(gone[:5])}{' …' if len(gone) > 5 else ''}"
        )
    for entry in entries:
        for member in review.family_of(index, entry.document):
            if member.doc_id not in by_id and scope.covers(member.official, member.date):
                raise PublishError(
                    f"document {entry.doc_id} is assessed but {member.doc_id} of its family is not: assess "
                    f"the whole family (capstone woo assess --family)"
                )
    marks: dict[str, list[Mark]] = {}
    for mark in review.store.marks(ref):
        if mark.accepted:
            marks.setdefault(mark.doc_id, []).append(mark)
    for entry in entries:
        judgement = entry.assessment.judgement
        if entry.follows is None and judgement is Judgement.PARTIAL_PUBLIC and not marks.get(entry.doc_id):
            raise PublishError(
                f"document {entry.doc_id} is 'deels openbaar' but has no accepted redaction left"
            )
        if entry.follows is None and judgement is Judgement.NOT_PUBLIC and not entry.assessment.grounds:
            raise PublishError(f"document {entry.doc_id} is 'niet openbaar' without a ground")
    # heads first, then their attachments: a family's ID is its mail's number
    ordered = sorted(
        entries, key=lambda e: (_sort_date(e.document), e.document.parent_id or e.doc_id, e.doc_id)
    )
    numbers = review.store.numbers(ref, [e.doc_id for e in ordered])
    threads: dict[str, int] = {}
    plan: list[PackageDocument] = []
    for entry in sorted(entries, key=lambda e: numbers[e.doc_id]):
        doc = entry.document
        head = doc.parent_id if doc.kind == "attachment" and doc.parent_id in numbers else doc.doc_id
        thread_key = ""
        if doc.kind in ("mail", "attachment"):
            head_doc = by_id[head].document if head in by_id else doc
            thread_key = head_doc.thread_id or head_doc.message_id or head_doc.doc_id
        thread = threads.setdefault(thread_key, len(threads) + 1) if thread_key else None
        source = entry.follows or entry.doc_id
        plan.append(
            PackageDocument(numbers[entry.doc_id], entry, numbers[head], thread, marks.get(source, []))
        )
    return plan


def _sort_date(doc: IndexDocument) -> str:
    return doc.date.isoformat() if doc.date else ""


def _row(item: PackageDocument, numbers: dict[str, int], case_ref: str) -> ReportRow:
    entry, assessment = item.effective, item.effective.assessment
    doc = entry.document
    if entry.follows is not None:
        original = numbers[entry.follows]
        beoordeling, grounds = Judgement.NOT_PUBLIC.label, grounds_cell([DUBBEL])
        toelichting = f"Dubbel van document {original} ({assessment.judgement.label})."
        related, link = str(original), ""
    else:
        beoordeling, grounds = assessment.judgement.label, grounds_cell(assessment.grounds)
        toelichting, related, link = assessment.toelichting, "", assessment.link or ""
    suffix = ".pdf" if item.published else ""
    return ReportRow(
        id=item.id, document=f"{item.id}{suffix}", beoordeling=beoordeling, beoordelingsgrond=grounds,
        datum=doc.date.date().isoformat() if doc.date else "", family=item.family, thread_id=item.thread,
        file_type=source_type(doc), toelichting=toelichting, gerelateerd_id=related, publieke_link=link,
        zaaknummer=ref_zaaknummer(case_ref), matter=ref_slug(case_ref),
    )  # fmt: skip


# -- writing -------------------------------------------------------------------------------------------


def _bundle(staging: Path, pdfs: list[Path], slug: str, limit: int) -> list[Path]:
    """The PDFs in stored (uncompressed) zip archives of at most ``limit`` bytes each."""
    uploads = staging / "uploads"
    uploads.mkdir()
    bundles: list[Path] = []
    current: zipfile.ZipFile | None = None
    used = 0
    for pdf in pdfs:
        need = pdf.stat().st_size + _ZIP_ENTRY_OVERHEAD + 2 * len(pdf.name.encode())
        if need + _ZIP_END > limit:
            raise PublishError(
                f"{pdf.name} ({pdf.stat().st_size} bytes) does not fit in a zip of at most {limit} bytes"
            )
        if current is None or used + need + _ZIP_END > limit:
            if current is not None:
                current.close()
            bundles.append(uploads / f"{slug}-documenten-{len(bundles) + 1:03d}.zip")
            current = zipfile.ZipFile(bundles[-1], "w", compression=zipfile.ZIP_STORED, allowZip64=True)
            used = 0
        info = zipfile.ZipInfo(pdf.name, date_time=_FIXED_TIME)
        info.compress_type = zipfile.ZIP_STORED
        with open(pdf, "rb") as source, current.open(info, "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target, _CHUNK)
        used += need
    if current is not None:
        current.close()
    for bundle in bundles:
        if bundle.stat().st_size > limit:
            raise PublishError(f"{bundle.name} came out larger than {limit} bytes")
    return bundles


def _write(
    review: WooReview, vault: Any, case: Any, plan: list[PackageDocument], staging: Path, limit: int,
    report: PublishReport,
) -> dict[str, Any]:  # fmt: skip
    numbers = {p.effective.doc_id: p.number for p in plan}
    documents_dir = staging / "documenten"
    documents_dir.mkdir()
    pdfs: list[Path] = []
    listed: list[dict[str, Any]] = []
    for item in plan:
        entry = item.effective
        described: dict[str, Any] = {
            "id": item.id, "doc_id": entry.doc_id, "record_id": entry.document.record_id,
            "kind": entry.document.kind, "judgement": entry.assessment.judgement.value,
            "grounds": list(entry.assessment.grounds), "follows": entry.follows, "family": item.family,
            "assessment_seq": entry.assessment.seq, "file": None, "derived_records": [],
        }  # fmt: skip
        if item.published:
            made = make_pdf(
                vault, entry.document, item.marks if entry.assessment.judgement is Judgement.PARTIAL_PUBLIC else [],
                document_id=item.id, case_ref=case.ref, officer=review.actor, grounds=entry.assessment.grounds,
            )  # fmt: skip
            target = documents_dir / f"{item.id}.pdf"
            target.write_bytes(made.data)
            pdfs.append(target)
            described.update(file=f"documenten/{target.name}", derived_records=made.derived,
                             marks=[m.mark_id for m in item.marks], tool_versions=made.tool_versions)  # fmt: skip
            report.derived_records.extend(made.derived)
        listed.append(described)
    report.rows = [_row(item, numbers, case.ref) for item in plan]
    write_report(staging, report.rows)
    bundles = _bundle(staging, pdfs, ref_slug(case.ref), limit)
    report.documents, report.pdfs = len(plan), len(pdfs)
    report.zips = [f"uploads/{b.name}" for b in bundles]
    files = []
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        sha, size = sha256_of_file(path)
        relative = path.relative_to(staging).as_posix()
        role = (
            "pdf"
            if relative.startswith("documenten/")
            else "zip"
            if relative.startswith("uploads/")
            else "productierapport"
        )
        files.append({"path": relative, "sha256": sha, "size": size, "role": role})
    zips: dict[str, list[str]] = {}
    for bundle in bundles:
        with zipfile.ZipFile(bundle) as archive:
            zips[f"uploads/{bundle.name}"] = archive.namelist()
    return {
        "format": PACKAGE_FORMAT, "case": case.ref, "matter": ref_slug(case.ref),
        "zaaknummer": ref_zaaknummer(case.ref), "created_at": datetime.now(UTC).isoformat(),
        "created_by": review.actor, "vault": vault.store.url, "zip_limit": limit, "documents": listed,
        "zips": zips, "files": files,
    }  # fmt: skip


def publish_case(review: WooReview, ref: str, out: Path, *, zip_limit: int | None = None) -> PublishReport:
    """Publish case ``ref`` into ``out`` (see the module docstring); refusals are audited, and a failed
    attempt leaves nothing behind and is audited as failed."""
    detail: dict[str, Any] = {"out": str(out)}
    case, scope = review._open("publish", ref, **detail)
    limit = zip_limit or ZIP_LIMIT
    out = Path(os.path.abspath(out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        error = PublishError(f"{out} is not empty: a publication goes into a new directory")
        review._refuse("publish", case.ref, error, **detail)
        raise error
    state = review.check_approval(case, **detail)
    index = review._index("publish", case, **detail)
    try:
        entries = review.effective(index, case, scope)
        if not entries:
            raise review._bad(
                "publish", case.ref, f"case {case.ref} has no assessed documents to publish", **detail
            )
        try:
            plan = _plan(review, index, case, scope, entries)
        except PublishError as exc:
            review._refuse("publish", case.ref, exc, **detail)
            raise
    finally:
        index.close()
    report = PublishReport(case.ref, str(out))
    vault = open_vault(review.woo.settings)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        try:
            manifest = _write(review, vault, case, plan, staging, limit, report)
            (staging / MANIFEST).write_text(
                json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8"
            )
            check = verify_package(staging, vault)
            if not check.ok:
                raise PublishError(f"the package failed its own verification: {check.problems[0]}")
            if out.exists():
                out.rmdir()
            os.rename(staging, out)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, Exception):
                reason = (
                    str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {str(exc)[:300]}"
                )
                review.woo._record("publish", case.ref, "failed", WOO_OFFICER, error=reason, **detail)
                review.woo.audit.seal(vault, actor=review.actor)
                if not isinstance(exc, PublishError):
                    raise PublishError(f"publication failed: {reason}; nothing was written") from exc
            raise
        report.directory = str(out)
        review.woo._record(
            "publish", case.ref, "allowed", WOO_OFFICER, documents=report.documents, pdfs=report.pdfs,
            published=[d["id"] for d in manifest["documents"] if d["file"]], zips=report.zips,
            derived_records=report.derived_records, approval=state.approval.to_json() if state.approval else None,
            **detail,
        )  # fmt: skip
        review.woo.audit.seal(vault, actor=review.actor)
    finally:
        vault.close()
    return report


# -- verification --------------------------------------------------------------------------------------


def verify_package(directory: Path, vault: Any = None) -> PackageCheck:
    """Re-check a package: every file against the manifest (nothing added, missing or altered), the
    zips (within the limit, holding exactly the PDFs), the productierapport (XLSX and CSV) by the
    platform's rules and alike, a PDF for exactly the openbaar and deels openbaar rows and for
    nothing else; with ``vault``, the source and derived records exist."""
    check = PackageCheck(str(directory))
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        check.problems.append(f"{manifest_path} is missing: this is not a Capstone publication package")
        return check
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != PACKAGE_FORMAT:
        check.problems.append(f"unknown package format {manifest.get('format')!r}")
        return check
    listed = {f["path"]: f for f in manifest["files"]}
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {MANIFEST}
    for extra in sorted(present - set(listed)):
        check.problems.append(f"{extra}: not in the manifest (added after publication)")
    hashes: dict[str, str] = {}
    for path, entry in listed.items():
        check.files += 1
        target = directory / path
        if not target.is_file():
            check.problems.append(f"{path}: missing")
            continue
        sha, size = sha256_of_file(target)
        hashes[path] = sha
        if sha != entry["sha256"] or size != entry["size"]:
            check.problems.append(
                f"{path}: altered (SHA-256 {sha[:12]}…, manifest says {entry['sha256'][:12]}…)"
            )
    _check_zips(directory, manifest, hashes, check)
    _check_report(directory, manifest, check)
    if vault is not None:
        for document in manifest["documents"]:
            for record_id in [document["record_id"], *document.get("derived_records", [])]:
                if not vault.has_record(record_id):
                    check.problems.append(
                        f"document {document['id']}: vault record {record_id} does not exist"
                    )
    return check


def _check_zips(
    directory: Path, manifest: dict[str, Any], hashes: dict[str, str], check: PackageCheck
) -> None:
    limit = int(manifest.get("zip_limit") or ZIP_LIMIT)
    pdfs = {p for p in hashes if p.startswith("documenten/")}
    zipped: dict[str, str] = {}
    for name in sorted(p for p in hashes if p.startswith("uploads/")):
        path = directory / name
        if path.stat().st_size > limit:
            check.problems.append(f"{name}: {path.stat().st_size} bytes, more than the platform's {limit}")
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    digest = hashlib.sha256()
                    with archive.open(info) as member:
                        for chunk in iter(lambda: member.read(_CHUNK), b""):
                            digest.update(chunk)
                    if info.filename in zipped:
                        check.problems.append(f"{name}: {info.filename} is in more than one zip")
                    zipped[info.filename] = digest.hexdigest()
        except zipfile.BadZipFile as exc:
            check.problems.append(f"{name}: not a valid zip ({exc})")
    for pdf in sorted(pdfs):
        base = pdf.removeprefix("documenten/")
        if base not in zipped:
            check.problems.append(f"{pdf}: in no zip")
        elif zipped[base] != hashes[pdf]:
            check.problems.append(f"{pdf}: the zipped copy differs")
    for name in sorted(set(zipped) - {p.removeprefix("documenten/") for p in pdfs}):
        check.problems.append(f"zip entry {name}: no such PDF in the package")


def _check_report(directory: Path, manifest: dict[str, Any], check: PackageCheck) -> None:
    readings = []
    for name in (XLSX_NAME, CSV_NAME):
        if not (directory / name).is_file():
            check.problems.append(f"{name}: missing")
            continue
        reading = read_report(directory / name)
        check.problems.extend(f"{name}: {p}" for p in reading.problems)
        readings.append(reading)
    if len(readings) == 2:
        strip = [[{k: v for k, v in row.items() if k != "row"} for row in r.rows] for r in readings]
        if strip[0] != strip[1]:
            check.problems.append(f"{XLSX_NAME} and {CSV_NAME} differ")
    if not readings:
        return
    rows = readings[0].rows
    expected = {f"{row['id']}.pdf" for row in rows if row["beoordeling"] in ("openbaar", "deels openbaar")}
    present = {Path(p).name for p in (f["path"] for f in manifest["files"]) if p.startswith("documenten/")}
    if (directory / "documenten").is_dir():  # also what was slipped in without the manifest
        present |= {p.name for p in (directory / "documenten").iterdir()}
    for name in sorted(present - expected):
        check.problems.append(
            f"documenten/{name}: no openbaar or deels openbaar row names it (nothing non-public)"
        )
    for name in sorted(expected - present):
        check.problems.append(f"row {name.removesuffix('.pdf')}: openbaar or deels openbaar but no PDF")
    for row in rows:
        if row["id"] and not _EXTRACTABLE_ID.match(row["id"]):
            check.problems.append(
                f"row {row['row']}: ID {row['id']!r} - the platform matches a file to its document by the letters "
                "and digits its name starts with"
            )
    for path in sorted(present & expected):
        if not (directory / "documenten" / path).is_file():
            continue  # reported as missing
        head = (directory / "documenten" / path).read_bytes()[:5]
        if head != b"%PDF-":
            check.problems.append(f"documenten/{path}: not a PDF")


def verify_package_service(review: WooReview, directory: Path) -> PackageCheck:
    role = review.woo._roles("verify-package", None, WOO_OFFICER, AUDITOR, directory=str(directory))
    vault = open_vault(review.woo.settings)
    try:
        check = verify_package(directory, vault)
    finally:
        vault.close()
    review.woo._record("verify-package", None, "allowed", role, directory=str(directory), ok=check.ok)
    return check


def is_package(directory: Path) -> bool:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == PACKAGE_FORMAT

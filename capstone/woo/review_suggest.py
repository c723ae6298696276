"""Redaction suggestions for one document of a Woo case: the document's PDF rendered exactly as the
publication renders it (:func:`capstone.woo.pdf.render.render_document`), the suggestion engine
(:mod:`capstone.woo.pdf.suggest`) run over it with the registry's key officials left out (their
names and mail addresses are not personal data to withhold here: they act in office), each finding
a *proposed* text mark with the engine's ground (5.1.2e for personal data, 5.1.1e for a BSN) and
origin ``suggestion:<category>``.

Idempotent: a finding whose text already has a mark on the document (of any status or origin - an
officer's own mark, a suggestion accepted, rejected or withdrawn before) is not proposed again.
The service (:meth:`capstone.woo.review_service.WooReview.suggest`) checks the role and audits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from capstone.index.model import IndexDocument
from capstone.woo.pdf.suggest import KeyOfficials, Suggestion, names_from_mail, suggest_pdf
from capstone.woo.review import Mark, MarkInput, text_key
from vault import Vault


@dataclass(frozen=True)
class Found:
    """What the engine found in a document's rendition, less what belongs to key officials."""

    suggestions: list[Suggestion]
    failure: str | None = None  # the rendition's failure: nothing could be looked at


def key_officials(engine: Engine) -> KeyOfficials:
    """Every designation the registry knows (withdrawn ones too: a mail from before the withdrawal
    still names the official in office)."""
    from capstone.registry.service import Registry

    return KeyOfficials.from_designations(Registry(engine).designations(include_withdrawn=True))


def _mail_bytes(vault: Vault, doc: IndexDocument) -> bytes | None:
    """The mail a document belongs to (itself, or an attachment's mail), for the names in its
    headers and signature."""
    if doc.kind == "mail" and doc.blob_sha256:
        return vault.read_blob(doc.blob_sha256)
    if doc.kind == "attachment":
        record = vault.get_record(str(doc.doc_id).rpartition(":")[0])
        if record is not None and record.blob_sha256:
            return vault.read_blob(record.blob_sha256)
    return None


def find_in_document(vault: Vault, doc: IndexDocument, officials: KeyOfficials) -> Found:
    from capstone.woo.pdf import render

    rendition = render.render_document(vault, doc)
    if not rendition.ok or rendition.pdf is None:
        return Found([], rendition.failure or "geen rendition")
    eml = _mail_bytes(vault, doc)
    names = names_from_mail(eml, officials) if eml is not None else []
    found = [
        s
        for s in suggest_pdf(rendition.pdf, names=names)
        if not (s.category == "email" and officials.is_official("", s.mark.text or ""))
        and not (s.category == "naam" and officials.is_official(s.mark.text or ""))
    ]
    return Found(found)


def proposals(found: Sequence[Suggestion]) -> list[tuple[str, MarkInput]]:
    """Each finding as ``(origin, proposed text mark)``, one per text (the first category wins)."""
    seen: set[str] = set()
    result: list[tuple[str, MarkInput]] = []
    for suggestion in found:
        key = text_key(suggestion.mark.text)
        if key and key not in seen:
            seen.add(key)
            mark = MarkInput("text", suggestion.mark.ground, text=suggestion.mark.text)
            result.append((f"suggestion:{suggestion.category}"[:40], mark))
    return result


def in_order(wanted: Sequence[tuple[str, MarkInput]], marks: Sequence[Mark]) -> list[Mark]:
    """The document's marks on the proposals' texts, in the proposals' order (the first mark per text)."""
    by_key: dict[str, Mark] = {}
    for mark in marks:
        if mark.kind == "text":
            by_key.setdefault(text_key(mark.text), mark)
    keys = (text_key(m.text) for _, m in wanted)
    return [by_key[k] for k in keys if k in by_key]


__all__ = ["Found", "find_in_document", "in_order", "key_officials", "proposals"]

"""Service refusals in Dutch for the web pages. The services raise errors with English messages (the
CLI and the logs show those); the pages say them in Dutch, chosen by the error's ``code``
(:class:`capstone.coded.Coded`) or, for an error without one, by its type. The REST API keeps the
English ``detail`` (its problem ``title`` is Dutch).

Example::

    except CaseError as exc:
        return error_page(request, 400, "Niet vastgelegd: " + dutch(exc))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from capstone.access import AccessDenied
from capstone.capture.runner import RunCause
from capstone.registry.errors import (
    ConcurrentChangeError,
    CsvImportError,
    FieldError,
    RegistryError,
    RowError,
    StateError,
    UnknownDesignationError,
    ValidationError,
)
from capstone.retention.service import RetentionConflict, RetentionError, RetentionNotFound
from capstone.woo.cases import CaseError, UnknownCaseError
from capstone.woo.export import ExportError
from capstone.woo.grounds import GroundError
from capstone.woo.package_pdf import PublishError
from vault import VaultError


class FormError(CaseError):
    """Form input the web layer itself refuses (a page number that is not a number): its message is
    already Dutch."""


# By code: str.format templates over the error's params.
BY_CODE: dict[str, str] = {
    "case-unknown": "Er is geen Woo-verzoek met kenmerk {ref}.",
    "case-closed": "Het Woo-verzoek {ref} is afgesloten; daarin kan niets meer gebeuren.",
    "case-required": "Dit kan alleen binnen een Woo-verzoek.",
    "case-not-assigned": "U behandelt het Woo-verzoek {ref} niet; alleen de behandelaars van de zaak kunnen dit.",
    "case-no-scope": "Van het Woo-verzoek {ref} is de reikwijdte nog niet vastgelegd.",
    "out-of-scope": "Dit document valt buiten de reikwijdte van het Woo-verzoek {ref}.",
    "role-missing": "U heeft hiervoor de rol {roles} nodig.",
    "document-unknown": "Dit document staat niet in de zoekindex (kies een document uit de zoekresultaten).",
    "judgement-unknown": "Kies een beoordeling: openbaar, deels openbaar, niet openbaar of reeds openbaar.",
    "ground-unknown": "{value} is geen weigeringsgrond van de Woo; kies er een uit de lijst.",
    "ground-wob": "{value} is een weigeringsgrond uit de Wob (art. 10/11); een Woo-besluit gebruikt de gronden van de Woo.",
    "toelichting-too-long": "De toelichting mag hoogstens {limit} tekens lang zijn.",
    "public-no-ground": "Bij 'openbaar' hoort geen weigeringsgrond; lak een deel met 'deels openbaar'.",
    "not-public-needs-ground": "Bij 'niet openbaar' hoort ten minste één weigeringsgrond.",
    "already-public-needs-link": "Bij 'reeds openbaar' hoort de link naar waar het document al openbaar is.",
    "link-invalid": "Vul een geldige link in: een http(s)-adres van hoogstens {limit} tekens.",
    "link-not-already-public": "Een link hoort alleen bij 'reeds openbaar'.",
    "partial-needs-redaction": "Bij 'deels openbaar' hoort ten minste één lakmarkering: markeer wat niet openbaar wordt.",
    "no-documents": "Kies ten minste één document om te beoordelen.",
    "redactions-partial-only": "Lakmarkeringen horen alleen bij 'deels openbaar'.",
    "search-empty": "De zoekopdracht vond niets om te beoordelen.",
    "no-redaction": "Geef aan wat gelakt moet worden.",
    "no-pdf": "Van dit document is geen PDF gemaakt, dus er valt niets in te zoeken.",
    "decision-unknown": "Kies accepteren, afwijzen of intrekken.",
    "mark-unknown": "Deze lakmarkering bestaat niet in dit Woo-verzoek.",
    "mark-state": "Deze lakmarkering is {status}; ze kan niet meer {wanted} worden.",
    "nothing-to-approve": "Er is nog niets beoordeeld, dus er valt nog niets goed te keuren.",
    "approval-own-work": (
        "U heeft zelf documenten in dit Woo-verzoek beoordeeld of gelakt; een andere Woo-behandelaar "
        "geeft de collegiale toets."
    ),
    "approval-required": (
        "Dit Woo-verzoek vraagt een collegiale toets vóór publicatie, en die is nog niet gegeven of de "
        "beoordeling is daarna gewijzigd."
    ),
    "mark-text-missing": "Vul de tekst in die gelakt moet worden.",
    "mark-text-too-long": "Een gelakte tekst is hoogstens {limit} tekens lang.",
    "mark-kind-unknown": "Kies tekst of gebied.",
    "mark-region-missing": "Vul bij een gebied de pagina (vanaf 1) en de hoeken x0, y0, x1 en y1 in.",
    "mark-region-inverted": "Het gebied is leeg of omgekeerd: x0 moet kleiner zijn dan x1 en y0 kleiner dan y1.",
    # the registry of key officials (capstone/registry): a field's message, shown after its label
    "required": "Dit veld is verplicht.",
    "mail-invalid": "{value} is geen geldig e-mailadres.",
    "upn-invalid": "{value} is geen geldige user principal name (naam@domein).",
    "object-id-invalid": "{value} is geen Entra ID-object-id (een GUID zoals 0f6d5a4e-…-3c2b).",
    "endpoint-invalid": "{value} is geen verwijzing naar een Exchange-server (geen spaties, hoogstens {limit} tekens).",
    "control-characters": "Hierin staan stuurtekens; haal die weg.",
    "too-long": "Dit is langer dan {limit} tekens.",
    "date-invalid": "{value} is geen datum; schrijf JJJJ-MM-DD (of DD-MM-JJJJ).",
    "yes-no-invalid": "{value} is geen ja of nee.",
    "category-unknown": "{value} is geen categorie van het register; kies een categorie uit de lijst.",
    "chats-need-entra": (
        "Teams-chats worden via Entra ID vastgelegd: een mailbox op een eigen Exchange-server heeft dan een "
        "Entra ID-object-id of UPN nodig (of leg geen chats vast)."
    ),
    "address-twice": "{value} staat ook al bij {also_in}.",
    "end-before-start": "De einddatum {end} ligt vóór de begindatum {start}.",
    "decision-in-future": "De datum van het besluit ({value}) ligt in de toekomst.",
    "nothing-to-capture": "Kies wat er wordt vastgelegd: e-mail, chats of beide.",
    "field-unknown": "Dit is geen gegeven van een aanwijzing.",
    "nothing-to-correct": "Er is niets te corrigeren: vul ten minste één gegeven in.",
    "correction-unchanged": "Er is niets te corrigeren: de waarden zijn gelijk aan wat al is vastgelegd.",
    "end-open-sentinel": (
        "{value} betekent 'geen einddatum'; een aanwijzing zonder einde corrigeert u met een lege einddatum, "
        "u beëindigt haar niet."
    ),
    "end-unchanged": "De aanwijzing eindigt al op {value}.",
    "overlap": "Overlap met een andere aanwijzing in dezelfde periode: {conflicts}.",
    "designation-unknown": "Er is geen aanwijzing {id}.",
    "designation-withdrawn": "De aanwijzing {id} is ingetrokken; daaraan verandert niets meer.",
    "concurrent-change": (
        "Iemand anders wijzigde deze aanwijzing op hetzelfde moment; er is niets vastgelegd. Bekijk haar "
        "opnieuw en probeer het nog eens."
    ),
    "csv-refused": "{rows} van de {total} regels zijn geweigerd; er is niets geïmporteerd.",
    "csv-not-utf8": "Het bestand is geen UTF-8-tekst (byte {byte}); sla het blad op als 'CSV UTF-8'.",
    "csv-empty": "Het bestand is leeg.",
    "csv-unreadable": "Het bestand is hier geen leesbare CSV.",
    "csv-unknown-columns": "Onbekende kolom(men): {columns}. Bekende kolommen: {known}.",
    "csv-missing-columns": "Verplichte kolom(men) ontbreken: {columns}.",
    "csv-doubled-columns": "Deze kolom(men) staan er twee keer in: {columns}.",
    "csv-too-many-cells": "Deze regel heeft {cells} cellen; de kopregel heeft er {header}.",
    "csv-no-rows": "Het bestand bevat geen regels.",
    "row-duplicate": "Dubbel: al vastgelegd als aanwijzing {id} (zelfde account, begindatum en kenmerk besluit).",
    "row-overlap-row": "{value} valt ook onder regel {other} in een overlappende periode.",
    "import-duplicate": (
        "Dit bestand is al eerder geïmporteerd ({filename}, {when}, door {actor}, import {id}); er is niets "
        "geïmporteerd."
    ),
    "import-concurrent": "Dit bestand wordt op dit moment al door een ander proces geïmporteerd; er is niets geïmporteerd.",
    # the retention lifecycle (capstone/retention)
    "exclusion-category-unknown": "{value} is geen categorie; kies privé of partijpolitiek.",
    "exclusion-mailbox": "Een hele mailbox kan niet worden uitgesloten: markeer berichten, gesprekken of chats.",
    "reason-required": "Vul een reden in.",
    "no-content": "Er is geen gearchiveerde inhoud voor {scope} {value}.",
    "exclusion-window-passed": (
        "{late} van de {total} gevonden records zijn hun uitsluitingsvenster voorbij: ze zijn vastgezet en "
        "kunnen niet meer worden uitgesloten."
    ),
    "exclusion-decided": "Over deze uitsluiting is al besloten: ze is {status}.",
    "four-eyes-exclusion": "U heeft deze uitsluiting zelf gemarkeerd; een tweede persoon besluit erover (vier ogen).",
    "exclusion-past-window": (
        "Deze uitsluiting noemt records die hun uitsluitingsvenster voorbij zijn: die zijn vastgezet. Weiger haar."
    ),
    "decided-meanwhile": "Iemand anders besloot hier intussen al over; er is niets vastgelegd.",
    "exclusion-unknown": "Deze uitsluiting bestaat niet.",
    "hold-kind-unknown": "Een blokkade is voor een Woo-verzoek of een juridische zaak; kies een van beide.",
    "hold-released": "Deze blokkade is al opgeheven.",
    "hold-unknown": "Deze blokkade bestaat niet.",
    "list-not-proposed": "Deze vernietigingslijst is {status}, niet voorgesteld; goedkeuren kan niet (meer).",
    "decision-ref-required": "Vul het kenmerk van het vernietigingsbesluit in.",
    "four-eyes-list": "U heeft deze vernietigingslijst zelf opgesteld; een andere archivaris keurt haar goed (vier ogen).",
    "list-not-approved": "Deze vernietigingslijst is {status}: alleen een goedgekeurde lijst wordt vernietigd.",
    "list-unknown": "Deze vernietigingslijst bestaat niet.",
    "list-no-certificate": "Deze vernietigingslijst is {status}: er is nog geen verklaring van vernietiging.",
    "interrupted": (
        "Deze taak is onderbroken: de server stopte terwijl ze liep. Start haar opnieuw; er is niets half "
        "vastgelegd."
    ),
}  # fmt: skip

# By type, most specific first: for an error without a code.
BY_TYPE: tuple[tuple[type[BaseException], str], ...] = (
    (UnknownCaseError, "Dit Woo-verzoek bestaat niet."),
    (PublishError, "Het publicatiepakket kon niet worden gemaakt; er is niets gepubliceerd."),
    (CaseError, "De invoer voor dit Woo-verzoek is niet geldig; er is niets vastgelegd."),
    (GroundError, "Deze beoordeling of weigeringsgrond kent de Woo niet."),
    (ExportError, "De export is mislukt; er is niets geschreven."),
    (AccessDenied, "U heeft hiervoor geen toegang."),
    (RetentionNotFound, "Dit bestaat niet (meer)."),
    (RetentionConflict, "Dit kan niet meer in de huidige stand van zaken."),
    (RetentionError, "De invoer is niet geldig; er is niets vastgelegd."),
    (UnknownDesignationError, "Deze aanwijzing bestaat niet."),
    (StateError, "Dit past niet bij de huidige stand van de aanwijzing; er is niets vastgelegd."),
    (
        ConcurrentChangeError,
        "Iemand anders wijzigde deze aanwijzing op hetzelfde moment; probeer het opnieuw.",
    ),
    (RegistryError, "De invoer voor het register is niet geldig; er is niets vastgelegd."),
    (VaultError, "De kluis gaf een fout; probeer het later opnieuw of waarschuw de beheerder."),
)
BY_TYPE_FALLBACK_FIELDS = "De invoer is niet geldig; er is niets vastgelegd."
FALLBACK = "Er ging iets mis; er is niets vastgelegd. De beheerder vindt de oorzaak in het log."

ROLE_NAMES = {
    "registry-admin": "registerbeheerder (registry-admin)", "archivist": "archivaris (archivist)",
    "woo-officer": "Woo-behandelaar (woo-officer)", "auditor": "auditor (auditor)",
    "official": "sleutelfunctionaris of gemachtigde (official)",
}  # fmt: skip


# The registry's fields (the CSV columns and CLI options the services name) as the pages label them.
FIELD_LABELS = {
    "name": "Naam", "personnel_number": "Personeelsnummer", "mail": "E-mailadres (primair)",
    "aliases": "Aliassen", "entra_object_id": "Entra ID-object-id", "upn": "UPN", "exchange_endpoint": "Exchange-server",
    "function": "Functie", "organisation_unit": "Organisatieonderdeel", "category": "Categorie",
    "start_date": "Aangewezen vanaf", "end_date": "Einddatum", "deciding_body": "Besluitvormend orgaan",
    "decision_date": "Datum besluit", "decision_reference": "Kenmerk besluit", "capture_mail": "Vastleggen",
    "capture_chats": "Chats vastleggen", "capture_history": "Historie vastleggen", "reason": "Reden",
    "actor": "Gebruiker", "changes": "Correctie",
}  # fmt: skip
_ACCOUNT_FIELD = re.compile(r"^accounts\[(\d+)\]\.(\w+)$")
SCOPE_NAMES = {
    "item": "bericht",
    "record": "record",
    "conversation": "gesprek",
    "chat": "chat",
    "mailbox": "mailbox",
}
STATUS_NAMES = {
    "proposed": "voorgesteld", "accepted": "geaccepteerd", "rejected": "afgewezen", "withdrawn": "ingetrokken",
    "marked": "gemarkeerd", "confirmed": "bevestigd", "refused": "geweigerd", "approved": "goedgekeurd",
    "destroyed": "vernietigd",
}  # fmt: skip


# A designation's events (registry history) and a capture run's status, as the pages name them.
EVENT_NAMES = {
    "designated": "aangewezen",
    "corrected": "gecorrigeerd",
    "ended": "beëindigd",
    "withdrawn": "ingetrokken",
}
DOCUMENT_KIND_NAMES = {
    "mail": "e-mail",
    "attachment": "bijlage",
    "chat-message": "chatbericht",
    "event": "agenda-item",
    "contact": "contactpersoon",
    "task": "taak",
    "item": "overig item",
    "phone-chat": "telefoonchat",
}


def kind_name(kind: str | None) -> str:
    """A document kind of the index (``mail``, ``phone-chat``) as the pages name it, in Dutch."""
    return DOCUMENT_KIND_NAMES.get(kind or "", kind or "")


RUN_STATUS_NAMES = {
    "running": "loopt",
    "complete": "volledig",
    "incomplete": "onvolledig",
    "failed": "mislukt",
}


def field_label(name: str | None) -> str:
    """A field the registry names (``end_date``, ``accounts[2].mail``) as the pages label it."""
    if not name:
        return ""
    match = _ACCOUNT_FIELD.match(name)
    if match:
        return f"Account {match.group(1)}: {field_label(match.group(2))}"
    return FIELD_LABELS.get(name, name)


def _conflict(conflict: object) -> str:
    account = getattr(conflict, "account", "?")
    start, end = getattr(conflict, "start_date", None), getattr(conflict, "end_date", None)
    until = end.isoformat() if isinstance(end, date) else "onbepaald"
    begin = start.isoformat() if isinstance(start, date) else "?"
    designation = getattr(conflict, "designation_id", "?")
    return f"{account} valt al onder aanwijzing {designation} ({begin} tot en met {until})"


def _params(params: Mapping[str, object]) -> dict[str, str]:
    shown = {k: str(v) for k, v in params.items()}
    roles = params.get("roles")
    if isinstance(roles, (tuple, list)):
        shown["roles"] = " of ".join(ROLE_NAMES.get(str(r), str(r)) for r in roles)
    for key in ("status", "wanted"):
        if key in shown:
            shown[key] = STATUS_NAMES.get(shown[key], shown[key])
    if "also_in" in shown:
        shown["also_in"] = field_label(shown["also_in"])
    if "scope" in shown:
        shown["scope"] = SCOPE_NAMES.get(shown["scope"], shown["scope"])
    conflicts = params.get("conflicts")
    if isinstance(conflicts, (tuple, list)):
        shown["conflicts"] = (
            "; ".join(_conflict(c) for c in conflicts) or "een account valt al onder een andere aanwijzing"
        )
    return shown


def by_code(code: str | None, params: Mapping[str, object] | None = None) -> str | None:
    """The Dutch sentence for ``code``, or None when there is none."""
    template = BY_CODE.get(code or "")
    if template is None:
        return None
    try:
        return template.format(**_params(params or {}))
    except (KeyError, IndexError):  # a parameter the error did not carry
        return template.split("{")[0].rstrip() or FALLBACK


def dutch(exc: BaseException) -> str:
    """What went wrong, in Dutch, for a page."""
    if isinstance(exc, FormError):
        return str(exc)
    if isinstance(exc, FieldError):
        return f"{field_label(exc.field)}: {field_message(exc)}"
    if isinstance(exc, ValidationError):  # every field: "Label: what is wrong"
        return " ".join(dutch(e) for e in exc.errors) or BY_TYPE_FALLBACK_FIELDS
    if isinstance(exc, CsvImportError):
        head = dutch_code(exc) or "Het bestand is geweigerd; er is niets geïmporteerd."
        return " ".join([head, *(row_error(e) for e in exc.errors)])
    found = dutch_code(exc)
    if found is not None:
        return found
    for kind, message in BY_TYPE:
        if isinstance(exc, kind):
            return message
    return FALLBACK


def dutch_code(exc: BaseException) -> str | None:
    return by_code(getattr(exc, "code", None), getattr(exc, "params", None))


def field_message(error: FieldError) -> str:
    """One invalid field's message in Dutch, without its label (the form shows it next to the field)."""
    return by_code(error.code, error.params) or "Deze invoer is niet geldig."


def row_text(error: RowError) -> str:
    """What is wrong with a refused CSV row (or the file), in Dutch, without where."""
    return by_code(error.code, error.params) or "Deze invoer is niet geldig."


def row_error(error: RowError) -> str:
    """A refused CSV row (or the file) in Dutch: where, which field, what."""
    where = f"Regel {error.row}" if error.row else "Bestand"
    what = row_text(error)
    return f"{where}, {field_label(error.field)}: {what}" if error.field else f"{where}: {what}"


def job_error(error_kind: str | None) -> str:
    """Why a background job failed, in Dutch, from what it stored: ``interrupted``, or the names of
    the error's type and its bases (:func:`capstone.web.jobs.error_kind`)."""
    if error_kind == "interrupted":
        return BY_CODE["interrupted"]
    names = set((error_kind or "").split())
    for kind, message in BY_TYPE:
        if kind.__name__ in names:
            return message
    return FALLBACK


def duration(seconds: float) -> str:
    """A period in Dutch words: ``3 dagen``, ``5 uur``, ``20 minuten``."""
    if seconds >= 2 * 86400:
        return f"{round(seconds / 86400)} dagen"
    if seconds >= 2 * 3600:
        return f"{round(seconds / 3600)} uur"
    return f"{max(1, round(seconds / 60))} minuten"


def capture_warning(warning: Mapping[str, object]) -> str:
    """A warning of ``capture status`` in Dutch, by its kind: a designation that cannot be scheduled,
    Teams chats or phone chats not captured or imported within their maximum age."""
    official = warning.get("official") or warning.get("designation_id") or "?"
    limit = warning.get("max_age_seconds")
    most = duration(float(limit)) if isinstance(limit, (int, float)) else "?"
    if warning.get("kind") == "phone-import":
        if not warning.get("last_import_at"):
            return f"De telefoonchats (WhatsApp, Signal, sms) van {official} zijn nog nooit geïmporteerd; dat moet minstens elke {most}."
        return f"De telefoonchats (WhatsApp, Signal, sms) van {official} zijn langer dan {most} niet geïmporteerd."
    if "last_complete_run" in warning:
        account = warning.get("account") or ""
        age = warning.get("age_seconds")
        if not isinstance(age, (int, float)):
            return f"De Teams-chats van {official} ({account}) zijn nog nooit volledig vastgelegd (maximaal {most} ertussen)."
        return (
            f"De Teams-chats van {official} ({account}) zijn {duration(float(age))} geleden voor het laatst "
            f"volledig vastgelegd; dat mag hoogstens {most} zijn."
        )
    if "error" in warning:
        return f"De aanwijzing van {official} kan niet worden ingepland: {warning.get('error')}"
    return str(warning.get("message", ""))


def run_reason(status: str, cause: RunCause | Mapping[str, Any] | None) -> list[str]:
    """Why a capture run is not complete, in Dutch, one sentence per cause (nothing for a complete
    or running run); the engine's own error line is quoted as the technical detail it is."""
    if status in ("complete", "running") or cause is None:
        return []
    if not isinstance(cause, RunCause):
        cause = RunCause(
            cause.get("error"), int(cause.get("not_captured") or 0), int(cause.get("differences") or 0)
        )
    said: list[str] = []
    if cause.error:
        said.append(f"De run is afgebroken door een fout (technische melding: {cause.error}).")
    if cause.not_captured:
        said.append(
            f"{cause.not_captured} {'item of onderdeel is' if cause.not_captured == 1 else 'items of onderdelen zijn'}"
            " niet vastgelegd: ze staan als open fout geregistreerd en de volgende run probeert ze opnieuw."
        )
    if cause.differences:
        one = cause.differences == 1
        said.append(
            f"De reconciliatie vond {cause.differences} onverklaard{'' if one else 'e'} "
            f"verschil{'' if one else 'len'} tussen bron en kluis."
        )
    if not said:
        said.append("De run is niet volledig afgerond; de volgende run gaat verder waar deze stopte.")
    return said


__all__ = [
    "BY_CODE", "BY_TYPE", "DOCUMENT_KIND_NAMES", "EVENT_NAMES", "FIELD_LABELS", "RUN_STATUS_NAMES", "FormError", "capture_warning", "duration", "dutch", "field_label",
    "field_message", "job_error", "kind_name", "row_error", "row_text", "run_reason",
]  # fmt: skip

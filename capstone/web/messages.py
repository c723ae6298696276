"""Service refusals in Dutch for the web pages. The services raise errors with English messages (the
CLI and the logs show those); the pages say them in Dutch, chosen by the error's ``code``
(:class:`capstone.coded.Coded`) or, for an error without one, by its type. The REST API keeps the
English ``detail`` (its problem ``title`` is Dutch).

Example::

    except CaseError as exc:
        return error_page(request, 400, "Niet vastgelegd: " + dutch(exc))
"""

from __future__ import annotations

from collections.abc import Mapping

from capstone.access import AccessDenied
from capstone.registry.errors import (
    ConcurrentChangeError,
    RegistryError,
    StateError,
    UnknownDesignationError,
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
FALLBACK = "Er ging iets mis; er is niets vastgelegd. De beheerder vindt de oorzaak in het log."

ROLE_NAMES = {
    "registry-admin": "registerbeheerder (registry-admin)", "archivist": "archivaris (archivist)",
    "woo-officer": "Woo-behandelaar (woo-officer)", "auditor": "auditor (auditor)",
    "official": "sleutelfunctionaris of gemachtigde (official)",
}  # fmt: skip


def _params(params: Mapping[str, object]) -> dict[str, str]:
    shown = {k: str(v) for k, v in params.items()}
    roles = params.get("roles")
    if isinstance(roles, (tuple, list)):
        shown["roles"] = " of ".join(ROLE_NAMES.get(str(r), str(r)) for r in roles)
    status = {"proposed": "voorgesteld", "accepted": "geaccepteerd", "rejected": "afgewezen",
              "withdrawn": "ingetrokken"}  # fmt: skip
    for key in ("status", "wanted"):
        if key in shown:
            shown[key] = status.get(shown[key], shown[key])
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
    found = by_code(getattr(exc, "code", None), getattr(exc, "params", None))
    if found is not None:
        return found
    for kind, message in BY_TYPE:
        if isinstance(exc, kind):
            return message
    return FALLBACK


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


__all__ = ["BY_CODE", "BY_TYPE", "FormError", "capture_warning", "duration", "dutch", "job_error"]

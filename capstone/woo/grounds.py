"""The Woo platform's vocabulary: judgements (*beoordelingen*) and ground codes (*weigeringsgronden*).

Taken from the government's Woo platform, minvws/nl-rdo-woo-web (commit 00828238, August 2026):

* ``src/Domain/Publication/Dossier/Type/WooDecision/Judgement.php`` - the enum ``Judgement`` with the
  values ``public``, ``partial_public``, ``already_public``, ``not_public``; ``Judgement::fromString``
  reads the inventory's column *Beoordeling* as ``openbaar``, ``deels openbaar``, ``reeds openbaar``,
  ``niet openbaar`` (lower-cased, trimmed) and turns **every other value silently into niet
  openbaar** - so Capstone refuses any other value instead of letting a typo withhold a document.
  Only ``public`` and ``partial_public`` documents take a file (``Document::shouldBeUploaded``).
* ``src/Domain/Publication/Citation.php`` - the ground codes ``Citation::WOO_GROUND_KEYS``: art. 5.1
  lid 1 a-e (``5.1.1a`` ...), lid 2 a-i (``5.1.2a`` ...), lid 5 (``5.1.5``), art. 5.2 (``5.2``), art.
  5.4 (``5.4``, information held by the *formateur*) and ``dubbel`` (the content was assessed in
  another document). The Wob's codes (``10.1a`` ...) are listed there for dossiers from before the Woo;
  a Woo decision does not use them, so Capstone refuses them with a message saying so.
* ``src/Service/Inventory/InventoryDataHelper.php`` - ``getGrounds``: grounds separated by ``;``,
  trimmed; ``5.1.2.e`` is normalised to ``5.1.2e`` (so is every lid 1 and lid 2 code).

Example::

    judgement = Judgement.parse("Deels openbaar")        # Judgement.PARTIAL_PUBLIC
    judgement.label                                       # "deels openbaar" (column Beoordeling)
    parse_grounds(["5.1.2.e", "5.1.1d"])                  # ("5.1.1d", "5.1.2e"), in the platform's order
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from capstone.coded import Coded


class GroundError(Coded, ValueError):
    """A ground code or judgement the platform does not know."""


class Judgement(enum.Enum):
    PUBLIC = "public"
    PARTIAL_PUBLIC = "partial_public"
    ALREADY_PUBLIC = "already_public"
    NOT_PUBLIC = "not_public"

    @property
    def label(self) -> str:
        """The value of the inventory column *Beoordeling* that ``Judgement::fromString`` reads."""
        return _LABELS[self]

    @property
    def published(self) -> bool:
        """Whether the document goes into the package as a PDF (``isAtLeastPartialPublic``)."""
        return self in (Judgement.PUBLIC, Judgement.PARTIAL_PUBLIC)

    @classmethod
    def parse(cls, value: str) -> Judgement:
        """A judgement from its Dutch label (any case) or the platform's enum value."""
        text = " ".join(value.strip().lower().replace("_", " ").split())
        for judgement, label in _LABELS.items():
            if text in (label, judgement.value.replace("_", " ")):
                return judgement
        raise GroundError(
            f"unknown judgement {value!r}: use one of {', '.join(repr(v) for v in LABELS)} "
            "(the Woo platform reads any other value as 'niet openbaar')",
            code="judgement-unknown",
            value=value,
        )


_LABELS = {
    Judgement.PUBLIC: "openbaar",
    Judgement.PARTIAL_PUBLIC: "deels openbaar",
    Judgement.ALREADY_PUBLIC: "reeds openbaar",
    Judgement.NOT_PUBLIC: "niet openbaar",
}
LABELS = tuple(_LABELS.values())

DUBBEL = "dubbel"
# Citation::$wooCitations, in the platform's order (Citation::sortWooCitations sorts by it)
WOO_GROUNDS: dict[str, str] = {
    "5.1.1a": "Eenheid van de Kroon",
    "5.1.1b": "Veiligheid van de Staat",
    "5.1.1c": "Vertrouwelijk verstrekte bedrijfs- of fabricagegegevens",
    "5.1.1d": "Bijzondere persoonsgegevens",
    "5.1.1e": "Nationale identificatienummers",
    "5.1.2a": "Internationale betrekkingen",
    "5.1.2b": "Economische of financiële belangen van de Staat",
    "5.1.2c": "Opsporing en vervolging van strafbare feiten",
    "5.1.2d": "Inspectie, controle en toezicht van bestuursorganen",
    "5.1.2e": "Eerbiediging van de persoonlijke levenssfeer",
    "5.1.2f": "Bescherming van andere dan vertrouwelijk aan de overheid verstrekte concurrentiegevoelige "
    "bedrijfs- en fabricagegegevens",
    "5.1.2g": "De bescherming van het milieu waarop deze informatie betrekking heeft",
    "5.1.2h": "De beveiliging van personen of bedrijven en het voorkomen van sabotage",
    "5.1.2i": "Het goed functioneren van de staat, andere publiekrechtelijke lichamen of bestuursorganen",
    "5.1.5": "Het voorkomen van onevenredige benadeling",
    "5.2": "Persoonlijke beleidsopvattingen",
    "5.4": "Informatie die berust bij de formateur",
    DUBBEL: "inhoud is in een ander document al beoordeeld",
}
# Citation::WOB_GROUND_KEYS (without dubbel): known to the platform, refused for a Woo decision
WOB_GROUNDS = frozenset(
    ("10.1a", "10.1b", "10.1c", "10.1d", "10.2a", "10.2b", "10.2c", "10.2d", "10.2e", "10.2g", "11.1")
)
_ORDER = {code: n for n, code in enumerate(WOO_GROUNDS)}


def normalise_ground(code: str) -> str:
    """``InventoryDataHelper::getGrounds``' normalisation (``5.1.2.e`` -> ``5.1.2e``), spaces removed
    and lower-cased as ``Citation::toClassification`` does."""
    text = code.replace(" ", "").lower()
    if len(text) == 7 and text[:6] in ("5.1.1.", "5.1.2."):
        text = text[:5] + text[6]
    if len(text) == 6 and text[:5] in ("10.1.", "10.2."):
        text = text[:4] + text[5]
    return text


def parse_ground(code: str) -> str:
    text = normalise_ground(code)
    if text in WOO_GROUNDS:
        return text
    if text in WOB_GROUNDS:
        raise GroundError(
            f"{code!r} is a Wob ground (art. 10/11 Wob): a Woo decision uses the Woo's grounds "
            f"({', '.join(WOO_GROUNDS)})",
            code="ground-wob",
            value=code,
        )
    raise GroundError(
        f"unknown ground code {code!r}: the Woo platform knows {', '.join(WOO_GROUNDS)}",
        code="ground-unknown",
        value=code,
    )


def parse_grounds(codes: Iterable[str]) -> tuple[str, ...]:
    """Ground codes checked, normalised, without repeats, in the platform's order. A value may hold
    several codes separated by ``;`` or ``,``."""
    found: set[str] = set()
    for value in codes:
        for part in value.replace(",", ";").split(";"):
            if part.strip():
                found.add(parse_ground(part))
    return tuple(sorted(found, key=_ORDER.__getitem__))


def grounds_cell(codes: Iterable[str]) -> str:
    """The column *Beoordelingsgrond*: codes separated by ``;`` (``InventoryDataHelper::separateValues``)."""
    return "; ".join(parse_grounds(codes))

"""Redaction marks and the Woo grounds they may name.

The ground codes are exactly those the government's Woo platform (minvws/nl-rdo-woo-web,
``src/Citation.php``, ``Citation::$wooCitations``) accepts, with its Dutch labels: art. 5.1 lid 1
a–e, lid 2 a–i, lid 5 and art. 5.2. The platform compares a code after removing spaces and lowering
its case (``5.1.2E`` is ``5.1.2e``); :func:`normalise_ground` does the same and nothing more, so a
code it accepts is one the platform accepts. The platform still reads the Wob grounds of old
decisions (:data:`WOB_GROUNDS`); a new Woo decision does not use them, so marks refuse them.

A mark is a text span (found and removed wherever it occurs on its page, or on every page when
``page`` is None) or a region of one page: a rectangle ``(x0, y0, x1, y1)`` in PDF points with the
origin at the top-left corner of the page as it is displayed, its /Rotate applied (y grows
downwards, as a browser showing the rendered page measures it).
Pages are numbered from 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GROUNDS: Mapping[str, str] = {
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
    "bedrijfs- en fabricagegevens",
    "5.1.2g": "De bescherming van het milieu waarop deze informatie betrekking heeft",
    "5.1.2h": "De beveiliging van personen of bedrijven en het voorkomen van sabotage",
    "5.1.2i": "Het goed functioneren van de staat, andere publiekrechtelijke lichamen of bestuursorganen",
    "5.1.5": "Het voorkomen van onevenredige benadeling",
    "5.2": "Persoonlijke beleidsopvattingen",
}
"""Woo ground code → the platform's Dutch label, in the platform's order."""

WOB_GROUNDS: Mapping[str, str] = {
    "10.1.a": "Eenheid van de Kroon",
    "10.1.b": "Veiligheid van de Staat",
    "10.1.c": "Vertrouwelijk verstrekte bedrijfs- en fabricagegegevens",
    "10.1.d": "Bijzondere persoonsgegevens",
    "10.2.a": "Internationale betrekkingen",
    "10.2.b": "Economische of financiële belangen van de Staat",
    "10.2.c": "Opsporing en vervolging van strafbare feiten",
    "10.2.d": "Inspectie, controle en toezicht door bestuursorganen",
    "10.2.e": "Eerbiediging van de persoonlijke levenssfeer",
    "10.2.g": "Het voorkomen van onevenredige bevoordeling of benadeling",
    "11.1": "Persoonlijke beleidsopvattingen",
}
"""The Wob grounds the platform still reads (old decisions); not accepted for new marks."""

PERSONAL_DATA = "5.1.2e"
"""The ground suggested for personal data (eerbiediging van de persoonlijke levenssfeer)."""

Rect = tuple[float, float, float, float]


class UnknownGroundError(ValueError):
    """A ground code the Woo platform does not accept."""


class InvalidMarkError(ValueError):
    """A redaction mark that does not say what to remove (or names no valid ground)."""


def normalise_ground(code: str) -> str:
    """The platform's canonical form of ``code``: spaces removed, lower case."""
    return code.replace(" ", "").lower()


def validate_ground(code: str) -> str:
    """``code`` in canonical form; :class:`UnknownGroundError` (naming the valid codes) when the
    Woo platform would not accept it."""
    canonical = normalise_ground(str(code))
    if canonical not in GROUNDS:
        hint = " (a Wob ground: new Woo decisions use the Woo grounds)" if canonical in WOB_GROUNDS else ""
        raise UnknownGroundError(f"unknown Woo ground {code!r}{hint}; valid grounds: {', '.join(GROUNDS)}")
    return canonical


def validate_grounds(codes: Iterable[str]) -> list[str]:
    """Every code validated (canonical, duplicates removed, first occurrence's order kept)."""
    return list(dict.fromkeys(validate_ground(c) for c in codes))


def ground_label(code: str) -> str:
    """The platform's Dutch label of a Woo ground."""
    return GROUNDS[validate_ground(code)]


@dataclass(frozen=True, kw_only=True)
class RedactionMark:
    """One redaction: a text span (``text``) or a page region (``region`` on ``page``), withheld
    on ``ground``. ``page`` is 1-based; None (text spans only) means every page."""

    ground: str
    page: int | None = None
    text: str | None = None
    region: Rect | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "ground", validate_ground(self.ground))
        except UnknownGroundError as exc:
            raise InvalidMarkError(str(exc)) from None
        if (self.text is None) == (self.region is None):
            raise InvalidMarkError(
                "a redaction mark is either a text span or a page region, not both or neither"
            )
        if self.page is not None and (
            isinstance(self.page, bool) or not isinstance(self.page, int) or self.page < 1
        ):
            raise InvalidMarkError(f"page {self.page!r}: pages are numbered from 1")
        if self.text is not None and (not isinstance(self.text, str) or not self.text.strip()):
            raise InvalidMarkError("a text span to redact must not be empty")
        if self.region is not None:
            if self.page is None:
                raise InvalidMarkError("a region mark needs the page it is on")
            try:
                x0, y0, x1, y1 = (float(v) for v in self.region)
            except (TypeError, ValueError):
                raise InvalidMarkError(
                    f"region {self.region!r}: expected (x0, y0, x1, y1) in PDF points"
                ) from None
            if not (x0 < x1 and y0 < y1) or min(x0, y0) < 0:
                raise InvalidMarkError(f"region {self.region!r}: x0 < x1, y0 < y1, all ≥ 0 required")
            object.__setattr__(self, "region", (x0, y0, x1, y1))

    @property
    def label(self) -> str:
        """What the box shows: the ground code."""
        return self.ground

    def to_json(self) -> dict[str, Any]:
        return {
            "ground": self.ground,
            "page": self.page,
            "text": self.text,
            "region": list(self.region) if self.region is not None else None,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> RedactionMark:
        region = document.get("region")
        return cls(
            ground=str(document.get("ground") or ""),
            page=document.get("page"),
            text=document.get("text"),
            region=(region[0], region[1], region[2], region[3]) if region is not None else None,
        )


__all__ = [
    "GROUNDS",
    "PERSONAL_DATA",
    "WOB_GROUNDS",
    "InvalidMarkError",
    "Rect",
    "RedactionMark",
    "UnknownGroundError",
    "ground_label",
    "normalise_ground",
    "validate_ground",
    "validate_grounds",
]

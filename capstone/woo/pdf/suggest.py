"""Suggested redaction marks for personal data, which the officer accepts or rejects.

Found in a document's text: e-mail addresses, Dutch telephone numbers (national and +31/0031
forms), IBANs (ISO 13616 mod-97 check, the country's length where known), BSNs (the 11-test),
addresses (street and house number with a postcode, or a postcode with a house number), and the
names of people who are not key officials, taken from the mail's headers and signature (the key
officials' names and addresses come from the registry). Each suggestion is a text-span mark with
ground 5.1.2e (eerbiediging van de persoonlijke levenssfeer); a BSN gets 5.1.1e (nationale
identificatienummers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import Message

from capstone.mime.decode import parse_addresses
from capstone.mime.walker import parse, walk
from capstone.woo.pdf.marks import PERSONAL_DATA, RedactionMark

NATIONAL_ID = "5.1.1e"
CATEGORIES = ("email", "iban", "bsn", "telefoon", "adres", "naam")

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}(?![\w-])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){10,30}")
_IBAN_SHAPED = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}[ ]?[A-Z]{4}(?:[ ]?\d){6,}")  # valid or not
_BSN = re.compile(r"(?<![\w.\-])(\d{9}|\d{3}[. ]\d{3}[. ]\d{3}|\d{4}[. ]\d{2}[. ]\d{3})(?![\w\-]|[.,]\d)")
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)[ ]?31[ .\-]?(?:\(0\)[ .\-]?)?|\(0\d{1,3}\)[ .\-]?|0)"
    r"\d(?:[ .\-]?\d){4,11}(?![\w\-]|[.,:]\d)"
)
_DATE_START = re.compile(
    r"\s*\d{1,2}[-./]\d{1,2}[-./](?:(?:19|20)\d{2}|\d{2}(?![-./]?\d))(?!\d)"
)  # 02-09-2026 (04:15)
_POSTCODE = r"[1-9]\d{3}[ ]?(?!SA|SD|SS)[A-Z]{2}(?![A-Za-z])"
_HOUSE = r"\d{1,5}(?:-?[A-Za-z]{1,2}(?![A-Za-z])|[ ]?-[ ]?\d{1,4}|[ ][A-Z](?![\w]))?"
_STREET_WORD = r"[A-Z][a-zà-ÿ'.\-]+"
_STREET = rf"{_STREET_WORD}(?:[ ](?:(?:van|de|der|den|het|ter|ten|te|aan|'t)[ ])*{_STREET_WORD}){{0,3}}"
# Words a sentence puts before an address, not part of the street's name.
_LEADING = frozenset(
    {"Bij", "Op", "Aan", "In", "Naar", "Via", "Te", "Het", "Een", "Adres", "Woont", "Wonend"}
)
_LEADING |= frozenset({"Woonachtig", "Postadres", "Bezoekadres", "Huisadres", "Vanaf", "Tot", "Ook", "En"})
_ADDRESS = re.compile(
    rf"(?<![\w])(?:{_STREET}[ ]{_HOUSE},?[ ]+{_POSTCODE}|{_POSTCODE}[ ,]+(?:huisnummer[ ]|nr\.?[ ]?)?{_HOUSE})(?![\w])"
)
# A name line in a signature: two to five words, capitalised, Dutch particles allowed between.
_PARTICLES = frozenset(
    {"van", "de", "der", "den", "het", "ter", "ten", "te", "op", "in", "'t", "la", "le", "du", "da", "di"}
    | {"von", "zu"}
)
_NAME_WORD = re.compile(r"^(?:[A-Z][a-zà-ÿ'\-]+|[A-Z]\.(?:[A-Z]\.)*)$")
_CLOSINGS = re.compile(
    r"^(?:met )?(?:vriendelijke|hartelijke|beste|collegiale)? ?groet(?:en|jes)?|^groet(?:en)?|^mvg|^gr\.?$|"
    r"^kind regards|^best regards|^regards|^with kind regards|^hoogachtend",
    re.IGNORECASE,
)
_IBAN_LENGTHS = {
    "NL": 18, "BE": 16, "DE": 22, "FR": 27, "LU": 20, "GB": 22, "ES": 24, "IT": 27, "AT": 20,
    "CH": 21, "DK": 18, "FI": 18, "IE": 22, "PT": 25, "SE": 24, "NO": 15, "PL": 28,
}  # fmt: skip


@dataclass(frozen=True)
class Suggestion:
    """A candidate mark: what was found (``category``), where (``mark``), and why (``reason``)."""

    mark: RedactionMark
    category: str  # email | iban | bsn | telefoon | adres | naam
    reason: str


@dataclass(frozen=True)
class KeyOfficials:
    """Who is not suggested as a name: the key officials (names and mail addresses, any case)."""

    names: frozenset[str] = field(default_factory=frozenset)
    addresses: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, names: Iterable[str] = (), addresses: Iterable[str] = ()) -> KeyOfficials:
        return cls(
            frozenset(_fold(n) for n in names if n.strip()),
            frozenset(a.strip().lower() for a in addresses if a.strip()),
        )

    @classmethod
    def from_designations(cls, designations: Iterable[object]) -> KeyOfficials:
        """From the registry's designations (their ``name`` and their accounts' ``mail``)."""
        names: list[str] = []
        addresses: list[str] = []
        for designation in designations:
            names.append(str(getattr(designation, "name", "") or ""))
            for account in getattr(designation, "accounts", ()) or ():
                values = [getattr(account, "primary_smtp", None), getattr(account, "upn", None)]
                values.extend(getattr(account, "aliases", ()) or ())
                addresses.extend(v for v in values if isinstance(v, str) and "@" in v)
        return cls.of(names, addresses)

    def is_official(self, name: str, address: str = "") -> bool:
        return (bool(address) and address.strip().lower() in self.addresses) or _fold(name) in self.names


def _fold(name: str) -> str:
    return " ".join(name.replace(",", " ").split()).casefold()


# -- checks -----------------------------------------------------------------------------------------


def bsn_valid(digits: str) -> bool:
    """The 11-test of a BSN: 9 digits, Σ d_i × (9..2) − d_9 divisible by 11, not all zero."""
    if len(digits) != 9 or not digits.isdigit() or int(digits) == 0:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: country letters, two check digits, mod 97 == 1, the country's length if known."""
    code = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", code):
        return False
    if _IBAN_LENGTHS.get(code[:2], len(code)) != len(code):
        return False
    number = "".join(str(int(c, 36)) for c in code[4:] + code[:4])
    return int(number) % 97 == 1


def phone_valid(candidate: str) -> bool:
    """A Dutch number: nine digits after the trunk 0 or the country code 31 (mobile 06, area codes)."""
    if _DATE_START.match(candidate):
        return False  # a date, perhaps with the hour after it, as a mail's header shows it
    digits = re.sub(r"\D", "", candidate)
    international = candidate.lstrip().startswith(("+", "00"))
    if international:
        digits = digits[2:] if digits.startswith("00") else digits
        if not digits.startswith("31"):
            return False
        digits = digits[2:]
        if "(0)" in candidate:
            digits = digits[1:] if digits.startswith("0") else digits
        return len(digits) == 9 and digits[0] != "0"
    return len(digits) == 10 and digits[0] == "0" and digits[1] != "0"


# -- finding ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    category: str
    reason: str
    ground: str = PERSONAL_DATA


def _ibans(text: str) -> list[_Hit]:
    """Each candidate is cut to the longest prefix that is a valid IBAN; scanning resumes after it
    (a candidate may run on into the words, or the IBAN, that follow)."""
    hits: list[_Hit] = []
    position = 0
    while (match := _IBAN.search(text, position)) is not None:
        position = match.start() + 1
        chars = [(i, c) for i, c in enumerate(match.group(0)) if c != " "]
        for length in range(min(len(chars), 34), 14, -1):
            if iban_valid("".join(c for _, c in chars[:length])):
                end = match.start() + chars[length - 1][0] + 1
                hits.append(_Hit(match.start(), end, "iban", "IBAN (controlegetal klopt)"))
                position = end
                break
    return hits


def _simple(
    pattern: re.Pattern[str], text: str, category: str, reason: str, check: object = None
) -> list[_Hit]:
    hits = []
    for match in pattern.finditer(text):
        value = match.group(0)
        if callable(check) and not check(value):
            continue
        hits.append(_Hit(match.start(), match.end(), category, reason))
    return hits


def _addresses(text: str) -> list[_Hit]:
    hits: list[_Hit] = []
    for match in _ADDRESS.finditer(text):
        start = match.start()
        while True:
            word, space, rest = text[start : match.end()].partition(" ")
            if not space or word not in _LEADING or not rest[:1].isupper():
                break
            start += len(word) + 1
        hits.append(_Hit(start, match.end(), "adres", "adres met huisnummer en postcode"))
    return hits


def _bsns(text: str) -> list[_Hit]:
    return [
        _Hit(m.start(), m.end(), "bsn", "BSN (elfproef klopt)", NATIONAL_ID)
        for m in _BSN.finditer(text)
        if bsn_valid(re.sub(r"\D", "", m.group(0)))
    ]


def _name_hits(text: str, names: Sequence[str]) -> list[_Hit]:
    hits: list[_Hit] = []
    for name in names:
        words = name.split()
        if not words:
            continue
        pattern = re.compile(
            r"(?<!\w)" + r"[ \t]+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE
        )
        hits.extend(
            _Hit(m.start(), m.end(), "naam", "naam van een persoon (geen sleutelfunctionaris)")
            for m in pattern.finditer(text)
        )
    return hits


def find(text: str, *, names: Sequence[str] = ()) -> list[tuple[int, int, str, str, str]]:
    """Every finding in ``text`` as ``(start, end, category, ground, reason)``, earlier categories
    winning where findings overlap (e-mail, IBAN, BSN, phone, address, name)."""
    candidates = [
        *_simple(_EMAIL, text, "email", "e-mailadres"),
        *_ibans(text),
        *_bsns(text),
        *_simple(_PHONE, text, "telefoon", "telefoonnummer", phone_valid),
        *_addresses(text),
        *_name_hits(text, names),
    ]
    shaped = [(m.start(), m.end()) for m in _IBAN_SHAPED.finditer(text)]
    candidates = [  # digits inside an account number (even one that fails its check) are not a phone or BSN
        h
        for h in candidates
        if h.category not in ("telefoon", "bsn") or all(h.end <= a or h.start >= b for a, b in shaped)
    ]
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    candidates.sort(key=lambda h: (rank[h.category], h.start, -(h.end - h.start)))
    taken: list[_Hit] = []
    for hit in candidates:
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    taken.sort(key=lambda h: h.start)
    return [(h.start, h.end, h.category, h.ground, h.reason) for h in taken]


def suggest(text: str, *, names: Sequence[str] = (), page: int | None = None) -> list[Suggestion]:
    """Suggestions for ``text`` (one per distinct span and category; ``page`` 1-based or None).
    ``names`` are people's names to look for (see :func:`names_from_mail`)."""
    seen: set[tuple[str, str]] = set()
    found: list[Suggestion] = []
    for start, end, category, ground, reason in find(text, names=names):
        span = " ".join(text[start:end].split())
        if (span.casefold(), category) in seen:
            continue
        seen.add((span.casefold(), category))
        found.append(Suggestion(RedactionMark(ground=ground, page=page, text=span), category, reason))
    return found


def suggest_pdf(pdf: bytes, *, names: Sequence[str] = ()) -> list[Suggestion]:
    """Suggestions for every page of a PDF (each mark on its page)."""
    import pymupdf

    found: list[Suggestion] = []
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        for number, page in enumerate(doc, start=1):
            found.extend(suggest(page.get_text("text"), names=names, page=number))
    return found


# -- names ------------------------------------------------------------------------------------------


def _looks_like_name(line: str) -> bool:
    words = line.replace(",", " ").split()
    if not 2 <= len(words) <= 6:
        return False
    proper = [w for w in words if w.lower() not in _PARTICLES]
    return len(proper) >= 2 and all(_NAME_WORD.match(w) for w in proper)


def _signature_names(body: str) -> list[str]:
    names: list[str] = []
    lines = [line.strip() for line in body.splitlines()]
    for number, line in enumerate(lines):
        if not _CLOSINGS.match(line):
            continue
        following = [candidate for candidate in lines[number + 1 : number + 4] if candidate]
        if following and _looks_like_name(following[0]):
            names.append(following[0].rstrip(","))
    return names


def _variants(name: str) -> list[str]:
    name = " ".join(name.strip().strip("\"'").split())
    if "," in name:
        last, _, first = name.partition(",")
        turned = f"{first.strip()} {last.strip()}".strip()
        return [n for n in (name, turned) if n]
    return [name] if name else []


def _header_people(message: Message) -> list[tuple[str, str]]:
    people: list[tuple[str, str]] = []
    for header in ("From", "Sender", "Reply-To", "To", "Cc", "Bcc"):
        for address in parse_addresses(message.get_all(header) or []):
            people.append(
                (str(getattr(address, "name", "") or ""), str(getattr(address, "address", "") or ""))
            )
    return people


def names_from_mail(eml: bytes, key_officials: KeyOfficials = KeyOfficials()) -> list[str]:
    """People's names in a mail's headers (display names) and signatures (the line after a
    closing like "Met vriendelijke groet,"), less the key officials."""
    message = parse(eml)
    official_names = set(key_officials.names)
    names: list[str] = []
    for name, address in _header_people(message):
        if not name or "@" in name:
            continue
        if key_officials.is_official(name, address):
            official_names.update(_fold(v) for v in _variants(name))
            continue
        names.extend(_variants(name))
    structure = walk(message)
    for part in structure.body_parts():
        text = part.text
        if part.subtype == "html":
            import lxml.html

            text = lxml.html.document_fromstring(text or "<p></p>").text_content()
        names.extend(n for s in _signature_names(text) for n in _variants(s))
    unique = dict.fromkeys(n for n in names if _fold(n) not in official_names and len(n.split()) >= 2)
    return list(unique)


__all__ = [
    "CATEGORIES",
    "NATIONAL_ID",
    "KeyOfficials",
    "Suggestion",
    "bsn_valid",
    "find",
    "iban_valid",
    "names_from_mail",
    "phone_valid",
    "suggest",
    "suggest_pdf",
]

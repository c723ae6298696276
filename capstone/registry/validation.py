"""Checking and normalising what people enter: addresses (``email-validator``, syntax only unless
asked), Entra ID object ids, UPNs, dates, yes/no values and the designation as a whole.

Every problem becomes a :class:`FieldError` naming the field as the CSV column / CLI option does
(``mail``, ``aliases``, ``end_date``); :func:`validate_draft` collects them all before refusing.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email

from capstone.registry.errors import FieldError, ValidationError
from capstone.registry.model import Account, Category, DesignationDraft, open_ended

MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DUTCH_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_TRUE = {"yes", "y", "ja", "j", "true", "1", "x"}
_FALSE = {"no", "n", "nee", "false", "0", "-"}

T = TypeVar("T")


def normalise_address(value: str, field: str, *, check_deliverability: bool = False) -> str:
    """An e-mail address, checked and normalised (lower case). No DNS lookups unless asked.

    email-validator also refuses addresses that cannot be delivered on the Internet whatever DNS
    says: special-use and reserved domains (``.test``, ``.invalid``, ``localhost``), dotless domains,
    quoted local parts and IP-address literals.
    """
    text = value.strip()
    if not text:
        raise FieldError(field, "an e-mail address is required", code="required")
    if not check_deliverability and (fast := _plain_address(text)) is not None:
        return fast
    try:
        result = validate_email(text, check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise FieldError(
            field, f"{text!r} is not a valid e-mail address: {exc}", code="mail-invalid", value=text
        ) from None
    return result.normalized.lower()


# An ASCII dot-atom local part (RFC 5322 section 3.2.3), which email-validator accepts as it is.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_MAX_LOCAL = 64  # octets (RFC 5321 section 4.5.3.1.1), as email-validator counts them
_MAX_ADDRESS = 254  # email-validator's limit for the whole address


def _plain_address(text: str) -> str | None:
    """The common case fast: an ASCII dot-atom local part at a domain validated once per process.

    Checking the domain (IDNA/UTS-46, special-use names) is most of ``validate_email``'s cost, and
    a registry import of 100 000 officials has a handful of domains. Gives exactly what
    ``validate_email(text).normalized.lower()`` gives, or None to let it decide (any other address,
    and every invalid one, so its error messages stay the library's); tests/registry/
    test_address_fast_path.py compares both on many addresses.
    """
    if not text.isascii() or len(text) > _MAX_ADDRESS:
        return None
    local, at, domain = text.rpartition("@")
    if not at or len(local) > _MAX_LOCAL or not _DOT_ATOM.match(local):
        return None
    normalised = _valid_domain(domain.lower())
    return None if normalised is None else f"{local}@{normalised}".lower()


@functools.lru_cache(maxsize=1024)
def _valid_domain(domain: str) -> str | None:
    """The normalised domain email-validator gives ``postmaster@<domain>``; None when it refuses it."""
    try:
        return validate_email(f"postmaster@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def normalise_upn(value: str, field: str = "upn") -> str:
    """A user principal name (``name@suffix``); the suffix must be a domain name."""
    text = value.strip()
    if (fast := _plain_address(text)) is not None:
        return fast
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise FieldError(
            field, f"{text!r} is not a valid user principal name: {exc}", code="upn-invalid", value=text
        ) from None
    return result.normalized.lower()


def normalise_object_id(value: str, field: str = "entra_object_id") -> str:
    """An Entra ID object id: a GUID, returned in its canonical lower-case form."""
    text = value.strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise FieldError(
            field,
            f"{text!r} is not an Entra ID object id (a GUID like 0f6d5a4e-...-3c2b)",
            code="object-id-invalid",
            value=text,
        ) from None


def normalise_endpoint(value: str, field: str = "exchange_endpoint") -> str:
    """A reference to an on-premises Exchange endpoint: a configured name or an EWS URL."""
    text = value.strip()
    if not text or any(c.isspace() for c in text) or len(text) > MAX_TEXT:
        raise FieldError(
            field,
            f"{text!r} is not an endpoint reference (no spaces, at most {MAX_TEXT} characters)",
            code="endpoint-invalid",
            value=text,
            limit=MAX_TEXT,
        )
    return text


def clean_text(value: str | None, field: str, *, required: bool = True) -> str | None:
    text = " ".join((value or "").split())
    if not text:
        if required:
            raise FieldError(field, "is required", code="required")
        return None
    if _CONTROL.search(text):
        raise FieldError(field, "contains control characters", code="control-characters")
    if len(text) > MAX_TEXT:
        raise FieldError(field, f"is longer than {MAX_TEXT} characters", code="too-long", limit=MAX_TEXT)
    return text


def parse_date(value: str, field: str) -> date:
    """``YYYY-MM-DD`` or the Dutch ``DD-MM-YYYY`` (also with / or .)."""
    text = value.strip()
    try:
        match = _DUTCH_DATE.match(text)
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return date.fromisoformat(text)
    except ValueError:
        raise FieldError(
            field, f"{text!r} is not a date (use YYYY-MM-DD)", code="date-invalid", value=text
        ) from None


def parse_optional_date(value: str | None, field: str) -> date | None:
    if value is None or not value.strip() or value.strip().lower() in {"open", "-", "none"}:
        return None
    return parse_date(value, field)


def parse_bool(value: str | None, field: str, default: bool) -> bool:
    text = (value or "").strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldError(
        field, f"{value!r} is not yes/no (ja/nee, true/false)", code="yes-no-invalid", value=value
    )


def parse_category(value: str, field: str = "category") -> Category:
    try:
        return Category.parse(value)
    except ValueError as exc:
        raise FieldError(field, str(exc), code="category-unknown", value=value) from None


def split_list(value: str | None) -> list[str]:
    """Aliases in one cell: separated by ``;``, ``,`` or white space."""
    return [part for part in re.split(r"[;,\s]+", value or "") if part]


def _collect(errors: list[FieldError], action: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run ``action``; on a FieldError remember it and return None."""
    try:
        return action(*args, **kwargs)
    except FieldError as error:
        errors.append(error)
        return None


def _validate_account(
    account: Account, fname: Callable[[str], str], errors: list[FieldError], *, chats: bool, dns: bool
) -> Account:
    primary = _collect(
        errors, normalise_address, account.primary_smtp, fname("mail"), check_deliverability=dns
    )
    aliases: list[str] = []
    for alias in account.aliases:
        normal = _collect(errors, normalise_address, alias, fname("aliases"), check_deliverability=dns)
        if normal and normal != primary and normal not in aliases:
            aliases.append(normal)
    object_id = upn = endpoint = None
    if account.entra_object_id:
        object_id = _collect(errors, normalise_object_id, account.entra_object_id, fname("entra_object_id"))
    if account.upn:
        upn = _collect(errors, normalise_upn, account.upn, fname("upn"))
    if account.exchange_endpoint:
        endpoint = _collect(errors, normalise_endpoint, account.exchange_endpoint, fname("exchange_endpoint"))
    if account.exchange_endpoint and chats and not (account.entra_object_id or account.upn):
        errors.append(
            FieldError(
                fname("upn"),
                "Teams chats are captured through Entra ID: an on-premises mailbox needs an "
                "Entra ID object id or UPN (or capture_chats=no)",
                code="chats-need-entra",
            )
        )
    return Account(
        primary_smtp=primary or "",
        aliases=tuple(aliases),
        entra_object_id=object_id,
        upn=upn,
        exchange_endpoint=endpoint,
    )


def validate_draft(
    draft: DesignationDraft, *, check_deliverability: bool = False, today: date | None = None
) -> DesignationDraft:
    """The draft with every field checked and normalised; raises ValidationError naming each bad field."""
    errors: list[FieldError] = []
    name = _collect(errors, clean_text, draft.name, "name")
    personnel_number = _collect(
        errors, clean_text, draft.personnel_number, "personnel_number", required=False
    )
    function = _collect(errors, clean_text, draft.function, "function")
    unit = _collect(errors, clean_text, draft.organisation_unit, "organisation_unit")
    body = _collect(errors, clean_text, draft.deciding_body, "deciding_body")
    reference = _collect(errors, clean_text, draft.decision_reference, "decision_reference")

    accounts: list[Account] = []
    if not draft.accounts:
        errors.append(
            FieldError("mail", "at least one account (a primary e-mail address) is required", code="required")
        )
    seen: dict[str, str] = {}
    count = len(draft.accounts)
    for index, account in enumerate(draft.accounts):

        def fname(field: str, index: int = index) -> str:
            return field if count == 1 else f"accounts[{index + 1}].{field}"

        normal = _validate_account(account, fname, errors, chats=draft.scope.chats, dns=check_deliverability)
        if normal.primary_smtp:
            for key in normal.coverage_keys():
                owner = seen.setdefault(key, fname("mail"))
                if owner != fname("mail"):
                    errors.append(
                        FieldError(
                            fname("mail"),
                            f"{key.split(':', 1)[1]} is also given in {owner}",
                            code="address-twice",
                            value=key.split(":", 1)[1],
                            also_in=owner,
                        )
                    )
        accounts.append(normal)

    end_date = open_ended(draft.end_date)
    if end_date is not None and end_date < draft.start_date:
        errors.append(
            FieldError(
                "end_date",
                f"{end_date.isoformat()} lies before start_date {draft.start_date.isoformat()}",
                code="end-before-start",
                end=end_date.isoformat(),
                start=draft.start_date.isoformat(),
            )
        )
    today = today or datetime.now().date()
    if draft.decision_date > today:
        errors.append(
            FieldError(
                "decision_date",
                f"{draft.decision_date.isoformat()} lies in the future",
                code="decision-in-future",
                value=draft.decision_date.isoformat(),
            )
        )
    if not (draft.scope.mail or draft.scope.chats):
        errors.append(
            FieldError(
                "capture_mail", "nothing to capture: neither mail nor chats", code="nothing-to-capture"
            )
        )
    if errors:
        raise ValidationError(errors)
    return dataclasses.replace(
        draft,
        name=name or "",
        personnel_number=personnel_number,
        accounts=tuple(accounts),
        function=function or "",
        organisation_unit=unit or "",
        deciding_body=body or "",
        decision_reference=reference or "",
        end_date=end_date,
    )

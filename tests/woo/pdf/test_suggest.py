"""Suggested redactions (issue 19): personal data found with its checks, lookalikes left alone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from capstone.registry.model import Account, Category, Designation
from capstone.woo.pdf.redact import burn_in
from capstone.woo.pdf.render import render_mail
from capstone.woo.pdf.suggest import (
    KeyOfficials,
    bsn_valid,
    iban_valid,
    names_from_mail,
    phone_valid,
    suggest,
    suggest_pdf,
)
from tests.index.helpers import mime
from tests.woo.pdf.helpers import flat, pdftotext


def found(text: str, category: str, names: tuple[str, ...] = ()) -> list[str]:
    return [s.mark.text or "" for s in suggest(text, names=names) if s.category == category]


def test_email_addresses() -> None:
    text = (
        "Mail jan.de.vries@gemeente-test.nl of Info+Woo@Example.COM; niet: jan@, @example.nl, naam@localhost."
    )
    assert found(text, "email") == ["jan.de.vries@gemeente-test.nl", "Info+Woo@Example.COM"]
    assert all(s.mark.ground == "5.1.2e" for s in suggest(text))


def test_dutch_phone_numbers_and_lookalikes_that_are_not() -> None:
    text = (
        "Bel 06-12345678, 06 1234 5678, 0612345678, +31 6 12345678, +31 (0)20 123 4567, 0031 70 345 6789, "
        "(020) 123 45 67 of 070-3456789."
    )
    assert found(text, "telefoon") == [
        "06-12345678",
        "06 1234 5678",
        "0612345678",
        "+31 6 12345678",
        "+31 (0)20 123 4567",
        "0031 70 345 6789",
        "(020) 123 45 67",
        "070-3456789",
    ]
    negatives = "Datum 05-12-2026, zaak 2026-0147, bedrag 1.234.567,00, kenmerk 061234567, 06-1234567890, +32 2 123 45 67."
    assert found(negatives, "telefoon") == []
    sent = "Verzonden: 02-09-2026 04:15, 5-12-2026 11:30:00, 02/09/2026 10.00 en 02-09-26 0415."
    assert found(sent, "telefoon") == [] and not phone_valid("02-09-2026 04")
    assert found("Bel 06.12.34.56.78 of 06-12-34-56-78.", "telefoon") == ["06.12.34.56.78", "06-12-34-56-78"]
    assert (
        phone_valid("+31 (0)6 12345678")
        and not phone_valid("+44 20 7946 0958")
        and not phone_valid("0012345678")
    )


def test_ibans_with_the_mod97_check() -> None:
    text = "Rekening NL91 ABNA 0417 1643 00, ook NL91ABNA0417164300 en BE68 5390 0754 7034 — niet NL92 ABNA 0417 1643 00."
    assert found(text, "iban") == ["NL91 ABNA 0417 1643 00", "NL91ABNA0417164300", "BE68 5390 0754 7034"]
    assert iban_valid("NL91ABNA0417164300") and not iban_valid("NL92ABNA0417164300")
    assert not iban_valid("NL91ABNA041716430")  # NL IBANs have 18 characters
    # the digits of the invalid one are not suggested as a phone number either
    assert found(text, "telefoon") == [] and found(text, "bsn") == []


def test_bsns_with_the_eleven_test() -> None:
    text = "BSN 111222333, 123456782 en 123.456.782; niet 123456789, 000000000, 12345678 of 1234567820."
    assert found(text, "bsn") == ["111222333", "123456782", "123.456.782"]
    assert {s.mark.ground for s in suggest(text) if s.category == "bsn"} == {"5.1.1e"}
    assert bsn_valid("111222333") and not bsn_valid("111222334") and not bsn_valid("000000000")


def test_addresses_with_house_number_and_postcode() -> None:
    text = (
        "Woont op Kerkstraat 12a, 1234 AB Amsterdam en Bij Lange Voorhout 9 2514 EA. Ook 3511 LV 17 en "
        "Laan van Meerdervoort 5-3, 2517 AB. Niet: 1234 AB alleen, 1000 euro, 2026 SA 3."
    )
    assert found(text, "adres") == [
        "Kerkstraat 12a, 1234 AB",
        "Lange Voorhout 9 2514 EA",
        "3511 LV 17",
        "Laan van Meerdervoort 5-3, 2517 AB",
    ]


def test_names_from_headers_and_signature_except_key_officials() -> None:
    eml = mime(
        sender="Ruud Jansen <ruud.jansen@aannemer.nl>",
        to="Marieke van Dalen <burgemeester@gemeente-test.nl>",
        cc='"Visser, Sanne" <griffier@gemeente-test.nl>, Kees de Boer <kees@bewoners.nl>',
        body="Beste Marieke,\n\nIk bel u morgen.\n\nMet vriendelijke groet,\n\nPieter van der Berg\nProjectleider",
    )
    officials = KeyOfficials.of(["Marieke van Dalen"], ["griffier@gemeente-test.nl"])
    names = names_from_mail(eml, officials)
    assert names == ["Ruud Jansen", "Kees de Boer", "Pieter van der Berg"]
    text = "Overleg met Ruud Jansen, Marieke van Dalen, Sanne Visser en pieter van der berg."
    assert found(text, "naam", tuple(names)) == ["Ruud Jansen", "pieter van der berg"]


def test_key_officials_come_from_the_registry() -> None:
    designation = Designation(
        designation_id="d-1",
        version=1,
        registered_by="admin",
        registered_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
        name="Marieke van Dalen",
        accounts=(
            Account(primary_smtp="burgemeester@gemeente-test.nl", aliases=("m.vandalen@gemeente-test.nl",)),
        ),
        function="Burgemeester",
        organisation_unit="Bestuur",
        category=Category.COLLEGE,
        start_date=date(2026, 1, 1),
        deciding_body="College",
        decision_date=date(2026, 1, 1),
        decision_reference="DT-1",
    )
    officials = KeyOfficials.from_designations([designation])
    assert officials.is_official("marieke  van dalen") and officials.is_official(
        "M. van Dalen", "Burgemeester@gemeente-test.nl"
    )
    assert officials.is_official("Marieke", "m.vandalen@gemeente-test.nl")
    assert not officials.is_official("Ruud Jansen", "ruud@x.nl")


def test_suggestions_on_a_rendition_are_marks_that_burn_in() -> None:
    eml = mime(
        subject="Contact aannemer",
        sender="Ruud Jansen <ruud.jansen@aannemer.nl>",
        to="Marieke van Dalen <burgemeester@gemeente-test.nl>",
        body="Bel mij op 06-12345678 of maak over naar NL91 ABNA 0417 1643 00.\n\nMet vriendelijke groet,\nRuud Jansen",
    )
    rendition = render_mail(eml)
    assert rendition.pdf is not None
    names = names_from_mail(eml, KeyOfficials.of(["Marieke van Dalen"]))
    suggestions = suggest_pdf(rendition.pdf, names=names)
    by_category: dict[str, set[str]] = {}
    for suggestion in suggestions:
        by_category.setdefault(suggestion.category, set()).add(suggestion.mark.text or "")
    assert by_category == {
        "email": {"ruud.jansen@aannemer.nl", "burgemeester@gemeente-test.nl"},
        "telefoon": {"06-12345678"},
        "iban": {"NL91 ABNA 0417 1643 00"},
        "naam": {"Ruud Jansen"},  # the key official Marieke van Dalen is not suggested
    }
    assert all(s.mark.page == 1 for s in suggestions)
    result = burn_in(rendition.pdf, [s.mark for s in suggestions])
    text = flat(pdftotext(result))
    for s in suggestions:
        assert (s.mark.text or "").lower() not in text.lower()
    assert "Bel mij op" in text and "Marieke van Dalen" in text

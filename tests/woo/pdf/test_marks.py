"""Redaction marks and the Woo grounds: exactly the codes the Woo platform accepts."""

from __future__ import annotations

import pytest

from capstone.woo.pdf.marks import (
    GROUNDS,
    WOB_GROUNDS,
    InvalidMarkError,
    RedactionMark,
    UnknownGroundError,
    ground_label,
    normalise_ground,
    validate_ground,
    validate_grounds,
)

# Art. 5.1 lid 1 a–e, lid 2 a–i, lid 5 and art. 5.2 of the Woo, as the platform lists them.
WOO = [f"5.1.1{c}" for c in "abcde"] + [f"5.1.2{c}" for c in "abcdefghi"] + ["5.1.5", "5.2"]


def test_the_ground_list_is_the_woo_platforms() -> None:
    assert list(GROUNDS) == WOO
    assert GROUNDS["5.1.2e"] == "Eerbiediging van de persoonlijke levenssfeer"
    assert ground_label("5.2") == "Persoonlijke beleidsopvattingen"
    for code in WOO:
        assert validate_ground(code) == code


def test_codes_are_canonicalised_as_the_platform_does_and_unknown_ones_refused() -> None:
    assert normalise_ground(" 5.1.2 E ") == "5.1.2e"
    assert validate_ground("5.1.2E") == "5.1.2e"
    assert validate_grounds(["5.1.2e", "5.1.2E", "5.2"]) == ["5.1.2e", "5.2"]
    for bad in ("5.1.3", "5.1.2.e", "art. 5.1.2e", "", "5.1.1f", "dubbel"):
        with pytest.raises(UnknownGroundError, match="unknown Woo ground"):
            validate_ground(bad)
    assert "10.2.e" in WOB_GROUNDS
    with pytest.raises(UnknownGroundError, match="a Wob ground"):
        validate_ground("10.2.e")


def test_a_mark_is_a_span_or_a_region_with_a_valid_ground() -> None:
    span = RedactionMark(ground="5.1.2E", text="jan@example.nl")
    assert span.ground == "5.1.2e" and span.page is None and span.label == "5.1.2e"
    region = RedactionMark(ground="5.1.1e", page=2, region=(10, 20, 110, 40))
    assert region.region == (10.0, 20.0, 110.0, 40.0)
    for mark in (span, region):
        assert RedactionMark.from_json(mark.to_json()) == mark

    bad: list[dict[str, object]] = [
        {"ground": "5.9", "text": "x"},
        {"ground": "5.1.2e"},
        {"ground": "5.1.2e", "text": "x", "page": 1, "region": (0, 0, 1, 1)},
        {"ground": "5.1.2e", "text": "   "},
        {"ground": "5.1.2e", "text": "x", "page": 0},
        {"ground": "5.1.2e", "text": "x", "page": True},
        {"ground": "5.1.2e", "region": (0, 0, 10, 10)},
        {"ground": "5.1.2e", "page": 1, "region": (10, 0, 5, 10)},
        {"ground": "5.1.2e", "page": 1, "region": (-1, 0, 5, 10)},
        {"ground": "5.1.2e", "page": 1, "region": (0, 0, "a", 10)},
    ]
    for fields in bad:
        with pytest.raises(InvalidMarkError):
            RedactionMark(**fields)  # type: ignore[arg-type]

"""The registry's fast path for plain addresses gives exactly what email-validator gives.

``normalise_address`` checks a plain ASCII address's domain once per process instead of per row
(issue 16: the domain check was a quarter of a 100 000-row import). Every address below, valid or
not, must come out as ``validate_email(...).normalized.lower()`` says, or be refused as it refuses.
"""

from __future__ import annotations

import random

import pytest
from email_validator import EmailNotValidError, validate_email

from capstone.registry.errors import FieldError
from capstone.registry.validation import _plain_address, normalise_address, normalise_upn

EDGE_CASES = [
    "p.jansen@gemeente-demo.nl",
    "P.Jansen@Gemeente-Demo.NL",
    "a@b.nl",
    "x" * 64 + "@example.nl",
    "x" * 65 + "@example.nl",  # local part too long
    "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "nl",  # near the length limits
    "a" * 64 + "@" + ("b" * 62 + ".") * 3 + "nl",  # address too long
    "first.last+tag@example.org",
    "o'brien@example.org",
    "weird!#$%&'*+/=?^_`{|}~-@example.org",
    ".lead@example.nl",
    "trail.@example.nl",
    "two..dots@example.nl",
    "no-at-sign.example.nl",
    "two@at@example.nl",
    "@example.nl",
    "local@",
    "local@localhost",
    "local@example.test",
    "local@example.invalid",
    "local@nodot",
    "local@-bad-.nl",
    "local@bad_domain.nl",
    "local@[127.0.0.1]",
    '"quoted"@example.nl',
    "spaced name@example.nl",
    "jösé@example.nl",
    "user@bücher.de",
    "user@xn--bcher-kva.de",
    "user@EXAMPLE.COM.",
    "user@example..nl",
    "user@" + "a" * 64 + ".nl",  # label too long
    "Name <user@example.nl>",
]


def expected(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def generated(count: int) -> list[str]:
    rng = random.Random(16)
    alphabet = "abcXYZ019.-_+!'@ [\"é"
    tails = ["@gemeente-demo.nl", "@example.org", "@EXAMPLE.nl", "@x.test", "@a..nl", "@ex-ample.nl", ""]
    out = []
    for _ in range(count):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        out.append(local + rng.choice(tails))
    return out


def outcome(text: str) -> tuple[str | None, str | None]:
    """(normalise_address, normalise_upn) of ``text``; None where it was refused."""
    results: list[str | None] = []
    for check in (lambda t: normalise_address(t, "mail"), normalise_upn):
        try:
            results.append(check(text))
        except FieldError:
            results.append(None)
    return results[0], results[1]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_edge_cases_equal_email_validator(text: str) -> None:
    want = expected(text.strip())
    assert outcome(text) == (want, want)


def test_generated_addresses_equal_email_validator() -> None:
    texts = generated(5000)
    wrong = [(t, outcome(t), expected(t.strip())) for t in texts if outcome(t) != (expected(t.strip()),) * 2]
    assert not wrong, wrong[:5]
    assert sum(expected(t.strip()) is not None for t in texts) > 500  # both kinds really occur


def test_the_fast_path_is_taken_for_plain_addresses() -> None:
    # Not a timing: the plain case must not fall back to the full check (else it saves nothing).
    assert _plain_address("P.Jansen@Gemeente-Demo.NL") == "p.jansen@gemeente-demo.nl"
    assert _plain_address('"quoted"@example.nl') is None
    assert _plain_address("user@example.test") is None  # refused: left to email-validator's error

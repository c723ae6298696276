"""Real-world mail for ``capstone demo``: the odd but ordinary messages every archive meets, written
into the demo home and imported into the simulated tenant (``--import``), so the demo's Woo export
shows them handled: a bounce whose ``To:`` is an RFC 5322 group, a message in a charset no codec
knows (``unknown-8bit``), and two different messages sharing one Message-ID (a resent mail), one of
them also byte-identical in a second mailbox; and a resident's question with his e-mail address and
phone number in it, which the demo's Woo request publishes with those redacted. Each mentions the
demo's search word ("begroting")."""

from __future__ import annotations

from pathlib import Path

GRIFFIER = "griffier@gemeente-demo.nl"
MAYOR = "burgemeester@gemeente-demo.nl"
FOLDER = "Inbox/Praktijk"

_BOUNCE = b"""Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.gemeente-demo.nl>
To: unlisted-recipients:; (no To-header on input)
Subject: Onbestelbaar: Begroting 2027 ter inzage
Date: Tue, 3 Nov 2026 09:12:44 +0100
Message-ID: <demo-bounce-1@mx.gemeente-demo.nl>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="rep"

--rep
Content-Type: text/plain; charset=us-ascii

Uw bericht over de begroting kon niet worden afgeleverd.

--rep
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.gemeente-demo.nl
Final-Recipient: rfc822; oud-raadslid@example.org
Action: failed
Status: 5.1.1

--rep
Content-Type: message/rfc822

From: griffier@gemeente-demo.nl
To: oud-raadslid@example.org
Subject: Begroting 2027 ter inzage
Message-ID: <demo-begroting-inzage@gemeente-demo.nl>

De begroting 2027 ligt ter inzage.

--rep--
"""

_UNKNOWN_CHARSET = (
    b"From: Leverancier <verkoop@leverancier.example>\n"
    b"To: griffier@gemeente-demo.nl\n"
    b"Subject: Offerte begroting zaalhuur\n"
    b"Date: Wed, 4 Nov 2026 10:00:00 +0100\n"
    b"Message-ID: <demo-charset-1@leverancier.example>\n"
    b"MIME-Version: 1.0\n"
    b'Content-Type: text/plain; charset="unknown-8bit"\n'
    b"Content-Transfer-Encoding: 8bit\n\n"
    + "Voor de begroting: zaalhuur één dag, café inbegrepen.\n".encode()
    + b"Prijs: 450\x80 excl. btw\n"
)


RESIDENT = "Pieter Bakker"
RESIDENT_MAIL = "p.bakker@buurtvereniging-molenbuurt.nl"
RESIDENT_PHONE = "06-41234567"
RESIDENT_SUBJECT = "Vraag over de begroting: speeltuin Molenbuurt"

_RESIDENT = f"""From: {RESIDENT} <{RESIDENT_MAIL}>
To: Griffie <griffier@gemeente-demo.nl>
Subject: {RESIDENT_SUBJECT}
Date: Fri, 6 Nov 2026 08:45:00 +0100
Message-ID: <demo-speeltuin-1@buurtvereniging-molenbuurt.nl>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Geachte griffier,

In de begroting 2027 zie ik geen geld voor de speeltuin in de Molenbuurt.
Kunt u mij daarover bellen op {RESIDENT_PHONE} of mailen naar {RESIDENT_MAIL}?

Met vriendelijke groet,
{RESIDENT}
Buurtvereniging Molenbuurt
""".encode()


def _resent(version: int, text: str) -> bytes:
    return f"""From: Projectleider <project@gemeente-demo.nl>
To: griffier@gemeente-demo.nl, burgemeester@gemeente-demo.nl
Subject: Begroting bouwblok, versie {version}
Date: Thu, 5 Nov 2026 1{version}:00:00 +0100
Message-ID: <demo-begroting-bouwblok@gemeente-demo.nl>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{text}
""".encode()


MESSAGES = {
    "bounce-group-address.eml": _BOUNCE,
    "unknown-charset.eml": _UNKNOWN_CHARSET,
    "same-message-id-1.eml": _resent(1, "De begroting voor het bouwblok, eerste versie."),
    "same-message-id-2.eml": _resent(2, "De begroting voor het bouwblok, aangepast na overleg."),
    "resident-question.eml": _RESIDENT,
}


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def write_demo_mail(directory: Path) -> list[str]:
    """Write the messages (one folder per mailbox) and return the simulator's ``--import`` arguments:
    all five into the clerk's mailbox, the first version of the resent mail also into the mayor's."""
    clerk, mayor = directory / "griffier", directory / "burgemeester"
    for folder in (clerk, mayor):
        folder.mkdir(parents=True, exist_ok=True)
    for name, data in MESSAGES.items():
        (clerk / name).write_bytes(_crlf(data))
    (mayor / "same-message-id-1.eml").write_bytes(_crlf(MESSAGES["same-message-id-1.eml"]))
    return ["--import", f"{clerk}:{GRIFFIER}:{FOLDER}", "--import", f"{mayor}:{MAYOR}:{FOLDER}"]

"""The one MIME walker on the real-world corpus: every class gives its headers, its words and its
attachments, says plainly what it could not decode, and never raises (fast, no servers)."""

from __future__ import annotations

import io
import sysconfig
from pathlib import Path

import pytest

from capstone.index.extract import mail_documents
from capstone.mime.decode import decode_bytes, header_text, parse_addresses
from capstone.mime.walker import UNDECODABLE, parse, prepare, walk
from capstone.woo.export import MAX_NAME_BYTES, safe_name
from capstone.woo.rendition import CSP, render_entity, render_mail
from connectors.simulator.content import parse_body, parse_meta
from tests.index.helpers import mail_record
from tests.mail.corpus_cases import CASES, CORPUS, Case


def _docs(data: bytes):  # type: ignore[no-untyped-def]
    return mail_documents(mail_record("a" * 64, len(data)), io.BytesIO(data))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file)
def test_every_class_is_read_with_its_words_and_attachments(case: Case) -> None:
    data = (CORPUS / case.file).read_bytes()
    mail, *attachments = _docs(data)
    assert len(attachments) == case.attachments, [a.filename for a in attachments]
    assert [a.doc_id for a in attachments] == [
        f"{mail.record_id}:{n}" for n in range(1, len(attachments) + 1)
    ]
    if case.subject is not None:
        assert mail.subject == case.subject
    if case.word:
        text = " ".join([mail.subject, mail.body, *(a.body for a in attachments)]).lower()
        assert case.word in text
    # the export walks the same parts, in the same order
    structure = walk(parse(data))
    assert [a.filename for a in structure.attachments] == [a.filename for a in attachments]
    page = render_mail(structure, mail.subject, ["bron"])
    assert CSP in page and "<script" not in page
    # the simulator serves it (headers parsed without raising)
    assert isinstance(parse_meta(data), dict) and isinstance(parse_body(data), tuple)


def test_group_address_and_oversized_header() -> None:
    assert parse_addresses(["unlisted-recipients:; (no To-header on input)"]) == []
    mail, *_ = _docs((CORPUS / "bounce_group_address.eml").read_bytes())
    assert mail.to == () and mail.sender.endswith("<mailer-daemon@mx.gemeente-demo.nl>")
    big, *_ = _docs((CORPUS / "oversized_to_header.eml").read_bytes())
    assert len(big.to) == 3200 and big.to[-1] == "Raadslid 3199 <raadslid3199@gemeente-demo.nl>"
    grouped = parse_addresses(['Raad: "Doe, J" <j@x.nl>, k@x.nl;, l@x.nl'])
    assert [a.address for a in grouped] == ["j@x.nl", "k@x.nl", "l@x.nl"] and grouped[0].name == "Doe, J"


def test_bom_and_broken_fold_keep_the_headers() -> None:
    bom = (CORPUS / "utf8_bom.eml").read_bytes()
    mail, *_ = _docs(bom)
    assert mail.sender == "Jan de Vries <jan@example.org>" and mail.date is not None
    assert mail.date.isoformat() == "2026-11-05T11:00:00+01:00"
    assert prepare(bom) == bom[3:]
    fold, *_ = _docs((CORPUS / "broken_fold.eml").read_bytes())
    assert fold.sender == "Servicedesk <servicedesk@example.org>" and "slagboom" in fold.body
    assert "Date" not in fold.body and fold.message_id == "fold-1@example.org"


def test_charsets_known_aliases_then_per_byte() -> None:
    assert "שלום" in _docs((CORPUS / "charset_iso_8859_8_i.eml").read_bytes())[0].body
    assert "สวัสดี" in _docs((CORPUS / "charset_windows_874.eml").read_bytes())[0].body
    assert "coöperatie" in _docs((CORPUS / "charset_x_mac_roman.eml").read_bytes())[0].body
    assert "café" in _docs((CORPUS / "charset_x_unknown_charset.eml").read_bytes())[0].body
    unknown = _docs((CORPUS / "charset_unknown_8bit.eml").read_bytes())[0]
    assert "één voorstel" in unknown.body and "12€ per m²" in unknown.body  # UTF-8 kept, bad bytes one by one
    assert decode_bytes("Één".encode() + b" \xe9", "utf-8").text == "Één é"
    assert header_text("=?x-nonsense?q?caf=C3=A9?= =?iso-8859-8-i?b?6eDp?=") == "caféיאי"


def test_undecodable_parts_are_said_plainly() -> None:
    data = (CORPUS / "undecodable_part.eml").read_bytes()
    mail, pdf = _docs(data)
    assert any(UNDECODABLE in n for n in mail.notes) and "kademuur" in mail.body
    assert any(UNDECODABLE in n for n in pdf.notes)
    page = render_mail(walk(parse(data)), mail.subject, [])
    assert UNDECODABLE in page and "Leesbaar deel" in page


def test_related_root_and_hostile_html_render() -> None:
    structure = walk(parse((CORPUS / "related_root_not_first.eml").read_bytes()))
    page = render_mail(structure, "Nieuwsbrief", [])
    assert "<b>vergaderzaal</b>" in page and [a.media_type for a in structure.attachments] == ["image/png"]
    hostile = render_mail(walk(parse((CORPUS / "hostile_html.eml").read_bytes())), "Opmaak", [])
    assert (
        "Tekst over de pijpleiding" in hostile
        and "Zonder script" in hostile
        and "Slot over het gemaal" in hostile
    )
    assert "steal" not in hostile and "tracker.example" not in hostile.split("</table>")[1].split("title=")[0]


def test_export_file_names_are_safe() -> None:
    assert safe_name("CON", "x") == "_CON" and safe_name("NUL.txt", "x") == "_NUL.txt"
    assert safe_name("com1.pdf", "x") == "_com1.pdf" and safe_name("con.tar.gz", "x") == "_con.tar.gz"
    assert safe_name("consent.pdf", "x") == "consent.pdf"
    long = safe_name("verslag-" + "x" * 300 + ".pdf", "x")
    assert long.endswith(".pdf") and len(long.encode()) <= MAX_NAME_BYTES
    cjk = safe_name("会議録" * 40 + ".docx", "x")
    assert cjk.endswith(".docx") and len(cjk.encode()) <= MAX_NAME_BYTES and cjk.startswith("会議録")
    assert safe_name("../../etc/passwd", "x") == "_.._etc_passwd".lstrip(".") or "/" not in safe_name(
        "../a", "x"
    )


def test_cpython_email_corpus_never_raises() -> None:
    source = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    messages = sorted(source.glob("msg_*.txt"))
    assert len(messages) > 40
    for path in messages:
        data = path.read_bytes()
        mail, *attachments = _docs(data)
        structure = walk(parse(data))
        assert [a.filename for a in structure.attachments] == [a.filename for a in attachments]
        render_mail(structure, mail.subject, [])
        parse_meta(data)


def test_the_demo_mail_is_read_and_found_by_the_demo_search(tmp_path: Path) -> None:
    from capstone.demo_mail import FOLDER, GRIFFIER, MAYOR, write_demo_mail
    from connectors.simulator.importer import parse_import_spec

    args = write_demo_mail(tmp_path)
    specs = [parse_import_spec(a) for a in args[1::2]]
    assert [(m, f) for _, m, f in specs] == [(GRIFFIER, FOLDER), (MAYOR, FOLDER)]
    files = sorted((tmp_path / "griffier").glob("*.eml"))
    docs = {p.name: _docs(p.read_bytes())[0] for p in files}
    assert len(docs) == 5 and all("begroting" in (d.subject + d.body).lower() for d in docs.values())
    assert docs["bounce-group-address.eml"].to == ()
    assert "450€" in docs["unknown-charset.eml"].body
    first, second = docs["same-message-id-1.eml"], docs["same-message-id-2.eml"]
    assert first.message_id == second.message_id and first.body != second.body
    mayor = (tmp_path / "burgemeester" / "same-message-id-1.eml").read_bytes()
    assert mayor == (tmp_path / "griffier" / "same-message-id-1.eml").read_bytes()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b"Subject: =?utf-8?b?####?= =?no-such?q?x?=\r\nTo: a@b.c:;;,,<>\r\n\r\n",
        b"Date: Mon, 1 Jan 99999 00:00:00 +0000\r\nFrom: <>\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        b"Content-Type: text/plain; charset*=''\r\nFrom: \"unterminated <x@y.z>\r\n\r\n\xe9",
        b"To: " + b"(" * 5000 + b"\r\n\r\n",
    ],
)
def test_pathological_headers_never_break_the_simulator_or_the_index(data: bytes) -> None:
    meta = parse_meta(data)
    assert meta["date"] is None or 0 <= meta["date"] < 253402300800
    parse_body(data)
    _docs(data)
    render_mail(walk(parse(data)), "", [])


def test_entity_renditions_carry_the_content_security_policy_and_a_sanitised_body() -> None:
    body = {"contentType": "html", "content": "<p>Agenda</p><script>x()</script><object>Zie bijlage</object>"}
    page = render_entity("event", {"subject": "Overleg", "body": body}, ["bron"])
    assert f'content="{CSP}"' in page and "<script" not in page and "Zie bijlage" in page

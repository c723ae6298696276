"""What each message of the real-world mail corpus (``tests/mail/corpus``) must give: a word that
finds it (in its subject, body or an attachment; None where it has none) and the attachments the one
MIME walker makes documents of."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
SHARED_ID = CORPUS / "shared_id"


@dataclass(frozen=True)
class Case:
    file: str
    word: str | None  # a word that finds the mail (or one of its attachments)
    attachments: int = 0  # documents of its own
    subject: str | None = None  # the decoded subject, where it matters


CASES = (
    Case("bounce_group_address.eml", "kantelbrug", 1, "Onbestelbaar: Uitnodiging kantelbrug"),
    Case("charset_unknown_8bit.eml", "zonnebloemveld"),
    Case("charset_x_unknown_charset.eml", "wilgenlaan"),
    Case("charset_iso_8859_8_i.eml", "kwartaalcijfers"),
    Case("charset_windows_874.eml", "rijstvelden"),
    Case("charset_x_mac_roman.eml", "appelboomgaard"),
    Case("charset_default.eml", "molenstraat"),
    Case("utf8_bom.eml", "lantaarnpalen", 0, "Begrotingswijziging lantaarnpalen"),
    Case(
        "broken_fold.eml",
        "parkeergarage",
        0,
        "Storing in het parkeersysteem van de parkeergarage Stationsplein",
    ),
    Case("header_one_bad_byte.eml", "fietsenstalling", 0, "Één overleg over de fietsenstalling café"),
    Case("oversized_to_header.eml", "dakterras"),
    Case("related_root_not_first.eml", "vergaderzaal", 1),
    Case("top_level_rfc822.eml", "steigerbouw", 1),
    Case("digest.eml", "hondenuitlaatplaats", 2),
    Case("single_part_attachment.eml", "dijkverzwaring", 1),
    Case("inline_image.eml", "zwembad", 1),
    Case("empty_and_absent_headers.eml", "ijsbaan"),
    Case("undecodable_part.eml", "kademuur", 1),
    Case("reserved_and_long_names.eml", "notulenboek", 5),
    Case("hostile_html.eml", "gemaal"),
)

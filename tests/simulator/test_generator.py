"""The synthetic organisation: deterministic, and holding every kind of content the issue asks for."""

from __future__ import annotations

from collections import Counter
from email import policy
from email.parser import BytesParser
from typing import Any

from connectors.simulator.generator import BIG_ATTACHMENT_MIN, KEY_OFFICIALS, PROFILES, build_tenant
from connectors.simulator.model import Item, Tenant
from connectors.simulator.truth import truth

KEY_ADDRESSES = {f"{local}@gemeente-demo.nl" for local, *_ in KEY_OFFICIALS}


def _parsed(item: Item) -> Any:
    return BytesParser(policy=policy.default).parsebytes(item.mime_bytes())


def _messages(tenant: Tenant) -> list[Item]:
    return [i for i in tenant.present_items() if i.item_class.startswith(("IPM.Note", "IPM.Schedule"))]


def test_same_seed_same_tenant_and_other_seed_differs() -> None:
    first = truth(build_tenant(11, "small"))
    again = truth(build_tenant(11, "small"))
    other = truth(build_tenant(12, "small"))
    assert first == again
    first_hashes = {i["sha256"] for m in first["mailboxes"] for i in m["items"]}
    other_hashes = {i["sha256"] for m in other["mailboxes"] for i in m["items"]}
    assert first_hashes != other_hashes


def test_small_profile_mailboxes_and_folders() -> None:
    tenant = build_tenant(7, "small")
    document = truth(tenant, hashes=False)
    primaries = {m["address"]: m for m in document["mailboxes"] if m["kind"] == "primary"}
    assert set(primaries) >= KEY_ADDRESSES
    assert any(a.startswith("beleidsmedewerker") for a in primaries)
    for address in KEY_ADDRESSES:
        box = primaries[address]
        assert 20 <= len(box["items"]) <= 40
        paths = {f["path"]: f for f in box["folders"]}
        for path in ("Inbox", "Inbox/Projecten", "Sent Items", "Deleted Items", "Archive", "Privé", "Drafts"):
            assert path in paths, path
        for path in ("Recoverable Items/Deletions", "Recoverable Items/Purges", "Recoverable Items/Versions"):
            assert paths[path]["hidden"] and not paths[path]["ipm"]
            assert paths[path]["itemCount"] >= 1
        assert paths["Archive"]["wellKnownName"] == "archive"
        assert paths["Recoverable Items/Deletions"]["wellKnownName"] == "recoverableitemsdeletions"
        assert paths["Privé"]["itemCount"] >= 1
    archives = [m for m in document["mailboxes"] if m["kind"] == "archive"]
    assert len(archives) >= 2 and all(a["items"] for a in archives)
    assert all(a["mailboxId"] != primaries[a["address"]]["mailboxId"] for a in archives)


def test_realistic_mime() -> None:
    tenant = build_tenant(7, "small")
    messages = _messages(tenant)
    parsed = {item.key: _parsed(item) for item in messages}
    types = Counter(p.get_content_type() for msg in parsed.values() for p in msg.walk())
    for content_type in (
        "multipart/alternative",
        "multipart/related",
        "multipart/mixed",
        "text/plain",
        "text/html",
        "text/calendar",
        "image/png",
        "application/pdf",
        "message/rfc822",
    ):
        assert types[content_type] > 0, content_type
    assert any(t.startswith("application/vnd.openxmlformats") for t in types)
    # > 4 MB attachment, streamed in chunks
    big = [i for i in messages if i.size > BIG_ATTACHMENT_MIN]
    assert big and len(list(big[0].mime_chunks())) > 10
    # RFC 2047 non-ASCII headers that decode to Dutch text
    raw_subjects = [i.mime_bytes().split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0] for i in messages]
    assert any(s.startswith(b"=?utf-8?") for s in raw_subjects)
    assert any(any(ch in str(p["Subject"]) for ch in "ëéöï") for p in parsed.values())
    # calendar invitation with its item class
    assert any(i.item_class == "IPM.Schedule.Meeting.Request" for i in messages)
    # replies thread onto messages that exist, forwards carry References
    ids = {str(p["Message-ID"]) for p in parsed.values()}
    replies = [p for p in parsed.values() if p["In-Reply-To"]]
    assert replies and all(str(p["In-Reply-To"]) in ids for p in replies)
    assert all(str(p["Subject"]).startswith("RE: ") for p in replies)
    assert any(str(p["Subject"]).startswith("FW: ") and p["References"] for p in parsed.values())
    # every MIME body decodes
    for message in parsed.values():
        for part in message.walk():
            if not part.is_multipart() and part.get_content_type() != "message/rfc822":
                part.get_content()


def test_mail_between_key_officials_is_in_both_mailboxes() -> None:
    tenant = build_tenant(7, "small")
    holders: dict[str, set[str]] = {}
    for item in _messages(tenant):
        if item.mailbox.kind != "primary":
            continue
        holders.setdefault(item.meta()["message_id"], set()).add(item.mailbox.address)
    shared = [owners for owners in holders.values() if len(owners & KEY_ADDRESSES) >= 2]
    assert shared


def test_teams_content() -> None:
    tenant = build_tenant(7, "small")
    chats = list(tenant.chats.values())
    assert {c.chat_type for c in chats} == {"oneOnOne", "group", "meeting"}
    messages = [m for c in chats for m in c.messages.values()]
    assert any(m.last_edited and len(m.versions) >= 2 for m in messages)
    assert any(m.deleted and m.body.content == "" for m in messages)
    assert any(m.reactions for m in messages)
    assert any(m.mentions for m in messages)
    assert any(a["contentType"] == "reference" for m in messages for a in m.attachments)
    assert any(m.hosted and m.hosted[0].data.startswith(b"\x89PNG") for m in messages)
    assert {"systemEventMessage", "message"} <= {m.message_type for m in messages}


def test_profiles_scale() -> None:
    large = PROFILES["large"]
    assert large.key_messages == (20_000, 20_000) and 6 + large.staff == 50
    demo = build_tenant(3, "demo")
    assert len(demo.users) == 10 and len(demo.items) > len(build_tenant(3, "small").items) * 3

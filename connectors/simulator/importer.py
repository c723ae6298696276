"""Import real mail into a simulated mailbox folder, byte-exact: what ``$value`` (and EWS
``MimeContent``) returns afterwards is exactly the bytes of each ``.eml`` file, or of each mbox
entry without its ``From `` separator line."""

from __future__ import annotations

import mailbox as stdlib_mailbox
from collections.abc import Iterator
from pathlib import Path

from capstone.logging import get_logger
from connectors.simulator.content import parse_meta
from connectors.simulator.model import Folder, Item, Tenant
from connectors.simulator.mutations import find_folder, find_mailbox

log = get_logger("simulator.importer")


def parse_import_spec(text: str) -> tuple[str, str, str]:
    """``DIR:MAILBOX:FOLDER`` (the source path may itself contain colons)."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"--import wants PATH:MAILBOX:FOLDER, got {text!r}")
    return parts[0], parts[1], parts[2]


def _messages(source: Path) -> Iterator[tuple[str, bytes]]:
    if source.is_dir():
        for path in sorted(source.rglob("*.eml")):
            yield str(path.relative_to(source)), path.read_bytes()
        return
    if not source.is_file():
        raise FileNotFoundError(f"nothing to import at {source}")
    if source.suffix.lower() == ".eml":
        yield source.name, source.read_bytes()
        return
    box = stdlib_mailbox.mbox(str(source), create=False)
    try:
        for n, key in enumerate(box.iterkeys()):
            yield f"{source.name}#{n}", box.get_bytes(key)
    finally:
        box.close()


def ensure_folder(tenant: Tenant, mailbox_ref: str, folder_path: str, *, archive: bool = False) -> Folder:
    """The folder at ``folder_path`` (well-known name, or a path under Top of Information Store),
    created with its parents when missing."""
    mailbox = find_mailbox(tenant, mailbox_ref, archive=archive)
    try:
        return find_folder(tenant, mailbox, folder_path)
    except KeyError:
        pass
    parent = mailbox.msgfolderroot
    for name in [p for p in folder_path.split("/") if p]:
        existing = next((c for c in parent.children if c.display_name.lower() == name.lower()), None)
        parent = existing or tenant.add_folder(mailbox, parent, name)
    return parent


def import_messages(
    tenant: Tenant, source: str | Path, mailbox_ref: str, folder_path: str, *, archive: bool = False
) -> list[Item]:
    """Import every ``.eml`` under a directory (sorted by path), one ``.eml`` file, or an mbox."""
    folder = ensure_folder(tenant, mailbox_ref, folder_path, archive=archive)
    items: list[Item] = []
    for name, data in _messages(Path(source)):
        try:
            meta = parse_meta(data)
        except Exception:  # unparseable mail is still imported, byte-exact
            meta = {}
        item_class = "IPM.Schedule.Meeting.Request" if meta.get("invite") else "IPM.Note"
        item = tenant.add_item(folder, data, item_class=item_class, received=meta.get("date") or None)
        items.append(item)
        log.debug("message_imported", source=name, size_bytes=len(data))
    log.info("import_done", mailbox=folder.mailbox.address, folder=folder.path, count=len(items))
    return items

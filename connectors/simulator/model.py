"""The simulated tenant's state: users, mailboxes, folders, items, change logs, chats.

Everything here is protocol-neutral; ``graph/`` and ``ews/`` render it. One re-entrant lock guards
the whole tenant (the HTTP server's event loop, admin mutations and tests in other threads all
touch it). Content (MIME) is never held for generated items: an item keeps a ``source`` from which
its bytes are produced on demand (see ``generator.py``), and only its size and SHA-256 are cached.

Change tracking: every folder keeps an append-only log of ``(seq, item_key, op, gen)`` events with
tenant-wide, monotonically increasing sequence numbers. A delta or sync token is just a position in
that log (plus the folder's epoch), so a round of changes between two positions can always be
recomputed from the log: the events below a position never change.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.simulator import ids
from connectors.simulator.content import (
    EDITABLE,
    ContentSource,
    Details,
    details_from_meta,
    parse_body,
    parse_meta,
)

OP_ADD = 0  # created, or moved in
OP_UPDATE = 1  # changed in place
OP_REMOVE = 2  # moved out, deleted or purged

MailboxKind = Literal["primary", "archive"]
ChatType = Literal["oneOnOne", "group", "meeting"]

# Graph's well-known folder names (v1.0) with the EWS distinguished folder ids that match them.
GRAPH_WELL_KNOWN = {
    "archive",
    "clutter",
    "conflicts",
    "conversationhistory",
    "deleteditems",
    "drafts",
    "inbox",
    "junkemail",
    "localfailures",
    "msgfolderroot",
    "outbox",
    "recoverableitemsdeletions",
    "scheduled",
    "searchfolders",
    "sentitems",
    "serverfailures",
    "syncissues",
}


def iso(ts: float, *, ms: bool = False) -> str:
    """Graph's UTC timestamps: ``2021-05-25T20:12:14Z`` (mail) or ``...14.864Z`` (Teams)."""
    moment = datetime.fromtimestamp(ts, UTC)
    if ms:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class NotFoundError(KeyError):
    """A user, mailbox, folder, item or chat that does not exist (or no longer)."""


class ConflictError(ValueError):
    """A mutation that the tenant's rules forbid."""


@dataclass(eq=False)
class User:
    id: str  # GUID
    upn: str
    display_name: str
    given_name: str
    surname: str
    job_title: str
    department: str
    key_official: bool
    mailbox: Mailbox | None = None
    archive: Mailbox | None = None

    @property
    def mail(self) -> str:
        return self.upn


@dataclass(eq=False)
class Folder:
    key: int
    mailbox: Mailbox
    parent: Folder | None
    display_name: str
    folder_class: str | None  # IPF.Note, IPF.Appointment, IPF.Contact; None for non-IPM containers
    well_known: str | None = None  # Graph well-known name
    distinguished: str | None = None  # EWS distinguished folder id
    hidden: bool = False
    ipm: bool = True  # under Top of Information Store (msgfolderroot)
    children: list[Folder] = field(default_factory=list)
    items: dict[int, Item] = field(default_factory=dict)
    log: list[tuple[int, int, int, int]] = field(default_factory=list)
    epoch: int = 0  # bumped to invalidate every delta/sync token of the folder
    change_no: int = 0

    def rest_id(self) -> str:
        return ids.folder_id(self.mailbox.guid, self.key)

    def ews_id(self) -> str:
        return ids.folder_id(self.mailbox.guid, self.key, rest=False)

    def change_key(self) -> str:
        return ids.change_key(self.mailbox.guid, self.change_no)

    @property
    def path(self) -> str:
        """Display-name path: from Top of Information Store for IPM folders ("Inbox/Projecten"),
        from the mailbox root otherwise ("Recoverable Items/Deletions")."""
        names: list[str] = []
        node: Folder | None = self
        while node is not None and node.parent is not None:
            if node.distinguished == "msgfolderroot" or (node.distinguished or "").endswith(
                "archivemsgfolderroot"
            ):
                break
            names.append(node.display_name)
            node = node.parent
        return "/".join(reversed(names))

    def unread_count(self) -> int:
        return sum(1 for item in self.items.values() if not item.is_read)

    def size_bytes(self) -> int:
        return sum(item.size for item in self.items.values())

    def walk(self) -> Iterator[Folder]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(eq=False)
class Mailbox:
    key: int
    kind: MailboxKind
    owner: User
    guid: bytes
    graph_id: str  # "MBX:e0643f21@a7809c93"
    tenant: Tenant = field(repr=False)
    on_hold: bool = True  # litigation/retention hold: purged items go to Purges first
    root: Folder | None = None
    folders: dict[int, Folder] = field(default_factory=dict)
    by_well_known: dict[str, Folder] = field(default_factory=dict)
    by_distinguished: dict[str, Folder] = field(default_factory=dict)
    folder_log: list[tuple[int, int, int, int]] = field(default_factory=list)
    folder_epoch: int = 0

    @property
    def address(self) -> str:
        return self.owner.upn

    @property
    def msgfolderroot(self) -> Folder:
        name = "archivemsgfolderroot" if self.kind == "archive" else "msgfolderroot"
        return self.by_distinguished[name]

    def folder(self, key: int) -> Folder:
        try:
            return self.folders[key]
        except KeyError:
            raise NotFoundError(f"folder {key}") from None

    def all_folders(self) -> Iterator[Folder]:
        assert self.root is not None
        return self.root.walk()


class Item:
    """One mailbox item. Content comes from ``source``: a generated spec number or stored bytes."""

    __slots__ = (
        "_info",
        "_meta",
        "categories",
        "change_no",
        "created",
        "folder",
        "gen",
        "is_read",
        "item_class",
        "key",
        "last_seq",
        "mailbox",
        "modified",
        "overrides",
        "purged",
        "received",
        "source",
    )

    def __init__(
        self,
        key: int,
        mailbox: Mailbox,
        folder: Folder,
        item_class: str,
        source: int | bytes,
        received: float,
        change_no: int,
    ) -> None:
        self.key = key
        self.mailbox = mailbox
        self.folder = folder
        self.item_class = item_class
        self.source = source
        self.created = received
        self.modified = received
        self.received = received
        self.change_no = change_no
        self.gen = 0
        self.is_read = True
        self.purged = False
        self.categories: tuple[str, ...] = ()
        self.last_seq = 0
        self.overrides: dict[str, Any] = {}  # Details fields changed by ``edit-item``
        self._info: tuple[int, str] | None = None
        self._meta: dict[str, Any] | None = None

    def rest_id(self, immutable: bool = False) -> str:
        if immutable:
            return ids.immutable_id(self.mailbox.guid, self.key)
        return ids.item_id(self.mailbox.guid, self.folder.key, self.key, self.gen)

    def ews_id(self) -> str:
        return ids.item_id(self.mailbox.guid, self.folder.key, self.key, self.gen, rest=False)

    def immutable_id(self) -> str:
        return ids.immutable_id(self.mailbox.guid, self.key)

    def change_key(self) -> str:
        return ids.change_key(self.mailbox.guid, self.change_no)

    @property
    def size(self) -> int:
        return self.mime_info()[0]

    @property
    def sha256(self) -> str:
        return self.mime_info()[1]

    def mime_info(self) -> tuple[int, str]:
        """(size, SHA-256) of the MIME, computed once by streaming the content."""
        if self._info is None:
            digest = hashlib.sha256()
            size = 0
            for chunk in self.mime_chunks():
                digest.update(chunk)
                size += len(chunk)
            self._info = (size, digest.hexdigest())
        return self._info

    def mime_whole(self, limit: int) -> bytes | None:
        """The MIME in one piece when it is at most ``limit`` bytes, rendered once (its size and SHA-256
        remembered as :meth:`mime_info` would), else None: a larger one is streamed, never held."""
        if isinstance(self.source, bytes):
            return self.source
        if self._info is not None and self._info[0] > limit:
            return None
        digest = hashlib.sha256()
        size = 0
        held: list[bytes] | None = []
        for chunk in self.mime_chunks():
            digest.update(chunk)
            size += len(chunk)
            if held is not None:
                held.append(chunk)
                if size > limit:
                    held = None
        self._info = (size, digest.hexdigest())
        return None if held is None else b"".join(held)

    def mime_chunks(self) -> Iterator[bytes]:
        if isinstance(self.source, bytes):
            yield self.source
        else:
            yield from self.mailbox.tenant.content.chunks(self.source)

    def mime_bytes(self) -> bytes:
        return b"".join(self.mime_chunks())

    def meta(self) -> dict[str, Any]:
        """Header-level properties (subject, from, to, dates, ...) for the JSON views."""
        if isinstance(self.source, bytes):
            if self._meta is None:
                self._meta = parse_meta(self.source)
            meta = self._meta
        else:
            meta = self.mailbox.tenant.content.meta(self.source)
        if "subject" in self.overrides:
            return {**meta, "subject": self.overrides["subject"]}
        return meta

    def details(self) -> Details:
        """The calendar/contact/task properties the Graph JSON views show, edits applied. An edit
        changes these (and the export stream's properties), never the stored MIME."""
        if isinstance(self.source, bytes):
            base = details_from_meta(self.meta(), self.body(), self.received)
        else:
            base = self.mailbox.tenant.content.details(self.source)
        return replace(base, **self.overrides) if self.overrides else base

    def body(self) -> tuple[str, str]:
        """(contentType "html"|"text", content) of the message body."""
        if isinstance(self.source, bytes):
            return parse_body(self.source)
        return self.mailbox.tenant.content.body(self.source)


# -- Teams ------------------------------------------------------------------------------------------


@dataclass
class HostedContent:
    id: str
    content_type: str
    data: bytes


@dataclass
class Reaction:
    reaction_type: str  # like, heart, laugh, surprised, sad, angry (or an emoji)
    user: User
    created: float


@dataclass
class MessageVersion:
    content_type: str  # "text" | "html"
    content: str
    at: float
    kind: Literal["created", "edited", "deleted"] = "created"


@dataclass(eq=False)
class ChatMessage:
    id: str
    chat: Chat
    message_type: str  # message | systemEventMessage | chatEvent | ...
    created: float
    sender: User | None
    versions: list[MessageVersion]
    reply_to_id: str | None = None
    subject: str | None = None
    importance: str = "normal"
    last_modified: float = 0.0
    last_edited: float | None = None
    deleted: float | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    mentions: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    hosted: list[HostedContent] = field(default_factory=list)
    event_detail: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return str(round(self.last_modified * 1000))

    @property
    def body(self) -> MessageVersion:
        if self.deleted is not None:
            return MessageVersion(self.versions[-1].content_type, "", self.deleted, "deleted")
        return self.versions[-1]


@dataclass
class ChatMember:
    id: str
    user: User
    roles: list[str]
    visible_from: float


@dataclass(eq=False)
class Chat:
    id: str
    chat_type: ChatType
    topic: str | None
    created: float
    members: list[ChatMember] = field(default_factory=list)
    messages: dict[str, ChatMessage] = field(default_factory=dict)
    online_meeting: dict[str, Any] | None = None
    last_updated: float = 0.0

    def member_users(self) -> list[User]:
        return [m.user for m in self.members]


# -- the tenant -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One collapsed entry of a change round: the item's (or folder's) last event in the window."""

    key: int
    gen: int
    op: int  # OP_ADD / OP_UPDATE (present) or OP_REMOVE
    first_op: int  # the first event in the window: tells "created" from "updated"

    @property
    def removed(self) -> bool:
        return self.op == OP_REMOVE

    @property
    def change_type(self) -> str:
        if self.op == OP_REMOVE:
            return "deleted"
        return "created" if self.first_op == OP_ADD else "updated"


def collapse(
    log: list[tuple[int, int, int, int]], start: int, end: int, *, by_gen: bool, initial: bool
) -> list[Change]:
    """The changes between log positions ``start`` (exclusive) and ``end`` (inclusive): one entry per
    item (per item and move generation when ``by_gen``), ordered by its last event. An initial round
    (``initial``) leaves out what was removed."""
    lo = bisect.bisect_right(log, start, key=lambda e: e[0])
    hi = bisect.bisect_right(log, end, key=lambda e: e[0])
    last: dict[int, Change] = {}
    for index in range(lo, hi):
        _, key, op, gen = log[index]
        ident = (key << 16) | (gen & 0xFFFF) if by_gen else key
        previous = last.pop(ident, None)
        last[ident] = Change(key, gen, op, previous.first_op if previous else op)
    return [c for c in last.values() if not (initial and c.op == OP_REMOVE)]


class Tenant:
    """A whole simulated Microsoft 365 tenant."""

    def __init__(
        self,
        *,
        seed: int,
        profile: str,
        domain: str,
        display_name: str,
        content: ContentSource,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.profile = profile
        self.domain = domain
        self.display_name = display_name
        self.tenant_id = str(ids.stable_uuid(seed, "tenant", domain))
        self.content = content
        self.clock = clock
        self.lock = threading.RLock()
        self.users: list[User] = []
        self._users: dict[str, User] = {}
        self.mailboxes: list[Mailbox] = []
        self._by_guid: dict[bytes, Mailbox] = {}
        self._by_graph_id: dict[str, Mailbox] = {}
        self.items: dict[int, Item] = {}
        self.chats: dict[str, Chat] = {}
        self.seq = 0
        self._change_counter = 0
        self._next_folder = 1
        self._next_item = 1
        self._last_chat_ms = 0

    # -- construction ---------------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        with self.lock:
            self.users.append(user)
            self._users[user.id.lower()] = user
            self._users[user.upn.lower()] = user
            return user

    def add_mailbox(self, owner: User, kind: MailboxKind) -> Mailbox:
        with self.lock:
            mailbox = Mailbox(
                key=len(self.mailboxes),
                kind=kind,
                owner=owner,
                guid=ids.mailbox_guid(self.seed, owner.upn, kind),
                graph_id=ids.graph_mailbox_id(self.seed, owner.upn, kind),
                tenant=self,
            )
            self.mailboxes.append(mailbox)
            self._by_guid[mailbox.guid] = mailbox
            self._by_graph_id[mailbox.graph_id.lower()] = mailbox
            if kind == "primary":
                owner.mailbox = mailbox
            else:
                owner.archive = mailbox
            return mailbox

    def add_folder(
        self,
        mailbox: Mailbox,
        parent: Folder | None,
        display_name: str,
        folder_class: str | None = "IPF.Note",
        *,
        well_known: str | None = None,
        distinguished: str | None = None,
        hidden: bool = False,
        ipm: bool | None = None,
    ) -> Folder:
        with self.lock:
            if parent is not None and any(
                c.display_name.lower() == display_name.lower() for c in parent.children
            ):
                raise ConflictError(f"a folder named {display_name!r} already exists there")
            folder = Folder(
                key=self._next_folder,
                mailbox=mailbox,
                parent=parent,
                display_name=display_name,
                folder_class=folder_class,
                well_known=well_known,
                distinguished=distinguished,
                hidden=hidden,
                ipm=(parent.ipm if parent is not None and parent.parent is not None else False)
                if ipm is None
                else ipm,
            )
            self._next_folder += 1
            mailbox.folders[folder.key] = folder
            if parent is None:
                mailbox.root = folder
            else:
                parent.children.append(folder)
                parent.change_no = self._next_change()
            if well_known:
                mailbox.by_well_known[well_known] = folder
            if distinguished:
                mailbox.by_distinguished[distinguished] = folder
            folder.change_no = self._next_change()
            self.seq += 1
            mailbox.folder_log.append((self.seq, folder.key, OP_ADD, 0))
            return folder

    def _next_change(self) -> int:
        self._change_counter += 1
        return self._change_counter

    def _log(self, folder: Folder, item: Item, op: int) -> None:
        self.seq += 1
        folder.log.append((self.seq, item.key, op, item.gen))
        item.last_seq = self.seq

    def add_item(
        self,
        folder: Folder,
        source: int | bytes,
        *,
        item_class: str = "IPM.Note",
        received: float | None = None,
        is_read: bool = True,
    ) -> Item:
        with self.lock:
            when = self.clock() if received is None else received
            item = Item(
                self._next_item, folder.mailbox, folder, item_class, source, when, self._next_change()
            )
            item.is_read = is_read
            self._next_item += 1
            self.items[item.key] = item
            folder.items[item.key] = item
            self._log(folder, item, OP_ADD)
            return item

    # -- look-ups ---------------------------------------------------------------------------------

    def user(self, ref: str) -> User:
        user = self._users.get(ref.strip().lower())
        if user is None:
            raise NotFoundError(f"user {ref}")
        return user

    def mailbox_by_graph_id(self, ref: str) -> Mailbox:
        mailbox = self._by_graph_id.get(ref.strip().lower())
        if mailbox is None:
            raise NotFoundError(f"mailbox {ref}")
        return mailbox

    def folder_ref(self, mailbox: Mailbox, ref: str) -> Folder:
        """A folder by Graph well-known name (case-insensitive) or by id."""
        lowered = ref.strip().lower()
        if lowered in mailbox.by_well_known:
            return mailbox.by_well_known[lowered]
        parsed = ids.parse(ref)
        if parsed is None or parsed.kind != "folder" or parsed.mailbox_guid != mailbox.guid:
            raise NotFoundError(f"folder {ref}")
        return mailbox.folder(parsed.folder_key)

    def folder_by_id(self, ref: str) -> Folder:
        parsed = ids.parse(ref)
        if parsed is None or parsed.kind != "folder" or parsed.mailbox_guid not in self._by_guid:
            raise NotFoundError(f"folder {ref}")
        return self._by_guid[parsed.mailbox_guid].folder(parsed.folder_key)

    def item_ref(self, ref: str, mailbox: Mailbox | None = None) -> Item:
        """An item by regular or immutable id. A regular id is only valid while the item stays in
        the folder (and move generation) it names, as on Exchange."""
        parsed = ids.parse(ref)
        if parsed is None or parsed.kind == "folder":
            raise NotFoundError(f"item {ref}")
        if mailbox is not None and parsed.mailbox_guid != mailbox.guid:
            raise NotFoundError(f"item {ref}")
        item = self.items.get(parsed.item_key)
        if item is None or item.purged or item.mailbox.guid != parsed.mailbox_guid:
            raise NotFoundError(f"item {ref}")
        if parsed.kind == "item" and (parsed.folder_key != item.folder.key or parsed.gen != item.gen):
            raise NotFoundError(f"item {ref}")
        return item

    def chat(self, ref: str) -> Chat:
        chat = self.chats.get(ref)
        if chat is None:
            raise NotFoundError(f"chat {ref}")
        return chat

    def chats_of(self, user: User) -> list[Chat]:
        return [c for c in self.chats.values() if any(m.user is user for m in c.members)]

    # -- mutations -------------------------------------------------------------------------------

    def move_item(self, item: Item, dest: Folder) -> Item:
        """Move within a mailbox (same immutable id, new regular id), or to another mailbox (a new
        item there; the original is removed), as Exchange does."""
        with self.lock:
            if item.purged:
                raise NotFoundError("item was purged")
            if dest is item.folder:
                return item
            now = self.clock()
            if dest.mailbox is not item.mailbox:
                copy = self.add_item(dest, item.source, item_class=item.item_class, received=item.received)
                copy.created = item.created
                copy.is_read = item.is_read
                copy.overrides = dict(item.overrides)
                copy.modified = now
                self._purge(item)
                return copy
            self._log(item.folder, item, OP_REMOVE)
            del item.folder.items[item.key]
            item.gen += 1
            item.folder = dest
            item.change_no = self._next_change()
            item.modified = now
            dest.items[item.key] = item
            self._log(dest, item, OP_ADD)
            return item

    def update_item(
        self, item: Item, *, is_read: bool | None = None, categories: Iterable[str] | None = None
    ) -> Item:
        with self.lock:
            if is_read is not None:
                item.is_read = is_read
            if categories is not None:
                item.categories = tuple(categories)
            item.change_no = self._next_change()
            item.modified = self.clock()
            self._log(item.folder, item, OP_UPDATE)
            return item

    def edit_item(self, item: Item, changes: dict[str, Any]) -> Item:
        """Change what an event, contact or task says (``Details`` fields, see ``EDITABLE``): a new
        change key and an update in the folder's log, as an edit in Outlook gives."""
        with self.lock:
            unknown = sorted(set(changes) - set(EDITABLE.values()))
            if unknown:
                raise ConflictError(f"these properties cannot be edited: {', '.join(unknown)}")
            if item.purged:
                raise NotFoundError("item was purged")
            item.overrides = {**item.overrides, **changes}
            item.change_no = self._next_change()
            item.modified = self.clock()
            self._log(item.folder, item, OP_UPDATE)
            return item

    def delete_item(self, item: Item, *, hard: bool = False) -> Item:
        """Outlook's delete: to Deleted Items; from Deleted Items (or ``hard``, shift-delete) to
        Recoverable Items/Deletions. Deleting from Recoverable Items is a purge."""
        with self.lock:
            mailbox = item.mailbox
            deleted = mailbox.by_well_known.get("deleteditems")
            deletions = mailbox.by_distinguished.get(
                "archiverecoverableitemsdeletions"
                if mailbox.kind == "archive"
                else "recoverableitemsdeletions"
            )
            if deletions is None:
                raise ConflictError("the mailbox has no Recoverable Items folder")
            if _is_recoverable(item.folder):
                return self.purge_item(item)
            if hard or deleted is None or item.folder is deleted:
                return self.move_item(item, deletions)
            return self.move_item(item, deleted)

    def purge_item(self, item: Item) -> Item:
        """Purge: from Recoverable Items/Deletions to Purges while the mailbox is on hold,
        otherwise (and from Purges) gone for good."""
        with self.lock:
            mailbox = item.mailbox
            purges = mailbox.by_distinguished.get(
                "archiverecoverableitemspurges" if mailbox.kind == "archive" else "recoverableitemspurges"
            )
            if mailbox.on_hold and purges is not None and item.folder is not purges:
                return self.move_item(item, purges)
            self._purge(item)
            return item

    def _purge(self, item: Item) -> None:
        self._log(item.folder, item, OP_REMOVE)
        del item.folder.items[item.key]
        item.purged = True

    def invalidate_sync_state(self, folder: Folder) -> None:
        """Every delta/sync token of the folder becomes unusable (the client must resync)."""
        with self.lock:
            folder.epoch += 1

    def next_chat_ms(self, at: float) -> float:
        """A unique, increasing Teams timestamp (message ids are milliseconds since the epoch)."""
        with self.lock:
            ms = max(int(at * 1000), self._last_chat_ms + 1)
            self._last_chat_ms = ms
            return ms / 1000.0

    # -- change rounds ---------------------------------------------------------------------------

    def folder_changes(
        self, folder: Folder, start: int, end: int, *, immutable: bool, initial: bool
    ) -> list[Change]:
        with self.lock:
            return collapse(folder.log, start, end, by_gen=not immutable, initial=initial)

    def folder_tree_changes(self, mailbox: Mailbox, start: int, end: int, *, initial: bool) -> list[Change]:
        with self.lock:
            return collapse(mailbox.folder_log, start, end, by_gen=False, initial=initial)

    def present_items(self) -> Iterator[Item]:
        for item in self.items.values():
            if not item.purged:
                yield item


def _is_recoverable(folder: Folder) -> bool:
    node: Folder | None = folder
    while node is not None:
        if (node.distinguished or "").endswith("recoverableitemsroot"):
            return True
        node = node.parent
    return False


def is_recoverable(folder: Folder) -> bool:
    return _is_recoverable(folder)

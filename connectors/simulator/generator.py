"""A deterministic synthetic organisation: a Dutch municipality's key officials, their mailboxes
(primary and in-place archive) and their Teams chats, from a seed and a size profile.

Nothing random escapes the seed: every item is described by a *spec* computed from
``(seed, mailbox plan, index)``, and its MIME is rendered from the spec whenever it is asked for,
so the ``large`` profile (50 mailboxes x 20,000 messages) never holds message bytes in memory.
Only the cheap part of a spec (folder, kind, date, internal recipient) is computed while the tenant
is built; subjects, people and bodies are computed when a client looks.
"""

from __future__ import annotations

import base64
import hashlib
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from connectors.simulator import ids, mime
from connectors.simulator.content import Details
from connectors.simulator.model import (
    Chat,
    ChatMember,
    ChatMessage,
    Folder,
    HostedContent,
    Mailbox,
    MessageVersion,
    Reaction,
    Tenant,
    User,
)

DOMAIN = "gemeente-demo.nl"
_HOLD_DATE = 1_700_000_000.0  # 2023-11-14: when the eDiscovery holds took these items
ORGANISATION = "Gemeente Demo"
SHAREPOINT = "https://gemeentedemo.sharepoint.com"
GRAPH_PLACEHOLDER = "https://graph.microsoft.com/v1.0"  # hosted-content URLs are rendered per request
_TZ = ZoneInfo("Europe/Amsterdam")
_PRIMARY_END = datetime(2026, 10, 30, 17, 0, tzinfo=UTC).timestamp()
_PRIMARY_SPAN = 2 * 365 * 86400.0
_ARCHIVE_END = datetime(2022, 12, 20, 17, 0, tzinfo=UTC).timestamp()
_ARCHIVE_SPAN = 5 * 365 * 86400.0
_CHAT_START = datetime(2026, 9, 1, 7, 30, tzinfo=UTC).timestamp()
BIG_ATTACHMENT_MIN = 4 * 1024 * 1024 + 300_000  # "more than 4 MB": above Graph's simple-upload limit


@dataclass(frozen=True)
class Profile:
    name: str
    staff: int
    key_messages: tuple[int, int]
    staff_messages: tuple[int, int]
    archive_owners: int
    archive_messages: tuple[int, int]
    extra_chats: int
    chat_messages: tuple[int, int]
    big_rate: float


PROFILES: dict[str, Profile] = {
    "small": Profile("small", 2, (20, 30), (6, 9), 2, (8, 12), 0, (6, 10), 0.0),
    "demo": Profile("demo", 4, (120, 180), (40, 60), 4, (60, 90), 8, (15, 40), 0.002),
    "large": Profile(
        "large", 44, (20_000, 20_000), (20_000, 20_000), 6, (2_000, 2_000), 60, (40, 80), 0.0002
    ),
    # For memory-flatness benchmarks: each key official's mailbox holds 200,000 messages.
    "huge": Profile("huge", 0, (200_000, 200_000), (10, 10), 1, (2_000, 2_000), 0, (5, 10), 0.0002),
}


class Person(NamedTuple):
    name: str
    address: str
    function: str = ""
    org: str = ORGANISATION


# The same people as the registry's sample DT decision (capstone/registry/samples/), so the demo's
# mail is addressed to the officials its registry names.
KEY_OFFICIALS: tuple[tuple[str, str, str, str, str], ...] = (
    ("burgemeester", "Marieke", "van Dalen", "Burgemeester", "Bestuur"),
    ("wethouder.financien", "Henk", "Jansen", "Wethouder Financiën en Economie", "Bestuur"),
    ("wethouder.ruimte", "Fatima", "El Amrani", "Wethouder Ruimte en Wonen", "Bestuur"),
    ("gemeentesecretaris", "Pieter", "de Boer", "Gemeentesecretaris / algemeen directeur", "Directie"),
    ("griffier", "Sanne", "Visser", "Raadsgriffier", "Griffie"),
    ("directeur.bedrijfsvoering", "Joost", "Bakker", "Directeur Bedrijfsvoering", "Directie"),
)
_STAFF_FIRST = (
    "Sanne", "Daan", "Zoë", "Thijs", "Noor", "Sem", "Lotte", "Bram", "Eva", "Jesse", "Fleur",
    "Ruben", "Isa", "Lars", "Anouk", "Milan", "Sophie", "Luuk", "Emma", "Gijs", "Chloë", "Joël",
)  # fmt: skip
_STAFF_LAST = (
    "Mulder", "Koster", "Brouwer", "de Jong", "Hendriks", "van Dijk", "Peters", "Willems", "Dekker",
    "Bos", "Vos", "Smit", "Meijer", "de Boer", "Kok", "van Leeuwen", "Schouten", "Verbeek", "Prins",
)  # fmt: skip
_STAFF_FUNCTIONS = (
    "Beleidsmedewerker Ruimte", "Beleidsmedewerker Financiën", "Juridisch adviseur",
    "Communicatieadviseur", "Woo-coördinator", "Beleidsmedewerker Sociaal Domein",
    "Projectleider Omgevingswet", "Controller",
)  # fmt: skip
_EXTERNAL: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Provincie Demo-Holland", "provincie-demo.example", ("Karin Wouters", "Henk Vermeulen")),
    ("Ministerie van Binnenlandse Zaken en Koninkrijksrelaties", "minbzk.example", ("Eline Dijkstra", "Maarten Kuipers")),
    ("Ministerie van Financiën", "minfin.example", ("Jeroen van den Broek",)),
    ("Vereniging van Nederlandse Gemeenten", "vng.example", ("Sarah Bosman",)),
    ("Waterschap De Lage Velden", "waterschap-demo.example", ("Wim Postma",)),
    ("Veiligheidsregio Midden", "vr-midden.example", ("Ingrid Molenaar",)),
    ("Bouwbedrijf Van Rijn B.V.", "vanrijn-bouw.example", ("Kees van Rijn",)),
    ("Adviesbureau Stadskwartier", "stadskwartier.example", ("Yasmina Bouzid", "Frédérique Lambert")),
    ("Dagblad De Regio", "deregio.example", ("Tom Hoekstra",)),
    ("", "mail.example", ("Anneke Zwart", "Mohamed Yilmaz", "Renée Faber", "Jan de Wit")),
)  # fmt: skip
_TOPICS = (
    "Collegevoorstel herinrichting Marktplein", "Begroting 2027: eerste concept", "Voorjaarsnota 2027",
    "Woo-verzoek parkeerbeleid centrum", "Raadsinformatiebrief omgevingsvisie",
    "Agenda collegevergadering", "Zienswijze bestemmingsplan Noordrand",
    "Subsidieaanvraag sportaccommodatie De Weide", "Woningbouwopgave: overleg met provincie",
    "Jaarverslag en jaarrekening 2025", "Voorbereiding raadsvergadering",
    "Klacht over afvalinzameling Oosterwijk", "Evaluatie coördinatie crisisbeheersing",
    "Ideeën voor het burgerpanel", "Aanbesteding ICT-werkplek", "Personeelsplanning bedrijfsvoering",
    "Uitnodiging werkbezoek waterschap", "Persvragen over de nieuwe brug",
    "Financiën sociaal domein: tussenrapportage", "Motie vreemd aan de orde van de dag",
    "Risicoanalyse grondexploitatie", "Integriteitsmelding: vervolgstappen",
    "Regionale energiestrategie", "Beëdiging nieuwe raadsleden", "Café-overleg ondernemersvereniging",
    "Wijkaanpak Zuid: stand van zaken",
)  # fmt: skip
_PRIVATE_TOPICS = (
    "Verjaardag zaterdag", "Afspraak tandarts verzet", "Foto's van de vakantie",
    "Reünie middelbare school", "Boodschappen voor het weekend", "Abonnement sportschool",
)  # fmt: skip
_SENTENCES = (
    "Hierbij ontvang je het stuk zoals besproken in het overleg van vorige week.",
    "Graag ontvang ik uiterlijk vrijdag je reactie, zodat we het voorstel in het college kunnen bespreken.",
    "De financiële consequenties zijn verwerkt in de bijlage; de dekking loopt via de algemene reserve.",
    "Ik stel voor dat we dit eerst ambtelijk afstemmen met de provincie.",
    "De raad heeft gevraagd om een toelichting op de planning en de risico's.",
    "Wil je de conceptbrief nog even nalezen op juridische punten?",
    "Er is ook een Woo-verzoek binnengekomen dat hierop betrekking heeft.",
    "Het overleg is verplaatst naar dinsdagochtend in de raadzaal.",
    "Namens het college dank ik u voor uw betrokkenheid bij dit onderwerp.",
    "De evaluatie laat zien dat de coördinatie tussen de afdelingen beter kan.",
    "Kunnen we de ideeën van de bewoners meenemen in de volgende fase?",
    "De aannemer heeft laten weten dat de werkzaamheden twee weken uitlopen.",
)  # fmt: skip
_TASK_VERBS = ("Voorbereiden", "Reactie sturen", "Nabellen", "Doorlezen", "Agenderen", "Afstemmen")
_LOCATIONS = (
    "Raadzaal, stadhuis", "Burgemeesterskamer", "Commissiekamer 2", "Microsoft Teams-vergadering",
    "Provinciehuis Demo-Holland", "Werkbezoek Marktplein",
)  # fmt: skip
_CONTACT_TITLES = (
    "Beleidsadviseur", "Projectleider", "Directeur", "Woordvoerder", "Accountmanager", "Jurist",
)  # fmt: skip
_TASK_STATUSES = ("notStarted", "inProgress", "completed", "notStarted")
_PRIVATE_SENTENCES = (
    "Zullen we zaterdag om een uur of acht afspreken?",
    "Ik heb de foto's in de gedeelde map gezet.",
    "Vergeet je niet de taart op te halen?",
)  # fmt: skip

# Folder keys used by specs, and the folders every primary / archive mailbox has.
_PRIMARY_FOLDERS = (
    "inbox", "inbox/Projecten", "inbox/Projecten/Omgevingswet", "drafts", "sentitems",
    "deleteditems", "junkemail", "archive", "prive", "recoverableitemsdeletions",
    "recoverableitemspurges", "recoverableitemsversions", "calendar", "contacts", "tasks",
)  # fmt: skip
_RANDOM_PRIMARY: tuple[tuple[str, int], ...] = (
    ("inbox", 40), ("inbox/Projecten", 9), ("inbox/Projecten/Omgevingswet", 4), ("sentitems", 22),
    ("deleteditems", 6), ("archive", 8), ("prive", 3), ("drafts", 1), ("junkemail", 1),
    ("recoverableitemsdeletions", 3), ("recoverableitemspurges", 1), ("recoverableitemsversions", 1),
    ("calendar", 1),
)  # fmt: skip
_RANDOM_ARCHIVE: tuple[tuple[str, int], ...] = (
    ("inbox", 50), ("sentitems", 25), ("deleteditems", 5), ("oud", 15), ("recoverableitemsdeletions", 5),
)  # fmt: skip
_RANDOM_KINDS: tuple[tuple[str, int], ...] = (
    ("plain", 12), ("alt", 40), ("related", 8), ("attach", 20), ("invite", 4), ("reply", 10), ("forward", 6),
)  # fmt: skip
# The first specs of every key official's primary mailbox: each folder and each kind of message.
_FIXED_KEY: tuple[tuple[str, str], ...] = (
    ("inbox", "alt"), ("inbox/Projecten", "attach"), ("sentitems", "internal"), ("deleteditems", "plain"),
    ("archive", "alt"), ("prive", "private"), ("recoverableitemsdeletions", "alt"),
    ("recoverableitemspurges", "plain"), ("recoverableitemsversions", "alt"), ("inbox", "invite"),
    ("calendar", "appointment"), ("contacts", "contact"), ("inbox", "related"), ("inbox", "reply"),
    ("sentitems", "forward"), ("drafts", "draft"), ("inbox/Projecten/Omgevingswet", "attach"),
    ("deleteditems", "alt"),
)  # fmt: skip
_FIXED_STAFF: tuple[tuple[str, str], ...] = (
    ("inbox", "alt"), ("sentitems", "internal"), ("deleteditems", "plain"), ("prive", "private"),
)  # fmt: skip
_FIXED_ARCHIVE: tuple[tuple[str, str], ...] = (
    ("inbox", "alt"), ("sentitems", "plain"), ("oud", "attach"), ("deleteditems", "alt"),
    ("recoverableitemsdeletions", "plain"), ("inbox", "related"),
)  # fmt: skip

ITEM_CLASSES = {
    "invite": "IPM.Schedule.Meeting.Request",
    "appointment": "IPM.Appointment",
    "contact": "IPM.Contact",
    "task": "IPM.Task",
}
# Every key official's To Do tasks (3-5, Tasks folder) and a few more appointments (2-4, Calendar) are
# specs of their own, numbered from EXTRA_BASE on (a plan's message specs never get that far), and
# added after every message, so adding them changed no existing item.
EXTRA_BASE = 1 << 22
_EXTRA_KINDS = (("tasks", "task", 3, 0), ("calendar", "appointment", 2, 1 << 20))  # folder, kind, min, offset


def extra_specs(seed: int, plan: int) -> Iterator[tuple[str, str, int]]:
    """(folder key, kind, spec index) of a key official's extra items."""
    for folder, kind, least, offset in _EXTRA_KINDS:
        count = least + int(ids.stable_hex(2, seed, kind, plan), 16) % 3
        for n in range(count):
            yield folder, kind, EXTRA_BASE + offset + n


def _extra_kind(index: int) -> tuple[str, str]:
    return ("calendar", "appointment") if index >= EXTRA_BASE + (1 << 20) else ("tasks", "task")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _local_part(name: str) -> str:
    return ".".join(_ascii(name).lower().replace("-", " ").split())


def _pick(fraction: float, table: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in table)
    pick = int(fraction * total)
    for value, weight in table:
        pick -= weight
        if pick < 0:
            return value
    return table[-1][0]


@dataclass
class Plan:
    """What one mailbox holds: its owner and how many generated specs."""

    index: int
    user: User
    person: Person
    kind: str  # primary | archive
    count: int
    key_official: bool
    mailbox: Mailbox | None = None
    folders: dict[str, Folder] = field(default_factory=dict)


class Light(NamedTuple):
    folder: str
    kind: str
    date: float
    copy_to: int | None  # plan index of an internal recipient whose mailbox gets a copy
    big: bool


@dataclass(frozen=True)
class AttachmentSpec:
    name: str
    content_type: str
    kind: str  # pdf, docx, xlsx, csv, png, ics, big
    size: int
    seed: str


@dataclass(frozen=True)
class Spec:
    plan: int
    index: int
    light: Light
    subject: str
    sender: Person
    to: tuple[Person, ...]
    cc: tuple[Person, ...]
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    paragraphs: tuple[str, ...]
    quoted: tuple[str, ...]
    attachments: tuple[AttachmentSpec, ...]
    inline_image: str | None
    importance: str
    forward_of: int | None  # spec number of a message forwarded as message/rfc822
    thread_index: str

    @property
    def item_class(self) -> str:
        return ITEM_CLASSES.get(self.light.kind, "IPM.Note")


def spec_number(plan: int, index: int, variant: int = 0) -> int:
    return (plan << 24) | (index << 1) | variant


def split_spec(number: int) -> tuple[int, int, int]:
    return number >> 24, (number >> 1) & 0x7FFFFF, number & 1


class SyntheticContent:
    """Renders generated specs: the :class:`~connectors.simulator.content.ContentSource` of the
    synthetic tenant."""

    def __init__(self, seed: int, profile: Profile) -> None:
        self.seed = seed
        self.profile = profile
        self.plans: list[Plan] = []
        self._people: list[Person] = []  # key officials and staff, by plan index of their primary
        self._recipients: dict[int, list[int]] = {}
        self.spec = lru_cache(maxsize=8192)(self._spec)

    # -- the cheap part, used while building -----------------------------------------------------

    def light(self, plan_no: int, index: int) -> Light:
        plan = self.plans[plan_no]
        digest = hashlib.blake2b(f"{self.seed}:{plan_no}:{index}".encode(), digest_size=32).digest()
        u = [int.from_bytes(digest[n : n + 4], "big") / 4294967296.0 for n in range(0, 32, 4)]
        fixed = (
            (_FIXED_ARCHIVE if plan.kind == "archive" else _FIXED_KEY if plan.key_official else _FIXED_STAFF)
            if index < 64
            else ()
        )
        if index >= EXTRA_BASE:
            folder, kind = _extra_kind(index)
        elif index < len(fixed):
            folder, kind = fixed[index]
        else:
            folder = _pick(u[0], _RANDOM_ARCHIVE if plan.kind == "archive" else _RANDOM_PRIMARY)
            kind = _pick(u[1], _RANDOM_KINDS)
            if folder == "sentitems" and kind not in ("reply", "forward") and u[2] < 0.35:
                kind = "internal"
            elif folder == "prive":
                kind = "private"
            elif folder == "drafts":
                kind = "draft"
            elif folder == "calendar":
                kind = "appointment"
        big = (plan_no == 0 and index == 1) or (
            self.profile.big_rate > 0 and kind == "attach" and u[3] < self.profile.big_rate * 20
        )
        if plan.kind == "archive":
            date = _ARCHIVE_END - u[4] * _ARCHIVE_SPAN
        else:
            date = _PRIMARY_END - u[4] * _PRIMARY_SPAN
        date = float(int(date))
        copy_to: int | None = None
        if kind == "internal" and plan.kind == "primary":
            others = self._recipients.get(plan_no)
            if others is None:
                others = [p.index for p in self.plans if p.kind == "primary" and p.index != plan_no]
                if not plan.key_official:  # staff write to key officials
                    others = [p for p in others if self.plans[p].key_official] or others
                self._recipients[plan_no] = others
            copy_to = others[int(u[5] * len(others))] if others else None
        return Light(folder, kind, date, copy_to, big)

    # -- the full spec, computed when a client looks ---------------------------------------------

    def _spec(self, plan_no: int, index: int) -> Spec:
        plan = self.plans[plan_no]
        light = self.light(plan_no, index)
        rng = random.Random(f"{self.seed}:spec:{plan_no}:{index}")
        owner = plan.person
        kind = light.kind
        external = self._external(rng)
        colleague = self._colleague(rng, owner)
        sender: Person
        to: tuple[Person, ...]
        cc: tuple[Person, ...] = ()
        outgoing = light.folder in ("sentitems", "drafts") or kind in ("internal", "forward", "draft")
        if kind == "internal":
            recipient = self.plans[light.copy_to].person if light.copy_to is not None else colleague
            sender, to = owner, (recipient,)
            if rng.random() < 0.4:
                cc = (self._colleague(rng, owner, recipient),)
        elif kind == "private":
            friend = Person(rng.choice(("Lieke", "Bas", "Ingrid", "Mark")) + " " + owner.name.split()[-1],
                            f"{_local_part(owner.name.split()[0])}.prive@mail.example", "", "")  # fmt: skip
            sender, to = (owner, (friend,)) if rng.random() < 0.5 else (friend, (owner,))
        elif kind == "appointment":  # the official organises; a colleague, sometimes an outsider, attend
            sender, to = owner, (colleague,)
            if rng.random() < 0.5:
                cc = (external,)
        elif kind in ("contact", "task"):
            sender, to = owner, ()
        elif outgoing:
            sender, to = owner, (external if rng.random() < 0.6 else colleague,)
        else:
            sender = external if rng.random() < 0.55 else colleague
            to = (owner,)
            if rng.random() < 0.3:
                cc = (self._colleague(rng, owner, sender),)
        topic_pool = _PRIVATE_TOPICS if kind == "private" else _TOPICS
        topic = topic_pool[rng.randrange(len(topic_pool))]
        subject = topic
        in_reply_to: str | None = None
        references: tuple[str, ...] = ()
        quoted: tuple[str, ...] = ()
        forward_of: int | None = None
        if kind in ("reply", "forward") and index > 0:
            original_index = self._original(plan_no, index, rng)
            if original_index is not None:
                original = self.spec(plan_no, original_index)
                subject = ("RE: " if kind == "reply" else "FW: ") + original.subject
                in_reply_to = original.message_id if kind == "reply" else None
                references = (*original.references, original.message_id)
                quoted = original.paragraphs
                if kind == "reply":
                    sender, to = (original.to[0] if original.to else owner), (original.sender,)
                    if sender.address != owner.address:
                        sender, to = original.sender, (owner,)
                else:
                    forward_of = spec_number(plan_no, original_index)
                    sender, to = owner, (colleague,)
        elif kind == "invite":
            subject = f"Uitnodiging: {topic}"
        elif kind == "appointment":
            subject = f"Afspraak: {topic}"
        elif kind == "contact":
            subject = external.name
        elif kind == "task":
            subject = f"{_TASK_VERBS[rng.randrange(len(_TASK_VERBS))]}: {topic}"
        sentences = _PRIVATE_SENTENCES if kind == "private" else _SENTENCES
        paragraphs = tuple(sentences[rng.randrange(len(sentences))] for _ in range(rng.randint(2, 5)))
        attachments: list[AttachmentSpec] = []
        if light.big:
            size = BIG_ATTACHMENT_MIN + rng.randrange(1_500_000)
            attachments.append(
                AttachmentSpec(f"Rapport {topic[:40]}.pdf", "application/pdf", "big", size, f"{self.seed}:big:{plan_no}:{index}")
            )  # fmt: skip
        elif kind == "attach":
            for n in range(rng.randint(1, 3)):
                attachments.append(self._attachment(rng, topic, f"{self.seed}:att:{plan_no}:{index}:{n}"))
        inline_image = (
            f"image001.png@{ids.stable_hex(8, self.seed, plan_no, index).upper()}"
            if kind == "related"
            else None
        )
        host = f"AM{rng.randrange(0, 9)}PR09MB{rng.randrange(1000, 9999)}"
        domain = sender.address.split("@", 1)[1]
        token = ids.stable_hex(32, self.seed, "msgid", plan_no, index).upper()
        message_id = (
            f"<{token}@{host}.eurprd09.prod.outlook.com>"
            if domain == DOMAIN
            else f"<{token.lower()}@{domain}>"
        )
        importance = "high" if rng.random() < 0.08 else "normal"
        thread_index = base64.b64encode(hashlib.sha256(message_id.encode()).digest()[:22]).decode()
        return Spec(
            plan=plan_no,
            index=index,
            light=light,
            subject=subject,
            sender=sender,
            to=to,
            cc=cc,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references,
            paragraphs=paragraphs,
            quoted=quoted,
            attachments=tuple(attachments),
            inline_image=inline_image,
            importance=importance,
            forward_of=forward_of,
            thread_index=thread_index,
        )

    def _original(self, plan_no: int, index: int, rng: random.Random) -> int | None:
        for candidate in sorted({rng.randrange(index) for _ in range(6)}, reverse=True):
            light = self.light(plan_no, candidate)
            if light.kind in ("alt", "plain", "attach", "related") and not light.big:
                return candidate
        return None

    def _external(self, rng: random.Random) -> Person:
        org, domain, names = _EXTERNAL[rng.randrange(len(_EXTERNAL))]
        name = names[rng.randrange(len(names))]
        return Person(name, f"{_local_part(name)}@{domain}", "", org)

    def _colleague(self, rng: random.Random, *exclude: Person) -> Person:
        pool = [p for p in self._people if p not in exclude] or self._people
        return pool[rng.randrange(len(pool))]

    def _attachment(self, rng: random.Random, topic: str, seed: str) -> AttachmentSpec:
        choice = rng.randrange(6)
        base = _ascii(topic.split(":")[0])[:40].strip()
        if choice == 0:
            return AttachmentSpec(
                f"{base}.pdf", "application/pdf", "pdf", rng.randrange(20_000, 400_000), seed
            )
        if choice == 1:
            return AttachmentSpec(
                f"{base}.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "docx",
                0,
                seed,
            )
        if choice == 2:
            return AttachmentSpec(
                f"Begroting {base}.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
                0,
                seed,
            )
        if choice == 3:
            return AttachmentSpec("overzicht.csv", "text/csv", "csv", 0, seed)
        if choice == 4:
            return AttachmentSpec("foto-locatie.png", "image/png", "png", 0, seed)
        return AttachmentSpec(
            "Coördinatieoverleg notulen.pdf", "application/pdf", "pdf", rng.randrange(8_000, 60_000), seed
        )

    # -- ContentSource -----------------------------------------------------------------------------

    def meta(self, number: int) -> dict[str, Any]:
        plan_no, index, _ = split_spec(number)
        spec = self.spec(plan_no, index)
        return {
            "subject": spec.subject,
            "from": (spec.sender.name, spec.sender.address),
            "sender": (spec.sender.name, spec.sender.address),
            "to": [(p.name, p.address) for p in spec.to],
            "cc": [(p.name, p.address) for p in spec.cc],
            "bcc": [],
            "reply_to": [],
            "date": spec.light.date,
            "message_id": spec.message_id,
            "in_reply_to": spec.in_reply_to,
            "references": list(spec.references),
            "has_attachments": bool(spec.attachments) or spec.forward_of is not None,
            "importance": spec.importance,
            "invite": spec.light.kind in ("invite", "appointment"),
            "thread_topic": spec.subject.removeprefix("RE: ").removeprefix("FW: "),
        }

    def body(self, number: int) -> tuple[str, str]:
        plan_no, index, _ = split_spec(number)
        spec = self.spec(plan_no, index)
        if spec.light.kind in ("plain", "private", "contact", "appointment", "task"):
            return ("text", self._text(spec))
        return ("html", self._html(spec))

    def details(self, number: int) -> Details:
        """The event, contact or task view of a spec (for a message: the event-shaped fallback)."""
        plan_no, index, _ = split_spec(number)
        spec = self.spec(plan_no, index)
        kind = spec.light.kind
        if kind == "contact":
            person, job_title, phone, mobile = self._contact(spec)
            given, _, surname = person.name.partition(" ")
            return Details(
                subject=person.name,
                given_name=given,
                surname=surname,
                emails=((person.name, person.address),),
                company=person.org,
                job_title=job_title,
                business_phones=(phone,),
                mobile_phone=mobile,
            )
        if kind == "task":
            status, due, completed = self._task_state(spec)
            return Details(
                subject=spec.subject,
                body=("text", self._text(spec)),
                importance=spec.importance,
                status=status,
                due=due,
                completed=completed,
            )
        start, end = self._event_times(spec)
        return Details(
            subject=spec.subject,
            body=("html", self._html(spec)),
            importance=spec.importance,
            start=start,
            end=end,
            location=self._location(spec),
            organizer=(spec.sender.name, spec.sender.address),
            attendees=tuple((p.name, p.address, "required") for p in spec.to)
            + tuple((p.name, p.address, "optional") for p in spec.cc),
            uid=self._uid(spec),
        )

    def chunks(self, number: int) -> Iterator[bytes]:
        plan_no, index, variant = split_spec(number)
        spec = self.spec(plan_no, index)
        if variant == 1:
            yield self._received_headers(spec, spec.light.date + 2)
        elif spec.light.folder not in ("sentitems", "drafts") and spec.light.kind not in (
            "draft",
            "appointment",
            "contact",
            "task",
        ):
            yield self._received_headers(spec, spec.light.date + 1)
        if spec.light.kind == "contact":
            yield self._vcard(spec)
            return
        yield from self._message(spec).render()

    # -- rendering -----------------------------------------------------------------------------

    def _date(self, ts: float) -> str:
        return format_datetime(datetime.fromtimestamp(ts, _TZ))

    def _received_headers(self, spec: Spec, ts: float) -> bytes:
        stamp = format_datetime(datetime.fromtimestamp(ts, UTC))
        h = ids.stable_hex(4, self.seed, spec.plan, spec.index).upper()
        return mime.header_lines(
            [
                (
                    "Received",
                    f"from AM9PR09MB{h}.eurprd09.prod.outlook.com (2603:10a6:20b:2ed::15){mime.CRLF}"
                    f" by AM0PR09MB{h[::-1]}.eurprd09.prod.outlook.com with HTTPS; {stamp}",
                ),
                ("Authentication-Results", "spf=pass; dkim=pass; dmarc=pass action=none"),
            ]
        )

    def _greeting(self, spec: Spec) -> str:
        first = spec.to[0].name.split()[0] if spec.to else ""
        return f"Beste {first}," if first else "Beste,"

    def _signature(self, spec: Spec) -> list[str]:
        lines = ["Met vriendelijke groet,", spec.sender.name]
        if spec.sender.function:
            lines.append(spec.sender.function)
        if spec.sender.org:
            lines.append(spec.sender.org)
        return lines

    def _text(self, spec: Spec) -> str:
        lines = [self._greeting(spec), "", *spec.paragraphs, "", *self._signature(spec)]
        if spec.quoted:
            lines += ["", "-----Oorspronkelijk bericht-----", *(f"> {q}" for q in spec.quoted)]
        return "\r\n".join(lines) + "\r\n"

    def _html(self, spec: Spec) -> str:
        esc = mime._xml_escape
        body = [f"<p>{esc(self._greeting(spec))}</p>"]
        body += [f"<p>{esc(p)}</p>" for p in spec.paragraphs]
        if spec.inline_image:
            body.append(f'<p><img src="cid:{spec.inline_image}" width="64" height="48" alt="kaart"></p>')
        body.append("<p>" + "<br>".join(esc(s) for s in self._signature(spec)) + "</p>")
        if spec.quoted:
            body.append(
                '<hr><div id="divRplyFwdMsg">' + "".join(f"<p>{esc(q)}</p>" for q in spec.quoted) + "</div>"
            )
        return (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>'
            '<body><div style="font-family:Aptos,Calibri,sans-serif;font-size:11pt">'
            + "".join(body)
            + "</div></body></html>"
        )

    def _headers(self, spec: Spec) -> list[tuple[str, str]]:
        headers = [("From", mime.address(spec.sender.name, spec.sender.address))]
        if spec.to:
            headers.append(("To", ",\r\n\t".join(mime.address(p.name, p.address) for p in spec.to)))
        if spec.cc:
            headers.append(("CC", ",\r\n\t".join(mime.address(p.name, p.address) for p in spec.cc)))
        topic = spec.subject.removeprefix("RE: ").removeprefix("FW: ")
        headers += [
            ("Subject", mime.encode_words(spec.subject)),
            ("Thread-Topic", mime.encode_words(topic, "Thread-Topic")),
            ("Thread-Index", spec.thread_index),
            ("Date", self._date(spec.light.date)),
            ("Message-ID", spec.message_id),
        ]
        if spec.in_reply_to:
            headers.append(("In-Reply-To", spec.in_reply_to))
        if spec.references:
            headers.append(("References", "\r\n ".join(spec.references)))
        if spec.importance == "high":
            headers += [("Importance", "high"), ("X-Priority", "1")]
        headers += [
            ("Accept-Language", "nl-NL, en-US"),
            ("Content-Language", "nl-NL"),
            ("X-MS-Has-Attach", "yes" if spec.attachments or spec.forward_of is not None else ""),
            ("X-MS-TNEF-Correlator", ""),
        ]
        if spec.light.kind == "invite":
            headers.append(("Content-Class", "urn:content-classes:calendarmessage"))
        headers.append(("MIME-Version", "1.0"))
        return headers

    def _boundary(self, spec: Spec, n: int) -> str:
        return f"_{n:03d}_{ids.stable_hex(24, self.seed, 'b', spec.plan, spec.index)}_"

    def _message(self, spec: Spec) -> mime.Part:
        kind = spec.light.kind
        text = self._text(spec)
        if kind in ("plain", "private"):
            part = mime.text_part(text)
        elif kind in ("appointment", "task"):
            calendar = self._calendar(spec, "PUBLISH") if kind == "appointment" else self._todo(spec)
            part = mime.multipart("alternative", self._boundary(spec, 0), [mime.text_part(text), calendar])
        else:
            alternatives = [mime.text_part(text), mime.text_part(self._html(spec), "html")]
            if kind == "invite":
                alternatives.append(self._calendar(spec, "REQUEST"))
            part = mime.multipart("alternative", self._boundary(spec, 0), alternatives)
            if spec.inline_image:
                image = mime.png_image(spec.inline_image)
                part = mime.multipart(
                    "related",
                    self._boundary(spec, 1),
                    [
                        part,
                        mime.attachment_part(
                            "image001.png",
                            "image/png",
                            [mime.base64_lines(image)],
                            len(image),
                            inline_cid=spec.inline_image,
                        ),
                    ],
                    extra=';\r\n\ttype="multipart/alternative"',
                )
            extras = [self._attachment_part(spec, a) for a in spec.attachments]
            if spec.forward_of is not None:
                forwarded = b"".join(self.chunks(spec.forward_of))
                extras.append(
                    mime.Part(
                        headers=[
                            ("Content-Type", "message/rfc822"),
                            ("Content-Disposition", "attachment"),
                        ],
                        body=[forwarded],
                    )
                )
            if extras:
                part = mime.multipart("mixed", self._boundary(spec, 4), [part, *extras])
        part.headers = self._headers(spec) + part.headers
        return part

    def _attachment_part(self, spec: Spec, attachment: AttachmentSpec) -> mime.Part:
        date = self._date(spec.light.date)
        if attachment.kind in ("pdf", "big"):
            blocks = mime.pdf_document(attachment.seed, attachment.name, attachment.size)
            return mime.attachment_part(
                attachment.name,
                attachment.content_type,
                mime.base64_stream(_rechunk(blocks)),
                attachment.size,
                date=date,
            )
        data: bytes
        if attachment.kind in ("docx", "xlsx"):
            data = mime.office_document(attachment.seed, attachment.name, attachment.kind)
        elif attachment.kind == "csv":
            rng = random.Random(attachment.seed)
            rows = ["post;bedrag;opmerking"] + [
                f"{rng.choice(mime._FILLER_WORDS)};{rng.randrange(100, 99000)};{rng.choice(('ok', 'nagaan', 'geëvalueerd'))}"
                for _ in range(30)
            ]
            data = ("\r\n".join(rows) + "\r\n").encode("utf-8")
        else:
            data = mime.png_image(attachment.seed, 96, 64)
        return mime.attachment_part(
            attachment.name, attachment.content_type, [mime.base64_lines(data)], len(data), date=date
        )

    def _uid(self, spec: Spec) -> str:
        return (
            "040000008200E00074C5B7101A82E008"
            + ids.stable_hex(32, self.seed, "uid", spec.plan, spec.index).upper()
        )

    def _event_times(self, spec: Spec) -> tuple[float, float]:
        """A week after the item's date, on the hour between 07:00 and 15:00 UTC, for an hour."""
        day = datetime.fromtimestamp(spec.light.date + 7 * 86400, UTC).replace(minute=0, second=0)
        hour = 7 + int(ids.stable_hex(2, self.seed, "hour", spec.plan, spec.index), 16) % 9
        start = day.replace(hour=hour).timestamp()
        return start, start + 3600

    def _location(self, spec: Spec) -> str:
        return _LOCATIONS[
            int(ids.stable_hex(2, self.seed, "where", spec.plan, spec.index), 16) % len(_LOCATIONS)
        ]

    def _task_state(self, spec: Spec) -> tuple[str, float | None, float | None]:
        """(status, due date at midnight UTC or None, completion time or None) of a task."""
        h = int(ids.stable_hex(8, self.seed, "task", spec.plan, spec.index), 16)
        status = _TASK_STATUSES[h % len(_TASK_STATUSES)]
        day = float(int(spec.light.date // 86400) * 86400)
        due = None if (h >> 4) % 4 == 0 else day + ((h >> 8) % 20 + 3) * 86400
        completed = spec.light.date + ((h >> 16) % 3 + 1) * 86400 if status == "completed" else None
        return status, due, completed

    def _calendar(self, spec: Spec, method: str) -> mime.Part:
        start_ts, end_ts = self._event_times(spec)
        start, end = datetime.fromtimestamp(start_ts, UTC), datetime.fromtimestamp(end_ts, UTC)
        uid = self._uid(spec)
        optional = spec.cc if spec.light.kind == "appointment" else ()
        lines = [
            "BEGIN:VCALENDAR",
            f"METHOD:{method}",
            "PRODID:Microsoft Exchange Server 2010",
            "VERSION:2.0",
            "BEGIN:VEVENT",
            f"ORGANIZER;CN={spec.sender.name}:mailto:{spec.sender.address}",
            *(f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={p.name}:mailto:{p.address}" for p in spec.to),
            *(f"ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={p.name}:mailto:{p.address}" for p in optional),
            f"SUMMARY;LANGUAGE=nl-NL:{spec.subject}",
            f"DTSTART:{start.strftime('%Y%m%dT%H%M%SZ')}",
            f"DTEND:{end.strftime('%Y%m%dT%H%M%SZ')}",
            f"UID:{uid}",
            "CLASS:PUBLIC",
            "PRIORITY:5",
            f"DTSTAMP:{datetime.fromtimestamp(spec.light.date, UTC).strftime('%Y%m%dT%H%M%SZ')}",
            "TRANSP:OPAQUE",
            "STATUS:CONFIRMED",
            "SEQUENCE:0",
            "LOCATION;LANGUAGE=nl-NL:" + self._location(spec).replace(",", "\\,"),
            "END:VEVENT",
            "END:VCALENDAR",
        ]  # fmt: skip
        return self._ical_part(lines, method)

    def _todo(self, spec: Spec) -> mime.Part:
        status, due, completed = self._task_state(spec)
        stamp = datetime.fromtimestamp(spec.light.date, UTC).strftime("%Y%m%dT%H%M%SZ")
        lines = [
            "BEGIN:VCALENDAR",
            "METHOD:PUBLISH",
            "PRODID:Microsoft Exchange Server 2010",
            "VERSION:2.0",
            "BEGIN:VTODO",
            f"UID:{self._uid(spec)}",
            f"SUMMARY;LANGUAGE=nl-NL:{spec.subject}",
            f"DTSTAMP:{stamp}",
            f"CREATED:{stamp}",
            *([f"DUE;VALUE=DATE:{datetime.fromtimestamp(due, UTC).strftime('%Y%m%d')}"] if due else []),
            *([f"COMPLETED:{datetime.fromtimestamp(completed, UTC).strftime('%Y%m%dT%H%M%SZ')}"] if completed else []),
            "STATUS:" + {"completed": "COMPLETED", "inProgress": "IN-PROCESS"}.get(status, "NEEDS-ACTION"),
            "PRIORITY:" + ("1" if spec.importance == "high" else "5"),
            "END:VTODO",
            "END:VCALENDAR",
        ]  # fmt: skip
        return self._ical_part(lines, "PUBLISH")

    def _ical_part(self, lines: list[str], method: str) -> mime.Part:
        return mime.Part(
            headers=[
                ("Content-Type", f'text/calendar; charset="utf-8"; method={method}'),
                ("Content-Transfer-Encoding", "base64"),
            ],
            body=[mime.base64_lines(("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8"))],
        )

    def _contact(self, spec: Spec) -> tuple[Person, str, str, str]:
        """(person, job title, business phone, mobile phone) of a contact item."""
        rng = random.Random(f"{self.seed}:vc:{spec.plan}:{spec.index}")
        person = spec.sender if spec.light.kind != "contact" else self._external(rng)
        job_title = _CONTACT_TITLES[rng.randrange(len(_CONTACT_TITLES))]
        phone = f"+31 20 {rng.randrange(1_000_000, 9_999_999)}"
        mobile = f"+31 6 {rng.randrange(10_000_000, 99_999_999)}"
        return person, job_title, phone, mobile

    def _vcard(self, spec: Spec) -> bytes:
        person, job_title, phone, mobile = self._contact(spec)
        parts = person.name.split()
        lines = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            f"N:{' '.join(parts[1:])};{parts[0]};;;",
            f"FN:{person.name}",
            f"ORG:{person.org}",
            f"TITLE:{job_title}",
            f"EMAIL;TYPE=INTERNET:{person.address}",
            f"TEL;TYPE=WORK:{phone}",
            f"TEL;TYPE=CELL:{mobile}",
            f"REV:{datetime.fromtimestamp(spec.light.date, UTC).strftime('%Y%m%dT%H%M%SZ')}",
            "END:VCARD",
        ]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _fold(line: str) -> str:
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    out: list[str] = []
    current = ""
    for ch in line:
        if len((current + ch).encode("utf-8")) > 74:
            out.append(current)
            current = ""
        current += ch
    out.append(current)
    return "\r\n ".join(out)


def _rechunk(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Regroup a byte stream into blocks of a multiple of 57 bytes (whole base64 lines)."""
    pending = b""
    size = 57 * 1024
    for block in blocks:
        pending += block
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


# -- building the tenant ---------------------------------------------------------------------------


def _primary_folders(tenant: Tenant, mailbox: Mailbox) -> dict[str, Folder]:
    add = tenant.add_folder
    root = add(mailbox, None, "Root", None, distinguished="root", hidden=True, ipm=False)
    top = add(
        mailbox, root, "Top of Information Store", "IPF.Note", well_known="msgfolderroot", distinguished="msgfolderroot", ipm=True
    )  # fmt: skip
    f: dict[str, Folder] = {}
    f["inbox"] = add(mailbox, top, "Inbox", well_known="inbox", distinguished="inbox")
    f["inbox/Projecten"] = add(mailbox, f["inbox"], "Projecten")
    f["inbox/Projecten/Omgevingswet"] = add(mailbox, f["inbox/Projecten"], "Omgevingswet")
    f["drafts"] = add(mailbox, top, "Drafts", well_known="drafts", distinguished="drafts")
    f["sentitems"] = add(mailbox, top, "Sent Items", well_known="sentitems", distinguished="sentitems")
    f["deleteditems"] = add(
        mailbox, top, "Deleted Items", well_known="deleteditems", distinguished="deleteditems"
    )
    f["junkemail"] = add(mailbox, top, "Junk Email", well_known="junkemail", distinguished="junkemail")
    add(mailbox, top, "Outbox", well_known="outbox", distinguished="outbox")
    f["archive"] = add(mailbox, top, "Archive", well_known="archive", distinguished="archive")
    add(
        mailbox,
        top,
        "Conversation History",
        well_known="conversationhistory",
        distinguished="conversationhistory",
    )
    add(mailbox, top, "Clutter", well_known="clutter", hidden=True)
    sync = add(mailbox, top, "Sync Issues", well_known="syncissues", distinguished="syncissues")
    add(mailbox, sync, "Conflicts", well_known="conflicts", distinguished="conflicts")
    add(mailbox, sync, "Local Failures", well_known="localfailures", distinguished="localfailures")
    add(mailbox, sync, "Server Failures", well_known="serverfailures", distinguished="serverfailures")
    f["prive"] = add(mailbox, top, "Privé")
    f["calendar"] = add(mailbox, top, "Calendar", "IPF.Appointment", distinguished="calendar")
    f["contacts"] = add(mailbox, top, "Contacts", "IPF.Contact", distinguished="contacts")
    f["tasks"] = add(mailbox, top, "Tasks", "IPF.Task", distinguished="tasks")
    recoverable = add(
        mailbox, root, "Recoverable Items", None, distinguished="recoverableitemsroot", hidden=True, ipm=False
    )
    f["recoverableitemsdeletions"] = add(
        mailbox, recoverable, "Deletions", "IPF.Note", well_known="recoverableitemsdeletions",
        distinguished="recoverableitemsdeletions", hidden=True,
    )  # fmt: skip
    f["recoverableitemspurges"] = add(
        mailbox, recoverable, "Purges", "IPF.Note", distinguished="recoverableitemspurges", hidden=True
    )
    f["recoverableitemsversions"] = add(
        mailbox, recoverable, "Versions", "IPF.Note", distinguished="recoverableitemsversions", hidden=True
    )
    add(
        mailbox,
        root,
        "Finder",
        None,
        well_known="searchfolders",
        distinguished="searchfolders",
        hidden=True,
        ipm=False,
    )
    return f


def _archive_folders(tenant: Tenant, mailbox: Mailbox) -> dict[str, Folder]:
    add = tenant.add_folder
    root = add(mailbox, None, "Root", None, distinguished="archiveroot", hidden=True, ipm=False)
    top = add(
        mailbox, root, "Top of Information Store", "IPF.Note", well_known="msgfolderroot",
        distinguished="archivemsgfolderroot", ipm=True,
    )  # fmt: skip
    f: dict[str, Folder] = {}
    f["inbox"] = add(mailbox, top, "Inbox", well_known="inbox", distinguished="archiveinbox")
    f["sentitems"] = add(mailbox, top, "Sent Items", well_known="sentitems")
    f["deleteditems"] = add(
        mailbox, top, "Deleted Items", well_known="deleteditems", distinguished="archivedeleteditems"
    )
    f["oud"] = add(mailbox, top, "Oud archief 2019")
    recoverable = add(
        mailbox,
        root,
        "Recoverable Items",
        None,
        distinguished="archiverecoverableitemsroot",
        hidden=True,
        ipm=False,
    )
    f["recoverableitemsdeletions"] = add(
        mailbox, recoverable, "Deletions", "IPF.Note", well_known="recoverableitemsdeletions",
        distinguished="archiverecoverableitemsdeletions", hidden=True,
    )  # fmt: skip
    add(
        mailbox, recoverable, "Purges", "IPF.Note", distinguished="archiverecoverableitemspurges", hidden=True
    )
    add(
        mailbox,
        recoverable,
        "Versions",
        "IPF.Note",
        distinguished="archiverecoverableitemsversions",
        hidden=True,
    )
    return f


def build_tenant(seed: int = 1, profile: str = "small") -> Tenant:
    """The synthetic tenant for ``seed`` and ``profile`` (``small``, ``demo`` or ``large``)."""
    try:
        prof = PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}") from None
    content = SyntheticContent(seed, prof)
    tenant = Tenant(seed=seed, profile=profile, domain=DOMAIN, display_name=ORGANISATION, content=content)
    rng = random.Random(f"{seed}:tenant")
    people: list[tuple[User, Person]] = []
    for local, first, last, function, department in KEY_OFFICIALS:
        upn = f"{local}@{DOMAIN}"
        user = User(
            id=str(ids.stable_uuid(seed, "user", upn)),
            upn=upn,
            display_name=f"{first} {last}",
            given_name=first,
            surname=last,
            job_title=function,
            department=department,
            key_official=True,
        )
        people.append((tenant.add_user(user), Person(user.display_name, upn, function)))
    for n in range(1, prof.staff + 1):
        first = _STAFF_FIRST[(n - 1) % len(_STAFF_FIRST)]
        last = _STAFF_LAST[(n * 7) % len(_STAFF_LAST)]
        function = _STAFF_FUNCTIONS[(n - 1) % len(_STAFF_FUNCTIONS)]
        upn = f"beleidsmedewerker{n}@{DOMAIN}"
        user = User(
            id=str(ids.stable_uuid(seed, "user", upn)),
            upn=upn,
            display_name=f"{first} {last}",
            given_name=first,
            surname=last,
            job_title=function,
            department="Beleid en Advies",
            key_official=False,
        )
        people.append((tenant.add_user(user), Person(user.display_name, upn, function)))
    content._people = [person for _, person in people]
    # Plans: every user's primary mailbox, then archives for the first key officials.
    for user, person in people:
        low, high = prof.key_messages if user.key_official else prof.staff_messages
        count = low if low == high else rng.randint(low, high)
        content.plans.append(Plan(len(content.plans), user, person, "primary", count, user.key_official))
    archive_owners = [u for u, _ in people if u.key_official][: prof.archive_owners]
    for user in archive_owners:
        person = next(p for u, p in people if u is user)
        low, high = prof.archive_messages
        count = low if low == high else rng.randint(low, high)
        content.plans.append(Plan(len(content.plans), user, person, "archive", count, True))
    with tenant.lock:
        for plan in content.plans:
            plan.mailbox = tenant.add_mailbox(plan.user, "primary" if plan.kind == "primary" else "archive")
            builder = _primary_folders if plan.kind == "primary" else _archive_folders
            plan.folders = builder(tenant, plan.mailbox)
        primary_of = {p.user.id: p for p in content.plans if p.kind == "primary"}
        for plan in content.plans:
            for index in range(plan.count):
                light = content.light(plan.index, index)
                folder = plan.folders[light.folder]
                kind = light.kind
                item = tenant.add_item(
                    folder,
                    spec_number(plan.index, index),
                    item_class=ITEM_CLASSES.get(kind, "IPM.Note"),
                    received=light.date,
                    is_read=light.folder != "inbox" or (index % 3 != 0),
                )
                if light.copy_to is not None:
                    target = content.plans[light.copy_to]
                    recipient_plan = primary_of.get(target.user.id)
                    if recipient_plan is not None:
                        copy = tenant.add_item(
                            recipient_plan.folders["inbox"],
                            spec_number(plan.index, index, 1),
                            received=light.date + 2,
                            is_read=index % 2 == 0,
                        )
                        copy.created = item.created + 2
        for plan in content.plans:  # after every message, so these renumbered none of them
            if plan.kind != "primary" or not plan.key_official:
                continue
            for folder_key, kind, index in extra_specs(seed, plan.index):
                tenant.add_item(
                    plan.folders[folder_key],
                    spec_number(plan.index, index),
                    item_class=ITEM_CLASSES[kind],
                    received=content.light(plan.index, index).date,
                )
        generate_chats(tenant, prof, [u for u, _ in people])
        # Last, so they renumbered no folder, item or chat made above.
        add_discovery_holds(tenant, content.plans)
    return tenant


def add_discovery_holds(tenant: Tenant, plans: list[Plan]) -> None:
    """Recoverable Items/DiscoveryHolds of every mailbox (hidden; in the primary mailbox the
    distinguished folder ``recoverableitemsdiscoveryholds``), each key official's holding one
    message an eDiscovery hold preserved."""
    for plan in plans:
        mailbox = plan.mailbox
        assert mailbox is not None
        archive = plan.kind == "archive"
        parent = mailbox.by_distinguished[
            "archiverecoverableitemsroot" if archive else "recoverableitemsroot"
        ]
        folder = tenant.add_folder(
            mailbox,
            parent,
            "DiscoveryHolds",
            "IPF.Note",
            distinguished=None if archive else "recoverableitemsdiscoveryholds",
            hidden=True,
        )
        if not plan.key_official:
            continue
        when = _HOLD_DATE + plan.index * 86_400
        sent = format_datetime(datetime.fromtimestamp(when, UTC))
        body = (
            f"From: Afdeling Juridische Zaken <juridisch@{DOMAIN}>\r\n"
            f"To: {plan.user.display_name} <{plan.user.upn}>\r\n"
            f"Subject: Bewaarplicht dossier {plan.index + 1} ({'archief' if archive else 'postvak'})\r\n"
            f"Date: {sent}\r\n"
            f"Message-ID: <hold-{tenant.seed}-{plan.index}@{DOMAIN}>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Dit bericht valt onder een juridische bewaarplicht en blijft bewaard.\r\n"
        ).encode()
        tenant.add_item(folder, body, received=when)


# -- Teams ------------------------------------------------------------------------------------------


def member_id(tenant: Tenant, chat_id: str, user: User) -> str:
    return base64.b64encode(f"1##{tenant.tenant_id}##{chat_id}##{user.id}".encode()).decode()


def add_chat(
    tenant: Tenant,
    chat_type: str,
    users: list[User],
    created: float,
    *,
    topic: str | None = None,
    key: str = "",
) -> Chat:
    if chat_type == "oneOnOne":
        a, b = sorted(u.id for u in users[:2])
        chat_id = f"19:{a}_{b}@unq.gbl.spaces"
    elif chat_type == "meeting":
        chat_id = f"19:meeting_{base64.b64encode(ids.stable_hex(36, tenant.seed, 'meeting', key).encode()).decode().rstrip('=')}@thread.v2"
    else:
        chat_id = f"19:{ids.stable_hex(32, tenant.seed, 'chat', key)}@thread.v2"
    chat = Chat(id=chat_id, chat_type=chat_type, topic=topic, created=created, last_updated=created)  # type: ignore[arg-type]
    for n, user in enumerate(users):
        chat.members.append(
            ChatMember(
                member_id(tenant, chat_id, user),
                user,
                ["owner"] if n == 0 or chat_type == "oneOnOne" else [],
                created,
            )
        )
    if chat_type == "meeting":
        chat.online_meeting = {
            "calendarEventId": None,
            "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/{chat_id}/0",
            "organizer": {"id": users[0].id, "displayName": None, "userIdentityType": "aadUser"},
        }
    tenant.chats[chat_id] = chat
    return chat


def post_message(
    tenant: Tenant,
    chat: Chat,
    sender: User | None,
    at: float,
    content: str,
    *,
    content_type: str = "html",
    message_type: str = "message",
    event_detail: dict[str, Any] | None = None,
    mentions: list[User] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    images: int = 0,
    reply_to: str | None = None,
) -> ChatMessage:
    created = tenant.next_chat_ms(at)
    message_id = str(round(created * 1000))
    message = ChatMessage(
        id=message_id,
        chat=chat,
        message_type=message_type,
        created=created,
        sender=sender,
        versions=[],
        reply_to_id=reply_to,
        last_modified=created,
        event_detail=event_detail,
    )
    body = content
    for n, user in enumerate(mentions or []):
        body = f'<at id="{n}">{mime._xml_escape(user.display_name)}</at> ' + body
        message.mentions.append(
            {
                "id": n,
                "mentionText": user.display_name,
                "mentioned": {
                    "application": None,
                    "device": None,
                    "conversation": None,
                    "tag": None,
                    "user": {"id": user.id, "displayName": user.display_name, "userIdentityType": "aadUser"},
                },
            }
        )
    for attachment in attachments or []:
        message.attachments.append(attachment)
        body += f'<attachment id="{attachment["id"]}"></attachment>'
    for n in range(images):
        hosted_id = ids.hosted_content_id(tenant.seed, chat.id, message_id, n)
        data = mime.png_image(f"{chat.id}:{message_id}:{n}", 120, 80)
        message.hosted.append(HostedContent(hosted_id, "image/png", data))
        url = f"{GRAPH_PLACEHOLDER}/chats/{chat.id}/messages/{message_id}/hostedContents/{hosted_id}/$value"
        body += (
            f'<p><span><img height="80" src="{url}" width="120" itemtype="http://schema.skype.com/AMSImage" '
            f'style="vertical-align:bottom; width:120px; height:80px"></span></p>'
        )
    if content_type == "html" and message_type == "message":
        body = f"<p>{body}</p>" if not body.startswith("<") else body
    message.versions.append(MessageVersion(content_type, body, created, "created"))
    chat.messages[message_id] = message
    chat.last_updated = max(chat.last_updated, created)
    return message


def edit_message(tenant: Tenant, message: ChatMessage, content: str, at: float | None = None) -> ChatMessage:
    with tenant.lock:
        if message.deleted is not None:
            raise ValueError("a deleted message cannot be edited")
        when = tenant.next_chat_ms(tenant.clock() if at is None else at)
        kind = message.versions[-1].content_type
        message.versions.append(
            MessageVersion(
                kind,
                content if kind == "text" or content.startswith("<") else f"<p>{content}</p>",
                when,
                "edited",
            )
        )
        message.last_edited = when
        message.last_modified = when
        message.chat.last_updated = max(message.chat.last_updated, when)
        return message


def delete_message(tenant: Tenant, message: ChatMessage, at: float | None = None) -> ChatMessage:
    with tenant.lock:
        if message.deleted is None:
            when = tenant.next_chat_ms(tenant.clock() if at is None else at)
            message.deleted = when
            message.last_modified = when
            message.versions.append(MessageVersion(message.versions[-1].content_type, "", when, "deleted"))
        return message


def react(
    tenant: Tenant, message: ChatMessage, user: User, reaction: str, at: float | None = None
) -> ChatMessage:
    with tenant.lock:
        when = tenant.next_chat_ms(tenant.clock() if at is None else at)
        message.reactions.append(Reaction(reaction, user, when))
        message.last_modified = when
        message.history.append(
            {
                "modifiedDateTime": when,
                "actions": "reactionAdded",
                "reaction": {"reactionType": reaction, "createdDateTime": when, "user": user.id},
            }
        )
        return message


_CHAT_LINES = (
    "Goedemorgen! Zullen we het collegevoorstel vandaag nog afronden?",
    "Ik heb de laatste versie van de begroting in de map gezet.",
    "Kun je even bellen over de Woo-aanvraag?",
    "De raadsinformatiebrief is akkoord, wat mij betreft kan hij eruit.",
    "Prima, ik pak het op.",
    "Heb je de reactie van de provincie al gezien?",
    "Dank je, dat is helder.",
    "Ik zit tot twee uur in het overleg, daarna ben ik bereikbaar.",
    "Zie de bijlage voor de cijfers van het tweede kwartaal.",
    "Goed idee, laten we dat in het coördinatieoverleg bespreken.",
)  # fmt: skip
_REACTIONS = ("like", "heart", "laugh", "surprised")


def generate_chats(tenant: Tenant, profile: Profile, users: list[User]) -> None:
    """1:1, group and meeting chats with edits, deletions, reactions, mentions, reference
    attachments, hosted images and system events."""
    rng = random.Random(f"{tenant.seed}:chats")
    key = [u for u in users if u.key_official]
    staff = [u for u in users if not u.key_official]
    t = _CHAT_START
    chats: list[Chat] = []
    pairs = [(key[0], key[3]), (key[1], key[5]), (key[2], staff[0] if staff else key[4])]
    for n, (a, b) in enumerate(pairs):
        chats.append(add_chat(tenant, "oneOnOne", [a, b], t + n * 3600, key=f"1on1:{n}"))
    college = add_chat(
        tenant, "group", [key[0], key[1], key[2], key[3]], t + 4000, topic="Collegeoverleg", key="college"
    )
    chats.append(college)
    workgroup = add_chat(
        tenant, "group", [key[1], key[5], *(staff[:2] or key[4:5])], t + 5000, topic=None, key="begroting"
    )
    chats.append(workgroup)
    meeting = add_chat(
        tenant, "meeting", [key[4], key[0], key[3]], t + 6000, topic="Raadsvoorbereiding dinsdag", key="raad"
    )
    chats.append(meeting)
    for n in range(profile.extra_chats):
        members = rng.sample(users, k=min(len(users), rng.randint(2, 5)))
        kind = "oneOnOne" if len(members) == 2 else "group"
        if kind == "oneOnOne" and any(
            c.chat_type == "oneOnOne" and {m.user.id for m in c.members} == {u.id for u in members}
            for c in chats
        ):
            kind = "group"
        chats.append(
            add_chat(tenant, kind, members, t + 7000 + n * 600, topic=None if kind == "oneOnOne" else f"Werkoverleg {n + 1}", key=f"extra:{n}")
        )  # fmt: skip
    for chat in chats:
        users_in = chat.member_users()
        clock = chat.created
        if chat.chat_type != "oneOnOne":
            post_message(
                tenant, chat, None, clock, "<systemEventMessage/>", message_type="systemEventMessage",
                event_detail={
                    "@odata.type": "#microsoft.graph.membersAddedEventMessageDetail",
                    "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z",
                    "members": [{"id": u.id, "displayName": None, "userIdentityType": "aadUser", "tenantId": tenant.tenant_id} for u in users_in],
                    "initiator": {"application": None, "device": None, "user": {"id": users_in[0].id, "displayName": None, "userIdentityType": "aadUser", "tenantId": tenant.tenant_id}},
                },
            )  # fmt: skip
        if chat.chat_type == "meeting":
            clock += 60
            post_message(
                tenant, chat, None, clock, "<systemEventMessage/>", message_type="systemEventMessage",
                event_detail={
                    "@odata.type": "#microsoft.graph.callStartedEventMessageDetail",
                    "callId": ids.stable_hex(32, tenant.seed, "call", chat.id),
                    "initiator": {"application": None, "device": None, "user": {"id": users_in[0].id, "displayName": None, "userIdentityType": "aadUser", "tenantId": tenant.tenant_id}},
                },
            )  # fmt: skip
        low, high = profile.chat_messages
        count = rng.randint(low, high)
        posted: list[ChatMessage] = []
        for n in range(count):
            clock += rng.randint(30, 3 * 3600)
            sender = users_in[rng.randrange(len(users_in))]
            text = mime._xml_escape(_CHAT_LINES[rng.randrange(len(_CHAT_LINES))])
            others = [u for u in users_in if u is not sender]
            mentions = [others[0]] if n % 5 == 2 and others else None
            attachments = None
            if n % 6 == 1:
                doc = rng.choice(
                    (
                        "Begroting 2027.xlsx",
                        "Collegevoorstel Marktplein.docx",
                        "Raadsbrief omgevingsvisie.docx",
                    )
                )
                attachment_id = ids.stable_hex(32, tenant.seed, "att", chat.id, n)
                attachment_id = f"{attachment_id[:8]}-{attachment_id[8:12]}-{attachment_id[12:16]}-{attachment_id[16:20]}-{attachment_id[20:32]}"
                attachments = [
                    {
                        "id": attachment_id,
                        "contentType": "reference",
                        "contentUrl": f"{SHAREPOINT}/sites/Bestuur/Gedeelde documenten/{doc}",
                        "content": None,
                        "name": doc,
                        "thumbnailUrl": None,
                        "teamsAppId": None,
                    }
                ]
            images = 1 if n % 6 == 4 else 0
            posted.append(
                post_message(
                    tenant, chat, sender, clock, text, content_type="html" if (mentions or attachments or images or n % 2) else "text",
                    mentions=mentions, attachments=attachments, images=images,
                )
            )  # fmt: skip
        if chat.chat_type == "meeting":
            clock += 3600
            post_message(
                tenant, chat, None, clock, "<systemEventMessage/>", message_type="systemEventMessage",
                event_detail={
                    "@odata.type": "#microsoft.graph.callEndedEventMessageDetail",
                    "callId": ids.stable_hex(32, tenant.seed, "call", chat.id),
                    "callDuration": "PT1H", "callEventType": "meeting",
                    "callParticipants": [{"participant": {"application": None, "device": None, "user": {"id": u.id, "displayName": u.display_name, "userIdentityType": "aadUser", "tenantId": tenant.tenant_id}}} for u in users_in],
                    "initiator": {"application": None, "device": None, "user": {"id": users_in[0].id, "displayName": None, "userIdentityType": "aadUser", "tenantId": tenant.tenant_id}},
                },
            )  # fmt: skip
        if chat is college:
            clock += 120
            post_message(
                tenant, chat, None, clock, "<systemEventMessage/>", message_type="systemEventMessage",
                event_detail={
                    "@odata.type": "#microsoft.graph.chatRenamedEventMessageDetail",
                    "chatId": chat.id, "chatDisplayName": "Collegeoverleg",
                    "initiator": {"application": None, "device": None, "user": {"id": users_in[0].id, "displayName": None, "userIdentityType": "aadUser", "tenantId": tenant.tenant_id}},
                },
            )  # fmt: skip
        # Later activity on some messages: edits, deletions, reactions (all before the data's end).
        for n, message in enumerate(posted):
            later = message.created + rng.randint(60, 7200)
            if n % 4 == 1:
                edit_message(tenant, message, message.versions[-1].content.replace("</p>", " (aangepast)</p>") if message.versions[-1].content_type == "html" else message.versions[-1].content + " (aangepast)", later)  # fmt: skip
            elif n % 5 == 3:
                delete_message(tenant, message, later)
            if n % 3 == 0 and len(users_in) > 1:
                reactor = users_in[(n + 1) % len(users_in)]
                if reactor is not message.sender:
                    react(tenant, message, reactor, _REACTIONS[n % len(_REACTIONS)], later + 30)

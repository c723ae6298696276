"""A lean, deterministic generator of Dutch government mail as MIME, for the index benchmark.

Why not ``connectors/simulator/generator.py``: its bodies come from 12 fixed sentences and 26 topics
(every query would hit everything or nothing) and its attachments are 20-400 KB PDFs, which would
make the corpus a PDF-parsing benchmark. This one draws words from a ~15,000-word Dutch vocabulary
with a Zipf distribution (so there are rare, medium and common terms), at about 3-4 KB a message.

Message ``i`` of seed ``s`` is always the same bytes, whatever the corpus size or the number of
workers: its envelope (mailbox, folder, sender, date, subject, thread) comes from a hash of
``(s, i)``, so a reply can name its parent's Message-ID and subject without generating the parent;
its body comes from a :class:`random.Random` seeded by ``(s, i)``.

What a corpus holds:

- 10 designated mailboxes (6 key officials, 4 directors), 50 people writing (officials, staff,
  external organisations), dates over five years (Nov 2021 - Oct 2026);
- 40 % text/plain, 50 % multipart/alternative (plain + HTML), 10 % HTML only;
- ~15 % with a small attachment (a text note or a one-page PDF with a text layer);
- ~25 % replies (In-Reply-To, References up to the thread root, ``RE:`` subjects);
- planted, unstemmable tokens for exact count checks: a case code ``zaakXXXX`` (one of 4,096, in
  ~60 % of the messages, in the body only) and a unique ``dossierXXXXXXXX`` in every message.

Example::

    corpus = Corpus(seed=1)
    data = corpus.message(12345)          # bytes of one RFC 5322 message
    corpus.envelope(12345).mailbox        # "burgemeester@gemeente-demo.nl"
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import itertools
import random
import unicodedata
from bisect import bisect
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

VERSION = 1  # bump when the bytes of a message change: cached corpora are regenerated
DOMAIN = "gemeente-demo.nl"
ORG = "Gemeente Demo"
_TZ = ZoneInfo("Europe/Amsterdam")
START = datetime(2021, 11, 1, tzinfo=UTC).timestamp()
END = datetime(2026, 10, 31, tzinfo=UTC).timestamp()
ZIPF_S = 1.05
CODES = 4096  # distinct case codes zaakXXXX
CODE_RATE = 0.6
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # letters only; the last character is a digit
MAX_THREAD_DEPTH = 6

FUNCTION_WORDS = (
    "de", "het", "een", "en", "van", "in", "te", "dat", "op", "is", "voor", "met", "niet", "aan",
    "er", "om", "ook", "als", "bij", "door", "naar", "dan", "of", "zijn", "worden", "wordt", "nog",
    "over", "maar", "wij", "we", "u", "je", "ik", "deze", "die", "dit", "uit", "tot", "kan", "zal",
    "moet", "heeft", "hebben", "na", "al", "wel", "geen", "meer", "onder", "tegen", "zoals",
    "zodat", "omdat", "hierbij", "graag", "inmiddels", "namens",
)  # fmt: skip
BASE_WORDS = (
    "gemeente", "college", "raad", "burgemeester", "wethouder", "voorstel", "besluit", "begroting",
    "overleg", "vergadering", "agenda", "notulen", "bijlage", "reactie", "planning", "provincie",
    "ministerie", "inwoners", "bewoners", "ondernemers", "wijk", "centrum", "project", "afdeling",
    "team", "directie", "griffie", "commissie", "fractie", "motie", "amendement", "raadsvoorstel",
    "collegevoorstel", "raadsinformatiebrief", "zienswijze", "bestemmingsplan", "omgevingsvisie",
    "omgevingsplan", "vergunning", "subsidie", "aanbesteding", "contract", "offerte", "factuur",
    "jaarrekening", "voorjaarsnota", "najaarsnota", "kadernota", "reserve", "dekking", "budget",
    "financiën", "risico", "risico's", "evaluatie", "rapportage", "onderzoek", "advies",
    "toelichting", "conceptbrief", "brief", "nota", "memo", "notitie", "verslag", "planning",
    "woningbouw", "woningen", "huurwoningen", "starters", "senioren", "jongeren", "zorg", "jeugdzorg",
    "wmo", "participatie", "werkgelegenheid", "armoede", "schuldhulp", "onderwijs", "sport", "cultuur",
    "bibliotheek", "museum", "erfgoed", "monument", "verkeer", "parkeren", "fietspad", "brug",
    "rotonde", "kruispunt", "riolering", "afval", "inzameling", "duurzaamheid", "energie",
    "zonnepanelen", "windmolens", "warmtenet", "klimaat", "groen", "bomen", "park", "speeltuin",
    "veiligheid", "politie", "brandweer", "handhaving", "toezicht", "crisis", "calamiteit",
    "evenement", "markt", "horeca", "winkels", "bedrijventerrein", "grondexploitatie", "grond",
    "kavel", "perceel", "eigenaar", "aannemer", "werkzaamheden", "uitvoering", "fase", "mijlpaal",
    "termijn", "deadline", "vrijdag", "maandag", "dinsdag", "woensdag", "donderdag", "ochtend",
    "middag", "week", "maand", "kwartaal", "jaar", "juridisch", "bezwaar", "beroep", "klacht",
    "melding", "integriteit", "privacy", "archief", "informatie", "openbaarmaking", "woo-verzoek",
    "persbericht", "pers", "journalist", "communicatie", "website", "bewonersavond", "inspraak",
    "burgerpanel", "ideeën", "coördinatie", "financiële", "consequenties", "algemene", "afspraken",
    "afstemming", "ambtelijk", "bestuurlijk", "politiek", "gevoelig", "vertrouwelijk", "concept",
    "definitief", "akkoord", "bespreken", "nalezen", "aanpassen", "versturen", "ontvangen",
    "doorsturen", "voorbereiden", "uitnodigen", "terugkoppelen", "beoordelen", "vaststellen",
    "goedkeuren", "afwijzen", "verlengen", "uitstellen", "verplaatsen", "regionale", "landelijke",
    "nieuwe", "huidige", "vorige", "volgende", "belangrijke", "dringend", "spoedig", "uiterlijk",
    "tijdig", "zorgvuldig", "café", "privé", "reünie", "geëvalueerd", "beëdiging", "één",
)  # fmt: skip
FIRST_PARTS = (
    "fiets", "woning", "bouw", "verkeers", "water", "energie", "subsidie", "afval", "sport", "school",
    "zorg", "jeugd", "park", "markt", "haven", "brug", "weg", "wijk", "stads", "dorps",
    "bestemmings", "omgevings", "milieu", "parkeer", "grond", "gebieds", "beleids", "project",
    "informatie", "budget", "risico", "kosten", "inkoop", "personeels", "veiligheids", "crisis",
    "klimaat", "warmte", "riool", "groen", "speel", "onderwijs", "cultuur", "erfgoed", "archief",
    "privacy", "integriteits", "communicatie", "pers", "burger", "inwoner", "ondernemers",
    "bedrijven", "winkel", "horeca", "evenementen", "vergunningen", "handhavings", "toezicht",
    "bezwaar", "klacht", "raads", "college", "begrotings", "belasting", "huur", "koop", "starters",
    "senioren", "mantel", "armoede", "schuld", "werk", "re-integratie", "inburgerings",
    "gezondheids", "preventie", "mobiliteits", "openbaar", "vervoer", "trein", "bus", "auto",
    "laad", "zonne", "wind", "isolatie", "monumenten", "museum", "bibliotheek", "muziek", "theater",
    "zwembad", "voetbal", "hockey", "tennis", "atletiek", "kinder", "opvang", "buurt", "dorp",
    "kern", "noord", "zuid", "oost", "west", "centrum", "rand", "dijk", "polder", "sloot", "kanaal",
    "bos", "natuur", "recreatie", "toerisme", "camping", "jachthaven", "industrie", "kantoor",
    "data", "digitaal", "ict", "netwerk", "telefonie", "software", "licentie",
)  # fmt: skip
SECOND_PARTS = (
    "plan", "beleid", "nota", "visie", "regeling", "verordening", "budget", "overleg", "rapport",
    "advies", "brief", "besluit", "aanvraag", "procedure", "traject", "project", "opgave", "strategie",
    "kader", "fonds", "contract", "onderzoek", "analyse", "evaluatie", "planning", "toets", "norm",
    "verslag", "agenda", "memo", "notitie", "commissie", "team", "afdeling", "loket", "register",
    "programma", "monitor", "dashboard", "convenant", "overeenkomst", "subsidie", "bijdrage",
    "heffing", "tarief", "kosten", "raming", "begroting", "reserve", "voorziening", "krediet",
    "lening", "garantie", "schade", "claim", "melding", "signaal", "incident", "storing", "uitval",
    "herstel", "onderhoud", "vervanging", "renovatie", "sloop", "nieuwbouw", "ontwerp", "tekening",
    "vergunning", "ontheffing", "handhaving", "controle", "inspectie", "audit", "verantwoording",
    "jaarverslag", "kwartaalrapportage", "offerte", "aanbesteding", "gunning", "bezwaar",
    "zienswijze", "inspraak", "avond", "bijeenkomst", "werksessie", "excursie", "bezoek",
    "afspraak", "gesprek", "interview", "enquête", "peiling", "panel", "platform", "portaal",
    "website", "app", "database", "koppeling", "migratie", "archief", "dossier", "zaak", "termijn",
    "deadline", "mijlpaal", "fase", "ronde", "pilot", "proef", "experiment", "aanpak", "methode",
    "werkwijze", "richtlijn", "protocol", "handboek", "checklist", "formulier", "sjabloon",
)  # fmt: skip
TEMPLATE_SENTENCES = (
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
SUBJECT_PREFIXES = (
    "Voorstel", "Concept", "Overleg", "Vraag over", "Reactie op", "Agenda", "Besluit", "Woo-verzoek",
    "Raadsinformatiebrief", "Update", "Uitnodiging", "Afstemming", "Planning", "Memo", "Terugkoppeling",
)  # fmt: skip

# (local part, name, function, organisation, domain)
OFFICIALS = (
    ("burgemeester", "Marieke van der Heijden", "Burgemeester"),
    ("wethouder.financien", "Pieter de Groot", "Wethouder Financiën en Economie"),
    ("wethouder.ruimte", "Fatima El Amrani", "Wethouder Ruimtelijke Ordening en Wonen"),
    ("gemeentesecretaris", "Johan Bakker", "Gemeentesecretaris"),
    ("griffier", "Annelies Visser", "Griffier"),
    ("directeur.bedrijfsvoering", "Ruud Jansen", "Directeur Bedrijfsvoering"),
    ("directeur.ruimte", "Chloë Mulder", "Directeur Ruimte"),
    ("directeur.sociaal", "Daan Koster", "Directeur Sociaal Domein"),
    ("directeur.publiekszaken", "Noor Brouwer", "Directeur Publiekszaken"),
    ("concerncontroller", "Sem Hendriks", "Concerncontroller"),
)  # fmt: skip
STAFF = (
    "Sanne de Jong", "Thijs van Dijk", "Lotte Peters", "Bram Willems", "Eva Dekker", "Jesse Bos",
    "Fleur Vos", "Ruben Smit", "Isa Meijer", "Lars de Boer", "Anouk Kok", "Milan van Leeuwen",
    "Sophie Schouten", "Luuk Verbeek", "Emma Prins", "Gijs Mulder", "Zoë Koster", "Joël Brouwer",
    "Renée Bakker", "Bas Hendriks",
)  # fmt: skip
STAFF_FUNCTIONS = (
    "Beleidsmedewerker Ruimte", "Beleidsmedewerker Financiën", "Juridisch adviseur",
    "Communicatieadviseur", "Woo-coördinator", "Projectleider Omgevingswet", "Controller",
)  # fmt: skip
EXTERNALS = (
    ("Karin Wouters", "Provincie Demo-Holland", "provincie-demo.example"),
    ("Henk Vermeulen", "Provincie Demo-Holland", "provincie-demo.example"),
    ("Eline Dijkstra", "Ministerie van BZK", "minbzk.example"),
    ("Maarten Kuipers", "Ministerie van BZK", "minbzk.example"),
    ("Jeroen van den Broek", "Ministerie van Financiën", "minfin.example"),
    ("Sarah Bosman", "Vereniging van Nederlandse Gemeenten", "vng.example"),
    ("Wim Postma", "Waterschap De Lage Velden", "waterschap-demo.example"),
    ("Ingrid Molenaar", "Veiligheidsregio Midden", "vr-midden.example"),
    ("Kees van Rijn", "Bouwbedrijf Van Rijn B.V.", "vanrijn-bouw.example"),
    ("Yasmina Bouzid", "Adviesbureau Stadskwartier", "stadskwartier.example"),
    ("Frédérique Lambert", "Adviesbureau Stadskwartier", "stadskwartier.example"),
    ("Tom Hoekstra", "Dagblad De Regio", "deregio.example"),
    ("Anneke Zwart", "", "mail.example"),
    ("Mohamed Yilmaz", "", "mail.example"),
    ("Jan de Wit", "", "mail.example"),
    ("Lieke Smits", "Stichting Buurtwerk", "buurtwerk.example"),
    ("Hans Timmer", "Ondernemersvereniging Centrum", "ovc.example"),
    ("Petra Kramer", "GGD Regio Midden", "ggd-midden.example"),
    ("Rob Schuurman", "Woningcorporatie Thuis", "thuis-wonen.example"),
    ("Nadia Haddou", "Omgevingsdienst Midden", "odmidden.example"),
)  # fmt: skip
FOLDERS_IN = (("Postvak IN", 60), ("Postvak IN/Projecten", 15), ("Archief", 15), ("Verwijderde items", 10))


class Person(NamedTuple):
    name: str
    address: str
    function: str
    org: str


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _local(name: str) -> str:
    return ".".join(_ascii(name).lower().replace("-", " ").split())


def people() -> tuple[list[Person], list[Person], list[Person]]:
    """(mailbox owners, internal staff, externals): 10 + 20 + 20 = 50 people who write."""
    owners = [Person(n, f"{lp}@{DOMAIN}", f, ORG) for lp, n, f in OFFICIALS]
    staff = [
        Person(n, f"{_local(n)}@{DOMAIN}", STAFF_FUNCTIONS[k % len(STAFF_FUNCTIONS)], ORG)
        for k, n in enumerate(STAFF)
    ]
    externals = [Person(n, f"{_local(n)}@{d}", "", o) for n, o, d in EXTERNALS]
    return owners, staff, externals


@lru_cache(maxsize=4)
def vocabulary(seed: int = 1) -> tuple[list[str], list[float]]:
    """(words by Zipf rank, cumulative weights): function words first, then the base words, then
    ~15,000 compounds (``fiets`` + ``plan``) in a seeded order."""
    rng = random.Random(f"vocab:{seed}")
    base = list(dict.fromkeys(BASE_WORDS))
    rng.shuffle(base)
    seen = set(FUNCTION_WORDS) | set(base)
    compounds = []
    for first, second in itertools.product(FIRST_PARTS, SECOND_PARTS):
        word = first + second
        if word not in seen:
            seen.add(word)
            compounds.append(word)
    rng.shuffle(compounds)
    words = [*FUNCTION_WORDS, *base, *compounds]
    cumulative = list(itertools.accumulate(1.0 / (rank**ZIPF_S) for rank in range(1, len(words) + 1)))
    return words, cumulative


def case_code(n: int) -> str:
    """``zaak`` + three letters + one digit: the case code number ``n`` (0 <= n < CODES)."""
    a, rest = divmod(n, 8 * 24 * 24)
    b, rest = divmod(rest, 8 * 24)
    c, d = divmod(rest, 8)
    return f"zaak{_CODE_ALPHABET[a % 24]}{_CODE_ALPHABET[b]}{_CODE_ALPHABET[c]}{d + 2}"


def dossier(seed: int, i: int) -> str:
    return "dossier" + hashlib.blake2b(f"{seed}:dossier:{i}".encode(), digest_size=5).hexdigest()


@dataclass(frozen=True)
class Envelope:
    number: int
    mailbox: str  # the owner's address (whose mailbox the message is in)
    owner: int  # index into the owners
    folder: str
    sender: Person
    to: tuple[Person, ...]
    cc: tuple[Person, ...]
    date: float
    subject: str
    message_id: str
    references: tuple[str, ...]  # root first
    style: str  # plain | alt | html
    attachment: str  # "" | txt | pdf
    code: int  # case code number, or -1
    parent: int  # the message this one replies to, or -1


class Corpus:
    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.words, self.cumulative = vocabulary(seed)
        self.total = self.cumulative[-1]
        self.owners, self.staff, self.externals = people()
        self.internal = self.owners + self.staff
        self.everyone = self.internal + self.externals
        # Words of subjects: content words only (no function words), from rank 60 on.
        self.first_content = len(FUNCTION_WORDS)

    # -- the envelope: cheap, from a hash, so replies can name their parents -----------------------

    def _u(self, i: int) -> list[float]:
        digest = hashlib.blake2b(f"{self.seed}:{i}".encode(), digest_size=64).digest()
        return [int.from_bytes(digest[n : n + 4], "big") / 4294967296.0 for n in range(0, 64, 4)]

    def _word(self, u: float) -> str:
        return self.words[bisect(self.cumulative, u * self.total)]

    def _content_word(self, u: float) -> str:
        low = self.cumulative[self.first_content - 1]
        return self.words[bisect(self.cumulative, low + u * (self.total - low))]

    def _message_id(self, i: int, sender: Person) -> str:
        token = hashlib.blake2b(f"{self.seed}:mid:{i}".encode(), digest_size=16).hexdigest()
        domain = sender.address.split("@", 1)[1]
        if domain == DOMAIN:
            return f"<{token.upper()}@AM9PR09MB{i % 9000 + 1000}.eurprd09.prod.outlook.com>"
        return f"<{token}@{domain}>"

    @lru_cache(maxsize=65536)  # noqa: B019 - one Corpus per process; replies look back a little
    def envelope(self, i: int) -> Envelope:
        u = self._u(i)
        owner_no = int(u[0] * len(self.owners))
        owner = self.owners[owner_no]
        parent = -1
        if u[1] < 0.25 and i > 0:
            parent = max(0, i - 1 - int(u[2] * 400))
        outgoing = u[3] < 0.3
        pool = self.externals if u[4] < 0.45 else self.internal
        other = pool[int(u[5] * len(pool))]
        if other == owner:
            other = self.staff[int(u[5] * len(self.staff))]
        cc: tuple[Person, ...] = ()
        if u[6] < 0.3:
            cc = (self.internal[int(u[7] * len(self.internal))],)
        if outgoing:
            sender, to, folder = owner, (other,), "Verzonden items"
        else:
            sender, to = other, (owner,)
            pick = u[8] * 100
            folder = FOLDERS_IN[-1][0]
            for name, weight in FOLDERS_IN:
                pick -= weight
                if pick < 0:
                    folder = name
                    break
        style = "plain" if u[9] < 0.4 else "alt" if u[9] < 0.9 else "html"
        attachment = "" if u[10] >= 0.15 else ("txt" if u[11] < 0.6 else "pdf")
        code = int(u[12] * CODES) if u[13] < CODE_RATE else -1
        references: tuple[str, ...] = ()
        if parent >= 0:
            original = self.envelope(parent)
            if len(original.references) < MAX_THREAD_DEPTH:
                references = (*original.references, original.message_id)
                date = min(original.date + 600 + u[14] * 3 * 86400, END)
                subject = "RE: " + original.subject.removeprefix("RE: ")
            else:
                parent = -1
        if parent < 0:
            date = START + u[14] * (END - START)
            words = [
                self._content_word(x) for x in u[15:16] + self._u(i + 1_000_000_007)[: 1 + int(u[1] * 4)]
            ]
            prefix = SUBJECT_PREFIXES[int(u[2] * len(SUBJECT_PREFIXES))]
            subject = f"{prefix} {' '.join(words)}"
        return Envelope(
            number=i,
            mailbox=owner.address,
            owner=owner_no,
            folder=folder,
            sender=sender,
            to=to,
            cc=cc,
            date=float(int(date)),
            subject=subject,
            message_id=self._message_id(i, sender),
            references=references,
            style=style,
            attachment=attachment,
            code=code,
            parent=parent,
        )

    # -- the body: from a seeded Random ------------------------------------------------------------

    def _sentence(self, rng: random.Random) -> str:
        if rng.random() < 0.12:
            return TEMPLATE_SENTENCES[int(rng.random() * len(TEMPLATE_SENTENCES))]
        n = 6 + int(rng.random() * 13)
        words = rng.choices(self.words, cum_weights=self.cumulative, k=n)
        first = words[0]
        words[0] = first[:1].upper() + first[1:]
        return " ".join(words) + ("?" if rng.random() < 0.08 else ".")

    def paragraphs(self, rng: random.Random, count: int) -> list[str]:
        return [" ".join(self._sentence(rng) for _ in range(2 + int(rng.random() * 4))) for _ in range(count)]

    def message(self, i: int) -> bytes:
        env = self.envelope(i)
        rng = random.Random(self.seed * 1_000_003 + i)
        greeting = f"Beste {env.to[0].name.split()[0]}," if env.to else "Beste,"
        paragraphs = self.paragraphs(rng, 1 + int(rng.random() * 4))
        if env.code >= 0:
            paragraphs.insert(int(rng.random() * len(paragraphs)), f"Zaaknummer: {case_code(env.code)}")
        paragraphs.append(f"Kenmerk: {dossier(self.seed, i)}")
        signature = ["Met vriendelijke groet,", env.sender.name]
        signature += [x for x in (env.sender.function, env.sender.org) if x]
        quoted: list[str] = []
        if env.parent >= 0:
            original = self.envelope(env.parent)
            quoted = [
                "-----Oorspronkelijk bericht-----",
                f"Van: {original.sender.name}",
                f"Onderwerp: {original.subject}",
            ]
        headers = self._headers(env)
        text = "\r\n".join([greeting, "", *_blank_joined(paragraphs), "", *signature, *_q(quoted)]) + "\r\n"
        parts: list[bytes] = []
        if env.style == "plain":
            body = _text_part(text, "plain")
        else:
            esc = html.escape
            page = (
                '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>'
                '<body><div style="font-family:Aptos,Calibri,sans-serif;font-size:11pt">'
                f"<p>{esc(greeting)}</p>"
                + "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
                + "<p>"
                + "<br>".join(esc(s) for s in signature)
                + "</p>"
                + ("<hr><div>" + "<br>".join(esc(q) for q in quoted) + "</div>" if quoted else "")
                + "</div></body></html>"
            )
            if env.style == "html":
                body = _text_part(page, "html")
            else:
                boundary = f"_000_{i:08d}alt_"
                body = _multipart(
                    "alternative", boundary, [_text_part(text, "plain"), _text_part(page, "html")]
                )
        if env.attachment:
            parts = [body, self._attachment(env, rng)]
            body = _multipart("mixed", f"_004_{i:08d}mix_", parts)
        return headers + body

    def _headers(self, env: Envelope) -> bytes:
        lines = [
            "Received: from AM9PR09MB4711.eurprd09.prod.outlook.com (2603:10a6:20b:2ed::15) by "
            f"AM0PR09MB1174.eurprd09.prod.outlook.com with HTTPS; {format_datetime(datetime.fromtimestamp(env.date + 1, UTC))}",
            f"From: {_address(env.sender)}",
            "To: " + ", ".join(_address(p) for p in env.to),
        ]
        if env.cc:
            lines.append("Cc: " + ", ".join(_address(p) for p in env.cc))
        lines += [
            f"Subject: {_encode_words(env.subject)}",
            f"Date: {format_datetime(datetime.fromtimestamp(env.date, _TZ))}",
            f"Message-ID: {env.message_id}",
        ]
        if env.references:
            lines.append(f"In-Reply-To: {env.references[-1]}")
            lines.append("References: " + "\r\n ".join(env.references))
        lines += ["Content-Language: nl-NL", "MIME-Version: 1.0"]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    def _attachment(self, env: Envelope, rng: random.Random) -> bytes:
        topic = self._content_word(rng.random())
        if env.attachment == "txt":
            text = "\r\n".join(self.paragraphs(rng, 2)) + "\r\n"
            data = text.encode("utf-8")
            name, media = f"notitie-{_ascii(topic)}.txt", 'text/plain; charset="utf-8"'
        else:
            lines = [
                _ascii(" ".join(rng.choices(self.words, cum_weights=self.cumulative, k=8))) for _ in range(6)
            ]
            data = tiny_pdf([f"Rapport {_ascii(topic)}", *lines])
            name, media = f"rapport-{_ascii(topic)}.pdf", "application/pdf"
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
        head = (
            f'Content-Type: {media}; name="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"; size={len(data)}\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        )
        return head.encode("ascii") + encoded


def _blank_joined(paragraphs: list[str]) -> list[str]:
    out: list[str] = []
    for p in paragraphs:
        if out:
            out.append("")
        out.append(p)
    return out


def _q(quoted: list[str]) -> list[str]:
    return ["", *quoted] if quoted else []


def _address(person: Person) -> str:
    if person.name.isascii():
        return f'"{person.name}" <{person.address}>'
    return f"{_encode_words(person.name)} <{person.address}>"


def _encode_words(text: str) -> str:
    if text.isascii():
        return text
    return "=?utf-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _text_part(text: str, subtype: str) -> bytes:
    data = binascii.b2a_qp(text.encode("utf-8"))
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
    ).encode("ascii") + data


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    out = [f'Content-Type: multipart/{subtype};\r\n\tboundary="{boundary}"\r\n\r\n'.encode("ascii")]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode("ascii"))
        out.append(part)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


def tiny_pdf(lines: list[str]) -> bytes:
    """A one-page PDF (Helvetica) whose text layer holds ``lines`` (ASCII)."""
    ops = ["BT", "/F1 11 Tf", "72 760 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)

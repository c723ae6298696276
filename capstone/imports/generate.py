"""Generated, fictitious phone exports for the demo, the benchmark and the crash tests (no real
people's chats): a WhatsApp Android export (Dutch locale, text written line by line, so any size
costs no memory) and an SMS Backup & Restore XML with an MMS."""

from __future__ import annotations

import base64
import random
import struct
import zipfile
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

_PEOPLE = ("Pieter Bakker", "Sanne de Wit", "Gerrit Smit", "Ans Visser")
_PHRASES = (
    "De aanbesteding van de fietsbrug gaat vandaag de deur uit.",
    "Kun je de begroting voor het college van dinsdag nakijken?",
    "Het parkeerrapport staat in de gedeelde map.",
    "Akkoord, ik neem het mee naar het bestuurlijk overleg.",
    "De raad stemt op de 28e over de dijkversterking.",
    "Zullen we morgen om 10 uur bellen over de woningbouwlocatie?",
)


def png_bytes(red: int, green: int, blue: int) -> bytes:
    """A valid 1x1 PNG of one colour."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes((red, green, blue)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def whatsapp_android(
    target: Path,
    *,
    messages: int,
    official: str,
    title: str = "Projectgroep Fietsbrug",
    start: datetime = datetime(2026, 1, 5, 8, 0),
    seed: int = 1,
    media_every: int = 0,
    zipped: bool = False,
    people: Sequence[str] = _PEOPLE,
) -> Path:
    """Write ``WhatsApp Chat met <title>.txt`` (or the zip of it and its media) into ``target``
    (a folder) and return its path. Every ``media_every``-th message carries a generated photo."""
    rng = random.Random(seed)
    target.mkdir(parents=True, exist_ok=True)
    name = f"WhatsApp Chat met {title}.txt"
    text_path = target / name
    media: list[tuple[str, bytes]] = []
    moment = start
    with text_path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(f"{moment:%d-%m-%Y %H:%M} - Berichten en gesprekken worden end-to-end versleuteld.\n")
        for number in range(1, messages):
            moment += timedelta(seconds=rng.randint(20, 900))
            sender = official if number % 3 == 0 else people[number % len(people)]
            stamp = f"{moment:%d-%m-%Y %H:%M}"
            if media_every and number % media_every == 0:
                file_name = f"IMG-{moment:%Y%m%d}-WA{number:04d}.png"
                media.append((file_name, png_bytes(number % 256, (number * 7) % 256, (number * 13) % 256)))
                out.write(f"{stamp} - {sender}: {file_name} (bestand bijgevoegd)\nFoto {number}\n")
            elif number % 17 == 0:
                out.write(f"{stamp} - {sender}: {rng.choice(_PHRASES)}\nBericht {number}, tweede regel.\n")
            else:
                out.write(f"{stamp} - {sender}: {rng.choice(_PHRASES)} ({number})\n")
    if not zipped:
        for file_name, data in media:
            (target / file_name).write_bytes(data)
        return text_path
    archive = target / f"WhatsApp Chat met {title}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped_file:
        zipped_file.write(text_path, name)
        for file_name, data in media:
            zipped_file.writestr(file_name, data)
    text_path.unlink()
    return archive


def sms_backup(target: Path, *, contact: str = "Gerrit Smit", number: str = "+31612345678") -> Path:
    """An SMS Backup & Restore XML with a short business thread and one MMS photo."""
    base = int(datetime(2026, 1, 12, 10, 0).timestamp() * 1000)
    image = base64.b64encode(png_bytes(10, 120, 90)).decode()
    bodies = [
        ("1", "Kunt u morgen bij het overleg over de parkeergarage zijn?"),
        ("2", "Ja, ik kom om 10 uur. Neem het parkeerrapport mee."),
        ("1", "Prima, dank! De begroting van de garage ligt klaar."),
    ]
    rows = [
        f'  <sms protocol="0" address="{number}" date="{base + i * 300_000}" type="{kind}" subject="null" '
        f'body="{body}" read="1" status="-1" locked="0" contact_name="{contact}" />'
        for i, (kind, body) in enumerate(bodies)
    ]
    rows.append(
        f'  <mms date="{base + 86_400_000}" msg_box="1" address="{number}" m_type="132" contact_name="{contact}">\n'
        f'    <parts>\n      <part seq="0" ct="image/png" name="parkeergarage.png" text="null" data="{image}" />\n'
        '      <part seq="0" ct="text/plain" name="null" text="Schets van de ingang van de parkeergarage" />\n'
        f'    </parts>\n    <addrs>\n      <addr address="{number}" type="137" charset="106" />\n    </addrs>\n  </mms>'
    )
    path = target / "sms-20260201100000.xml"
    target.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<smses count="{len(rows)}" type="full">\n' + "\n".join(rows) + "\n</smses>\n",
        encoding="utf-8",
    )
    return path

"""Which parser reads an export: by its shape (an XML backup, a signal-export folder or zip, a
WhatsApp text file, zip or folder); anything else is refused with one line."""

from __future__ import annotations

from pathlib import Path

from capstone.imports.model import ImportRefused, PhoneExport


def open_phone_export(
    path: Path, *, timezone: str, own_name: str | None = None, chat_title: str | None = None
) -> PhoneExport:
    from capstone.imports.signal import SignalExport, looks_like_signal
    from capstone.imports.sms import SmsBackupExport
    from capstone.imports.whatsapp import WhatsAppExport, looks_like_whatsapp

    if not path.exists():
        raise ImportRefused(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() == ".xml":
        return SmsBackupExport(path, timezone=timezone, own_name=own_name)
    if looks_like_signal(path):
        return SignalExport(path, timezone=timezone)
    if path.suffix.lower() == ".zip" or looks_like_whatsapp(path):
        return WhatsAppExport(path, timezone=timezone, chat_title=chat_title)
    raise ImportRefused(
        f"{path}: unknown export format (expected a WhatsApp export (.txt, .zip or folder), an SMS "
        "Backup & Restore .xml, or a signal-export folder)"
    )

"""Are officials' phone chats imported often enough? The Rijk's rule is at least monthly, so
``capture status`` warns for every designation in force whose last phone chat import (any device,
WhatsApp, Signal or SMS) is older than ``CAPSTONE_PHONE_IMPORT_MAX_AGE`` (default 31 days; ``off``
disables the warning), or that has none. The vault is the truth: the ``import-source`` records say
which official's export was imported when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from capstone.capture.freshness import _human, parse_duration
from capstone.imports.model import SOURCE_KIND, PhoneSystem
from capstone.logging import get_logger
from capstone.registry.service import Registry
from capstone.settings import Settings
from vault import Vault

log = get_logger("imports.freshness")
_PHONE = frozenset(s.value for s in PhoneSystem)


def last_phone_imports(vault: Vault) -> dict[str, datetime]:
    """Designation id -> the newest moment a phone export of that official was imported."""
    last: dict[str, datetime] = {}
    for record in vault.iter_records(SOURCE_KIND):
        source = record.source or {}
        if source.get("system") not in _PHONE:
            continue
        stamp = (record.capture or {}).get("imported_at")
        if not stamp:
            continue
        moment = datetime.fromisoformat(str(stamp))
        designation_id = str(source.get("designation_id") or "")
        if designation_id not in last or moment > last[designation_id]:
            last[designation_id] = moment
    return last


def stale_phone_imports(
    vault: Vault, engine: Engine, max_age: timedelta, now: datetime | None = None
) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    last = last_phone_imports(vault)
    warnings = []
    for assignment in Registry(engine).active_at(now):
        designation = assignment.designation
        moment = last.get(designation.designation_id)
        if moment is not None and now - moment <= max_age:
            continue
        if moment is None:
            message = (
                f"phone chats (WhatsApp, Signal, SMS) of {designation.name} have never been imported "
                f"(at least every {_human(max_age)}: capstone import phone)"
            )
        else:
            message = (
                f"phone chats of {designation.name} were last imported {_human(now - moment)} ago, "
                f"longer than the maximum of {_human(max_age)} (capstone import phone)"
            )
        warnings.append(
            {
                "kind": "phone-import",
                "designation_id": designation.designation_id,
                "official": designation.name,
                "last_import_at": moment.isoformat() if moment else None,
                "max_age_seconds": max_age.total_seconds(),
                "message": message,
            }
        )
    return sorted(warnings, key=lambda w: str(w["official"]))


def phone_import_warnings(
    settings: Settings, engine: Engine, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The warnings ``capture status`` shows; none when disabled or when the vault cannot be read."""
    setting = (settings.phone_import_max_age or "off").strip().lower()
    if setting in ("off", "0", "none", ""):
        return []
    from capstone.services import open_vault
    from vault import VaultError

    try:
        vault = open_vault(settings)
    except (VaultError, OSError) as exc:
        log.warning("phone_import_freshness_unknown", error=type(exc).__name__)
        return []
    try:
        return stale_phone_imports(vault, engine, parse_duration(setting), now)
    finally:
        vault.close()

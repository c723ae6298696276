"""Which chats a Woo case's scope reaches: a chat of an official in scope with a message in its period.

Chat records carry the designation (and with it the official) whose capture wrote them, and each
message version its creation time, so the vault answers this without the index.

Example::

    allowed = chats_in_scope(vault, scope)   # chat ids
"""

from __future__ import annotations

from collections import defaultdict

from capstone.chats.archive import parse_stamp
from capstone.woo.scope import CaseScope
from vault.vault import Vault


def chats_in_scope(vault: Vault, scope: CaseScope) -> set[str]:
    """Chat ids with a message version, captured for an official in ``scope``, created within its
    period (any time when the scope has no period)."""
    allowed: set[str] = set()
    by_chat: dict[str, bool] = defaultdict(bool)
    for record in vault.iter_records("chat-message-version"):
        if record.source.get("system") != "microsoft-teams":
            continue
        chat_id = str(record.source.get("chat_id") or "")
        official = str((record.designation or {}).get("official") or "")
        if not chat_id or by_chat[chat_id]:
            continue
        if scope.covers(official, parse_stamp(str(record.source.get("created") or ""))):
            by_chat[chat_id] = True
            allowed.add(chat_id)
    return allowed

"""Who may do what. Roles are enforced in the service layer, so the CLI and a later API share them.

The CLI's identity is the OS user running it (see :mod:`capstone.access.identity`); its roles come
from ``[roles]`` in an administrator's configuration file the caller cannot write. A user without
configured roles has none. Environment variables grant nothing.

Example::

    actor = actor_from_settings(settings)          # Actor(name="anna", roles=frozenset({"woo-officer"}))
    require(actor, WOO_OFFICER)                     # raises AccessDenied otherwise
"""

from __future__ import annotations

from dataclasses import dataclass

from capstone.coded import Coded
from capstone.settings import Settings

REGISTRY_ADMIN = "registry-admin"  # designations; no mail content
ARCHIVIST = "archivist"  # capture, verify; no content search
WOO_OFFICER = "woo-officer"  # search and export, only inside cases assigned to them
AUDITOR = "auditor"  # reads the audit log
OFFICIAL = "official"  # a key official or their delegate: marks privé/partijpolitiek items (issue 21)
ROLES = (REGISTRY_ADMIN, ARCHIVIST, WOO_OFFICER, AUDITOR, OFFICIAL)


class AccessDenied(Coded, PermissionError):
    """The actor lacks the role, the case, or the assignment an action needs."""


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles


def actor_from_settings(settings: Settings) -> Actor:
    """The CLI's actor: ``settings.user`` with the roles configuration gives that name."""
    configured = settings.roles.get(settings.user, [])
    unknown = sorted(set(configured) - set(ROLES))
    if unknown:
        raise ValueError(
            f"unknown role(s) {', '.join(unknown)} for {settings.user}; known: {', '.join(ROLES)}"
        )
    return Actor(settings.user, frozenset(configured))


def require(actor: Actor, role: str) -> None:
    if not actor.has(role):
        raise AccessDenied(
            f"{actor.name} lacks the role {role!r} (has: {', '.join(sorted(actor.roles)) or 'none'}); "
            f'an administrator grants it in the configuration: [roles] {actor.name} = ["{role}"]'
        )

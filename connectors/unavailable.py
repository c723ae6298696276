"""A connector that cannot serve its account: every mail run fails with an open error saying why.

What the factory hands out for an account whose service has no connector here (an on-premises
Exchange endpoint while the EWS connector is not installed), so the account is never silently
captured through another service. Its chats may still come from elsewhere (Teams is in the cloud
whatever the mailbox's home).
"""

from __future__ import annotations

from connectors.base import ChatSource, MailSources, RequestStats
from connectors.errors import ConnectorUnavailableError


class UnavailableConnector:
    def __init__(
        self,
        account: str,
        *,
        name: str,
        mail_run_source: str,
        mail_kinds: tuple[str, ...],
        reason: str,
        chats: list[ChatSource] | None = None,
        chat_run_source: str = "graph-teams",
    ) -> None:
        self.account = account
        self.name = name
        self.mail_run_source = mail_run_source
        self.chat_run_source = chat_run_source
        self.mail_kinds = mail_kinds
        self.reason = reason
        self._chats = list(chats or [])

    async def mail_sources(self) -> MailSources:
        raise ConnectorUnavailableError(self.reason, code="ConnectorUnavailable")

    def chat_sources(self) -> list[ChatSource]:
        if not self._chats:
            raise ConnectorUnavailableError(f"{self.reason} (and no chat source configured)")
        return list(self._chats)

    def stats(self) -> RequestStats:
        return RequestStats()

"""How Capstone reaches an on-premises Exchange server through EWS.

Exchange Server offers EWS with Windows authentication (NTLM), Basic authentication (only over
TLS), and, in a hybrid deployment with modern auth, OAuth bearer tokens from Entra ID. Capstone
connects as one service account that holds the ``ApplicationImpersonation`` role and impersonates
each official's mailbox (``ExchangeImpersonation``). The EWS URL is given explicitly
(``https://mail.example.nl/EWS/Exchange.asmx``); autodiscover is optional.

The password or client secret is held in a :class:`Secret`, whose ``repr`` and ``str`` never show
it, and is handed to exchangelib only when its configuration is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

AuthMethod = Literal["ntlm", "basic", "oauth"]
DEFAULT_MAX_CONCURRENCY = 10  # Exchange's default EWSMaxConcurrency per user
MAX_CHANGES_LIMIT = 512  # SyncFolderItems' MaxChangesReturned upper bound


class Secret:
    """A password or client secret that never appears in a repr, a str or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("secret", len(self._value)))


@dataclass(frozen=True)
class EwsConfig:
    """One EWS endpoint and the account Capstone uses there."""

    username: str  # service account: user@domain.nl, or DOMAIN\\user for NTLM
    secret: Secret  # its password, or the OAuth client secret
    service_endpoint: str | None = None  # explicit EWS URL (preferred)
    auth: AuthMethod = "ntlm"
    impersonation: bool = True  # ExchangeImpersonation of each mailbox (ApplicationImpersonation role)
    autodiscover: bool = False  # find the EWS URL from the mailbox address instead
    # OAuth (hybrid modern auth): the app registration and where its tokens come from.
    oauth_client_id: str | None = None
    oauth_tenant_id: str | None = None
    oauth_token_url: str | None = None  # default: Entra ID's v2.0 token endpoint of the tenant
    # Exchange 2016/2019/SE speak the Exchange2016 schema; giving the build skips version guessing.
    server_build: tuple[int, int] = (15, 1)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY  # requests at once per mailbox (EWSMaxConcurrency)
    # MaxChangesReturned per SyncFolderItems page (1..512). Exchange's maximum: against the simulator
    # it captured 19-27 % more items/s than 100, with less CPU per item on both sides, since there are
    # fewer SyncFolderItems requests and fewer GetItem batches cut short by a page's end.
    page_size: int = MAX_CHANGES_LIMIT
    retry_attempts: int = 8  # per request, for throttling and transient failures
    retry_max_wait: float = 600.0  # seconds of back-off per request before giving up
    retry_base: float = 0.5  # first back-off when the server suggests none (seconds, doubled, jittered)
    timeout: float = 120.0  # seconds per HTTP request
    allow_insecure_http: bool = False  # NTLM/Basic over plain HTTP: only for the local simulator
    extra: dict[str, str] = field(default_factory=dict)  # named in provenance (site, server)

    def __post_init__(self) -> None:
        if self.auth not in ("ntlm", "basic", "oauth"):
            raise ValueError(f"EWS authentication must be ntlm, basic or oauth, not {self.auth!r}")
        if not self.service_endpoint and not self.autodiscover:
            raise ValueError("an EWS URL is required (or enable autodiscover)")
        if self.service_endpoint:
            url = urlsplit(self.service_endpoint)
            if url.scheme not in ("https", "http") or not url.hostname:
                raise ValueError(f"not an EWS URL: {self.service_endpoint!r}")
            if url.scheme == "http" and self.auth != "oauth" and not self.allow_insecure_http:
                raise ValueError("NTLM and Basic authentication are only allowed over TLS (https)")
        if self.auth == "oauth" and not self.oauth_client_id:
            raise ValueError("OAuth needs the app's client id")
        if not 1 <= self.page_size <= MAX_CHANGES_LIMIT:
            raise ValueError(f"page_size must be between 1 and {MAX_CHANGES_LIMIT}")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")

    @property
    def endpoint_label(self) -> str:
        """The endpoint as provenance names it (no credentials in it)."""
        if not self.service_endpoint:
            return "autodiscover"
        url = urlsplit(self.service_endpoint)
        host = url.hostname or ""
        port = f":{url.port}" if url.port else ""
        return f"{url.scheme}://{host}{port}{url.path}"

    def describe(self) -> dict[str, Any]:
        """What may be shown or logged about this configuration (never the secret)."""
        return {
            "endpoint": self.endpoint_label,
            "auth": self.auth,
            "username": self.username,
            "impersonation": self.impersonation,
            "autodiscover": self.autodiscover,
            "max_concurrency": self.max_concurrency,
            "page_size": self.page_size,
        }

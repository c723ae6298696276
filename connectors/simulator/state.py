"""One running simulator: the tenant plus its token service, throttle, faults and settings."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.simulator.ews.throttle import EwsThrottle, EwsThrottleConfig
from connectors.simulator.faults import Faults, FaultSpec
from connectors.simulator.graph.auth import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    AppRegistration,
    TokenService,
)
from connectors.simulator.model import Tenant
from connectors.simulator.oidc import OidcProvider
from connectors.simulator.throttle import Throttle, ThrottleConfig


@dataclass
class SimulatorConfig:
    """Everything ``capstone simulator serve`` can set. Defaults are Microsoft's published limits."""

    seed: int = 1
    profile: str = "small"
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    extra_apps: tuple[AppRegistration, ...] = ()
    token_lifetime: float = 3599.0
    time_scale: float = 1.0
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    faults: FaultSpec = field(default_factory=FaultSpec)
    latency: float = 0.0  # extra seconds per Graph/EWS request, while holding its throttle slot
    ews_users: dict[str, str] = field(
        default_factory=lambda: {"svc-capstone@gemeente-demo.nl": "simulator-secret"}
    )
    # EWS authentication methods the server offers (IIS's Windows and Basic authentication, and
    # OAuth for hybrid modern auth); NTLM user names may also be given as DOMAIN\user.
    ews_auth: tuple[str, ...] = ("NTLM", "Basic", "Bearer")
    ews_throttle: EwsThrottleConfig = field(default_factory=EwsThrottleConfig)
    # exchangeSettings.inPlaceArchiveMailboxId is documented in beta only; serve it on v1.0 too
    # (what the connector needs) unless strict.
    archive_id_in_v1: bool = True
    imports: tuple[tuple[str, str, str], ...] = ()  # (path, mailbox, folder path)
    evaluation_quota: int = 500  # getAllMessages without ``model``: messages per month


class DeltaCache:
    """Computed change rounds, keyed by (scope, epoch, start, end, id kind, initial): a round is a
    pure function of the append-only log, so any entry can be dropped and recomputed."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._data: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self._size:
                self._data.popitem(last=False)
        return value


class Simulator:
    def __init__(self, tenant: Tenant, config: SimulatorConfig) -> None:
        self.tenant = tenant
        self.config = config
        apps = {config.client_id: AppRegistration(config.client_id, config.client_secret)}
        for app in config.extra_apps:
            apps[app.client_id] = app
        self.tokens = TokenService(tenant.tenant_id, tenant.domain, apps, lifetime=config.token_lifetime)
        self.oidc = OidcProvider(tenant.tenant_id, tenant.domain)  # people signing in (web app)
        config.throttle.time_scale = config.time_scale
        self.throttle = Throttle(config.throttle)
        self.faults = Faults(config.faults)
        self.ews_throttle = EwsThrottle(config.ews_throttle)
        self.ews_service: Any = None  # set by the app: the EWS endpoint (its NTLM acceptor's counters)
        self.delta_cache = DeltaCache()
        self.evaluation_used: dict[str, int] = {}
        self._lock = threading.Lock()
        self.request_counts: dict[str, int] = {}

    def count(self, what: str) -> None:
        with self._lock:
            self.request_counts[what] = self.request_counts.get(what, 0) + 1

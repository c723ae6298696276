"""Builds Capstone's services from settings: the one place that wires configuration to components.

It is also the only place that knows Graph from EWS: :func:`connector_factory` picks each
account's connector by the account's registration (``Account.exchange_endpoint``: empty for
Exchange Online through Graph, set for on-premises Exchange through EWS).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capstone.settings import Settings
from vault import RetentionPolicy, Vault
from vault import open_vault as _open_vault

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from capstone.audit.log import AuditLog
    from connectors.base import AccountSpec, ChatSource, Connector, ConnectorFactory
    from connectors.ews.connection import EwsConnection
    from connectors.graph.client import GraphConnection


def retention_policy(settings: Settings) -> RetentionPolicy:
    from capstone.retention.policy import lifecycle_policy

    return RetentionPolicy(
        default_class=settings.retention_class,
        years_by_class=settings.retention_years_by_class(),
        legal_hold=settings.legal_hold,
        lifecycle=lifecycle_policy(settings) if settings.retention_lifecycle else None,
    )


def open_vault(settings: Settings, *, create: bool = False, sync: bool = True) -> Vault:
    """Open the configured vault (``CAPSTONE_VAULT``); ``create=True`` initialises it first;
    ``sync=False``: without the local catalog (enough to write and read anchors)."""
    from capstone.capture.chain import install

    secure_home(settings)
    vault = _open_vault(
        settings.vault_url,
        cache_dir=settings.cache_dir,
        staging_dir=settings.tmp_dir,
        retention=retention_policy(settings),
        create=create,
        sync=sync,
    )
    # Every writer appends to the one manifest chain through the state database (issue 20).
    return install(vault, settings.database_url, settings.vault_url, settings.cache_dir)


def audit_log(settings: Settings, engine: Engine | None = None) -> AuditLog:
    """The audit log in the state database, anchoring its head in the configured vault after every
    entry and timestamping its seals when a TSA is configured (``CAPSTONE_TSA_URL``)."""
    from capstone.audit.anchors import AuditAnchors
    from capstone.audit.log import AuditLog
    from capstone.audit.timestamp import timestamper_from_settings

    return AuditLog(
        engine if engine is not None else state_engine(settings),
        anchors=AuditAnchors(lambda: open_vault(settings, sync=False)),
        timestamper=timestamper_from_settings(settings),
        tsa_trust_file=Path(settings.tsa_ca_file) if settings.tsa_ca_file else None,
    )


def graph_connection(settings: Settings, *, inner: Any = None) -> GraphConnection:
    """A Graph connection from settings: plain client credentials when ``graph_token_url`` is set
    (e.g. the simulated tenant), otherwise azure-identity (secret or certificate)."""
    from connectors.graph.auth import AzureIdentityTokenSource, ClientCredentialsTokenSource
    from connectors.graph.client import connect
    from connectors.graph.transport import TokenSource, TransportPolicy

    if not settings.graph_client_id:
        raise ValueError("CAPSTONE_GRAPH_CLIENT_ID is not set: Capstone needs an app registration for Graph")
    secret = settings.graph_client_secret.get_secret_value() if settings.graph_client_secret else None
    token_source: TokenSource
    if settings.graph_token_url:
        if not secret:
            raise ValueError("CAPSTONE_GRAPH_CLIENT_SECRET is required with CAPSTONE_GRAPH_TOKEN_URL")
        token_source = ClientCredentialsTokenSource(
            settings.graph_token_url, settings.graph_client_id, secret
        )
    else:
        if not settings.graph_tenant_id:
            raise ValueError("CAPSTONE_GRAPH_TENANT_ID is not set")
        token_source = AzureIdentityTokenSource(
            settings.graph_tenant_id,
            settings.graph_client_id,
            client_secret=secret,
            certificate_path=settings.graph_certificate_path,
        )
    policy = TransportPolicy(
        concurrency=settings.graph_concurrency,
        budget=settings.graph_budget,
        window=settings.graph_window_seconds,
        pace_fraction=settings.graph_pace_fraction,
    )
    return connect(token_source, base_url=settings.graph_base_url, policy=policy, inner=inner)


def ews_connection(settings: Settings, endpoint: str) -> EwsConnection:
    """An EWS connection to ``endpoint`` (an account's ``exchange_endpoint``: the EWS URL) as the
    configured service account. Raises ValueError when EWS is not configured."""
    from connectors.ews.config import EwsConfig, Secret
    from connectors.ews.connection import EwsConnection

    if not settings.ews_username or settings.ews_password is None:
        raise ValueError("CAPSTONE_EWS_USERNAME and CAPSTONE_EWS_PASSWORD are not set")
    config = EwsConfig(
        username=settings.ews_username,
        secret=Secret(settings.ews_password.get_secret_value()),
        service_endpoint=endpoint,
        auth=settings.ews_auth,
        oauth_client_id=settings.ews_oauth_client_id,
        oauth_tenant_id=settings.ews_oauth_tenant_id,
        oauth_token_url=settings.ews_oauth_token_url,
        max_concurrency=settings.ews_max_concurrency,
        page_size=settings.ews_page_size,
        allow_insecure_http=settings.ews_allow_insecure_http,
    )
    return EwsConnection(config)


class AccountConnectors:
    """The connector factory of one capture pass (:class:`~connectors.base.ConnectorFactory`).

    An account without an Exchange endpoint is Exchange Online: the Graph connector, all accounts
    sharing one Graph connection (made when first needed). An account with an endpoint is
    on-premises Exchange: its mail goes through EWS, never to Graph; its Teams chats are in the
    cloud whatever the mailbox's home, so they still come from Graph. While EWS is not configured
    (no service account), such an account's mail run fails with an open error naming its endpoint."""

    def __init__(self, settings: Settings, *, graph: GraphConnection | None = None) -> None:
        self.settings = settings
        self._graph = graph
        self._connectors: dict[tuple[str, str | None], Connector] = {}
        self._ews_connections: dict[str, EwsConnection] = {}

    @property
    def graph(self) -> GraphConnection:
        if self._graph is None:  # made by connector_factory when any account of the pass needs it
            self._graph = graph_connection(self.settings)
        return self._graph

    def connector(self, spec: AccountSpec) -> Connector:
        from capstone.capture.state import register_source_kinds

        key = (spec.account, spec.exchange_endpoint)
        if key not in self._connectors:
            endpoint = (spec.exchange_endpoint or "").strip()
            connector = self._ews(spec, endpoint) if endpoint else self._graph_connector(spec)
            register_source_kinds(connector.mail_run_source, connector.mail_kinds)
            self._connectors[key] = connector
        return self._connectors[key]

    def _graph_connector(self, spec: AccountSpec) -> Connector:
        from connectors.graph.connector import GraphConnector

        return GraphConnector(
            self.graph,
            spec,
            tenant=self.settings.graph_tenant_id,
            page_size=self.settings.graph_page_size,
        )

    def _ews(self, spec: AccountSpec, endpoint: str) -> Connector:
        """The on-premises account's connector: EWS for its mailbox, Graph for its Teams chats."""
        from connectors.unavailable import UnavailableConnector

        chats: list[ChatSource] = []
        if self._graph is not None:  # chats need Graph; the mail does not
            chats = self._graph_connector(spec).chat_sources()
        try:
            connection = self._ews_connection(endpoint)
        except ValueError as exc:  # EWS not configured (no service account) or a bad endpoint
            return UnavailableConnector(
                spec.account, name="ews", mail_run_source="ews-mail", mail_kinds=("ews-primary", "ews-archive"),
                reason=f"EWS connector for endpoint {endpoint} not available: {exc}", chats=chats,
            )  # fmt: skip
        from connectors.ews.connector import EwsConnector

        return EwsConnector(connection, spec, chats=chats)

    def _ews_connection(self, endpoint: str) -> EwsConnection:
        """One EWS connection per endpoint (the service account's session pool, per-mailbox limits)."""
        if endpoint not in self._ews_connections:
            self._ews_connections[endpoint] = ews_connection(self.settings, endpoint)
        return self._ews_connections[endpoint]

    def wait_seconds(self, account: str) -> float | None:
        for (name, endpoint), connector in self._connectors.items():
            if name == account and endpoint and connector.name == "ews":
                return connector.stats().wait_seconds
        if self._graph is None:
            return None
        from connectors.graph.connector import wait_seconds

        return wait_seconds(self._graph, account)

    async def aclose(self) -> None:
        for connection in self._ews_connections.values():
            connection.close()
        self._ews_connections.clear()
        if self._graph is not None:
            await self._graph.aclose()


def shared_graph_connection(settings: Settings, engine: Engine) -> GraphConnection:
    """The Graph connection of one of many capture workers: with ``graph_tenant_rate`` set, every
    request first takes a token from the bucket all workers share in the state database."""
    if settings.graph_tenant_rate <= 0:
        return graph_connection(settings)
    from capstone.capture.ratelimit import SharedBucket
    from connectors.graph.netio import asyncio_http_transport
    from connectors.graph.ratelimit import SharedRateLimit

    bucket = SharedBucket(
        engine,
        f"graph:{settings.graph_tenant_id or '-'}",
        rate=settings.graph_tenant_rate,
        burst=settings.graph_tenant_burst,
    )
    return graph_connection(settings, inner=SharedRateLimit(asyncio_http_transport(retries=0), bucket))


def connector_factory(
    settings: Settings, accounts: Sequence[AccountSpec] | None = None, *, graph: GraphConnection | None = None
) -> ConnectorFactory:
    """The connectors of a capture pass over ``accounts`` (None: any). The Graph connection is made
    here, so a Graph configuration error stops the pass at once, as it always did, unless no
    account needs Graph (all on premises, and Graph not configured for their chats)."""
    needs_graph = accounts is None or any(not (a.exchange_endpoint or "").strip() for a in accounts)
    if graph is None and (needs_graph or settings.graph_client_id):
        graph = graph_connection(settings)
    return AccountConnectors(settings, graph=graph)


def state_engine(settings: Settings) -> Engine:
    """The state database (SQLite under the home by default), migrated to the newest schema."""
    from capstone.db.engine import make_engine
    from capstone.db.migrate import upgrade

    secure_home(settings)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return engine


def secure_home(settings: Settings) -> None:
    """The home holds archived mail (vault, index, state): created 0700, kept 0700."""
    from capstone.fsmodes import private_dir

    private_dir(settings.home)

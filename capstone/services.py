"""Builds Capstone's services from settings: the one place that wires configuration to components."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from capstone.settings import Settings
from vault import RetentionPolicy, Vault
from vault import open_vault as _open_vault

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from connectors.graph.client import GraphConnection


def retention_policy(settings: Settings) -> RetentionPolicy:
    from capstone.retention.policy import lifecycle_policy

    return RetentionPolicy(
        default_class=settings.retention_class,
        years_by_class=settings.retention_years_by_class(),
        legal_hold=settings.legal_hold,
        lifecycle=lifecycle_policy(settings) if settings.retention_lifecycle else None,
    )


def open_vault(settings: Settings, *, create: bool = False) -> Vault:
    """Open the configured vault (``CAPSTONE_VAULT``); ``create=True`` initialises it first."""
    from capstone.capture.chain import install

    secure_home(settings)
    vault = _open_vault(
        settings.vault_url,
        cache_dir=settings.cache_dir,
        staging_dir=settings.tmp_dir,
        retention=retention_policy(settings),
        create=create,
    )
    # Every writer appends to the one manifest chain through the state database (issue 20).
    return install(vault, settings.database_url, settings.vault_url, settings.cache_dir)


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

"""Settings: environment variables ``CAPSTONE_*`` and an optional TOML file.

Precedence, highest first: explicit arguments, environment variables, the TOML file named by
``CAPSTONE_CONFIG`` (default ``$CAPSTONE_HOME/capstone.toml`` when it exists), built-in defaults.

Example ``capstone.toml``::

    vault = "s3://archive-bucket/capstone"
    db_url = "postgresql+psycopg://capstone@db/capstone"
    retention_years = 10

    [retention_classes]
    permanent = 10
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_HOME = Path("./capstone-data")

# Archiefwet: records are transferred to the archive repository (e-depot) after at most 10 years,
# so the default retention class locks objects for 10 years.
DEFAULT_RETENTION_CLASS = "archiefwet-overbrenging"


def _config_file() -> Path | None:
    explicit = os.environ.get("CAPSTONE_CONFIG")
    if explicit:
        return Path(explicit)
    candidate = Path(os.environ.get("CAPSTONE_HOME", str(DEFAULT_HOME))) / "capstone.toml"
    return candidate if candidate.exists() else None


class Settings(BaseSettings):
    """Capstone's configuration. Every field maps to ``CAPSTONE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CAPSTONE_", extra="ignore")

    home: Path = Field(default=DEFAULT_HOME, description="Data directory for the embedded default.")
    vault: str | None = Field(
        default=None,
        description="Vault URL: file:///path or s3://bucket[/prefix]. Default: file://$CAPSTONE_HOME/vault",
    )
    db_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the state database. Default: SQLite under home."
    )
    retention_class: str = Field(default=DEFAULT_RETENTION_CLASS, description="Default retention class.")
    retention_years: int = Field(default=10, ge=1, le=200, description="Years of the default class.")
    retention_classes: dict[str, int] = Field(
        default_factory=dict, description="Extra retention classes: name -> years."
    )
    legal_hold: bool = Field(default=False, description="Put every new vault object under legal hold.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    user: str = Field(default_factory=lambda: os.environ.get("USER", "operator"), description="Actor name.")

    # -- Microsoft Graph (Exchange Online, Teams) ----------------------------------------------------
    graph_base_url: str = Field(default="https://graph.microsoft.com/v1.0", description="Graph API root.")
    graph_tenant_id: str | None = Field(default=None, description="Entra ID tenant id.")
    graph_client_id: str | None = Field(default=None, description="App registration (client) id.")
    graph_client_secret: SecretStr | None = Field(default=None, description="Client secret (never logged).")
    graph_certificate_path: str | None = Field(default=None, description="PEM certificate for the app.")
    graph_token_url: str | None = Field(
        default=None,
        description="OAuth2 token endpoint; set it to use plain client credentials (e.g. the simulated "
        "tenant). Unset: azure-identity against login.microsoftonline.com.",
    )
    graph_page_size: int = Field(default=100, ge=1, le=1000, description="Prefer: odata.maxpagesize.")
    graph_concurrency: int = Field(default=4, ge=1, le=16, description="Concurrent requests per mailbox.")
    graph_budget: int = Field(default=10_000, ge=1, description="Requests per mailbox per window.")
    graph_window_seconds: float = Field(default=600.0, gt=0, description="Throttling window (seconds).")

    # -- capture ----------------------------------------------------------------------------------
    private_folders: list[str] = Field(default_factory=lambda: ["Privé"], description="Folders excluded.")
    capture_parallel_accounts: int = Field(default=4, ge=1, le=256, description="Accounts captured at once.")
    capture_interval: str = Field(default="15m", description="Interval of `capture run --continuous`.")
    chat_capture_max_age: str = Field(
        default="1h",
        description="Longest time a designation's Teams chats may go without a complete capture; "
        "capture run --continuous never waits longer, capture status warns beyond it.",
    )
    metrics_port: int | None = Field(default=None, description="Serve Prometheus metrics on this port.")
    phone_import_max_age: str = Field(
        default="31d",
        description="capture status warns per official whose phone chats were not imported for longer "
        "(the Rijk's rule: at least monthly); 'off' disables the warning.",
    )

    # -- index and Woo ------------------------------------------------------------------------------
    index_url: str | None = Field(
        default=None,
        description="Search index: sqlite:///path (default: under home) or a PostgreSQL URL "
        "(postgresql+psycopg://...), which uses the `dutch` text search configuration.",
    )
    roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Who may do what: user name -> roles (registry-admin, archivist, woo-officer, "
        'auditor). In TOML: [roles] alice = ["woo-officer"]; as environment: CAPSTONE_ROLES as JSON.',
    )

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            if not path.is_file():
                raise FileNotFoundError(f"CAPSTONE_CONFIG names {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # -- derived values -------------------------------------------------------------------------

    @property
    def vault_url(self) -> str:
        if self.vault:
            return self.vault
        return f"file://{(self.home / 'vault').resolve()}"

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'capstone.sqlite3').resolve()}"

    @property
    def search_index_url(self) -> str:
        if self.index_url:
            return self.index_url
        return f"sqlite:///{(self.home / 'index.sqlite3').resolve()}"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"

    def retention_years_by_class(self) -> dict[str, int]:
        classes = {self.retention_class: self.retention_years}
        classes.update(self.retention_classes)
        return classes


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and the optional TOML file."""
    return Settings(**overrides)

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


IDENTITY_FIELDS = frozenset({"user", "roles"})


def os_user() -> str:
    """The name of the OS account running this process (its effective uid; not ``$USER``, which the
    caller sets)."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return f"uid-{os.geteuid()}"


class _Without(PydanticBaseSettingsSource):
    """``inner`` without some fields."""

    def __init__(
        self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource, drop: frozenset[str]
    ) -> None:
        super().__init__(settings_cls)
        self._inner = inner
        self._drop = drop

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._inner().items() if k not in self._drop}


class _AdministratorToml(TomlConfigSettingsSource):
    """The TOML file; when it names the identity or grants roles it must be an administrator's file:
    owned by root or the service account (the home's owner) and writable by no one else."""

    def __init__(
        self, settings_cls: type[BaseSettings], toml_file: Path, explicit: PydanticBaseSettingsSource
    ) -> None:
        super().__init__(settings_cls, toml_file=toml_file)
        self._path = toml_file
        self._explicit = explicit

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        if IDENTITY_FIELDS & data.keys():
            from capstone.access.identity import check_administrator_file

            home = (
                self._explicit().get("home")
                or os.environ.get("CAPSTONE_HOME")
                or data.get("home")
                or str(DEFAULT_HOME)
            )
            check_administrator_file(self._path, Path(home).expanduser())
        return data


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
    # -- retention lifecycle (issue 21) -------------------------------------------------------------
    retention_lifecycle: bool = Field(
        default=True,
        description="Lock new blobs provisionally (capture + exclusion window + margin); "
        "`capstone retention run` extends kept ones to their full term.",
    )
    exclusion_window: str = Field(default="10w", description="Window for privé/partijpolitiek marks.")
    exclusion_margin: str = Field(default="1w", description="Extra lock after the window (for late runs).")
    retention_terms: dict[str, str] = Field(
        default_factory=dict,
        description="Term per selectielijst category: B (permanent, transfer after retention_years), "
        'B:20y, V:7y. In TOML: [retention_terms] overig = "V:7y". Unlisted categories: B.',
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    user: str = Field(
        default_factory=lambda: os_user(),
        description="The CLI's identity: the OS user running it, unless the administrator's configuration "
        "file (trusted: see capstone/access/identity.py) names another. Not read from the environment.",
    )

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
    graph_pace_fraction: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Share of the budget the capture paces itself to: a margin for requests the server "
        "counts and this process did not send (e.g. those of a process killed a minute ago).",
    )

    # -- on-premises Exchange through EWS (accounts with an exchange_endpoint) ---------------------
    ews_username: str | None = Field(
        default=None,
        description="Service account with the ApplicationImpersonation role (user@domain or DOMAIN\\user).",
    )
    ews_password: SecretStr | None = Field(default=None, description="Its password (never logged).")
    ews_auth: Literal["ntlm", "basic", "oauth"] = Field(
        default="ntlm",
        description="NTLM or Basic (over TLS), or OAuth where the server has hybrid modern auth.",
    )
    ews_oauth_client_id: str | None = Field(default=None, description="App id for EWS OAuth.")
    ews_oauth_tenant_id: str | None = Field(default=None, description="Entra ID tenant for EWS OAuth.")
    ews_oauth_token_url: str | None = Field(default=None, description="Token endpoint for EWS OAuth.")
    ews_max_concurrency: int = Field(
        default=10, ge=1, le=64, description="EWS requests at once per mailbox (EWSMaxConcurrency)."
    )
    ews_page_size: int = Field(
        default=512,
        ge=1,
        le=512,
        description="SyncFolderItems MaxChangesReturned (Exchange's maximum, 512, by default: fewer requests, and the"
        " GetItem batches end at a page less often).",
    )
    ews_allow_insecure_http: bool = Field(
        default=False, description="Allow NTLM/Basic over plain http (only for a local simulator)."
    )

    # -- capture ----------------------------------------------------------------------------------
    private_folders: list[str] = Field(default_factory=lambda: ["Privé"], description="Folders excluded.")
    capture_parallel_accounts: int = Field(default=4, ge=1, le=256, description="Accounts captured at once.")
    capture_interval: str = Field(default="15m", description="Interval of `capture run --continuous`.")
    capture_lease_seconds: float = Field(
        default=60.0,
        ge=5,
        description="`capture worker`: how long a worker's lease on an account lasts unless renewed "
        "(renewed every third of it); a worker that stops renewing loses its accounts after this.",
    )
    graph_tenant_rate: float = Field(
        default=0.0,
        ge=0,
        description="`capture worker`: Graph requests per second for the whole tenant, shared by every "
        "worker through the state database (0: no tenant-wide limit beyond the per-mailbox ones).",
    )
    graph_tenant_burst: float = Field(
        default=200.0, gt=0, description="Requests the tenant-wide limit lets through at once."
    )
    chat_capture_max_age: str = Field(
        default="1h",
        description="Longest time a designation's Teams chats may go without a complete capture; "
        "capture run --continuous never waits longer, capture status warns beyond it.",
    )
    metrics_port: int | None = Field(default=None, description="Serve Prometheus metrics on this port.")
    import_writer_processes: int = Field(
        default=2,
        ge=0,
        le=64,
        description="Processes that read, hash and write the messages of a large MBOX (64 MiB and "
        "more) into a local vault, one group commit each; 0: the importing process writes them.",
    )
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
    index_extract_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Wall-clock limit per attachment for text extraction (PDF, DOCX, XLSX) in its "
        "sandbox process; over it the attachment is indexed by metadata with a note.",
    )
    index_extract_memory_mb: int = Field(
        default=1024,
        ge=128,
        description="Address-space limit (MiB) of the extraction sandbox process (RLIMIT_AS).",
    )
    # -- audit ---------------------------------------------------------------------------------------
    tsa_url: str | None = Field(
        default=None,
        description="RFC 3161 timestamp authority (TSA) URL; every audit seal gets a timestamp token "
        "over its SHA-256, stored beside it in the vault. Unset: seals carry no timestamp.",
    )
    tsa_ca_file: str | None = Field(
        default=None,
        description="PEM file with the certificate(s) that `audit verify` trusts for TSA tokens: the "
        "root(s), plus any intermediates. Unset: tokens are stored but not checked.",
    )
    tsa_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for the TSA.")
    roles: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Who may do what: user name -> roles (registry-admin, archivist, woo-officer, "
        'auditor). Only from the administrator\'s TOML file: [roles] alice = ["woo-officer"]; never from '
        "the environment.",
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
        # Identity and roles never come from the environment (whoever runs the CLI sets it), only from
        # code (init) or from an administrator's configuration file that the caller cannot write.
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _Without(settings_cls, env_settings, IDENTITY_FIELDS),
        ]
        path = _config_file()
        if path is not None:
            if not path.is_file():
                raise FileNotFoundError(f"CAPSTONE_CONFIG names {path}, which is not a file")
            sources.append(_AdministratorToml(settings_cls, path, init_settings))
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

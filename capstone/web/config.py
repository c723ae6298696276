"""Settings of the web application (environment ``CAPSTONE_WEB_*``).

Production points ``metadata_url`` at Entra ID's discovery document
(``https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration``); tests and
the demo point it at the simulated tenant. The application learns every endpoint from discovery.
"""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAPSTONE_WEB_", extra="ignore")

    metadata_url: str = ""  # the OpenID Provider's discovery document
    client_id: str = ""
    client_secret: SecretStr | None = None
    api_audience: str = ""  # the `aud` API access tokens must carry (default: client_id)
    # Entra group object id -> Capstone role, for tenants that use groups instead of app roles.
    group_roles: dict[str, str] = Field(default_factory=dict)
    session_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    idle_timeout_seconds: int = 30 * 60
    absolute_timeout_seconds: int = 8 * 3600
    # Cookies are `Secure`; plain http is allowed only when serving on a loopback address (tests,
    # demo), where the browser would otherwise drop the session cookie.
    insecure_loopback_http: bool = True
    max_upload_bytes: int = 2 * 1024 * 1024
    jwks_refresh_min_seconds: float = 30.0
    jobs_dir: str = ""  # background job output (exports); default: <home>/web-jobs
    # How often a process marks its running jobs alive; a job of a process on another host with no
    # heartbeat for six of these counts as interrupted.
    job_heartbeat_seconds: float = 10.0

    @property
    def audience(self) -> str:
        return self.api_audience or self.client_id

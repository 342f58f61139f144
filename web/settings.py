"""Settings of the web app: environment variables prefixed `WEB_`, plus the portal-wide
`PORTAL_ENV`, `PORTAL_PUBLIC_URL` and `REDIS_URL` under their own names."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", populate_by_name=True)

    portal_env: Literal["development", "test", "production"] = Field(
        "development", validation_alias=AliasChoices("PORTAL_ENV")
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", validation_alias=AliasChoices("PORTAL_PUBLIC_URL")
    )
    """Where citizens reach the pages (links in e-mails, the origin form posts must come from)."""
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", validation_alias=AliasChoices("WEB_REDIS_URL", "REDIS_URL")
    )
    """Sessions live here (keys `web:session:<id>`)."""

    api_url: str = "http://127.0.0.1:8000/api/v1"
    """The APIs behind one prefix (`portal run`'s gateway); each may be set on its own below."""
    accounts_url: str = ""
    catalogue_url: str = ""
    dossiers_url: str = ""
    api_timeout: float = Field(15.0, gt=0)
    """Seconds for one API call; past it the page is the 503 page."""

    session_idle_seconds: int = Field(30 * 60, ge=60)
    """A session nobody used for this long is gone (the cookie and the Redis key)."""
    session_cookie: str = ""
    """Default: `__Host-phien` in production (Secure, whole site, no Domain), `phien` else."""
    device_cookie: str = ""
    """Default: `__Host-thiet-bi` in production, `thiet-bi` else: the accounts API's device token
    of the last account that signed in on this browser (OWASP's "device cookie")."""
    device_cookie_days: int = Field(180, ge=1)
    static_max_age: int = Field(365 * 24 * 3600, ge=0)
    """Cache lifetime of versioned static files (`/static/...?v=<hash>`)."""

    @model_validator(mode="after")
    def _api_urls(self) -> WebSettings:
        base = self.api_url.rstrip("/")
        self.accounts_url = (self.accounts_url or f"{base}/accounts").rstrip("/")
        self.catalogue_url = (self.catalogue_url or f"{base}/catalogue").rstrip("/")
        self.dossiers_url = (self.dossiers_url or f"{base}/dossiers").rstrip("/")
        if not self.session_cookie:
            self.session_cookie = "__Host-phien" if self.production else "phien"
        if not self.device_cookie:
            self.device_cookie = "__Host-thiet-bi" if self.production else "thiet-bi"
        return self

    @property
    def production(self) -> bool:
        return self.portal_env == "production"

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}".lower()


@lru_cache
def get_settings() -> WebSettings:
    return WebSettings()

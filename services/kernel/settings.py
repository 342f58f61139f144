"""Settings every service shares. Each service subclasses `ServiceSettings` with its own prefix
(``ACCOUNTS_``, ``CATALOGUE_``, ...); the fields here keep their fixed, unprefixed names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "portal"
    database_url: str = ""

    portal_env: Literal["development", "test", "production"] = Field(
        "development", validation_alias=_env("PORTAL_ENV")
    )
    data_dir: Path = Field(Path("var"), validation_alias=_env("PORTAL_DATA_DIR"))
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=_env("REDIS_URL"))
    captcha_mode: Literal["image", "test"] = Field("image", validation_alias=_env("PORTAL_CAPTCHA"))
    captcha_secret: str = Field("", validation_alias=_env("PORTAL_CAPTCHA_SECRET"))
    """Seals captcha answers into captcha ids (services/kernel/captcha.py): the same value for the
    service that issues captchas and every service that verifies them. Unset outside production:
    the file `captcha_secret_path`, made on first use."""
    jwt_issuer: str = Field("portal-accounts", validation_alias=_env("PORTAL_JWT_ISSUER"))
    jwt_audience: str = Field("portal", validation_alias=_env("PORTAL_JWT_AUDIENCE"))
    jwt_public_key_file: Path | None = Field(
        None, validation_alias=_env("PORTAL_JWT_PUBLIC_KEY_FILE")
    )
    celery_visibility_timeout: int = Field(600, validation_alias=_env("CELERY_VISIBILITY_TIMEOUT"))
    celery_prefetch_multiplier: int = Field(
        1, ge=1, validation_alias=_env("CELERY_PREFETCH_MULTIPLIER")
    )
    """Messages each pool process holds ahead (unacknowledged until done, so none is lost)."""
    public_url: str = Field("http://127.0.0.1:8000", validation_alias=_env("PORTAL_PUBLIC_URL"))
    trusted_proxies: str = Field("", validation_alias=_env("PORTAL_TRUSTED_PROXIES"))
    """Comma-separated addresses or networks (CIDR) of the reverse proxies whose
    X-Forwarded-For names the client: the per-address limits count that address. Empty (the
    default): no proxy is trusted and the connecting address is the client; the local gateway
    is the edge itself. Behind nginx: nginx's address (range), and nothing a client can reach
    the APIs from directly."""
    relay_poll_interval: float = Field(0.2, validation_alias=_env("PORTAL_RELAY_POLL_INTERVAL"))
    """How often the relay polls its outbox when it cannot be notified of new messages: on
    SQLite, and while its listening connection to PostgreSQL is down."""
    relay_safety_interval: float = Field(
        5.0, gt=0, validation_alias=_env("PORTAL_RELAY_SAFETY_INTERVAL")
    )
    """How often the relay looks at its outbox even though notified of every new message on
    PostgreSQL (services/kernel/outbox.py): what a notification could not say (a row an operator
    made due again) goes out within this."""
    outbox_replay_seconds: float = Field(
        24 * 3600, validation_alias=_env("PORTAL_OUTBOX_REPLAY_SECONDS")
    )
    """When Redis lost its data, the relay publishes again what it published this long ago or
    less (services/kernel/outbox.py); longer than any message can wait in a queue."""
    message_retention_days: float = Field(
        30, gt=0, validation_alias=_env("PORTAL_MESSAGE_RETENTION_DAYS")
    )
    """How long each service keeps the messages it owns once they are done with: published
    outbox rows, handled-message ids, sent e-mail records (services/kernel/outbox.py)."""
    storage_backend: Literal["local", "s3"] = Field(
        "local", validation_alias=_env("PORTAL_STORAGE")
    )
    """Where uploaded files go: a local folder, or an S3-compatible bucket (keys under the
    service's name); see services/kernel/storage.py `storage_from_settings`."""
    s3_endpoint_url: str = Field("", validation_alias=_env("PORTAL_S3_ENDPOINT_URL"))
    """Empty for AWS itself; e.g. http://minio:9000 for an S3-compatible server."""
    s3_bucket: str = Field("", validation_alias=_env("PORTAL_S3_BUCKET"))
    s3_access_key: str = Field("", validation_alias=_env("PORTAL_S3_ACCESS_KEY"))
    """Empty: boto3's own credential chain (instance role, AWS_* variables...)."""
    s3_secret_key: SecretStr = Field(SecretStr(""), validation_alias=_env("PORTAL_S3_SECRET_KEY"))
    s3_region: str = Field("us-east-1", validation_alias=_env("PORTAL_S3_REGION"))

    max_body_bytes: int = Field(256 * 1024, ge=1024, validation_alias=_env("PORTAL_MAX_BODY_BYTES"))
    """The largest request body a service takes, unless a route says otherwise (file uploads
    and the catalogue's procedure documents do: see the README's "Limits" table)."""
    body_timeout_seconds: float = Field(
        15.0, gt=0, validation_alias=_env("PORTAL_BODY_TIMEOUT_SECONDS")
    )
    """How long a client may leave its request body unfinished before it is answered 408."""
    server_timing: bool | None = Field(None, validation_alias=_env("PORTAL_SERVER_TIMING"))
    """Whether answers carry `Server-Timing` (how long the service worked: useful to a
    benchmark, a hint to an attacker); unset, only outside production."""

    @property
    def server_timing_enabled(self) -> bool:
        return self.server_timing if self.server_timing is not None else not self.production

    @property
    def production(self) -> bool:
        return self.portal_env == "production"

    @property
    def message_retention(self) -> dt.timedelta:
        return dt.timedelta(days=self.message_retention_days)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def captcha_secret_path(self) -> Path:
        return self.keys_dir / "captcha-secret"

    @property
    def public_key_path(self) -> Path:
        return self.jwt_public_key_file or self.keys_dir / "jwks.json"

    def resolved_database_url(self) -> str:
        """The async SQLAlchemy URL; the embedded default is a SQLite file in the data folder."""
        url = self.database_url or f"sqlite:///{self.data_dir / (self.service_name + '.db')}"
        return async_url(url)

    def check_production(self) -> None:
        """Refuse settings that are only for local use when running in production."""
        if self.production and self.captcha_mode == "test":
            raise RuntimeError("PORTAL_CAPTCHA=test is refused when PORTAL_ENV=production")
        if self.production and not self.database_url:
            raise RuntimeError(f"{self.service_name}: a database URL is required in production")
        if self.production and not self.captcha_secret:
            raise RuntimeError("PORTAL_CAPTCHA_SECRET is required when PORTAL_ENV=production")
        if self.storage_backend == "s3" and not self.s3_bucket:
            raise RuntimeError("PORTAL_STORAGE=s3 needs PORTAL_S3_BUCKET")


def async_url(url: str) -> str:
    """Map plain database URLs to the async drivers the services use."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql+psycopg://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url

from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    service_name: str = "notifier"
    smtp_host: str = Field("127.0.0.1", validation_alias=_env("SMTP_HOST"))
    smtp_port: int = Field(1025, validation_alias=_env("SMTP_PORT"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME"))
    smtp_password: str | None = Field(None, validation_alias=_env("SMTP_PASSWORD"))
    smtp_starttls: bool = Field(False, validation_alias=_env("SMTP_STARTTLS"))
    smtp_tls: bool = Field(False, validation_alias=_env("SMTP_TLS"))
    smtp_timeout: float = Field(10.0, validation_alias=_env("SMTP_TIMEOUT"))
    mail_from: str = Field(
        "Cổng Dịch vụ công tỉnh Hà Tĩnh <no-reply@dichvucong.hatinh.gov.vn>",
        validation_alias=_env("PORTAL_MAIL_FROM"),
    )
    batch_size: int = Field(32, ge=1, le=1000)
    """E-mails one pool process takes at once (services/notifier/tasks.py)."""
    batch_wait: float = Field(0.02, gt=0, le=5)
    """Seconds a first e-mail waits for others to join its batch."""
    lanes: int = Field(4, ge=1, le=64)
    """E-mails of a batch in flight at once, each on its own SMTP connection."""
    celery_prefetch_multiplier: int = Field(
        64, ge=1, validation_alias=_env("CELERY_PREFETCH_MULTIPLIER")
    )
    """Batches are filled from messages fetched ahead (celery-batches needs more than a batch
    per process); none is acknowledged before it is settled."""
    record_sent_patience: float = Field(120.0, ge=0)
    """Seconds to wait for the database to record an e-mail the SMTP server took."""
    max_attempts: int = 12
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()

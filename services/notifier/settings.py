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
    max_attempts: int = 12
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()

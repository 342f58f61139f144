from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from services.kernel.settings import ServiceSettings


class AccountsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACCOUNTS_", extra="ignore")

    service_name: str = "accounts"
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    code_ttl: int = 30 * 60
    invitation_ttl: int = 72 * 3600
    code_max_attempts: int = 5
    emails_per_hour: int = 5
    """At most this many codes and notices e-mailed to one account an hour; the rest are dropped
    silently, so the answer does not tell whether the address has an account."""
    answer_floor_seconds: float = 0.1
    """Registration, password reset and activation resend answer no sooner than this after the
    request came, whether or not the address has an account: the work done for an account
    (codes, the e-mail cap, the outbox) must not show in the answer's timing."""
    captcha_ttl: int = 10 * 60
    signing_key_file: Path | None = None
    secret_key: str = ""
    admin_email: str | None = Field(None, validation_alias=AliasChoices("PORTAL_ADMIN_EMAIL"))
    admin_password: str | None = Field(None, validation_alias=AliasChoices("PORTAL_ADMIN_PASSWORD"))

    @property
    def private_key_path(self) -> Path:
        return self.signing_key_file or self.keys_dir / "signing-key.pem"

    @property
    def secret_path(self) -> Path:
        return self.keys_dir / "accounts-secret"


@lru_cache
def get_settings() -> AccountsSettings:
    return AccountsSettings()

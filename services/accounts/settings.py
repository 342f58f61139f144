from __future__ import annotations

import datetime as dt
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
    """Life of a short (6-digit) activation or reset code."""
    link_ttl: int = 3600
    """Life of the link (long token) e-mailed with each activation or reset code. At least the
    e-mail caps' window (an hour): whenever a request is dropped by the account's cap, the
    mailbox holds a link sent within that hour which still works."""
    invitation_ttl: int = 72 * 3600
    """Life of an officer invitation's code and link."""
    code_max_attempts: int = 5
    """Tries at one short code; the fifth wrong one retires it."""
    code_guess_budget: int = 10
    """Wrong short codes tried against one account per `code_guess_days`; past it short codes
    are refused for the account until the period ends (its e-mailed links still work)."""
    code_guess_days: float = 30
    emails_per_hour: int = 10
    """At most this many codes and notices e-mailed to one account an hour to clients it does
    not know; the rest are dropped silently, so the answer does not tell whether the address
    has an account. Clients it knows (a device token, an address it signed in or activated
    from) are held by `emails_per_client_per_hour` only."""
    emails_per_client_per_hour: int = 3
    """At most this many e-mails to one account an hour caused from one client address."""
    pending_registrations: int = 5
    """Registrations kept per address waiting for activation (the newest): activation checks
    a password against each, so the work an activation costs stays bounded."""
    registration_ttl: int = 24 * 3600
    known_client_days: float = 90
    """An address the account signed in or activated from counts as known this long."""
    device_token_days: float = 180
    """Life of the device token a sign-in gives (and sets as a cookie for browsers)."""
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
    def code_guess_period(self) -> dt.timedelta:
        return dt.timedelta(days=self.code_guess_days)

    @property
    def known_client_period(self) -> dt.timedelta:
        return dt.timedelta(days=self.known_client_days)

    @property
    def device_token_ttl(self) -> int:
        return int(self.device_token_days * 86400)

    @property
    def private_key_path(self) -> Path:
        return self.signing_key_file or self.keys_dir / "signing-key.pem"

    @property
    def secret_path(self) -> Path:
        return self.keys_dir / "accounts-secret"


@lru_cache
def get_settings() -> AccountsSettings:
    return AccountsSettings()

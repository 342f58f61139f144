from __future__ import annotations

from functools import lru_cache

from pydantic import AliasChoices, Field, model_validator
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
    # -- how long a killed worker can hold e-mails (README, "A notifier worker killed whole") --
    # A message a worker fetched stays in Redis's unacked set until the worker acknowledges it;
    # if the worker dies, a live notifier worker gives it back once it is older than the
    # visibility timeout, at its next sweep. So a killed worker delays an e-mail by at most
    # `celery_visibility_timeout + restore_interval` seconds (90 + 5 by default: under the
    # 120 s promised). The other bounds keep a live worker from ever holding a message that
    # long, or Redis would give it to another worker while it is still being sent:
    # batch_budget + message_timeout + record_sent_patience < time_limit < visibility timeout.
    celery_visibility_timeout: int = Field(
        90, ge=10, le=3600, validation_alias=_env("NOTIFIER_VISIBILITY_TIMEOUT")
    )
    """Seconds after its fetch before Redis may give an unacknowledged e-mail to another worker
    (the notifier's own; CELERY_VISIBILITY_TIMEOUT is the other services')."""
    restore_interval: int = Field(5, ge=1, le=60)
    """Seconds between a worker's sweeps for e-mails held past the visibility timeout."""
    time_limit: int = Field(80, ge=5)
    """Hard limit of one batch (its pool process is killed and the batch handed back). There
    is no soft limit: raised inside a batch it would acknowledge e-mails not yet sent; the
    batch keeps to `batch_budget` itself."""
    batch_budget: float = Field(10.0, gt=0)
    """Seconds after a batch was handed to a pool process (waiting for a free one included)
    within which its e-mails may start; the rest go back to the queue unsent."""
    message_timeout: float = Field(15.0, gt=0)
    """Seconds one delivery attempt may take (claim, SMTP, record); then it is retried later."""
    record_sent_patience: float = Field(45.0, ge=0)
    """Seconds to wait for the database to record an e-mail the SMTP server took."""
    celery_prefetch_multiplier: int = Field(
        32, ge=1, validation_alias=_env("NOTIFIER_PREFETCH_MULTIPLIER")
    )
    """Messages each pool process holds ahead: one batch (celery-batches fills a batch only from
    messages fetched ahead). A killed worker holds at most this many per pool process."""
    max_attempts: int = 12
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0

    @property
    def longest_batch(self) -> float:
        """The longest a batch can run when it keeps to its budget: its last e-mail starts
        within `batch_budget`, its attempt ends within `message_timeout`, and recording an
        e-mail the server took may wait `record_sent_patience` more."""
        return self.batch_budget + self.message_timeout + self.record_sent_patience

    @model_validator(mode="after")
    def _held_less_than_the_visibility_timeout(self) -> NotifierSettings:
        if not self.longest_batch < self.time_limit < self.celery_visibility_timeout:
            raise ValueError(
                "notifier: need batch_budget + message_timeout + record_sent_patience "
                f"({self.longest_batch:g}) < time_limit ({self.time_limit}) < visibility "
                f"timeout ({self.celery_visibility_timeout}), or live e-mails are redelivered"
            )
        return self


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()

"""Tasks the accounts worker consumes on the `accounts` queue."""

from __future__ import annotations

import logging

from services.accounts import maintenance
from services.accounts.settings import get_settings
from services.kernel.messaging import make_celery, purge_age, run_async

log = logging.getLogger("portal.accounts.tasks")
settings = get_settings()
celery = make_celery("accounts", settings)


@celery.task(name="accounts.purge_expired")
def purge_expired(messages_older_than_days: float | None = None) -> dict[str, int]:
    """Delete expired codes, refresh tokens and notices, spent captcha ids past their captcha's
    life, and published outbox rows past the retention (idempotent; sent every hour)."""
    purged = run_async(
        maintenance.purge(settings, messages_older_than=purge_age(messages_older_than_days))
    )
    log.info("purged: %s", purged)
    return purged

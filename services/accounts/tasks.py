"""Tasks the accounts worker consumes on the `accounts` queue."""

from __future__ import annotations

import logging

from services.accounts.repository import AccountsRepository
from services.accounts.settings import get_settings
from services.kernel.db import database_for, utcnow
from services.kernel.messaging import make_celery, run_async

log = logging.getLogger("portal.accounts.tasks")
settings = get_settings()
celery = make_celery("accounts", settings)


async def purge_expired_credentials() -> int:
    db = database_for(settings.resolved_database_url())
    async with db.sessionmaker() as session:
        removed = await AccountsRepository(session).purge_expired(utcnow(), settings.captcha_ttl)
        await session.commit()
    return removed


@celery.task(name="accounts.purge_expired")
def purge_expired() -> int:
    """Delete spent captcha ids past their captcha's life, expired codes and refresh tokens
    (idempotent)."""
    removed = run_async(purge_expired_credentials())
    log.info("purged %d expired credentials", removed)
    return removed

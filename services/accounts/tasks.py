"""Tasks the accounts worker consumes on the `accounts` queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from services.accounts import maintenance
from services.accounts.settings import get_settings
from services.kernel.contracts import SessionsRevokedV1
from services.kernel.messaging import consume, make_celery, purge_age, run_async
from services.kernel.revocation import record_revoked_sessions

log = logging.getLogger("portal.accounts.tasks")
settings = get_settings()
celery = make_celery("accounts", settings)


@celery.task(name=SessionsRevokedV1.TASK, bind=True)
def sessions_revoked(self: Task[Any, Any], payload: dict[str, Any]) -> int:
    """Write sessions accounts ended to the store every service checks access tokens against
    (idempotent: a redelivery sets the same keys with what is left of their life). A Redis
    that does not answer retries the task."""

    async def record(message: SessionsRevokedV1) -> int:
        return await record_revoked_sessions(
            settings.redis_url, message.session_ids, message.revoked_at, message.token_ttl
        )

    return consume(self, SessionsRevokedV1, payload, record)


@celery.task(name="accounts.purge_expired")
def purge_expired(messages_older_than_days: float | None = None) -> dict[str, int]:
    """Delete expired codes, refresh tokens and notices, spent captcha ids past their captcha's
    life, and published outbox rows past the retention (idempotent; sent every hour)."""
    purged = run_async(
        maintenance.purge(settings, messages_older_than=purge_age(messages_older_than_days))
    )
    log.info("purged: %s", purged)
    return purged

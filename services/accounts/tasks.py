"""Tasks the accounts worker consumes on the `accounts` queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from services.accounts.repository import AccountsRepository
from services.accounts.settings import get_settings
from services.kernel.contracts import SessionsRevokedV1
from services.kernel.db import database_for, utcnow
from services.kernel.messaging import consume, make_celery, run_async
from services.kernel.revocation import record_revoked_sessions

log = logging.getLogger("portal.accounts.tasks")
settings = get_settings()
celery = make_celery("accounts", settings)


@celery.task(name=SessionsRevokedV1.TASK, bind=True)
def sessions_revoked(self: Task, payload: dict[str, Any]) -> int:
    """Write sessions accounts ended to the store every service checks access tokens against
    (idempotent: a redelivery sets the same keys with what is left of their life). A Redis
    that does not answer retries the task."""

    async def record(message: SessionsRevokedV1) -> int:
        return await record_revoked_sessions(
            settings.redis_url, message.session_ids, message.revoked_at, message.token_ttl
        )

    return consume(self, SessionsRevokedV1, payload, record)


async def purge_expired_credentials() -> int:
    db = database_for(settings.resolved_database_url())
    async with db.sessionmaker() as session:
        removed = await AccountsRepository(session).purge_expired(
            utcnow(),
            settings.captcha_ttl,
            known_for=settings.known_client_period,
            guess_window=settings.code_guess_period,
        )
        await session.commit()
    return removed


@celery.task(name="accounts.purge_expired")
def purge_expired() -> int:
    """Delete spent captcha ids past their captcha's life, expired codes, links, refresh tokens
    and registrations, clients not seen for long and past wrong-code counts (idempotent)."""
    removed = run_async(purge_expired_credentials())
    log.info("purged %d expired credentials", removed)
    return removed

"""Housekeeping of the accounts database, run by the `accounts.purge_expired` task (the relay
sends it every hour) and by `portal purge`: expired codes, links, refresh tokens, notices and
pending registrations, clients not seen for long, past wrong-code counts, spent captcha ids past
their captcha's life, and published outbox rows past the message retention."""

from __future__ import annotations

import datetime as dt

from services.accounts.models import OutboxMessage
from services.accounts.repository import AccountsRepository
from services.accounts.settings import AccountsSettings
from services.kernel.db import database_for, utcnow
from services.kernel.outbox import purge_published


async def purge(
    settings: AccountsSettings, *, messages_older_than: dt.timedelta | None = None
) -> dict[str, int]:
    """What was removed, by kind (idempotent)."""
    db = database_for(settings.resolved_database_url())
    async with db.sessionmaker() as session:
        credentials = await AccountsRepository(session).purge_expired(
            utcnow(),
            settings.captcha_ttl,
            known_for=settings.known_client_period,
            guess_window=settings.code_guess_period,
        )
        await session.commit()
    retention = settings.message_retention if messages_older_than is None else messages_older_than
    outbox = await purge_published(db, OutboxMessage, retention)
    return {"expired_credentials": credentials, "published_outbox": outbox}

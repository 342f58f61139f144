"""Housekeeping of the notifier database, run by the `notifier.purge_expired` task (the relay
sends it every hour) and by `portal purge`: published outbox rows (its scheduled retries, once
sent) and the records of e-mails sent, past the message retention. A record is what keeps a
redelivered message from being sent twice, so it is kept far longer than any redelivery (the
relay re-publishes at most 24 h back); failed e-mails stay for the operator
(`portal emails failed`, `portal emails replay`)."""

from __future__ import annotations

import datetime as dt

from services.kernel.db import database_for, utcnow
from services.kernel.outbox import delete_in_chunks, purge_published
from services.notifier.models import SENT, Delivery, OutboxMessage
from services.notifier.settings import NotifierSettings


async def purge(
    settings: NotifierSettings, *, messages_older_than: dt.timedelta | None = None
) -> dict[str, int]:
    """What was removed, by kind (idempotent)."""
    db = database_for(settings.resolved_database_url())
    retention = settings.message_retention if messages_older_than is None else messages_older_than
    outbox = await purge_published(db, OutboxMessage, retention)
    cutoff = utcnow() - retention
    sent = await delete_in_chunks(db, Delivery, Delivery.status == SENT, Delivery.sent_at < cutoff)
    return {"published_outbox": outbox, "sent_emails": sent}

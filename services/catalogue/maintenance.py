"""Housekeeping of the catalogue database, run by the `catalogue.purge_expired` task (the relay
sends it every hour) and by `portal purge`: published outbox rows past the message retention,
search counts older than `search_log_days`
(procedure versions themselves are kept: dossiers refer to them)."""

from __future__ import annotations

import datetime as dt

from services.catalogue.models import OutboxMessage
from services.catalogue.search_log import purge_older_than
from services.catalogue.settings import CatalogueSettings
from services.kernel.db import database_for
from services.kernel.outbox import purge_published


async def purge(
    settings: CatalogueSettings, *, messages_older_than: dt.timedelta | None = None
) -> dict[str, int]:
    """What was removed, by kind (idempotent)."""
    db = database_for(settings.resolved_database_url())
    retention = settings.message_retention if messages_older_than is None else messages_older_than
    outbox = await purge_published(db, OutboxMessage, retention)
    searches = await purge_older_than(db, settings.search_log_days)
    return {"published_outbox": outbox, "search_log_rows": searches}

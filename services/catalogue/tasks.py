"""Tasks the catalogue worker consumes on the `catalogue` queue."""

from __future__ import annotations

import logging

from services.catalogue import maintenance
from services.catalogue.settings import get_settings
from services.kernel.messaging import make_celery, purge_age, run_async

log = logging.getLogger("portal.catalogue.tasks")
settings = get_settings()
celery = make_celery("catalogue", settings)


@celery.task(name="catalogue.purge_expired")
def purge_expired(messages_older_than_days: float | None = None) -> dict[str, int]:
    """Delete published outbox rows past the retention (idempotent; sent every hour)."""
    purged = run_async(
        maintenance.purge(settings, messages_older_than=purge_age(messages_older_than_days))
    )
    log.info("purged: %s", purged)
    return purged

"""Tasks the dossiers worker consumes on the `dossiers` queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from services.dossiers import maintenance
from services.dossiers.service.copies import record_published_agencies, record_published_procedure
from services.dossiers.settings import get_settings
from services.kernel.contracts import AgenciesPublishedV1, ProcedurePublishedV1
from services.kernel.messaging import consume, in_session, make_celery, purge_age, run_async

log = logging.getLogger("portal.dossiers.tasks")
settings = get_settings()
celery = make_celery("dossiers", settings)


@celery.task(name=ProcedurePublishedV1.TASK, bind=True)
def procedure_published(self: Task[Any, Any], payload: dict[str, Any]) -> bool:
    """Keep a copy of a procedure version the catalogue published."""

    async def keep(message: ProcedurePublishedV1) -> bool:
        url = settings.resolved_database_url()
        return await in_session(url, lambda s: record_published_procedure(s, message))

    return consume(self, ProcedurePublishedV1, payload, keep)


@celery.task(name=AgenciesPublishedV1.TASK, bind=True)
def agencies_published(self: Task[Any, Any], payload: dict[str, Any]) -> bool:
    """Keep the copy of the catalogue's agencies (where dossiers may be filed)."""

    async def keep(message: AgenciesPublishedV1) -> bool:
        url = settings.resolved_database_url()
        return await in_session(url, lambda s: record_published_agencies(s, message))

    return consume(self, AgenciesPublishedV1, payload, keep)


@celery.task(name="dossiers.purge_expired")
def purge_expired(
    drafts_older_than_days: float | None = None, messages_older_than_days: float | None = None
) -> dict[str, int]:
    """Delete old drafts with their files, old handled-message ids, published outbox rows past
    the retention and spent captcha ids (idempotent; sent every hour)."""
    purged = run_async(
        maintenance.purge(
            settings,
            drafts_older_than=purge_age(drafts_older_than_days),
            messages_older_than=purge_age(messages_older_than_days),
        )
    )
    log.info("purged: %s", purged)
    return purged

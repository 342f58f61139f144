"""Tasks the dossiers worker consumes on the `dossiers` queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import Reject
from pydantic import ValidationError

from services.dossiers.service import record_published_agencies, record_published_procedure
from services.dossiers.settings import get_settings
from services.kernel.contracts import AgenciesPublishedV1, ProcedurePublishedV1
from services.kernel.db import database_for
from services.kernel.messaging import make_celery, run_async
from services.kernel.transient import retry_transient

log = logging.getLogger("portal.dossiers.tasks")
settings = get_settings()
celery = make_celery("dossiers", settings)


async def keep_procedure_version(message: ProcedurePublishedV1) -> bool:
    db = database_for(settings.resolved_database_url())
    async with db.sessionmaker() as session:
        recorded = await record_published_procedure(session, message)
        await session.commit()
    return recorded


@celery.task(name=ProcedurePublishedV1.TASK, bind=True)
def procedure_published(self: Task, payload: dict[str, Any]) -> bool:
    """Keep a copy of a procedure version the catalogue published."""
    try:
        message = ProcedurePublishedV1.model_validate(payload)
    except ValidationError as exc:
        log.error("rejecting malformed procedure message: %s", exc)
        raise Reject(str(exc), requeue=False) from exc
    try:
        return run_async(keep_procedure_version(message))
    except Exception as exc:  # the database restarting: retry, not drop
        retry_transient(self, exc)


async def keep_agencies(message: AgenciesPublishedV1) -> bool:
    db = database_for(settings.resolved_database_url())
    async with db.sessionmaker() as session:
        recorded = await record_published_agencies(session, message)
        await session.commit()
    return recorded


@celery.task(name=AgenciesPublishedV1.TASK, bind=True)
def agencies_published(self: Task, payload: dict[str, Any]) -> bool:
    """Keep the copy of the catalogue's agencies (where dossiers may be filed)."""
    try:
        message = AgenciesPublishedV1.model_validate(payload)
    except ValidationError as exc:
        log.error("rejecting malformed agencies message: %s", exc)
        raise Reject(str(exc), requeue=False) from exc
    try:
        return run_async(keep_agencies(message))
    except Exception as exc:  # the database restarting: retry, not drop
        retry_transient(self, exc)


async def purge_dossiers(drafts_older_than_days: float, messages_older_than_days: float) -> str:
    import datetime as dt

    from services.dossiers.maintenance import purge
    from services.kernel.storage import storage_from_settings

    db = database_for(settings.resolved_database_url())
    storage = storage_from_settings(settings.storage_dir, "dossiers", settings)
    report = await purge(
        db,
        storage,
        settings,
        drafts_older_than=dt.timedelta(days=drafts_older_than_days),
        messages_older_than=dt.timedelta(days=messages_older_than_days),
    )
    return str(report)


@celery.task(name="dossiers.purge_expired")
def purge_expired(drafts_older_than_days: float = 30, messages_older_than_days: float = 30) -> str:
    """Delete old drafts with their files, old handled-message ids and spent captcha ids
    (idempotent; the relay sends it every hour)."""
    report = run_async(purge_dossiers(drafts_older_than_days, messages_older_than_days))
    log.info("purged: %s", report)
    return report

"""Housekeeping of the dossiers database, run by the `dossiers.purge_expired` task (the relay
sends it every hour) and by `portal purge`: drafts nobody touched for a long time go, with
their files; ids of messages handled long ago, published outbox rows past the message
retention and spent captcha ids past their captcha's life are forgotten."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import delete, func, select

from services.dossiers.lifecycle import Status
from services.dossiers.models import (
    Dossier,
    DossierFile,
    HistoryEntry,
    OutboxMessage,
    ProcessedMessage,
    SpentCaptcha,
)
from services.dossiers.settings import DossiersSettings
from services.kernel.captcha import purge_spent_captchas
from services.kernel.db import Database, database_for, utcnow
from services.kernel.outbox import forget_processed, purge_published
from services.kernel.storage import FileStorage, storage_from_settings

log = logging.getLogger("portal.dossiers.maintenance")


async def count_old_drafts(db: Database, older_than: dt.timedelta) -> int:
    async with db.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Dossier)
                .where(
                    Dossier.status == Status.DRAFT.value,
                    Dossier.updated_at < utcnow() - older_than,
                )
            )
            or 0
        )


async def purge_old_drafts(
    db: Database,
    storage: FileStorage,
    older_than: dt.timedelta,
    *,
    batch_size: int = 100,
    progress: Callable[[int], object] | None = None,
) -> tuple[int, int]:
    """Delete drafts last changed before now − `older_than`, their history and files (the rows in
    one transaction per batch, the stored files after it commits); returns (drafts, files)."""
    cutoff = utcnow() - older_than
    drafts = files = 0
    while True:
        async with db.sessionmaker() as session:
            query = (
                select(Dossier.id)
                .where(Dossier.status == Status.DRAFT.value, Dossier.updated_at < cutoff)
                .order_by(Dossier.updated_at)
                .limit(batch_size)
            )
            if db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            ids = list(await session.scalars(query))
            if not ids:
                break
            keys = list(
                await session.scalars(
                    select(DossierFile.storage_key).where(DossierFile.dossier_id.in_(ids))
                )
            )
            await session.execute(delete(DossierFile).where(DossierFile.dossier_id.in_(ids)))
            await session.execute(delete(HistoryEntry).where(HistoryEntry.dossier_id.in_(ids)))
            await session.execute(delete(Dossier).where(Dossier.id.in_(ids)))
            await session.commit()
        for key in keys:
            try:
                await storage.delete(key)
            except Exception as exc:  # the row is gone; a leftover file harms nobody
                log.warning("purge: could not delete stored file %s: %s", key, exc)
        drafts += len(ids)
        files += len(keys)
        if progress is not None:
            progress(len(ids))
    return drafts, files


async def purge(
    settings: DossiersSettings,
    *,
    messages_older_than: dt.timedelta | None = None,
    drafts_older_than: dt.timedelta | None = None,
    progress: Callable[[int], object] | None = None,
) -> dict[str, int]:
    """What was removed, by kind (idempotent)."""
    db = database_for(settings.resolved_database_url())
    storage = storage_from_settings(settings.storage_dir, "dossiers", settings)
    retention = settings.message_retention if messages_older_than is None else messages_older_than
    drafts, files = await purge_old_drafts(
        db,
        storage,
        dt.timedelta(days=settings.draft_retention_days)
        if drafts_older_than is None
        else drafts_older_than,
        progress=progress,
    )
    async with db.sessionmaker() as session:
        captchas = await purge_spent_captchas(session, SpentCaptcha, settings.captcha_ttl)
        await session.commit()
    return {
        "drafts": drafts,
        "files": files,
        "processed_messages": await forget_processed(db, ProcessedMessage, retention),
        "published_outbox": await purge_published(db, OutboxMessage, retention),
        "spent_captchas": captchas,
    }

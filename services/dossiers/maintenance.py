"""Housekeeping of the dossiers database: drafts nobody touched for a long time go, with their
files; ids of messages handled long ago and spent captcha ids are forgotten. Run by the
`dossiers.purge_expired` task (the relay sends it every hour) and by `portal purge`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select

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
from services.kernel.db import Database, utcnow
from services.kernel.storage import FileStorage

log = logging.getLogger("portal.dossiers.maintenance")

DRAFT_RETENTION = dt.timedelta(days=30)
MESSAGE_RETENTION = dt.timedelta(days=30)


@dataclass
class PurgeReport:
    drafts: int = 0
    files: int = 0
    processed_messages: int = 0
    published_outbox: int = 0
    spent_captchas: int = 0


async def count_old_drafts(db: Database, older_than: dt.timedelta) -> int:
    async with db.sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Dossier)
                .where(Dossier.status == "draft", Dossier.updated_at < utcnow() - older_than)
            )
            or 0
        )


async def purge_old_drafts(
    db: Database,
    storage: FileStorage,
    older_than: dt.timedelta = DRAFT_RETENTION,
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
                .where(Dossier.status == "draft", Dossier.updated_at < cutoff)
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


async def purge_messages(
    db: Database, settings: DossiersSettings, older_than: dt.timedelta = MESSAGE_RETENTION
) -> tuple[int, int, int]:
    """Forget handled message ids and published outbox rows older than `older_than`, and spent
    captcha ids past their captcha's life; returns (processed, outbox, captchas)."""
    cutoff = utcnow() - older_than
    async with db.sessionmaker() as session:
        processed = await session.execute(
            delete(ProcessedMessage).where(ProcessedMessage.processed_at < cutoff)
        )
        outbox = await session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.published_at.is_not(None), OutboxMessage.published_at < cutoff
            )
        )
        captchas = await purge_spent_captchas(session, SpentCaptcha, settings.captcha_ttl)
        await session.commit()
    return (
        int(getattr(processed, "rowcount", 0) or 0),
        int(getattr(outbox, "rowcount", 0) or 0),
        captchas,
    )


async def purge(
    db: Database,
    storage: FileStorage,
    settings: DossiersSettings,
    *,
    drafts_older_than: dt.timedelta = DRAFT_RETENTION,
    messages_older_than: dt.timedelta = MESSAGE_RETENTION,
    progress: Callable[[int], object] | None = None,
) -> PurgeReport:
    report = PurgeReport()
    report.drafts, report.files = await purge_old_drafts(
        db, storage, drafts_older_than, progress=progress
    )
    (
        report.processed_messages,
        report.published_outbox,
        report.spent_captchas,
    ) = await purge_messages(db, settings, messages_older_than)
    return report

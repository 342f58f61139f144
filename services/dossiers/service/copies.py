"""The dossiers service's copy of the catalogue: every published procedure version and the
agency tree, from the catalogue's messages (idempotent, in order by version and revision)."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.dossiers.models import AgencyCopy, ProcedureCopy, ProcessedMessage
from services.kernel.contracts import AgenciesPublishedV1, ProcedurePublishedV1
from services.kernel.outbox import claim_message


async def record_published_procedure(session: AsyncSession, message: ProcedurePublishedV1) -> bool:
    """Keep the published version; idempotent by message id and by (procedure, version), and
    a late, older version never hides a newer one. True when something was recorded."""
    if not await claim_message(session, ProcessedMessage, message.message_id, message.TASK):
        return False
    published = message.procedure
    if await session.get(ProcedureCopy, (published.id, published.version)) is not None:
        return False
    newest = await session.scalar(
        select(ProcedureCopy.version)
        .where(ProcedureCopy.procedure_id == published.id)
        .order_by(ProcedureCopy.version.desc())
        .limit(1)
        .with_for_update()
    )
    is_latest = newest is None or published.version > newest
    if is_latest:
        await session.execute(
            update(ProcedureCopy)
            .where(ProcedureCopy.procedure_id == published.id)
            .values(is_latest=False)
        )
    session.add(
        ProcedureCopy(
            procedure_id=published.id,
            version=published.version,
            code=published.code,
            name=published.name,
            agency_id=published.agency_id,
            retired=published.retired,
            is_latest=is_latest,
            processing_days=published.processing_days,
            processing_time_source=published.processing_time_source,
            snapshot=published.model_dump(mode="json"),
        )
    )
    await session.flush()
    return True


async def record_published_agencies(session: AsyncSession, message: AgenciesPublishedV1) -> bool:
    """Replace the agency copy with a newer tree; older or repeated messages change nothing."""
    if not await claim_message(session, ProcessedMessage, message.message_id, message.TASK):
        return False
    current = await session.scalar(select(func.max(AgencyCopy.revision)))
    if current is not None and current >= message.revision:
        return False
    await session.execute(delete(AgencyCopy))
    session.add_all(
        AgencyCopy(
            id=a.id,
            name=a.name,
            tier=a.tier,
            parent_id=a.parent_id,
            retired=a.retired,
            performs_commune_tier=a.tier in message.commune_tiers,
            revision=message.revision,
        )
        for a in message.agencies
    )
    await session.flush()
    return True

"""The dossiers service's rules. For now: keeping the copy of the catalogue it files against."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.dossiers.models import ProcedureCopy, ProcessedMessage
from services.kernel.contracts import ProcedurePublishedV1
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
            snapshot=published.model_dump(mode="json"),
        )
    )
    await session.flush()
    return True

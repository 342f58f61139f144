from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.models import Delivery


class NotifierRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delivery(self, message_id: str) -> Delivery | None:
        return await self.session.get(Delivery, message_id, with_for_update=True)

    async def deliveries(self, *, status: str | None = None, limit: int = 100) -> list[Delivery]:
        query = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit)
        if status:
            query = query.where(Delivery.status == status)
        return list(await self.session.scalars(query))

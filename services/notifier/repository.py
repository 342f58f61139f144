"""The notifier's queries. Delivering runs once per e-mail, so its statements are SQLAlchemy
Core on the table (no ORM identity map or unit of work: a third of the per-message cost)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.contracts import SendEmailV1
from services.kernel.db import conflict_insert, utcnow
from services.notifier.models import PENDING, SENT, Delivery

deliveries = cast(Table, Delivery.__table__)  # typed as any FromClause; a mapped class's is a Table
_claimed = (
    deliveries.c.message_id,
    deliveries.c.recipient,
    deliveries.c.template,
    deliveries.c.context,
    deliveries.c.status,
    deliveries.c.attempts,
)


class NotifierRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, message: SendEmailV1, **values: Any) -> Any:
        """A delivery row's INSERT … ON CONFLICT: the message as it came, plus `values`."""
        now = utcnow()
        row = {"attempts": 0, "created_at": now, "updated_at": now, **values}
        return conflict_insert(self.session, deliveries).values(
            message_id=message.message_id,
            recipient=str(message.to),
            template=message.template,
            locale=message.locale,
            context=message.context,
            **row,
        )

    async def claim(self, message: SendEmailV1) -> Row[*tuple[Any, ...]]:
        """The message's delivery row, locked until the transaction ends: inserted the first
        time (one statement); a concurrent first insert waits for the other transaction, then
        finds and locks its row."""
        inserted = (
            await self.session.execute(
                self._insert(message, status=PENDING)
                .on_conflict_do_nothing(index_elements=["message_id"])
                .returning(*_claimed)
            )
        ).first()
        if inserted is not None:
            return inserted
        existing = (
            await self.session.execute(
                select(*_claimed)
                .where(deliveries.c.message_id == message.message_id)
                .with_for_update()
            )
        ).first()
        assert existing is not None
        return existing

    async def record_attempt(self, message_id: str, **values: Any) -> None:
        await self.session.execute(
            update(deliveries)
            .where(deliveries.c.message_id == message_id)
            .values(updated_at=utcnow(), **values)
        )

    async def mark_sent(self, message: SendEmailV1) -> None:
        """Record a message the SMTP server took, whatever the database lost meanwhile (the
        transaction that claimed it may have been rolled back, its row with it)."""
        now = utcnow()
        insert = self._insert(message, status=SENT, attempts=1, sent_at=now)
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["message_id"],
                set_={
                    "status": SENT,
                    "attempts": deliveries.c.attempts + 1,
                    "sent_at": now,
                    "updated_at": now,
                    "last_error": None,
                    "next_attempt_at": None,
                },
            )
        )

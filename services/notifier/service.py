"""Delivering one e-mail message: record it, send it once, retry transient failures with
exponential backoff and jitter scheduled from the database, mark permanent failures."""

from __future__ import annotations

import datetime as dt
import logging
import random

from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.contracts import SendEmailV1
from services.kernel.db import conflict_insert, utcnow
from services.kernel.outbox import add_message
from services.notifier.mailer import (
    Mailer,
    PermanentFailure,
    TransientFailure,
    build_message,
    render,
)
from services.notifier.models import FAILED, PENDING, RETRYING, SENT, Delivery, OutboxMessage
from services.notifier.repository import NotifierRepository
from services.notifier.settings import NotifierSettings

log = logging.getLogger("portal.notifier")


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: between half and all of base × 2^(attempts−1)."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


class NotifierService:
    def __init__(self, session: AsyncSession, settings: NotifierSettings, mailer: Mailer) -> None:
        self.session = session
        self.repo = NotifierRepository(session)
        self.settings = settings
        self.mailer = mailer

    async def _record(self, message: SendEmailV1) -> Delivery:
        """The message's delivery row, locked: inserted the first time (one statement; a
        concurrent first insert waits for the other transaction, then finds its row)."""
        inserted = await self.session.scalar(
            conflict_insert(self.session, Delivery)
            .values(
                message_id=message.message_id,
                recipient=str(message.to),
                template=message.template,
                locale=message.locale,
                context=message.context,
                status=PENDING,
                attempts=0,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["message_id"])
            .returning(Delivery)
        )
        if inserted is not None:
            return inserted
        existing = await self.repo.delivery(message.message_id)
        assert existing is not None
        return existing

    async def deliver(self, message: SendEmailV1) -> str:
        """Returns the delivery's status after this attempt."""
        delivery = await self._record(message)
        if delivery.status in (SENT, FAILED):
            log.info("message %s already %s; not sent again", message.message_id, delivery.status)
            return delivery.status
        delivery.attempts += 1
        try:
            rendered = render(delivery.template, delivery.context)
            email = build_message(
                self.settings.mail_from, delivery.recipient, delivery.message_id, rendered
            )
            await self.mailer.send(email)
        except PermanentFailure as exc:
            delivery.status, delivery.last_error = FAILED, str(exc)[:2000]
            delivery.next_attempt_at = None
            log.warning("message %s failed permanently: %s", message.message_id, exc)
        except TransientFailure as exc:
            delivery.last_error = str(exc)[:2000]
            if delivery.attempts >= self.settings.max_attempts:
                delivery.status, delivery.next_attempt_at = FAILED, None
                log.warning(
                    "message %s gave up after %d tries", message.message_id, delivery.attempts
                )
            else:
                delay = retry_delay(
                    delivery.attempts,
                    self.settings.retry_base_seconds,
                    self.settings.retry_max_seconds,
                )
                delivery.status = RETRYING
                delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
                add_message(self.session, OutboxMessage, message, delay=dt.timedelta(seconds=delay))
                log.info("message %s: %s; retry in %.1fs", message.message_id, exc, delay)
        else:
            delivery.status, delivery.sent_at = SENT, utcnow()
            delivery.last_error = None
            delivery.next_attempt_at = None
        await self.session.flush()
        return delivery.status

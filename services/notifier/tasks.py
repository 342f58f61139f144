"""Tasks the notifier worker consumes on the `notifier` queue.

E-mails are taken in batches (celery-batches): a pool process gets up to `batch_size` messages
at once, or what arrived within `batch_wait` seconds, and sends them on `lanes` SMTP
connections at a time, one recipient's e-mails down one lane in order (a filer reads "being
processed" before "supplement requested"). Each message is still settled on its own — its
delivery row locked, sent, recorded and committed — before its lane takes the next: a worker
killed mid-batch sends again at most the message each lane had in hand."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from celery_batches import Batches
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.contracts import SendEmailV1
from services.kernel.messaging import consume_batch, in_session, make_celery
from services.kernel.transient import is_transient
from services.notifier.mailer import Mailer
from services.notifier.models import SENT
from services.notifier.repository import NotifierRepository
from services.notifier.service import NotifierService
from services.notifier.settings import get_settings

log = logging.getLogger("portal.notifier.tasks")
settings = get_settings()
celery = make_celery("notifier", settings)
_mailers: dict[tuple[int, int], Mailer] = {}


def _mailer(lane: int) -> Mailer:
    """One kept SMTP connection per lane of this process."""
    return _mailers.setdefault((os.getpid(), lane), Mailer(settings))


async def deliver(message: SendEmailV1, lane: int = 0) -> str:
    url = settings.resolved_database_url()
    service: NotifierService | None = None

    async def attempt(session: AsyncSession) -> str:
        nonlocal service
        service = NotifierService(session, settings, _mailer(lane))
        return await service.deliver(message)

    try:
        return await in_session(url, attempt)
    except Exception as exc:
        if service is None or not service.sent or not is_transient(exc):
            raise
        log.warning("message %s sent but not recorded (%r); recording it", message.message_id, exc)
        await record_sent_when_back(url, message, exc)
        return SENT


async def record_sent_when_back(url: str, message: SendEmailV1, fault: Exception) -> None:
    """The SMTP server took the message, then the database went away before the commit: wait
    for the database (up to `settings.record_sent_patience` seconds) to record it as sent,
    rather than leave it to a retry that would send it twice."""
    deadline = time.monotonic() + settings.record_sent_patience
    pause = 0.5
    while True:
        try:
            await in_session(
                url,
                lambda session: NotifierRepository(session).mark_sent(message),
            )
            return
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise fault from exc
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)


@celery.task(
    name=SendEmailV1.TASK,
    base=Batches,
    bind=True,
    flush_every=settings.batch_size,
    flush_interval=settings.batch_wait,
)
def send_email(self: Batches, requests: list[Any]) -> None:
    consume_batch(
        self,
        SendEmailV1,
        requests,
        deliver,
        lanes=settings.lanes,
        lane_key=lambda message: str(message.to).lower(),
    )

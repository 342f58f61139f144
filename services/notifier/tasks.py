"""Tasks the notifier worker consumes on the `notifier` queue.

E-mails are taken in batches (celery-batches): a pool process gets up to `batch_size` messages
at once, or what arrived within `batch_wait` seconds, and sends them on `lanes` SMTP
connections at a time. Each message is still settled on its own — its delivery row locked,
sent, recorded and committed — before its lane takes the next: a worker killed mid-batch
sends again at most the message each lane had in hand."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery_batches import Batches

from services.kernel.contracts import SendEmailV1
from services.kernel.messaging import consume_batch, in_session, make_celery
from services.notifier.mailer import Mailer
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
    return await in_session(
        settings.resolved_database_url(),
        lambda session: NotifierService(session, settings, _mailer(lane)).deliver(message),
    )


@celery.task(
    name=SendEmailV1.TASK,
    base=Batches,
    bind=True,
    flush_every=settings.batch_size,
    flush_interval=settings.batch_wait,
)
def send_email(self: Batches, requests: list[Any]) -> None:
    consume_batch(self, SendEmailV1, requests, deliver, lanes=settings.lanes)

"""Tasks the notifier worker consumes on the `notifier` queue.

E-mails are taken in batches (celery-batches): a pool process gets up to `batch_size` messages
at once, or what arrived within `batch_wait` seconds, and sends them on `lanes` SMTP
connections at a time, one recipient's e-mails down one lane in order (a filer reads "being
processed" before "supplement requested"). Each message is still settled on its own — its
delivery row locked, sent, recorded and committed — before its lane takes the next: a worker
killed mid-batch sends again at most the message each lane had in hand.

How long a killed worker can hold e-mails is bounded (services/notifier/settings.py): the
notifier's app has its own visibility timeout (90 s), sweeps for abandoned messages every 5 s,
and keeps them in its own unacked keys in Redis (one visibility timeout per set of keys: the
other services' longer timeout does not apply to e-mails, and the notifier's short one never
reclaims another service's long-running task). A live worker never holds an e-mail that long:
each batch keeps to a budget, each attempt to a timeout, under a hard time limit."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from services.kernel.broker import TRANSPORT
from services.kernel.contracts import SendEmailV1
from services.kernel.messaging import (
    HandedBackBatches,
    consume_batch,
    in_session,
    make_celery,
    purge_age,
    run_async,
)
from services.kernel.transient import is_transient
from services.notifier import maintenance
from services.notifier.mailer import Mailer
from services.notifier.models import SENT
from services.notifier.repository import Deliveries, LaneConnections, SessionDeliveries
from services.notifier.service import NotifierService
from services.notifier.settings import get_settings

T = TypeVar("T")
log = logging.getLogger("portal.notifier.tasks")
settings = get_settings()
UNACKED_KEYS = {
    "unacked_key": "unacked:notifier",
    "unacked_index_key": "unacked_index:notifier",
    "unacked_mutex_key": "unacked_mutex:notifier",
}
"""Where Redis keeps the e-mails workers fetched and have not acknowledged (kombu's default
keys are shared by every service's app, and each sweep applies its own app's timeout)."""
celery = make_celery(
    "notifier",
    settings,
    time_limit=settings.time_limit,
    transport_options={
        **UNACKED_KEYS,
        "unacked_restore_interval": settings.restore_interval,
        "unacked_restore_throttle": 1,  # every call sweeps (kombu's default: every 10th)
        "unacked_mutex_expire": 3 * settings.restore_interval,  # a worker killed mid-sweep
    },
)
celery.conf.broker_transport = TRANSPORT  # kombu's Redis transport, a client kept per channel
_mailers: dict[tuple[int, int], Mailer] = {}


def _mailer(lane: int) -> Mailer:
    """One kept SMTP connection per lane of this process."""
    return _mailers.setdefault((os.getpid(), lane), Mailer(settings))


_url = settings.resolved_database_url()
_lane_connections = LaneConnections(_url) if _url.startswith("postgresql") else None


async def in_transaction(lane: int, work: Callable[[Deliveries], Coroutine[Any, Any, T]]) -> T:
    """Run `work` in one transaction of the notifier database and commit: on PostgreSQL on the
    lane's own asyncpg connection, elsewhere (SQLite) in a SQLAlchemy session."""
    if _lane_connections is not None:
        return await _lane_connections.in_transaction(
            lane, work, connect_timeout=settings.message_timeout
        )
    return await in_session(_url, lambda session: work(SessionDeliveries(session)))


async def deliver(message: SendEmailV1, lane: int = 0) -> str:
    service: NotifierService | None = None

    async def attempt(deliveries: Deliveries) -> str:
        nonlocal service
        service = NotifierService(deliveries, settings, _mailer(lane))
        return await service.deliver(message)

    try:
        async with asyncio.timeout(settings.message_timeout):
            return await in_transaction(lane, attempt)
    except Exception as exc:
        if service is None or not service.sent or not is_transient(exc):
            raise
        log.warning("message %s sent but not recorded (%r); recording it", message.message_id, exc)
        await record_sent_when_back(lane, message, exc)
        return SENT


async def record_sent_when_back(lane: int, message: SendEmailV1, fault: Exception) -> None:
    """The SMTP server took the message, then the database went away before the commit: wait
    for the database (up to `settings.record_sent_patience` seconds) to record it as sent,
    rather than leave it to a retry that would send it twice."""
    deadline = time.monotonic() + settings.record_sent_patience
    pause = 0.5
    while True:
        try:
            await in_transaction(lane, lambda deliveries: deliveries.mark_sent(message))
            return
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise fault from exc
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)


@celery.task(
    name=SendEmailV1.TASK,
    base=HandedBackBatches,
    bind=True,
    flush_every=settings.batch_size,
    flush_interval=settings.batch_wait,
)
def send_email(self: HandedBackBatches, requests: list[Any]) -> None:
    consume_batch(
        self,
        SendEmailV1,
        requests,
        deliver,
        lanes=settings.lanes,
        lane_key=lambda message: str(message.to).lower(),
        budget=settings.batch_budget,
    )


@celery.task(name="notifier.purge_expired")
def purge_expired(messages_older_than_days: float | None = None) -> dict[str, int]:
    """Delete published outbox rows and records of sent e-mails past the retention
    (idempotent; sent every hour)."""
    purged = run_async(
        maintenance.purge(settings, messages_older_than=purge_age(messages_older_than_days))
    )
    log.info("purged: %s", purged)
    return purged

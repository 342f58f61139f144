"""Delivering one e-mail message: record it, send it once, retry transient failures with
exponential backoff and jitter scheduled from the database, mark permanent failures."""

from __future__ import annotations

import datetime as dt
import logging
import random
from typing import Any

from services.kernel.contracts import SendEmailV1
from services.kernel.db import utcnow
from services.notifier.mailer import (
    Mailer,
    PermanentFailure,
    TransientFailure,
    outgoing,
    render,
)
from services.notifier.models import FAILED, RETRYING, SENT
from services.notifier.repository import Deliveries
from services.notifier.settings import NotifierSettings

log = logging.getLogger("portal.notifier")


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: between half and all of base × 2^(attempts−1)."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


class NotifierService:
    def __init__(self, deliveries: Deliveries, settings: NotifierSettings, mailer: Mailer) -> None:
        self.repo = deliveries
        self.settings = settings
        self.mailer = mailer
        self.sent = False
        """The SMTP server took the message in this attempt (known even if recording it fails)."""

    async def deliver(self, message: SendEmailV1) -> str:
        """Returns the delivery's status after this attempt."""
        delivery = await self.repo.claim(message)
        if delivery.status in (SENT, FAILED):
            log.info("message %s already %s; not sent again", message.message_id, delivery.status)
            return str(delivery.status)
        attempts = delivery.attempts + 1
        outcome: dict[str, Any] = {
            "attempts": attempts,
            "status": None,
            "last_error": None,
            "next_attempt_at": None,
            "sent_at": None,
        }
        try:
            rendered = render(delivery.template, delivery.context)
            email = outgoing(
                self.settings.mail_from, delivery.recipient, delivery.message_id, rendered
            )
            await self.mailer.send(email)
            self.sent = True
        except PermanentFailure as exc:
            outcome.update(status=FAILED, last_error=str(exc)[:2000], next_attempt_at=None)
            log.warning("message %s failed permanently: %s", message.message_id, exc)
        except TransientFailure as exc:
            outcome["last_error"] = str(exc)[:2000]
            if attempts >= self.settings.max_attempts:
                outcome.update(status=FAILED, next_attempt_at=None)
                log.warning("message %s gave up after %d tries", message.message_id, attempts)
            else:
                delay = retry_delay(
                    attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds
                )
                outcome.update(
                    status=RETRYING, next_attempt_at=utcnow() + dt.timedelta(seconds=delay)
                )
                await self.repo.schedule_retry(message, dt.timedelta(seconds=delay))
                log.info("message %s: %s; retry in %.1fs", message.message_id, exc, delay)
        else:
            outcome.update(status=SENT, sent_at=utcnow(), last_error=None, next_attempt_at=None)
        await self.repo.record_attempt(message.message_id, **outcome)
        return str(outcome["status"] or delivery.status)

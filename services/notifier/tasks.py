"""Tasks the notifier worker consumes on the `notifier` queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from services.kernel.contracts import SendEmailV1
from services.kernel.messaging import consume, in_session, make_celery
from services.notifier.mailer import Mailer
from services.notifier.service import NotifierService
from services.notifier.settings import get_settings

log = logging.getLogger("portal.notifier.tasks")
settings = get_settings()
celery = make_celery("notifier", settings)
_mailers: dict[int, Mailer] = {}


def _mailer() -> Mailer:
    import os

    return _mailers.setdefault(os.getpid(), Mailer(settings))


async def deliver(message: SendEmailV1) -> str:
    return await in_session(
        settings.resolved_database_url(),
        lambda session: NotifierService(session, settings, _mailer()).deliver(message),
    )


@celery.task(name=SendEmailV1.TASK, bind=True)
def send_email(self: Task, payload: dict[str, Any]) -> str:
    return consume(self, SendEmailV1, payload, deliver)

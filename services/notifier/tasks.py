"""Tasks the notifier worker consumes on the `notifier` queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import Reject
from pydantic import ValidationError

from services.kernel.contracts import SendEmailV1
from services.kernel.db import database_for
from services.kernel.messaging import make_celery, run_async
from services.kernel.transient import retry_transient
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
    db = database_for(settings.resolved_database_url())
    async with db.sessionmaker() as session:
        status = await NotifierService(session, settings, _mailer()).deliver(message)
        await session.commit()
    return status


@celery.task(name=SendEmailV1.TASK, bind=True)
def send_email(self: Task, payload: dict[str, Any]) -> str:
    try:
        message = SendEmailV1.model_validate(payload)
    except ValidationError as exc:
        log.error("rejecting malformed e-mail message: %s", exc)
        raise Reject(str(exc), requeue=False) from exc
    try:
        return run_async(deliver(message))
    except Exception as exc:  # the database restarting: retry, not drop
        retry_transient(self, exc)

"""The transactional outbox: a state change and the message it causes are written in one
transaction; a relay publishes pending rows to Celery and marks them, retrying while Redis is
down. Rows can also be scheduled for later (`available_at`), which is how long retry waits are
kept in the database rather than parked in Redis.

A Redis that restarts without its data loses the messages it held (queued, or delivered but not
yet acknowledged), although their rows are marked published. The relay notices: it keeps a
marker key per service in Redis (the broker's "epoch"); when the marker is gone or changed, it
marks every row published in the last `replay_window` as pending again, and the normal pass
publishes them once more. Consumers are idempotent by message id (the notifier's deliveries,
the dossiers service's processed messages), so what had already been handled is skipped."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery
from sqlalchemy import JSON, ColumnElement, Integer, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.contracts import Contract, queue_of
from services.kernel.db import Database, UTCDateTime, new_id, utcnow

log = logging.getLogger("portal.outbox")


def _text(value: bytes | str | None) -> str | None:
    """A Redis value as text (the client returns bytes: it does not decode responses)."""
    return value.decode() if isinstance(value, bytes) else value


class OutboxMixin:
    """Columns of a service's `outbox` table."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    available_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

    if TYPE_CHECKING:  # the declarative base of the service's model gives the keyword constructor

        def __init__(self, **columns: Any) -> None: ...


class ProcessedMessageMixin:
    """Columns of a consumer's `processed_message` table: the ids of messages already handled."""

    message_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_name: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    if TYPE_CHECKING:  # the declarative base of the service's model gives the keyword constructor

        def __init__(self, **columns: Any) -> None: ...


def add_message(
    session: AsyncSession,
    outbox: type[OutboxMixin],
    message: Contract,
    *,
    delay: dt.timedelta | None = None,
) -> str:
    """Stage `message` in the caller's transaction; it leaves when the transaction commits.
    The row has its own id (the Celery task id): one message may leave more than once, as the
    notifier's scheduled retries do; consumers deduplicate by the payload's `message_id`."""
    now = utcnow()
    row = outbox(
        id=new_id(),
        task_name=message.TASK,
        payload=message.model_dump(mode="json"),
        created_at=now,
        available_at=now + delay if delay else now,
        attempts=0,
    )
    session.add(row)
    return row.id


async def claim_message(
    session: AsyncSession, processed: type[ProcessedMessageMixin], message_id: str, task_name: str
) -> bool:
    """True the first time a message is seen; record it in the consumer's transaction."""
    if await session.get(processed, message_id) is not None:
        return False
    session.add(processed(message_id=message_id, task_name=task_name))
    await session.flush()
    return True


# -- housekeeping ------------------------------------------------------------------------------
# Every service purges the messages it owns on the same schedule (each its `<service>.
# purge_expired` task, sent hourly by the relay; `portal purge` calls the same functions).

MESSAGE_RETENTION = dt.timedelta(days=30)
"""How long published outbox rows and handled-message ids are kept by default: far longer than
the relay's replay window (24 h) and any redelivery, so forgetting them cannot let a message be
handled twice; short enough that the tables do not grow forever."""


async def delete_in_chunks(
    db: Database,
    model: type[Any],
    *conditions: ColumnElement[bool],
    chunk: int = 2000,
    budget: float = 20.0,
) -> int:
    """Delete the rows of `model` matching `conditions`, `chunk` rows a transaction, until none
    is left or `budget` seconds are spent (the next run goes on): a first purge of a large
    backlog neither holds one long transaction nor outlives a worker's time limit."""
    (key,) = model.__mapper__.primary_key
    deadline = time.monotonic() + budget
    removed = 0
    while True:
        async with db.sessionmaker() as session:
            doomed = select(key).where(*conditions).limit(chunk)
            result = await session.execute(delete(model).where(key.in_(doomed)))
            await session.commit()
        count = int(getattr(result, "rowcount", 0) or 0)
        removed += count
        if count < chunk or time.monotonic() >= deadline:
            return removed


async def purge_published(
    db: Database, outbox: type[OutboxMixin], older_than: dt.timedelta = MESSAGE_RETENTION
) -> int:
    """Delete outbox rows published more than `older_than` ago. A row not published — pending,
    scheduled for a retry, failing to publish — is never deleted, however old."""
    cutoff = utcnow() - older_than
    return await delete_in_chunks(
        db, outbox, outbox.published_at.is_not(None), outbox.published_at < cutoff
    )


async def forget_processed(
    db: Database,
    processed: type[ProcessedMessageMixin],
    older_than: dt.timedelta = MESSAGE_RETENTION,
) -> int:
    """Forget the ids of messages handled more than `older_than` ago."""
    cutoff = utcnow() - older_than
    return await delete_in_chunks(db, processed, processed.processed_at < cutoff)


class Relay:
    """Publishes a service's pending outbox rows, oldest first."""

    def __init__(
        self,
        db: Database,
        outbox: type[OutboxMixin],
        celery: Celery,
        *,
        batch_size: int = 200,
        replay_window: float = 24 * 3600,
        epoch_check_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.celery = celery
        self.batch_size = batch_size
        self.replay_window = dt.timedelta(seconds=replay_window)
        self.epoch_check_interval = epoch_check_interval
        self.epoch_key = f"portal:outbox-epoch:{celery.main}"
        self._epoch: str | None = None
        self._epoch_checked = 0.0
        self._redis: redis.Redis | None = None

    def _broker(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                str(self.celery.conf.broker_url), socket_timeout=3, socket_connect_timeout=3
            )
        return self._redis

    async def check_broker_epoch(self) -> int:
        """Re-publish recent rows when Redis lost its data (the marker is missing or another
        one); returns how many rows were marked pending again. Raises when Redis is down."""
        now = asyncio.get_running_loop().time()
        if self._epoch is not None and now - self._epoch_checked < self.epoch_check_interval:
            return 0
        broker = self._broker()
        seen = broker.get(self.epoch_key)
        current = _text(seen)
        replayed = 0
        if current is None or (self._epoch is not None and current != self._epoch):
            replayed = await self.replay_recent()
            broker.set(self.epoch_key, new_id(), nx=True)  # or adopt another relay's marker
            seen = broker.get(self.epoch_key)
            current = _text(seen)
        self._epoch, self._epoch_checked = current, now
        return replayed

    async def replay_recent(self) -> int:
        """Mark the rows published within the replay window as pending again."""
        cutoff = utcnow() - self.replay_window
        async with self.db.sessionmaker() as session:
            result = await session.execute(
                update(self.outbox)
                .where(self.outbox.published_at.is_not(None), self.outbox.published_at >= cutoff)
                .values(published_at=None)
            )
            await session.commit()
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            log.warning(
                "relay %s: Redis holds no marker (it lost its data, or is new): re-publishing "
                "%d message(s) published since %s",
                self.celery.main,
                count,
                cutoff.isoformat(timespec="seconds"),
            )
        return count

    def _publish(self, row: OutboxMixin) -> None:
        self.celery.send_task(
            row.task_name,
            kwargs={"payload": row.payload},
            task_id=row.id,
            queue=queue_of(row.task_name),
            retry=False,
        )

    async def publish_pending(self) -> int:
        """One pass; returns how many rows were published. Raises when the broker is down,
        after marking what did go out."""
        await self.check_broker_epoch()
        async with self.db.sessionmaker() as session:
            query = (
                select(self.outbox)
                .where(self.outbox.published_at.is_(None), self.outbox.available_at <= utcnow())
                .order_by(self.outbox.available_at, self.outbox.created_at)
                .limit(self.batch_size)
            )
            if self.db.is_postgres:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.scalars(query)).all())
            published = 0
            try:
                for row in rows:
                    self._publish(row)
                    row.published_at = utcnow()
                    row.attempts += 1
                    published += 1
            except Exception as exc:
                if published < len(rows):
                    failed = rows[published]
                    failed.attempts += 1
                    failed.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                await session.commit()
                raise
            await session.commit()
            return published

    async def run(self, poll_interval: float, stop: asyncio.Event, beat: Any = None) -> None:
        backoff = poll_interval
        while not stop.is_set():
            try:
                published = await self.publish_pending()
                backoff = poll_interval
                if beat is not None:
                    beat()
                if published == self.batch_size:
                    continue
            except Exception as exc:
                log.warning("relay: publishing failed (%s); retrying in %.1fs", exc, backoff)
                backoff = min(backoff * 2, 5.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)

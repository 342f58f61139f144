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
import functools
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import asyncpg
import redis
from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    String,
    Text,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.contracts import Contract, queue_of
from services.kernel.db import Database, UTCDateTime, new_id, utcnow

if TYPE_CHECKING:  # an API process writes outbox rows and never needs Celery (issue 15)
    from celery import Celery
    from kombu import Producer

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


# -- the relay ---------------------------------------------------------------------------------
# On PostgreSQL an insert into `outbox` notifies the relay (a statement-level trigger calling
# pg_notify, made by each service's migration: NOTIFY is transactional, delivered at commit),
# which listens on one connection per database and publishes at once. Polling stays as the
# fallback: every `safety_interval` seconds in any case (nothing can be missed), every
# `poll_interval` on SQLite (no NOTIFY) and while the listening connection is down; and a row
# scheduled for later (`available_at`) wakes the relay when it falls due.

OUTBOX_CHANNEL = "portal_outbox"
"""The channel an insert into a service's outbox notifies (each service has its own database)."""

_NOTIFY_UP = (
    f"""CREATE OR REPLACE FUNCTION portal_outbox_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
    "FOR EACH STATEMENT EXECUTE FUNCTION portal_outbox_notify()",
)
_NOTIFY_DOWN = (
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    "DROP FUNCTION IF EXISTS portal_outbox_notify()",
)


def add_outbox_notify(op: Any) -> None:
    """Each service's migration that makes every insert into its `outbox` wake the relay (one
    notification per statement; PostgreSQL folds a transaction's identical ones into one).
    SQLite has no NOTIFY: there the relay polls. `op` is Alembic's."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in _NOTIFY_UP:
            op.execute(statement)


def drop_outbox_notify(op: Any) -> None:
    """The downgrade of `add_outbox_notify`."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in _NOTIFY_DOWN:
            op.execute(statement)


class OutboxListener:
    """The relay's one LISTEN connection to a service's database: each notification sets
    `wake`. When the connection is lost the relay polls, and `ensure` reconnects with a
    backoff; a ping every `ping_interval` finds a connection that died silently."""

    def __init__(
        self,
        db: Database,
        wake: asyncio.Event,
        name: str,
        *,
        ping_interval: float = 5.0,
        max_backoff: float = 10.0,
    ) -> None:
        self.db = db
        self.wake = wake
        self.name = name
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self._conn: asyncpg.Connection | None = None
        self._backoff = 0.5
        self._retry_at = 0.0
        self._pinged = 0.0
        self._lost_before = False
        self.app_name = f"{name} relay"
        """How the connection shows in `pg_stat_activity`."""

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def connection(self) -> Any:
        """The listening asyncpg connection, when it is up: the relay's passes run on it too."""
        return self._conn if self.listening else None

    def _notified(self, *_: object) -> None:
        self.wake.set()

    def _terminated(self, *_: object) -> None:
        self.wake.set()  # the relay sees the connection gone and polls meanwhile

    async def ensure(self) -> bool:
        """True when listening: connects (or reconnects, once the backoff allows) when not,
        and pings a connection idle for `ping_interval`. A new connection sets `wake`: what was
        committed while nobody listened is published by the next pass."""
        now = time.monotonic()
        if self._conn is not None:
            if not self._conn.is_closed() and now - self._pinged < self.ping_interval:
                return True
            if not self._conn.is_closed():
                try:
                    await self._conn.fetchval("SELECT 1", timeout=5)
                    self._pinged = now
                    return True
                except Exception as exc:
                    log.warning("relay %s: listening connection lost (%s)", self.name, exc)
            else:
                log.warning("relay %s: listening connection lost; polling", self.name)
            self._conn.terminate()
            self._conn = None
            self._lost_before = True
            self._retry_at = 0.0
        if now < self._retry_at:
            return False
        try:
            args, kwargs = self.db.engine.dialect.create_connect_args(self.db.engine.url)
            settings = {**kwargs.pop("server_settings", {}), "application_name": self.app_name}
            conn = await asyncpg.connect(*args, **kwargs, server_settings=settings, timeout=5)
            try:
                await conn.add_listener(OUTBOX_CHANNEL, self._notified)
            except BaseException:
                conn.terminate()
                raise
        except Exception as exc:
            log.warning(
                "relay %s: cannot listen for new messages (%s); polling, retrying in %.1fs",
                self.name,
                exc,
                self._backoff,
            )
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, self.max_backoff)
            self._lost_before = True
            return False
        conn.add_termination_listener(self._terminated)
        self._conn, self._pinged, self._backoff = conn, now, 0.5
        if self._lost_before:
            log.info("relay %s: listening for new messages again", self.name)
        self.wake.set()
        return True

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.wait_for(conn.close(), 2)
            except Exception:
                conn.terminate()


class Relay:
    """Publishes a service's pending outbox rows, oldest first: woken by the database's
    notifications (PostgreSQL), a row falling due, or the fallback poll."""

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
        self.next_due: dt.datetime | None = None
        """When the earliest row scheduled for later falls due (as of the last pass)."""
        self._epoch: str | None = None
        self._epoch_checked = 0.0
        self._redis: redis.Redis | None = None
        self._producer: Producer | None = None
        self.listener: OutboxListener | None = None
        """Set while `run` listens (PostgreSQL)."""

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
        async with self.db.engine.begin() as conn:
            result = await conn.execute(
                update(self.outbox)
                .where(self.outbox.published_at.is_not(None), self.outbox.published_at >= cutoff)
                .values(published_at=None)
            )
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

    def _batch_producer(self) -> Producer:
        """A producer on a broker connection of the relay's own, whose publishes kombu can
        group into one Redis pipeline per batch: a pipeline is refused with the workers'
        `retry_on_timeout` (a retried pipeline could push its messages twice), which the relay
        does not need: a batch that fails is not marked published and goes again whole."""
        if self._producer is None:
            options = {**self.celery.conf.broker_transport_options, "retry_on_timeout": False}
            connection = self.celery.connection_for_write(transport_options=options)
            self._producer = self.celery.amqp.Producer(connection, auto_declare=False)
        return self._producer

    def _drop_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                if producer.connection is not None:
                    producer.connection.release()

    def _publish(self, rows: list[tuple[str, str, Any, str]]) -> None:
        """Hand `rows` (id, task name, payload, queue) to the broker: one Redis round trip for
        the batch. Raises if the broker did not take them all (some may have gone: they go
        again, and consumers deduplicate). The queues are not declared (messages go to the
        queue named by the routing key; each worker declares its own), and the headers' repr
        of the arguments names the message rather than copying its payload."""
        producer = self._batch_producer()
        send_task = self.celery.send_task
        batch = cast(Any, producer).batch  # kombu >= 5.7; its type stubs predate it
        with batch(max_size=max(len(rows), 1) * 2):
            for row_id, task_name, payload, queue in rows:
                send_task(
                    task_name,
                    kwargs={"payload": payload},
                    task_id=row_id,
                    queue=queue,
                    retry=False,
                    producer=producer,
                    declare=[],
                    argsrepr="()",
                    kwargsrepr=f"{{'payload': <outbox message {row_id}>}}",
                )

    async def publish_pending(self, *, find_next: bool = True) -> int:
        """One pass; returns how many rows were published. Raises when the broker is down,
        after recording the failure on the rows. With `find_next`, also notes when the
        earliest row scheduled for later falls due (`next_due`).

        The due rows are claimed and marked published by one statement in a transaction that
        commits only once the broker took them: a failure rolls the marks back (and records
        the error), and until the commit other relays skip the rows (SKIP LOCKED).

        While listening (PostgreSQL), the pass runs on the listening connection with plain
        asyncpg: a pass is a few statements, and SQLAlchemy's async layer cost more CPU than
        the rest of the pass. Otherwise (SQLite; the listener down) through the engine."""
        await self.check_broker_epoch()
        now = utcnow()
        direct = self.listener.connection if self.listener is not None else None
        if direct is not None:
            return await self._publish_on(direct, now, find_next)
        async with self.db.engine.connect() as conn:
            result = await conn.execute(self._claim, {"now": now})
            claimed = sorted(result.all(), key=lambda row: (row[3], row[4]))  # RETURNING: any order
            ready, refused = [], []
            for row_id, task_name, payload, _, _ in claimed:
                try:
                    ready.append((row_id, task_name, payload, queue_of(task_name)))
                except ValueError as unknown:  # no consumer can take it: set aside
                    refused.append((row_id, unknown))
            try:
                if ready:
                    self._publish(ready)
            except Exception as exc:
                self._drop_producer()
                await conn.rollback()
                await conn.execute(
                    self._failed,
                    [{"row_id": r[0], "error": _error(exc), "later": None} for r in ready],
                )
                await conn.commit()
                raise
            if refused:  # looked at again in a minute (an operator's fix)
                for row_id, reason in refused:
                    log.error("relay %s: message %s refused: %s", self.celery.main, row_id, reason)
                later = now + dt.timedelta(minutes=1)
                await conn.execute(
                    self._failed,
                    [{"row_id": i, "error": _error(r), "later": later} for i, r in refused],
                )
            if find_next and len(claimed) < self.batch_size:
                self.next_due = await conn.scalar(self._next_due, {"now": now})
            await conn.commit()
        return len(ready)

    async def _publish_on(self, conn: Any, now: dt.datetime, find_next: bool) -> int:
        """`publish_pending` on an asyncpg connection (the same statements as `_claim`,
        `_failed` and `_next_due`, in PostgreSQL's SQL)."""
        sql = self._pg_sql
        transaction = conn.transaction()
        await transaction.start()
        try:
            claimed = sorted(await conn.fetch(sql["claim"], now), key=lambda r: (r[3], r[4]))
            ready, refused = [], []
            for row_id, task_name, payload, _, _ in claimed:
                try:
                    ready.append((row_id, task_name, json.loads(payload), queue_of(task_name)))
                except ValueError as unknown:  # no consumer can take it: set aside
                    refused.append((row_id, unknown))
            try:
                if ready:
                    self._publish(ready)
            except Exception as exc:
                self._drop_producer()
                await transaction.rollback()
                await conn.executemany(sql["failed"], [(r[0], _error(exc), None) for r in ready])
                raise
            if refused:
                for row_id, reason in refused:
                    log.error("relay %s: message %s refused: %s", self.celery.main, row_id, reason)
                later = now + dt.timedelta(minutes=1)
                await conn.executemany(sql["failed"], [(i, _error(r), later) for i, r in refused])
            if find_next and len(claimed) < self.batch_size:
                self.next_due = await conn.fetchval(sql["next_due"], now)
            await transaction.commit()
        except BaseException:
            if not transaction.is_completed() and not conn.is_closed():
                await transaction.rollback()
            raise
        return len(ready)

    @functools.cached_property
    def _pg_sql(self) -> dict[str, str]:
        table = self.outbox.__tablename__  # type: ignore[attr-defined]  # the service's model
        return {
            "claim": (
                f"UPDATE {table} SET published_at = $1, attempts = attempts + 1 "
                f"WHERE id IN (SELECT id FROM {table} "
                "WHERE published_at IS NULL AND available_at <= $1 "
                f"ORDER BY available_at, created_at LIMIT {int(self.batch_size)} "
                "FOR UPDATE SKIP LOCKED) "
                "RETURNING id, task_name, payload, available_at, created_at"
            ),
            "failed": (
                f"UPDATE {table} SET published_at = NULL, attempts = attempts + 1, "
                "last_error = $2, available_at = coalesce($3, available_at) WHERE id = $1"
            ),
            "next_due": (
                f"SELECT min(available_at) FROM {table} "
                "WHERE published_at IS NULL AND available_at > $1"
            ),
        }

    @functools.cached_property
    def _claim(self) -> Any:
        """Mark the oldest due rows published and return them (id, task name, payload,
        available_at, created_at). Built once: each pass then only binds `now`."""
        o = self.outbox
        due = (
            select(o.id)
            .where(o.published_at.is_(None), o.available_at <= bindparam("now"))
            .order_by(o.available_at, o.created_at)
            .limit(self.batch_size)
        )
        if self.db.is_postgres:
            due = due.with_for_update(skip_locked=True)
        return (
            update(o)
            .where(o.id.in_(due.scalar_subquery()))
            .values(published_at=bindparam("now"), attempts=o.attempts + 1)
            .returning(o.id, o.task_name, o.payload, o.available_at, o.created_at)
        )

    @functools.cached_property
    def _failed(self) -> Any:
        """Unmark a row that did not go (`row_id`), with its `error`, due again at `later`
        (None: as it was)."""
        o = self.outbox
        return (
            update(o)
            .where(o.id == bindparam("row_id"))
            .values(
                published_at=None,
                attempts=o.attempts + 1,
                last_error=bindparam("error"),
                available_at=func.coalesce(bindparam("later", type_=UTCDateTime()), o.available_at),
            )
        )

    @functools.cached_property
    def _next_due(self) -> Any:
        o = self.outbox
        return select(func.min(o.available_at)).where(
            o.published_at.is_(None), o.available_at > bindparam("now")
        )

    async def run(
        self,
        poll_interval: float,
        stop: asyncio.Event,
        beat: Callable[[], object] | None = None,
        *,
        safety_interval: float = 5.0,
        listen: bool = True,
        pass_spacing: float = 0.02,
    ) -> None:
        """Publish until `stop` is set: at once when notified (PostgreSQL, `listen`), when a
        scheduled row falls due, and every `safety_interval` seconds in any case; every
        `poll_interval` on SQLite or while the listening connection is down. Every second
        or so while idle: the heartbeat (`beat`) and the broker's marker.

        Passes start at most every `pass_spacing` seconds: an idle relay publishes a message
        as soon as it is committed, a busy one publishes what was committed meanwhile in one
        pass (one transaction and one Redis round trip for many messages)."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        stopping = asyncio.ensure_future(_set_when(stop, wake))
        listener = self.listener = (
            OutboxListener(self.db, wake, self.celery.main, ping_interval=safety_interval)
            if listen and self.db.is_postgres
            else None
        )
        backoff = poll_interval
        started = -pass_spacing
        try:
            while not stop.is_set():
                listening = listener is not None and await listener.ensure()
                gap = started + pass_spacing - loop.time()
                if gap > 0:
                    await asyncio.sleep(gap)
                wake.clear()
                started = loop.time()
                try:
                    # the earliest scheduled row matters only to a relay that would sleep long
                    published = await self.publish_pending(find_next=listening)
                except Exception as exc:
                    log.warning(
                        "relay %s: publishing failed (%s); retrying in %.1fs",
                        self.celery.main,
                        exc,
                        backoff,
                    )
                    timeout, backoff = backoff, min(backoff * 2, 5.0)
                    await self._idle(timeout, wake, None, listener)  # no heartbeat: failing
                    continue
                backoff = poll_interval
                if beat is not None:
                    beat()
                if published == self.batch_size:
                    continue
                timeout = safety_interval if listening else poll_interval
                if listening and self.next_due is not None:
                    due_in = (self.next_due - utcnow()).total_seconds()
                    timeout = min(timeout, max(due_in, 0.0))
                await self._idle(timeout, wake, beat, listener)
        finally:
            stopping.cancel()
            self.listener = None
            if listener is not None:
                await listener.close()
            self._drop_producer()

    async def _idle(
        self,
        seconds: float,
        wake: asyncio.Event,
        beat: Callable[[], object] | None,
        listener: OutboxListener | None,
    ) -> None:
        """Wait `seconds` or until woken, beating and checking the broker's marker
        about every `epoch_check_interval`; a lost listening connection or a replay of the
        broker's lost messages ends the wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not wake.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, self.epoch_check_interval))
            if wake.is_set() or loop.time() >= deadline:
                return
            if beat is not None:
                beat()
            if listener is not None and not listener.listening:
                return
            try:
                if await self.check_broker_epoch():
                    return
            except Exception as exc:  # Redis down: the next pass reports it
                log.debug("relay: broker marker not checked (%s)", exc)


def _error(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()

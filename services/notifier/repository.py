"""The notifier's queries, in two forms with one meaning.

- `PgDeliveries`: PostgreSQL through asyncpg directly, on a connection each lane keeps
  (`LaneConnections`), its statements prepared once per connection (asyncpg's statement cache).
  Delivering runs once per e-mail: through SQLAlchemy's session the same three statements and
  commit cost six times the CPU (statement building, cache keys, the session and its greenlet),
  most of an e-mail's cost.
- `SessionDeliveries`: SQLAlchemy Core on the table in a session, for SQLite (`make run`'s
  embedded database) and the operator's commands.

Either way an e-mail's delivery row is claimed (inserted, or locked if it exists), the attempt
recorded and, for a retry, its outbox row staged, all in the caller's one transaction."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import asyncpg
from sqlalchemy import Table, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.contracts import SendEmailV1
from services.kernel.db import conflict_insert, new_id, utcnow
from services.kernel.outbox import add_message
from services.notifier.models import PENDING, SENT, Delivery, OutboxMessage

T = TypeVar("T")
deliveries = cast(Table, Delivery.__table__)  # typed as any FromClause; a mapped class's is a Table
_claimed = (
    deliveries.c.message_id,
    deliveries.c.recipient,
    deliveries.c.template,
    deliveries.c.context,
    deliveries.c.status,
    deliveries.c.attempts,
)


@dataclass(frozen=True)
class Claimed:
    """A delivery row as its claim found it."""

    message_id: str
    recipient: str
    template: str
    context: dict[str, Any]
    status: str
    attempts: int


class Deliveries(Protocol):
    """The statements of one delivery attempt, in the caller's transaction."""

    async def claim(self, message: SendEmailV1) -> Claimed:
        """The message's delivery row, locked until the transaction ends: inserted the first
        time (one statement); a concurrent first insert waits for the other transaction, then
        finds and locks its row."""

    async def record_attempt(
        self,
        message_id: str,
        *,
        attempts: int,
        status: str | None,
        last_error: str | None,
        next_attempt_at: dt.datetime | None,
        sent_at: dt.datetime | None,
    ) -> None:
        """The attempt's outcome; a status or `sent_at` of None leaves the row's as it was."""

    async def schedule_retry(self, message: SendEmailV1, delay: dt.timedelta) -> None:
        """Stage the message in the outbox, to leave again after `delay`."""

    async def mark_sent(self, message: SendEmailV1) -> None:
        """Record a message the SMTP server took, whatever the database lost meanwhile (the
        transaction that claimed it may have been rolled back, its row with it)."""


# -- PostgreSQL, asyncpg directly ---------------------------------------------------------------

_COLUMNS = "message_id, recipient, template, context, status, attempts"
_INSERT = (
    "INSERT INTO deliveries (message_id, recipient, template, locale, context, status, "
    "attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
)
_CLAIM = f"{_INSERT} ON CONFLICT (message_id) DO NOTHING RETURNING {_COLUMNS}"
_LOCK = f"SELECT {_COLUMNS} FROM deliveries WHERE message_id = $1 FOR UPDATE"
_RECORD = (
    "UPDATE deliveries SET status = COALESCE($2, status), attempts = $3, last_error = $4, "
    "next_attempt_at = $5, sent_at = COALESCE($6, sent_at), updated_at = $7 "
    "WHERE message_id = $1"
)
_STAGE = (
    "INSERT INTO outbox (id, task_name, payload, created_at, available_at, attempts) "
    "VALUES ($1, $2, $3, $4, $5, 0)"
)


_MARK_SENT = (
    "INSERT INTO deliveries (message_id, recipient, template, locale, context, status, "
    "attempts, created_at, updated_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, "
    "$7) ON CONFLICT (message_id) DO UPDATE SET status = EXCLUDED.status, "
    "attempts = deliveries.attempts + 1, sent_at = EXCLUDED.sent_at, "
    "updated_at = EXCLUDED.updated_at, last_error = NULL, next_attempt_at = NULL"
)


def _claimed_row(row: asyncpg.Record) -> Claimed:
    context = row["context"]
    return Claimed(
        message_id=row["message_id"],
        recipient=row["recipient"],
        template=row["template"],
        context=json.loads(context) if isinstance(context, str) else context,
        status=row["status"],
        attempts=row["attempts"],
    )


class PgDeliveries:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def claim(self, message: SendEmailV1) -> Claimed:
        inserted = await self.connection.fetchrow(
            _CLAIM,
            message.message_id,
            str(message.to),
            message.template,
            message.locale,
            json.dumps(message.context),
            PENDING,
            0,
            utcnow(),
        )
        if inserted is not None:
            return _claimed_row(inserted)
        existing = await self.connection.fetchrow(_LOCK, message.message_id)
        assert existing is not None
        return _claimed_row(existing)

    async def record_attempt(
        self,
        message_id: str,
        *,
        attempts: int,
        status: str | None,
        last_error: str | None,
        next_attempt_at: dt.datetime | None,
        sent_at: dt.datetime | None,
    ) -> None:
        await self.connection.execute(
            _RECORD, message_id, status, attempts, last_error, next_attempt_at, sent_at, utcnow()
        )

    async def schedule_retry(self, message: SendEmailV1, delay: dt.timedelta) -> None:
        now = utcnow()
        await self.connection.execute(
            _STAGE,
            new_id(),
            message.TASK,
            json.dumps(message.model_dump(mode="json")),
            now,
            now + delay,
        )

    async def mark_sent(self, message: SendEmailV1) -> None:
        await self.connection.execute(
            _MARK_SENT,
            message.message_id,
            str(message.to),
            message.template,
            message.locale,
            json.dumps(message.context),
            SENT,
            utcnow(),
        )


class LaneConnections:
    """One asyncpg connection per lane of this process (a forked pool process opens its own),
    kept open across e-mails; one that met any error is closed and opened again next time,
    rather than trusted in an unknown state (a statement cut by a timeout, a server restart).

    A connection is taken out while it is in use and put back after: a batch cut short by its
    budget may still run on the event loop when the next batch takes the same lane, and two
    coroutines on one asyncpg connection fail ("another operation is in progress") — the fault
    suite lost two e-mails that way after a PostgreSQL restart. The second gets a connection of
    its own; one of them is closed when both come back."""

    def __init__(self, database_url: str) -> None:
        self.dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._connections: dict[tuple[int, int], asyncpg.Connection] = {}

    async def in_transaction(
        self, lane: int, work: Callable[[Deliveries], Awaitable[T]], *, connect_timeout: float
    ) -> T:
        """Run `work` in a transaction on the lane's connection and commit."""
        key = (os.getpid(), lane)
        connection = self._connections.pop(key, None)
        try:
            if connection is None or connection.is_closed():
                connection = await asyncpg.connect(self.dsn, timeout=connect_timeout)
            async with connection.transaction():
                result = await work(PgDeliveries(connection))
        except BaseException:
            if connection is not None:
                connection.terminate()
            raise
        if key in self._connections:  # another coroutine put one back meanwhile
            await connection.close()
        else:
            self._connections[key] = connection
        return result


# -- SQLAlchemy, for SQLite and the operator's commands ---------------------------------------


class SessionDeliveries:
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

    async def claim(self, message: SendEmailV1) -> Claimed:
        inserted = (
            await self.session.execute(
                self._insert(message, status=PENDING)
                .on_conflict_do_nothing(index_elements=["message_id"])
                .returning(*_claimed)
            )
        ).first()
        if inserted is None:
            inserted = (
                await self.session.execute(
                    select(*_claimed)
                    .where(deliveries.c.message_id == message.message_id)
                    .with_for_update()
                )
            ).first()
        assert inserted is not None
        return Claimed(**inserted._asdict())

    async def record_attempt(
        self,
        message_id: str,
        *,
        attempts: int,
        status: str | None,
        last_error: str | None,
        next_attempt_at: dt.datetime | None,
        sent_at: dt.datetime | None,
    ) -> None:
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": last_error,
            "next_attempt_at": next_attempt_at,
        }
        if status is not None:
            values["status"] = status
        if sent_at is not None:
            values["sent_at"] = sent_at
        await self.session.execute(
            update(deliveries)
            .where(deliveries.c.message_id == message_id)
            .values(updated_at=utcnow(), **values)
        )
        await self.session.flush()

    async def schedule_retry(self, message: SendEmailV1, delay: dt.timedelta) -> None:
        add_message(self.session, OutboxMessage, message, delay=delay)

    async def mark_sent(self, message: SendEmailV1) -> None:
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

"""The outbox relay (services/kernel/outbox.py) on a real database and a Redis of its own, with no
worker: what it publishes stays in the queue, where the test reads it. On PostgreSQL a committed
message is published because the database notifies the relay, not because a poll came round
(the polls here are 30 s apart); SQLite, which cannot notify, is polled; a row scheduled for
later goes out when due; a lost listening connection means polling until it is back; a broker
that refuses the messages leaves the rows pending, with the error."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
import redis
from celery import Celery

from services.kernel.contracts import SendEmailV1
from services.kernel.db import Database
from services.kernel.migrations import upgrade
from services.kernel.outbox import Relay, add_message
from services.kernel.settings import async_url
from services.notifier.models import OutboxMessage
from tests.support import (
    RedisServer,
    _create_databases,
    _drop_databases,
    _with_database,
    free_port,
    wait_until,
)

SLOW = 30.0
"""The polls' and safety passes' interval where the test shows that something else did it."""


@pytest.fixture
def pg_url(database_url: str) -> Iterator[str]:
    """A fresh database with the notifier's schema (its outbox, and the trigger that notifies)."""
    name = f"portal_relay_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_databases(database_url, [name]))
    url = async_url(_with_database(database_url, name))
    upgrade("notifier", url)
    yield url
    asyncio.run(_drop_databases(database_url, [name]))


def _message() -> SendEmailV1:
    return SendEmailV1(
        message_id=uuid.uuid4().hex,
        to="cong.dan@example.vn",
        template="password_reset",
        context={"code": "123456"},
    )


async def _commit(db: Database, delay: dt.timedelta | None = None) -> str:
    """Stage a message as a service does, in its own transaction; returns the row's id."""
    async with db.sessionmaker() as session:
        row_id = add_message(session, OutboxMessage, _message(), delay=delay)
        await session.commit()
    return row_id


async def _next_published(broker: redis.Redis, within: float) -> str | None:
    """The task id of the next message in the notifier queue, or None after `within` seconds."""
    got = await asyncio.to_thread(broker.blpop, ["notifier"], int(max(1, within)))
    if got is None:
        return None
    return str(json.loads(got[1])["headers"]["id"])


@asynccontextmanager
async def _running(
    db_url: str, broker_url: str, *, poll: float, safety: float = SLOW
) -> AsyncIterator[tuple[Relay, Database]]:
    db = Database(db_url)
    relay = Relay(db, OutboxMessage, Celery("portal-notifier", broker=broker_url))
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(poll, stop, safety_interval=safety))
    try:
        await asyncio.sleep(0.5)  # its first pass, and LISTEN
        yield relay, db
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await db.dispose()


async def _eventually(check: Callable[[], Awaitable[bool]], within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _listeners(url: str) -> list[int]:
    """The backends of `url`'s database that are listening (the relay's connection)."""
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'portal-notifier relay'"
        )
        return [int(r["pid"]) for r in rows]
    finally:
        await conn.close()


def test_a_committed_message_is_published_without_waiting_for_a_poll(
    pg_url: str, private_redis: RedisServer
) -> None:
    broker = redis.Redis.from_url(private_redis.url)

    async def scenario() -> None:
        async with _running(pg_url, private_redis.url, poll=SLOW) as (_, db):
            for _ in range(3):
                row_id = await _commit(db)
                assert await _next_published(broker, 5) == row_id

    asyncio.run(scenario())


def test_sqlite_is_polled(tmp_path: Path, private_redis: RedisServer) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    upgrade("notifier", url)
    broker = redis.Redis.from_url(private_redis.url)

    async def scenario() -> None:
        async with _running(url, private_redis.url, poll=0.1) as (_, db):
            row_id = await _commit(db)
            assert await _next_published(broker, 10) == row_id

    asyncio.run(scenario())


def test_a_row_scheduled_for_later_goes_out_when_due(
    pg_url: str, private_redis: RedisServer
) -> None:
    broker = redis.Redis.from_url(private_redis.url)

    async def scenario() -> None:
        async with _running(pg_url, private_redis.url, poll=SLOW) as (_, db):
            row_id = await _commit(db, delay=dt.timedelta(seconds=3))
            assert await _next_published(broker, 1) is None  # not before it is due
            assert await _next_published(broker, 10) == row_id  # and long before the poll

    asyncio.run(scenario())


def test_a_lost_listening_connection_means_polling_until_it_is_back(
    pg_url: str, private_redis: RedisServer
) -> None:
    broker = redis.Redis.from_url(private_redis.url)

    async def scenario() -> None:
        async with _running(pg_url, private_redis.url, poll=0.2) as (_, db):
            (listening,) = await _listeners(pg_url)
            conn = await asyncpg.connect(_asyncpg_dsn(pg_url))
            try:
                await conn.execute("SELECT pg_terminate_backend($1)", listening)
            finally:
                await conn.close()
            row_id = await _commit(db)
            assert await _next_published(broker, 10) == row_id

            async def listening_again() -> bool:
                return bool(set(await _listeners(pg_url)) - {listening})

            assert await _eventually(listening_again, 15)
            row_id = await _commit(db)
            assert await _next_published(broker, 5) == row_id

    asyncio.run(scenario())


@pytest.fixture
def redis_without_lpush(tmp_path: Path) -> Iterator[str]:
    """A Redis that answers (the relay's marker, its heartbeat) but refuses to queue anything:
    LPUSH, which publishing is, renamed away."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs redis-server installed to start a private Redis")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--rename-command",
            "LPUSH",
            "",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    wait_until(lambda: _answers(client), 10, what="redis-server to answer")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_rows_stay_pending_with_the_error_when_the_broker_refuses_them(
    pg_url: str, redis_without_lpush: str
) -> None:
    async def scenario() -> None:
        db = Database(pg_url)
        relay = Relay(db, OutboxMessage, Celery("portal-notifier", broker=redis_without_lpush))
        try:
            first, second = await _commit(db), await _commit(db)
            with pytest.raises(Exception):  # noqa: B017 (what kombu raises for the batch)
                await relay.publish_pending()
            async with db.sessionmaker() as session:
                for row_id in (first, second):
                    row = await session.get(OutboxMessage, row_id)
                    assert row is not None
                    assert row.published_at is None, "marked published, never queued"
                    assert row.attempts == 1 and row.last_error
        finally:
            await db.dispose()

    asyncio.run(scenario())

"""Async SQLAlchemy engines and sessions. Services flush; the edge (request or task) commits."""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

CONFLICT_DIALECTS = ("postgresql", "sqlite")
"""The databases whose INSERT takes ON CONFLICT clauses (both the portal runs on)."""


def conflict_insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of `table` that takes `on_conflict_do_nothing` / `on_conflict_do_update`: each
    database has its own dialect's insert() for them."""
    dialect = session.get_bind().dialect.name
    if dialect not in CONFLICT_DIALECTS:
        raise ValueError(f"no ON CONFLICT insert for {dialect}")
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware timestamps on PostgreSQL and SQLite alike (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(
        self, value: dt.datetime | None, dialect: object
    ) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:  # the DB-API connection
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # No ping before each checkout (a round trip per request, 8 % of a dossier request's time):
    # the first statement that meets a dropped connection fails (503, or a task's retry) and
    # SQLAlchemy then discards every connection opened before it.
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False)


class Database:
    """One engine and session factory per process for one service's database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def session(self) -> AsyncIterator[AsyncSession]:
        """FastAPI dependency: a session the route commits itself (commit at the edge, before
        the response leaves); anything not committed is rolled back."""
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


_databases: dict[tuple[str, int], Database] = {}


def database_for(url: str) -> Database:
    """The process's one Database for `url` (a forked worker process gets its own)."""
    key = (url, os.getpid())
    if key not in _databases:
        _databases[key] = Database(url)
    return _databases[key]


_ON_ROLLBACK = "portal.on_rollback"
_AFTER_COMMIT = "portal.after_commit"
EDGE_COMMITS = "portal.edge_commits"
"""`session.info` key: set on a request's session, whose route commits once the answer is
rendered (`services.kernel.web.PortalRoute`); `commit_through` then only rolls back."""

log = logging.getLogger("portal.db")


def on_rollback(session: AsyncSession, undo: Callable[[], Awaitable[object]]) -> None:
    """Run `undo` if the session's transaction rolls back: e.g. delete a file stored for a row
    that will not exist."""
    session.info.setdefault(_ON_ROLLBACK, []).append(undo)


def after_commit(session: AsyncSession, then: Callable[[], Awaitable[object]]) -> None:
    """Run `then` once the session's transaction is committed: e.g. delete the file of a row
    the transaction removed (before the commit, a failed commit would leave a row without it)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(then)


async def settle(session: AsyncSession, *, commit: bool) -> None:
    """End the session's transaction: commit and run what waits for the commit, or roll back
    and undo what was done outside the database (a failed commit rolls back too)."""
    if commit:
        try:
            await session.commit()
        except BaseException:
            await settle(session, commit=False)
            raise
        callbacks = session.info.pop(_AFTER_COMMIT, [])
        session.info.pop(_ON_ROLLBACK, None)
    else:
        try:
            await session.rollback()
        finally:
            callbacks = session.info.pop(_ON_ROLLBACK, [])
            session.info.pop(_AFTER_COMMIT, None)
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # the transaction is settled; a leftover file is only logged
            log.exception("%s work failed", "after-commit" if commit else "rollback")


async def commit_through(session: AsyncSession, awaitable: Awaitable[T]) -> T:
    """Run a service call and commit; any refusal (ProblemError) or failure rolls back all the
    call did. In a route (`PortalRoute`) the commit waits until the answer is rendered. The few
    records that must outlive a refusal (a sign-in failure, a wrong try at a code) are written
    on purpose in a transaction of their own (`own_transaction`)."""
    try:
        result = await awaitable
    except BaseException:
        await settle(session, commit=False)
        raise
    if not session.info.get(EDGE_COMMITS):
        await settle(session, commit=True)
    return result


@asynccontextmanager
async def own_transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A short transaction beside the request's, on the same engine, committed when the block
    ends: for a record that must stay whatever the request's answer is. Keep it to rows the
    request's transaction has not locked, or the two wait on each other."""
    async with AsyncSession(session.bind, expire_on_commit=False) as side, side.begin():
        yield side

"""The public reads' answers, kept per catalogue revision: each is encoded, hashed (its ETag) and
stored once per change of the catalogue, and a request the cache can answer costs one small
query — the revision, so a change made through any process is seen on the next request — and
the bytes sent as they are."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import select

from services.catalogue.models import CatalogueRevision
from services.kernel.db import Database


@dataclass(frozen=True, slots=True)
class Answer:
    """A read's answer as sent: the JSON bytes, their strong ETag, and what the route noted
    from the content when it was produced (the search log's total, the procedure's code)."""

    body: bytes
    etag: str
    noted: Any = None

    @classmethod
    def of(cls, content: Any, noted: Any = None) -> Answer:
        body = encode(content)
        return cls(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', noted)


def encode(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


class ReadCache:
    """Answers of this process, valid for one catalogue revision: a popular search or procedure
    page is computed once per change of the catalogue, not once per citizen."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.revision = -1
        self.entries: OrderedDict[str, Answer] = OrderedDict()

    def get(self, key: str, revision: int) -> Answer | None:
        if revision != self.revision:
            self.entries.clear()
            self.revision = revision
            return None
        answer = self.entries.get(key)
        if answer is not None:
            self.entries.move_to_end(key)
        return answer

    def put(self, key: str, revision: int, answer: Answer) -> None:
        if revision == self.revision:
            self.entries[key] = answer
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)


_REVISION = "SELECT revision FROM catalogue_revision"
_TRANSIENT_CODES = ("08", "53", "57P01", "57P02", "57P03")
"""Connection exceptions, the server out of resources or shutting down or starting up."""


class RevisionReader:
    """The catalogue's revision as it is now, without a session, a pool checkout or a
    transaction: on PostgreSQL one prepared statement on a connection of the reader's own.

    Every read returns the result of a query *sent after the read began*, so a change
    committed before a request arrived is always seen by it (in any API process). Requests
    that arrive while a query is in flight share the next one: under load the revision costs
    one round trip per batch of requests, not one each.

    A connection that fails is dropped (the next read opens another); the failure is a
    `ConnectionError` when it is a passing one, which the service answers 503, as a failed
    session's query was."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._connection: asyncpg.Connection | None = None
        self._statement: asyncpg.prepared_stmt.PreparedStatement | None = None
        self._next: asyncio.Future[int] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def read(self) -> int:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # another event loop (a test's): nothing of the last one
            if self._connection is not None:
                with contextlib.suppress(RuntimeError):  # its loop is closed: just drop it
                    self._connection.terminate()
            self._connection = self._statement = self._next = self._runner = None
            self._loop = loop
        if self._next is None:
            self._next = loop.create_future()
            if self._runner is None or self._runner.done():
                self._runner = asyncio.create_task(self._run())
        return await asyncio.shield(self._next)

    async def _run(self) -> None:
        while self._next is not None:
            waiting, self._next = self._next, None
            try:
                waiting.set_result(await self._query())
            except Exception as exc:  # given to every request that waits for this query
                waiting.set_exception(exc)
                # read here: a failure nobody waits for any more is not logged as unretrieved
                waiting.exception()

    async def _query(self) -> int:
        if not self.db.is_postgres:
            async with self.db.engine.connect() as connection:
                return int(await connection.scalar(select(CatalogueRevision.revision)) or 0)
        try:
            if self._statement is None:
                self._connection = await asyncpg.connect(self._dsn(), timeout=10)
                self._statement = await self._connection.prepare(_REVISION)
            return int(await self._statement.fetchval() or 0)
        except Exception as exc:
            await self.close()
            if _transient(exc):
                raise ConnectionError(f"catalogue revision unreadable: {exc!r}") from exc
            raise

    def _dsn(self) -> str:
        url = self.db.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def close(self) -> None:
        connection, self._connection, self._statement = self._connection, None, None
        if connection is not None and not connection.is_closed():
            try:
                await asyncio.wait_for(connection.close(), 5)
            except Exception:  # a broken connection: nothing to close politely
                connection.terminate()


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    code = getattr(exc, "sqlstate", None)
    return isinstance(code, str) and code.startswith(_TRANSIENT_CODES)

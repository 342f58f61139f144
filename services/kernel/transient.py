"""Telling a passing infrastructure fault (the database restarting, a dropped connection) from
a bug, so a consumer retries the first instead of dropping the message: Celery acknowledges a
late-acked task that raised, and its message would be gone."""

from __future__ import annotations

import random
from typing import Any, NoReturn

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLSTATE classes and codes that say "try again": connection exceptions (08…), the server
# shutting down or starting up (57P01–57P03), serialization failures and deadlocks.
_TRANSIENT_CODES = ("08", "57P01", "57P02", "57P03", "40001", "40P01")


def is_transient(exc: BaseException) -> bool:
    if isinstance(
        exc,
        OSError
        | TimeoutError
        | OperationalError
        | InterfaceError
        | RedisConnectionError
        | RedisTimeoutError,
    ):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(code, str) and code.startswith(_TRANSIENT_CODES)
    # asyncpg's own errors, where it is used without SQLAlchemy (the notifier's deliveries):
    # its InterfaceError is a connection closed or in use, like the DB-API's
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError):
        # InternalClientError: the connection's protocol in a state it should not be in (e.g.
        # "another operation is in progress"); the connection is dropped, a retry takes a new one
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return isinstance(exc.sqlstate, str) and exc.sqlstate.startswith(_TRANSIENT_CODES)
    return False


def retry_transient(task: Any, exc: BaseException, cap: float = 30.0) -> NoReturn:
    """Re-raise `exc` unless it is transient; then retry the task after a short exponential
    backoff with jitter (1 s, 2 s, 4 s… up to `cap`), for as long as the fault lasts."""
    if not is_transient(exc):
        raise exc
    ceiling = min(cap, 2.0 ** min(task.request.retries, 10))
    raise task.retry(exc=exc, countdown=random.uniform(ceiling / 2, ceiling), max_retries=None)

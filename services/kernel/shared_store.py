"""What every service must agree on at once, kept in Redis (`REDIS_URL`, which every process
already has): spent captcha ids (services/kernel/captcha.py) and revoked sessions
(services/kernel/revocation.py). A database of one service cannot hold these: the services
share no database.

One asyncio client per process, Redis URL and event loop (an API process has one loop; a
worker process one persistent loop; tests may run several). Short socket timeouts: these are
checks on a request's path, and each caller decides what a Redis that does not answer means."""

from __future__ import annotations

import asyncio
import weakref

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["RedisError", "shared_redis"]

SOCKET_TIMEOUT = 0.5
"""Seconds a request waits for Redis before treating it as unreachable."""

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


def shared_redis(url: str) -> aioredis.Redis:
    """The process's client for `url` on the running event loop."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            health_check_interval=30,
        )
        per_loop[url] = client
    return client

"""Liveness and readiness: workers and relays leave short-lived heartbeats in Redis; readiness
checks the database, Redis and, for the gateway, that every queue has a worker and every outbox
a relay."""

from __future__ import annotations

import logging
import time

import redis

log = logging.getLogger("portal.health")

PREFIX = "portal:heartbeat"


class Heartbeat:
    INTERVAL = 3.0
    TTL = 15

    def __init__(self, redis_url: str, kind: str, name: str, instance: str) -> None:
        self.client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.key = f"{PREFIX}:{kind}:{name}:{instance}"
        self._last = 0.0

    def safe_beat(self) -> None:
        now = time.monotonic()
        if now - self._last < self.INTERVAL:
            return
        try:
            self.client.set(self.key, str(time.time()), ex=self.TTL)
            self._last = now
        except redis.RedisError as exc:
            log.debug("heartbeat not written: %s", exc)


async def alive_instances(client: redis.asyncio.Redis, kind: str, name: str) -> int:
    count = 0
    async for _ in client.scan_iter(match=f"{PREFIX}:{kind}:{name}:*", count=100):
        count += 1
    return count

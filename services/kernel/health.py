"""Liveness and readiness. Workers and relays leave heartbeats in Redis; readiness checks the
database, Redis and, for the gateway, that every queue has a worker and every outbox a relay.

Heartbeats are kept so that one round trip reads them all: one sorted set per kind
(`portal:heartbeats:worker`, `portal:heartbeats:relay`) whose members are `<name>:<instance>`
scored with Redis's own clock at the beat, so a skewed clock on a worker's machine cannot keep a
dead instance alive or a live one dead. An instance is alive while its score is less than
`Heartbeat.TTL` seconds old; writers drop the members older than that, and a set whose writers
all stopped expires with them. (It was a key per instance, found by SCANs over the whole
keyspace: a dozen SCANs per `/healthz`, each growing with the sessions Redis holds.)"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

import redis
import redis.asyncio as aioredis
from sqlalchemy import text

from services.kernel.db import Database

log = logging.getLogger("portal.health")

KEY = "portal:heartbeats:{kind}"
KINDS = ("worker", "relay")
REDIS_TIMEOUT = 2.0
"""Seconds a health check waits for Redis before calling it down."""


def heartbeat_key(kind: str) -> str:
    return KEY.format(kind=kind)


def _seconds(server_time: tuple[int, int]) -> float:
    """Redis's TIME (seconds, microseconds) as seconds."""
    return server_time[0] + server_time[1] / 1_000_000


class Heartbeat:
    """One process's heartbeat (blocking client: a worker's thread, the relay's loop between
    polls). `safe_beat` writes at most every `INTERVAL` seconds and never raises."""

    INTERVAL = 3.0
    TTL = 15

    def __init__(self, redis_url: str, kind: str, name: str, instance: str) -> None:
        self.client = redis.Redis.from_url(
            redis_url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self.key = heartbeat_key(kind)
        self.member = f"{name}:{instance}"
        self._last = 0.0

    def beat(self) -> None:
        """Say this instance is alive now (raises RedisError when Redis does not answer)."""
        now = _seconds(self.client.time())
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zadd(self.key, {self.member: now})
            pipe.zremrangebyscore(self.key, "-inf", now - self.TTL)
            pipe.expire(self.key, self.TTL)
            pipe.execute()

    def safe_beat(self) -> None:
        now = time.monotonic()
        if now - self._last < self.INTERVAL:
            return
        try:
            self.beat()
            self._last = now
        except redis.RedisError as exc:
            log.debug("heartbeat not written: %s", exc)

    def stop(self) -> None:
        """This instance stops: gone from the readers' view at once, not `TTL` later."""
        try:
            self.client.zrem(self.key, self.member)
        except redis.RedisError as exc:
            log.debug("heartbeat not removed: %s", exc)


def health_redis(redis_url: str) -> aioredis.Redis:
    """A pooled client for health checks: made once per app, its connection kept across calls
    (a client per call cost a connection, a handshake and a close on every probe)."""
    return aioredis.Redis.from_url(
        redis_url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
    )


def _error(exc: BaseException) -> str:
    return f"error: {type(exc).__name__}"


async def database_check(db: Database) -> str:
    """`ok` when the database answers `SELECT 1` on a pooled connection."""
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return _error(exc)


async def redis_check(client: aioredis.Redis) -> str:
    try:
        await client.ping()
        return "ok"
    except Exception as exc:
        return _error(exc)


async def alive(client: aioredis.Redis, kinds: Iterable[str] = KINDS) -> dict[str, set[str]]:
    """The names (queues, services) with at least one live instance, by kind: one pipelined
    round trip (Redis's clock and every kind's set). Raises when Redis does not answer."""
    kinds = tuple(kinds)
    async with client.pipeline(transaction=False) as pipe:
        pipe.time()
        for kind in kinds:
            pipe.zrange(heartbeat_key(kind), 0, -1, withscores=True)
        server_time, *beats = await pipe.execute()
    oldest = _seconds(server_time) - Heartbeat.TTL
    return {
        kind: {member.decode().split(":", 1)[0] for member, score in members if score > oldest}
        for kind, members in zip(kinds, beats, strict=True)
    }


class OkCache:
    """A readiness check whose `ok` answer is reused for `seconds` (1 s): a load balancer or
    `portal run` asking every few seconds gets at worst an `ok` one second stale, and a burst
    of probes costs one check. A failing answer is never reused: a starting process is seen
    ready at the first probe after it is, a failing one at once."""

    def __init__(
        self, check: Callable[[], Awaitable[dict[str, str]]], seconds: float = 1.0
    ) -> None:
        self.check = check
        self.seconds = seconds
        self._ok: dict[str, str] | None = None
        self._ok_until = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> dict[str, str]:
        """Every check by name: `ok`, or what is wrong (`missing`, `error: …`)."""
        if self._ok is not None and time.monotonic() < self._ok_until:
            return self._ok
        async with self._lock:  # concurrent probes wait for one check rather than each run it
            if self._ok is not None and time.monotonic() < self._ok_until:
                return self._ok
            checks = await self.check()
            if all(v == "ok" for v in checks.values()):
                self._ok, self._ok_until = checks, time.monotonic() + self.seconds
            else:
                self._ok = None
            return checks


class PortalHealth:
    """The whole portal's readiness as the local gateway's `/healthz` reports it: each
    service's database, Redis, a worker per queue and a relay per outbox — checked at once
    (the databases on their pooled connections, the heartbeats in one round trip); an `ok`
    is reused for `cache_seconds` (`OkCache`)."""

    def __init__(
        self,
        databases: dict[str, Database],
        redis_url: str,
        queues: Iterable[str],
        outboxes: Iterable[str],
        *,
        cache_seconds: float = 1.0,
    ) -> None:
        self.databases = databases
        self.client = health_redis(redis_url)
        self.queues = tuple(queues)
        self.outboxes = tuple(outboxes)
        self.checks = OkCache(self._check, cache_seconds)

    async def _check(self) -> dict[str, str]:
        async def heartbeats() -> dict[str, set[str]] | BaseException:
            try:
                return await alive(self.client)
            except Exception as exc:
                return exc

        databases = asyncio.gather(*(database_check(db) for db in self.databases.values()))
        answers, beats = await asyncio.gather(databases, heartbeats())
        checks = {f"{name}.database": d for name, d in zip(self.databases, answers, strict=True)}
        if isinstance(beats, BaseException):
            checks["redis"] = _error(beats)
            checks["heartbeats"] = _error(beats)
            return checks
        checks["redis"] = "ok"
        for queue in self.queues:
            checks[f"{queue}.worker"] = "ok" if queue in beats["worker"] else "missing"
        for service in self.outboxes:
            checks[f"{service}.relay"] = "ok" if service in beats["relay"] else "missing"
        return checks

    async def close(self) -> None:
        await self.client.aclose()

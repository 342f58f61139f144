"""Health checks as `portal run`, a load balancer and an operator see them: what is missing is
named, a dead instance's old heartbeat does not count, probes reuse one Redis connection, and a
worker's heartbeat is there as soon as it consumes and gone as soon as it stops."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from services.kernel.db import Database
from services.kernel.health import Heartbeat, PortalHealth, alive, health_redis, heartbeat_key
from tests.support import ROOT, RedisServer, wait_until


def _health(redis_url: str, tmp_path: Path) -> PortalHealth:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}")
    return PortalHealth(
        {"accounts": db}, redis_url, ["accounts", "notifier"], ["accounts"], cache_seconds=0
    )


def test_readiness_names_what_is_missing_until_every_part_beats(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    async def main() -> None:
        health = _health(private_redis.url, tmp_path)
        assert await health.checks() == {
            "accounts.database": "ok",
            "redis": "ok",
            "accounts.worker": "missing",
            "notifier.worker": "missing",
            "accounts.relay": "missing",
        }
        Heartbeat(private_redis.url, "worker", "accounts", "host-1").beat()
        Heartbeat(private_redis.url, "relay", "accounts", "host-2").beat()
        checks = await health.checks()
        assert checks["notifier.worker"] == "missing"
        assert {v for k, v in checks.items() if k != "notifier.worker"} == {"ok"}
        Heartbeat(private_redis.url, "worker", "notifier", "host-3").beat()
        assert set((await health.checks()).values()) == {"ok"}
        await health.close()

    asyncio.run(main())


def test_a_heartbeat_older_than_its_ttl_is_not_an_instance(private_redis: RedisServer) -> None:
    """A killed worker leaves its last beat behind; it stops counting after the TTL, measured
    on Redis's clock."""
    client = redis.Redis.from_url(private_redis.url)
    seconds, micros = client.time()
    now = seconds + micros / 1e6
    client.zadd(heartbeat_key("worker"), {"accounts:killed-7": now - Heartbeat.TTL - 1})
    client.zadd(heartbeat_key("worker"), {"dossiers:alive-8": now - 1})

    async def main() -> dict[str, set[str]]:
        health_client = health_redis(private_redis.url)
        try:
            return await alive(health_client)
        finally:
            await health_client.aclose()

    assert asyncio.run(main()) == {"worker": {"dossiers"}, "relay": set()}


def test_probes_reuse_one_redis_connection(private_redis: RedisServer, tmp_path: Path) -> None:
    """A probe every few seconds from every load balancer: no connection (and handshake) each."""
    client = redis.Redis.from_url(private_redis.url)
    for kind in ("worker", "relay"):
        Heartbeat(private_redis.url, kind, "accounts", "host-1").beat()
    Heartbeat(private_redis.url, "worker", "notifier", "host-1").beat()

    def connections() -> int:
        return int(client.info("stats")["total_connections_received"])

    async def main() -> None:
        health = _health(private_redis.url, tmp_path)
        before = connections()
        for _ in range(30):
            assert set((await health.checks()).values()) == {"ok"}
        assert connections() - before == 1
        await health.close()

    asyncio.run(main())


def test_a_worker_beats_when_it_consumes_and_not_once_it_stopped(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(private_redis.url)
    env = {
        **os.environ,
        "REDIS_URL": private_redis.url,
        "PORTAL_DATA_DIR": str(tmp_path / "var"),
        "PORTAL_ENV": "test",
    }
    env.pop("ACCOUNTS_DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "portal", "worker", "accounts"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        member = wait_until(
            lambda: [
                m
                for m in client.zrange(heartbeat_key("worker"), 0, -1)
                if m.endswith(f"-{worker.pid}".encode())
            ],
            60,
            what="the worker's heartbeat",
        )
        assert member[0].startswith(b"accounts:")
    finally:
        worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        worker.wait(30)
    # gone with the worker, not TTL seconds later: /healthz says "missing" at once
    assert client.zrange(heartbeat_key("worker"), 0, -1) == []

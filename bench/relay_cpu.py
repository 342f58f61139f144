"""The outbox relay's cost, measured on its own process (issue 15): CPU while idle, CPU per
message published, and the delay from a message's commit to its arrival in Redis.

It runs `portal relay accounts catalogue dossiers notifier` (the four services' relays in one
process, as `portal run` and deployment run them) on fresh PostgreSQL databases and a private
redis-server, with no worker: messages stay in the Redis queue, where this script takes them.
CPU is read from /proc (psutil: user + system time of the relay and its children), which is far
less noisy than wall time on a shared machine; wall times are printed beside it.

    .venv/bin/python -m bench.relay_cpu                       # the defaults below
    .venv/bin/python -m bench.relay_cpu --idle 30 --latency 100 --stream 2000 --rate 200 \
        --burst 2000 --json bench/results/relay.json

Phases: idle (`--idle` s after a warm-up), latency (`--latency` messages one after another,
each committed alone, the time until it is in Redis), stream (`--stream` messages committed one
per transaction at `--rate` per second from four connections, until all are published), burst
(`--burst` messages in one transaction)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from services.kernel.registry import SERVICES  # noqa: E402
from tests.support import (  # noqa: E402
    RedisServer,
    _create_databases,
    _drop_databases,
    _with_database,
    wait_until,
)

SERVICE = "dossiers"
"""The outbox the messages are staged in (any service's would do: one relay process serves all
four, and the other three stay idle meanwhile, as they do under most real load)."""
QUEUE = "notifier"
INSERT = (
    "INSERT INTO outbox (id, task_name, payload, created_at, available_at, attempts) "
    "SELECT md5(random()::text || i), 'notifier.send_email', $1::json, now(), now(), 0 "
    "FROM generate_series(1, $2) AS i"
)


def payload() -> str:
    """What the dossiers service stages for a status change e-mail (SendEmailV1)."""
    return json.dumps(
        {
            "version": 1,
            "message_id": uuid.uuid4().hex,
            "to": "cong.dan.0123456789@example.vn",
            "template": "dossier_status",
            "locale": "vi",
            "context": {
                "name": "Nguyễn Văn An",
                "dossier_code": "000.00.12.H27-261201-0001",
                "procedure": "Đăng ký khai sinh",
                "status": "Đang xử lý",
                "url": "http://127.0.0.1:8000/ho-so/0123456789abcdef",
            },
        }
    )


class Relay:
    """The relay process and its CPU clock."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "relay", *SERVICES],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.ps = psutil.Process(self.proc.pid)

    def cpu(self) -> float:
        """Seconds of CPU the relay (and any child) has used so far."""
        t = self.ps.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def stage(dsn: str, count: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(INSERT, payload(), count)
    finally:
        await conn.close()


async def pending(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    finally:
        await conn.close()


async def latency(dsn: str, broker: redis.Redis, count: int) -> list[float]:
    """Milliseconds from each message's commit (returned to the client) to its arrival."""
    conn = await asyncpg.connect(dsn)
    delays = []
    try:
        for i in range(count):
            await asyncio.sleep(0.05 + (i % 7) * 0.03)  # the relay idle, at varied phases
            await conn.execute(INSERT, payload(), 1)
            committed = time.perf_counter()
            got = await asyncio.to_thread(broker.blpop, [QUEUE], 10)
            if got is None:
                raise RuntimeError("a committed message was not published within 10 s")
            delays.append((time.perf_counter() - committed) * 1000)
    finally:
        await conn.close()
    return delays


async def stream(dsn: str, count: int, rate: float, connections: int = 4) -> None:
    """`count` messages, one per transaction, at `rate` per second in all."""
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    start = time.perf_counter()

    async def one(k: int) -> None:
        for i in range(k, count, connections):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await conns[k].execute(INSERT, payload(), 1)

    try:
        await asyncio.gather(*(one(k) for k in range(connections)))
    finally:
        for c in conns:
            await c.close()


def drain(broker: redis.Redis, dsn: str, count: int, timeout: float = 120) -> None:
    wait_until(lambda: asyncio.run(pending(dsn)) == 0, timeout, interval=0.2, what="the outbox")
    wait_until(lambda: broker.llen(QUEUE) >= count, timeout, what=f"{count} messages in Redis")
    broker.delete(QUEUE)


def measure(args: argparse.Namespace, database_url: str, redis_url: str, work: Path) -> dict:
    names = {s: f"bench_relay_{uuid.uuid4().hex[:8]}_{s}" for s in SERVICES}
    asyncio.run(_create_databases(database_url, list(names.values())))
    relay: Relay | None = None
    try:
        urls = {s: _with_database(database_url, n) for s, n in names.items()}
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.update(
            REDIS_URL=redis_url,
            PORTAL_ENV="test",
            PORTAL_DATA_DIR=str(work / "var"),
            PORTAL_METRICS_PORT="0",
            **{f"{s.upper()}_DATABASE_URL": u for s, u in urls.items()},
            **args.env,
        )
        subprocess.run(
            [sys.executable, "-m", "portal", "migrate"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        broker = redis.Redis.from_url(redis_url)
        relay = Relay(env, work / "relay.log")
        wait_until(
            lambda: len(broker.keys("portal:heartbeat:relay:*")) == len(SERVICES),
            600,  # a loaded machine starts Python slowly
            what="the relays' heartbeats",
        )
        dsn = urls[SERVICE]
        asyncio.run(stage(dsn, 10))  # first-use costs (connections, compiled statements) out
        drain(broker, dsn, 10)
        time.sleep(args.warmup)
        out: dict[str, Any] = {"env": args.env}

        cpu0, wall0 = relay.cpu(), time.perf_counter()
        time.sleep(args.idle)
        idle_cpu, idle_wall = relay.cpu() - cpu0, time.perf_counter() - wall0
        out["idle_core_percent"] = round(100 * idle_cpu / idle_wall, 2)

        if args.latency:
            cpu0 = relay.cpu()
            delays = asyncio.run(latency(dsn, broker, args.latency))
            out["latency_ms"] = {
                "median": round(percentile(delays, 50), 1),
                "p95": round(percentile(delays, 95), 1),
                "max": round(max(delays), 1),
            }
            out["latency_cpu_ms_per_message"] = round(1000 * (relay.cpu() - cpu0) / args.latency, 3)

        for phase, count in (("stream", args.stream), ("burst", args.burst)):
            if not count:
                continue
            cpu0, wall0 = relay.cpu(), time.perf_counter()
            if phase == "stream":
                asyncio.run(stream(dsn, count, args.rate))
            else:
                asyncio.run(stage(dsn, count))
            drain(broker, dsn, count)
            cpu, wall = relay.cpu() - cpu0, time.perf_counter() - wall0
            out[phase] = {
                "messages": count,
                "wall_s": round(wall, 2),
                "cpu_ms_per_message": round(1000 * cpu / count, 3),
                # less what the relay would have spent idle meanwhile
                "marginal_cpu_ms_per_message": round(
                    1000 * (cpu - idle_cpu / idle_wall * wall) / count, 3
                ),
                "relay_core_percent": round(100 * cpu / wall, 1),
            }
            if phase == "stream":
                out[phase]["rate_per_s"] = args.rate
        return out
    finally:
        if relay is not None:
            relay.stop()
        asyncio.run(_drop_databases(database_url, list(names.values())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument("--redis-url", help="default: a private redis-server")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--idle", type=float, default=30)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument("--stream", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument(
        "--set",
        dest="env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the relay (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    args.env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        work = Path(tmp)
        server = None
        redis_url = args.redis_url
        if not redis_url:
            server = RedisServer(work)
            server.start()
            redis_url = server.url
        try:
            result = measure(args, args.database_url, redis_url, work)
        except BaseException:
            log = work / "relay.log"
            if log.exists():
                print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            if server is not None:
                server.stop()
    result["machine"] = machine()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

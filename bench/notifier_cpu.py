"""The notifier worker's CPU per e-mail, one at a time and in a burst (issue 15).

    uv run python -m bench.notifier_cpu                 # 300 one at a time, a burst of 1000
    uv run python -m bench.notifier_cpu --one 500 --burst 2000 --concurrency 2

It starts, each in its own process: a private redis-server, an SMTP sink (aiosmtpd, counting
what it receives), and `portal worker notifier` on a fresh PostgreSQL database. Then:

- one at a time: sends a SendEmailV1 task, waits until the sink has it, sends the next (as each
  status change of a dossier sends one e-mail);
- a burst: `--burst` tasks at once, until all arrived; and raw aiosmtplib sending the same
  rendered message over as many connections as the worker keeps (pool processes × lanes).

CPU is utime+stime of the worker's main process and its pool processes (psutil), the delta
over each run divided by the e-mails; wall time is printed beside it. The sink, Redis,
PostgreSQL and this process are not counted."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from tests.support import (
    ROOT,
    RedisServer,
    _create_databases,
    _drop_databases,
    _with_database,
    free_port,
    wait_until,
)

CONTEXT = {"full_name": "Người Thử", "email": "x@example.vn", "code": "123456", "valid_minutes": 30}


def _sink(port: int, received: Any, ready: Any, stop: Any) -> None:
    """The SMTP server, in a process of its own (its CPU is not the worker's)."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with received.get_lock():
                received.value += 1
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def tree_cpu(pid: int) -> float:
    """utime+stime of a process and its live children, in seconds."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def own_cpu(pid: int) -> float:
    """utime+stime of one process, in seconds."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def task_payload(tag: str, i: int) -> dict[str, Any]:
    from services.kernel.contracts import SendEmailV1

    message = SendEmailV1(
        message_id=uuid.uuid4().hex,
        to=f"bench.{tag}.{i}@example.vn",
        template="password_reset",
        context=CONTEXT,
    )
    return message.model_dump(mode="json")


async def raw_smtp(port: int, count: int, connections: int) -> float:
    """Seconds for aiosmtplib to send `count` rendered messages over `connections` reused
    connections, one sender each."""
    import aiosmtplib

    from services.notifier.mailer import build_message, render

    email = render("password_reset", CONTEXT)
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=port) for _ in range(connections)]
    for client in clients:
        await client.connect()

    async def sender(client: aiosmtplib.SMTP, numbers: range) -> None:
        for i in numbers:
            message = build_message(
                "Cổng DVC <no-reply@example.vn>", f"raw.{i}@example.vn", uuid.uuid4().hex, email
            )
            await client.send_message(message)

    begun = time.perf_counter()
    await asyncio.gather(*(sender(c, range(k, count, connections)) for k, c in enumerate(clients)))
    elapsed = time.perf_counter() - begun
    for client in clients:
        await client.quit()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, default=300, help="e-mails sent one at a time")
    parser.add_argument("--burst", type=int, default=1000, help="e-mails in the burst")
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's pool processes")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--profile-seconds",
        type=float,
        default=0,
        help="py-spy record the first pool process this long during the one-at-a-time run",
    )
    args = parser.parse_args()

    from celery import Celery

    from services.kernel.migrations import upgrade
    from services.kernel.settings import async_url
    from services.notifier.settings import get_settings

    lanes = get_settings().lanes
    workdir = Path(tempfile.mkdtemp(prefix="notifier-cpu-"))
    redis = RedisServer(workdir)
    redis.start()
    name = f"notifier_cpu_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_databases(args.database_url, [name]))
    database_url = _with_database(args.database_url, name)
    upgrade("notifier", async_url(database_url))

    context = multiprocessing.get_context("spawn")
    received = context.Value("q", 0)
    ready, stop = context.Event(), context.Event()
    smtp_port = free_port()
    sink = context.Process(target=_sink, args=(smtp_port, received, ready, stop), daemon=True)
    sink.start()
    ready.wait(30)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "SMTP_"))}
    env.update(
        PORTAL_ENV="test",
        REDIS_URL=redis.url,
        NOTIFIER_DATABASE_URL=database_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        PORTAL_DATA_DIR=str(workdir / "var"),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "portal", "worker", "notifier"]
        + ["--concurrency", str(args.concurrency)],
        env=env,
        cwd=ROOT,
        stdout=open(workdir / "worker.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    app = Celery(broker=redis.url)
    tag = uuid.uuid4().hex[:6]
    figures: dict[str, Any] = {"pool_processes": args.concurrency, "lanes": lanes}

    def send(i: int) -> None:
        app.send_task(
            "notifier.send_email", kwargs={"payload": task_payload(tag, i)}, queue="notifier"
        )

    def arrived(count: int, timeout: float = 60) -> None:
        wait_until(lambda: received.value >= count, timeout, interval=0.001, what="e-mails")

    try:
        # warm up: every pool process connected to the database and the SMTP server
        for i in range(20):
            send(i)
        arrived(20, 600)  # the worker started (slow on a loaded machine) and warm
        time.sleep(1.0)

        profilers = []
        if args.profile_seconds:
            main_pid = worker.pid
            pool_pid = psutil.Process(worker.pid).children()[0].pid
            for role, pid in (("main", main_pid), ("pool", pool_pid)):
                out = workdir / f"one-{role}.txt"
                command = [str(ROOT / ".venv/bin/py-spy"), "record", "-r", "200", "-p", str(pid)]
                command += ["-d", str(int(args.profile_seconds)), "--gil"]
                command += ["--format", "raw", "-o", str(out)]
                with open(workdir / f"py-spy-{role}.log", "wb") as errors:
                    profilers.append(
                        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
                    )
            print(f"profiles (collapsed stacks): {workdir}/one-main.txt, one-pool.txt")
            time.sleep(1.0)
        idle0 = tree_cpu(worker.pid)
        time.sleep(5.0)
        figures["idle_cpu_ms_per_s"] = 1000 * (tree_cpu(worker.pid) - idle0) / 5.0
        base = received.value
        main0 = own_cpu(worker.pid)
        cpu0, wall0 = tree_cpu(worker.pid), time.perf_counter()
        for i in range(args.one):
            send(1000 + i)
            arrived(base + i + 1)
        cpu, wall = tree_cpu(worker.pid) - cpu0, time.perf_counter() - wall0
        figures["one_at_a_time"] = {
            "emails": args.one,
            "cpu_ms_per_email": 1000 * cpu / args.one,
            "main_process_cpu_ms_per_email": 1000 * (own_cpu(worker.pid) - main0) / args.one,
            "wall_ms_per_email": 1000 * wall / args.one,
        }
        for profiler in profilers:
            profiler.wait()
        time.sleep(1.0)

        base = received.value
        main0 = own_cpu(worker.pid)
        cpu0, wall0 = tree_cpu(worker.pid), time.perf_counter()
        for i in range(args.burst):
            send(100_000 + i)
        arrived(base + args.burst, 600)
        cpu, wall = tree_cpu(worker.pid) - cpu0, time.perf_counter() - wall0
        connections = args.concurrency * lanes
        own0 = sum(psutil.Process().cpu_times()[:2])
        raw = asyncio.run(raw_smtp(smtp_port, args.burst, connections))
        figures["raw_aiosmtplib_cpu_ms_per_email"] = (
            1000 * (sum(psutil.Process().cpu_times()[:2]) - own0) / args.burst
        )
        figures["burst"] = {
            "emails": args.burst,
            "cpu_ms_per_email": 1000 * cpu / args.burst,
            "main_process_cpu_ms_per_email": 1000 * (own_cpu(worker.pid) - main0) / args.burst,
            "emails_per_s": args.burst / wall,
            "raw_aiosmtplib_per_s": args.burst / raw,
            "raw_connections": connections,
            "ratio_to_raw": raw / wall,
        }
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        stop.set()
        sink.join(10)
        redis.stop()
        asyncio.run(_drop_databases(args.database_url, [name]))

    one, burst = figures["one_at_a_time"], figures["burst"]
    print(f"notifier worker, {args.concurrency} pool processes × {lanes} lanes")
    print(f"  idle: {figures['idle_cpu_ms_per_s']:.1f} ms CPU per second")
    print(
        f"  one at a time ({one['emails']}): {one['cpu_ms_per_email']:.2f} ms CPU/e-mail, "
        f"{one['wall_ms_per_email']:.2f} ms wall/e-mail; "
        f"of the CPU, the main process {one['main_process_cpu_ms_per_email']:.2f} ms"
    )
    print(
        f"  burst ({burst['emails']}): {burst['cpu_ms_per_email']:.2f} ms CPU/e-mail, "
        f"(main process {burst['main_process_cpu_ms_per_email']:.2f}), "
        f"{burst['emails_per_s']:.0f} e-mails/s; raw aiosmtplib on {connections} connections "
        f"{burst['raw_aiosmtplib_per_s']:.0f}/s; ratio {burst['ratio_to_raw']:.2f}"
    )
    print(
        f"  raw aiosmtplib's own CPU (rendered once, built and sent per e-mail; a yardstick for "
        f"the machine's load): {figures['raw_aiosmtplib_cpu_ms_per_email']:.2f} ms/e-mail"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

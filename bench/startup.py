"""Issue 15: what a health probe costs and how soon a (re)started process is ready.

    uv run python -m bench.startup                  # both parts, idle machine
    uv run python -m bench.startup --load 2         # start-up with 2 busy loops beside it
    uv run python -m bench.startup --only healthz   # or: --only startup

- `/healthz` (and `/readyz`): CPU of the answering process per call (utime+stime from
  /proc of it and its children, the delta over `--calls` sequential calls of one keep-alive
  client, divided by the calls) and the wall time per call: the gateway of `portal run`, each
  API as deployment runs it (`portal serve <service>`), the pages (`portal serve web`).
- Start-up: each process kind spawned beside a running portal (same PostgreSQL databases,
  Redis, keys), from spawn to ready — an API or the gateway: its `/healthz` answers 200; a
  worker or the relay: its heartbeat is in Redis — as wall time and as the CPU the process
  (and its children) spent until then. `--repeat` runs of each; the median is reported.

Everything on 127.0.0.1: PostgreSQL of the machine (fresh databases), a private Redis and an
SMTP sink. Prints a table and writes bench/results/startup.json (or `--json`).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine  # noqa: E402
from services.kernel.contracts import QUEUES  # noqa: E402
from services.kernel.registry import SERVICES  # noqa: E402
from tests.support import RedisServer, SmtpSink, Stack, wait_until  # noqa: E402

API_SERVICES = ("accounts", "catalogue", "dossiers")
HEARTBEATS = "portal:heartbeat*"
READY_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process, of its live children and of the children it reaped."""
    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in proc.children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return float("nan")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def heartbeat_of(client: redis.Redis, pid: int) -> set[str]:
    """The names (`kind:name`) whose heartbeat the process `pid` has written, whatever the
    layout (a key per instance, or members of a sorted set or hash per kind)."""
    found: set[str] = set()
    tag = f"-{pid}"
    for raw in client.scan_iter(match=HEARTBEATS, count=1000):
        key = raw.decode()
        kind = client.type(key).decode()
        if kind == "string":
            if key.endswith(tag):
                found.add(":".join(key.split(":")[2:4]))
        else:  # portal:heartbeats:<kind>, members (or fields) `<name>:<instance>`
            members = client.zrange(key, 0, -1) if kind == "zset" else client.hkeys(key)
            for member in members:
                text = member.decode()
                if text.endswith(tag):
                    found.add(f"{key.rsplit(':', 1)[1]}:{text.split(':', 1)[0]}")
    return found


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """`count` processes spinning on the CPU: a loaded machine."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@contextmanager
def spawned(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def time_to_ready(
    argv: list[str], env: dict[str, str], ready: Callable[[int], bool]
) -> tuple[float, float]:
    """Wall seconds from spawn until `ready(pid)`, and the CPU seconds spent by then."""
    started = time.perf_counter()
    with spawned(argv, env) as proc:
        while not ready(proc.pid):
            if proc.poll() is not None:
                raise RuntimeError(f"{argv} exited with {proc.returncode}")
            if time.perf_counter() - started > READY_TIMEOUT:
                raise RuntimeError(f"{argv} not ready in {READY_TIMEOUT} s")
            time.sleep(0.02)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(proc.pid)
    return wall, cpu


def py(*args: str) -> list[str]:
    return [sys.executable, *args]


def gateway_argv(port: int) -> list[str]:
    return py(
        "-m",
        "uvicorn",
        "portal.gateway:create_gateway",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    )


def serve_argv(service: str, port: int) -> list[str]:
    return py("-m", "portal", "serve", service, "--host", "127.0.0.1", "--port", str(port))


def startup(stack: Stack, repeat: int) -> dict[str, dict[str, float]]:
    env = stack.env()
    client = redis.Redis.from_url(stack.redis_url)
    kinds: list[tuple[str, Callable[[], tuple[float, float]]]] = []

    def http_kind(name: str, argv_for: Callable[[int], list[str]]) -> None:
        def run() -> tuple[float, float]:
            port = free_port()
            url = f"http://127.0.0.1:{port}/healthz"
            return time_to_ready(argv_for(port), env, lambda _pid: answers(url))

        kinds.append((name, run))

    for service in API_SERVICES:
        http_kind(f"api {service} (portal serve)", lambda p, s=service: serve_argv(s, p))
    http_kind("web (portal serve web)", lambda p: serve_argv("web", p))
    http_kind("gateway (portal run's)", gateway_argv)
    for queue in QUEUES:

        def worker(queue: str = queue) -> tuple[float, float]:
            return time_to_ready(
                py("-m", "portal", "worker", queue),
                env,
                lambda pid: f"worker:{queue}" in heartbeat_of(client, pid),
            )

        kinds.append((f"worker {queue}", worker))

    def relay() -> tuple[float, float]:
        wanted = {f"relay:{s}" for s in SERVICES}
        return time_to_ready(
            py("-m", "portal", "relay", *SERVICES),
            env,
            lambda pid: wanted <= heartbeat_of(client, pid),
        )

    kinds.append(("relay (every outbox)", relay))

    figures: dict[str, dict[str, float]] = {}
    for name, run in kinds:
        walls, cpus = [], []
        for _ in range(repeat):
            try:
                wall, cpu = run()
            except RuntimeError as exc:  # not ready in time: say so, measure the others
                print(f"  {name:<28} {exc}", flush=True)
                wall, cpu = float("inf"), float("nan")
            walls.append(wall)
            cpus.append(cpu)
        figures[name] = {
            "wall_s": statistics.median(walls),
            "wall_max_s": max(walls),
            "cpu_s": statistics.median(cpus),
        }
        print(
            f"  {name:<28} ready in {figures[name]['wall_s']:6.2f} s wall (max "
            f"{figures[name]['wall_max_s']:.2f}), {figures[name]['cpu_s']:5.2f} s CPU",
            flush=True,
        )
    return figures


def probe_cost(pid: int, url: str, calls: int) -> dict[str, float]:
    """CPU of process `pid` (and children) per call of `url`, and wall ms per call."""
    with httpx.Client(timeout=10) as http:
        for _ in range(20):  # warm: connection, first-call caches
            http.get(url)
        statuses: set[int] = set()
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        for _ in range(calls):
            statuses.add(http.get(url).status_code)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before
    return {
        "cpu_ms_per_call": cpu / calls * 1000,
        "wall_ms_per_call": wall / calls * 1000,
        "statuses": sorted(statuses),  # type: ignore[dict-item]
    }


def gateway_pid(stack: Stack) -> int:
    assert stack.proc is not None
    for child in psutil.Process(stack.proc.pid).children(recursive=True):
        if "portal.gateway:create_gateway" in " ".join(child.cmdline()):
            return child.pid
    raise RuntimeError("no gateway process under portal run")


def healthz(stack: Stack, calls: int) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}

    def record(name: str, pid: int, url: str) -> None:
        figures[name] = probe_cost(pid, url, calls)
        f = figures[name]
        print(
            f"  {name:<34} {f['cpu_ms_per_call']:7.3f} ms CPU/call, "
            f"{f['wall_ms_per_call']:7.3f} ms wall/call, status {f['statuses']}",
            flush=True,
        )

    record("gateway /healthz", gateway_pid(stack), f"{stack.base_url}/healthz")
    env = stack.env()
    for service in (*API_SERVICES, "web"):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with spawned(serve_argv(service, port), env) as proc:
            wait_until(lambda b=base: answers(f"{b}/healthz"), READY_TIMEOUT, what=service)
            for path in ("/healthz", "/readyz"):
                record(f"{service} (portal serve) {path}", proc.pid, f"{base}{path}")
    return figures


def bytecode_cached() -> bool:
    """Whether the installed packages have their compiled bytecode (.pyc) beside them: without
    it, and with PYTHONDONTWRITEBYTECODE set, every start compiles every module again."""
    import importlib.util

    import fastapi

    return Path(importlib.util.cache_from_source(fastapi.__file__)).exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500, help="probe calls per endpoint")
    parser.add_argument("--repeat", type=int, default=3, help="starts of each process kind")
    parser.add_argument("--load", type=int, default=0, help="busy loops during the starts")
    parser.add_argument("--only", choices=("healthz", "startup"))
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/startup.json")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    results: dict[str, Any] = {
        "machine": machine(),
        "bytecode_cached": bytecode_cached(),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "load_loops": args.load,
        "loadavg_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        work = Path(tmp)
        redis_server = RedisServer(work)
        redis_server.start()
        smtp = SmtpSink()
        smtp.start()
        # no catalogue import at start (minutes on a loaded machine): nothing here reads it
        empty = {"CATALOGUE_SOURCE_FILE": str(work / "no-catalogue.jsonl")}
        stack = Stack(database_url, redis_server.url, smtp, work / "stack", extra_env=empty)
        try:
            stack.start()
            if args.only != "startup":
                print(f"/healthz and /readyz, {args.calls} calls each:", flush=True)
                results["healthz"] = healthz(stack, args.calls)
            if args.only != "healthz":
                print(
                    f"start-up to ready, median of {args.repeat}, {args.load} busy loop(s):",
                    flush=True,
                )
                with busy_loops(args.load):
                    results["startup"] = startup(stack, args.repeat)
        finally:
            stack.stop()
            smtp.stop()
            redis_server.stop()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()

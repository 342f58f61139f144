"""CPU per API request, process by process (issue 15): what one client filing dossiers one after
another costs the gateway (the API process), PostgreSQL's backends and Redis.

    uv run python -m bench.api_cpu                 # 200 dossiers, prints a table
    uv run python -m bench.api_cpu --count 300 --profile /tmp/prof   # + py-spy of the gateway

A fresh portal (`tests/support.py` Stack, one gateway process: PORTAL_GATEWAY_WORKERS=1), a
citizen and an officer of the procedure's agency signed in, a warm-up, then each operation in a
phase of its own, `count` times in a row, one request at a time: create, attach (a 1 KB PDF),
submit, receive (the officer), and a catalogue procedure detail (cached). CPU is utime+stime
from /proc/<pid>/stat, read before and after each phase: the gateway and its children, the
PostgreSQL backends connected to the portal's databases (pg_stat_activity: the relay's and the
workers' too, so an e-mail's delivery counts there), the private redis-server. Phases, not
single requests: /proc counts in clock ticks (10 ms). A first phase of 0.1 s sleeps gives what
the gateway burns with no request (its timers); "net of idle" subtracts it. Wall time is the
client's, per request (median and p95). The portal imports `--catalogue` procedures (40 and
the one filed against), so it starts in seconds.
"""

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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from services.catalogue.settings import get_settings as catalogue_settings  # noqa: E402
from tests import support  # noqa: E402
from tests.accounts_flow import bearer, registered_citizen  # noqa: E402
from tests.dossiers_flow import officer_of, pdf, wait_for_catalogue_copy  # noqa: E402
from tests.support import RedisServer, SmtpSink, Stack  # noqa: E402

PROCEDURE = "1.002181"  # Sở Tư pháp (HT-STP), one required component
TICK = os.sysconf("SC_CLK_TCK")


def patient_start(stack: Stack, seconds: float) -> None:
    """`stack.start()` with more time to become healthy than the tests give it (120 s): on a
    machine other sessions load, the workers alone may take that long to start."""
    original = support.wait_until

    def wait(predicate: Any, timeout: float, interval: float = 0.1, what: str = "") -> Any:
        return original(predicate, max(timeout, seconds), interval, what)

    support.wait_until = wait
    try:
        stack.start()
    finally:
        support.wait_until = original


def small_catalogue(path: Path, size: int) -> Path:
    """The national catalogue's first `size` procedures and PROCEDURE: the import at start-up
    then takes seconds, not minutes, and the requests measured are the same."""
    lines = catalogue_settings().source_file.read_text().splitlines()
    kept = [line for line in lines if f'"{PROCEDURE}"' in line]
    kept += [line for line in lines[:size] if line not in kept]
    path.write_text("\n".join(kept) + "\n")
    return path


def cpu_times(pid: int) -> tuple[float, float]:
    """utime and stime of one process (threads included), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        for child in text.split():
            found.append(int(child))
            found += children(int(child))
    return found


def tree_cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in [pid, *children(pid)])


def gateway_pid(stack: Stack) -> int:
    """The uvicorn process serving `portal.gateway` (with one worker, uvicorn serves itself)."""
    assert stack.proc is not None
    for pid in children(stack.proc.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"portal.gateway:create_gateway" in cmdline:
            return pid
    raise RuntimeError("no gateway process")


async def backend_pids(admin_url: str, databases: list[str]) -> list[int]:
    conn = await asyncpg.connect(admin_url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", databases
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


class Meter:
    """CPU of the gateway, the PostgreSQL backends of the portal's databases and Redis."""

    def __init__(self, stack: Stack, redis: RedisServer, admin_url: str) -> None:
        self.gateway = gateway_pid(stack)
        assert redis.proc is not None
        self.redis = redis.proc.pid
        self.admin_url = admin_url
        self.databases = [url.rsplit("/", 1)[1] for url in stack.databases.values()]

    async def read(self) -> dict[str, float]:
        pg = await backend_pids(self.admin_url, self.databases)
        return {
            "gateway": tree_cpu(self.gateway),
            "gateway_sys": cpu_times(self.gateway)[1],
            "postgres": sum(cpu_seconds(p) for p in pg),
            "redis": cpu_seconds(self.redis),
            "_pg_pids": float(len(pg)),
        }


async def phase(
    meter: Meter, count: int, step: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    walls: list[float] = []
    before = await meter.read()
    begun = time.perf_counter()
    for i in range(count):
        started = time.perf_counter()
        await step(i)
        walls.append((time.perf_counter() - started) * 1000)
    seconds = time.perf_counter() - begun
    after = await meter.read()
    # backends that came or went during the phase are not compared: same set expected
    return {
        "gateway_cpu_ms": (after["gateway"] - before["gateway"]) * 1000 / count,
        "gateway_sys_ms": (after["gateway_sys"] - before["gateway_sys"]) * 1000 / count,
        "postgres_cpu_ms": (after["postgres"] - before["postgres"]) * 1000 / count,
        "redis_cpu_ms": (after["redis"] - before["redis"]) * 1000 / count,
        "seconds": seconds,
        "wall_p50_ms": percentile(walls, 50),
        "wall_p95_ms": percentile(walls, 95),
    }


async def measure(
    stack: Stack, meter: Meter, citizen: dict[str, str], officer: dict[str, str], count: int
) -> dict[str, dict[str, float]]:
    attachment = pdf("x" * 1000)
    dossiers: list[dict[str, Any]] = []
    base = stack.base_url
    async with httpx.AsyncClient(base_url=f"{base}/api/v1/dossiers", timeout=60) as client:

        async def create(_: int) -> None:
            answer = await client.post(
                "/",
                json={
                    "procedure_id": PROCEDURE,
                    "applicant": {"full_name": "Nguyễn Văn Thử", "address": "Hà Tĩnh"},
                    "declaration": {"request": "Đề nghị đăng ký hoạt động."},
                },
                headers=citizen,
            )
            assert answer.status_code == 201, answer.text
            dossiers.append(answer.json())

        async def attach(i: int) -> None:
            dossier = dossiers[i]
            component = next(c for c in dossier["components"] if c["required"])
            answer = await client.post(
                f"/{dossier['id']}/components/{component['id']}/files",
                files={"file": ("giay-to.pdf", attachment, "application/pdf")},
                headers=citizen,
            )
            assert answer.status_code == 201, answer.text

        async def submit(i: int) -> None:
            answer = await client.post(f"/{dossiers[i]['id']}/submit", headers=citizen)
            assert answer.status_code == 200, answer.text

        async def receive(i: int) -> None:
            answer = await client.post(f"/{dossiers[i]['id']}/receive", headers=officer)
            assert answer.status_code == 200, answer.text

        async with httpx.AsyncClient(base_url=f"{base}/api/v1/catalogue") as catalogue:

            async def detail(_: int) -> None:
                answer = await catalogue.get(f"/procedures/{PROCEDURE}")
                assert answer.status_code == 200, answer.text

            async def idle(_: int) -> None:
                await asyncio.sleep(0.1)

            results: dict[str, dict[str, float]] = {}
            for name, step in (
                ("idle (0.1 s)", idle),
                ("create", create),
                ("attach", attach),
                ("submit", submit),
                ("receive", receive),
                ("catalogue_detail", detail),
            ):
                results[name] = await phase(meter, count, step)
                await asyncio.sleep(1.0)  # let the relay and the workers settle between phases
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="requests per operation")
    parser.add_argument("--warmup", type=int, default=30, help="dossiers filed before measuring")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--catalogue", type=int, default=40, help="procedures imported (0: the whole catalogue)"
    )
    parser.add_argument("--profile", type=Path, help="py-spy the gateway into this folder")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="api-cpu-"))
    (work / "redis").mkdir()
    redis = RedisServer(work / "redis")
    redis.start()
    smtp = SmtpSink()
    smtp.start()
    env = {"PORTAL_GATEWAY_WORKERS": "1"}
    if args.catalogue:
        catalogue = small_catalogue(work / "catalogue.jsonl", args.catalogue)
        env["CATALOGUE_SOURCE_FILE"] = str(catalogue)
    stack = Stack(args.database_url, redis.url, smtp, work / "stack", extra_env=env)
    print("starting the portal…", flush=True)
    patient_start(stack, 600)
    spy: subprocess.Popen[bytes] | None = None
    try:
        wait_for_catalogue_copy(stack, [PROCEDURE])
        with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
            citizen = bearer(
                registered_citizen(client, smtp, f"cpu.{uuid.uuid4().hex[:6]}@example.vn")
            )
        officer = officer_of(stack, smtp, "HT-STP")
        meter = Meter(stack, redis, args.database_url)
        print(f"warm-up ({args.warmup} dossiers)…", flush=True)
        asyncio.run(measure(stack, meter, citizen, officer, args.warmup))
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "py-spy"),
                    "record",
                    "-r",
                    "200",
                    "--pid",
                    str(meter.gateway),
                    "--format",
                    "speedscope",
                    "-o",
                    str(args.profile / "gateway.speedscope.json"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
        print(f"measuring ({args.count} of each)…", flush=True)
        figures = asyncio.run(measure(stack, meter, citizen, officer, args.count))
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(60)
        stack.stop()
        smtp.stop()
        redis.stop()

    # What the gateway burns with no request (its timers and background loops), per second:
    # subtracted from each phase's figure in proportion to the phase's length.
    quiet = figures["idle (0.1 s)"]
    idle_ms_per_s = quiet["gateway_cpu_ms"] * args.count / quiet["seconds"]
    for f in figures.values():
        f["gateway_net_cpu_ms"] = f["gateway_cpu_ms"] - idle_ms_per_s * f["seconds"] / args.count
    print(f"\ngateway CPU with no request: {idle_ms_per_s:.1f} ms/s")
    print(
        "per request, ms    gateway CPU (of it sys)  net of idle  PostgreSQL  Redis"
        "  wall p50    p95"
    )
    for name, f in figures.items():
        print(
            f"{name:<18}{f['gateway_cpu_ms']:>12.2f}{f['gateway_sys_ms']:>13.2f}"
            f"{f['gateway_net_cpu_ms']:>13.2f}"
            f"{f['postgres_cpu_ms']:>12.2f}{f['redis_cpu_ms']:>7.2f}"
            f"{f['wall_p50_ms']:>10.2f}{f['wall_p95_ms']:>7.1f}"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"machine": machine(), "count": args.count, "figures": figures}, indent=2)
        )


if __name__ == "__main__":
    main()

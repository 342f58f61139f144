"""The whole-system benchmark of issue 5: every figure beside a baseline measured in the same run.

    make bench      # bench/catalogue.py, then this; or: uv run python -m bench.portal
    uv run python -m bench.portal --only notifier   # one part: dossiers, delivery, notifier, memory

- dossier create + send (small attachment) through the gateway vs a bare INSERT+COMMIT of the
  same size into the same PostgreSQL: dossiers/s at full speed, and p99 at a fixed 150/s;
- e-mail delivery: status change committed (the history entry's time) → accepted by the SMTP
  server, p50/p99 at a fixed 100 changes/s, and how many within 10 s;
- the notifier's maximum e-mails/s (one worker: 2 pool processes, each sending on 4 lanes) vs
  aiosmtplib sending the same messages straight to the same server over as many reused
  connections as the notifier keeps (and over one); one notifier worker vs two;
- peak resident memory (VmHWM) of every process of the portal.

Everything runs on 127.0.0.1: PostgreSQL of the machine (fresh databases), a private Redis, an
aiosmtpd server in this process. Prints a table and writes bench/results/portal.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from tests.accounts_flow import bearer, registered_citizen  # noqa: E402
from tests.dossiers_flow import officer_of, pdf, wait_for_catalogue_copy  # noqa: E402
from tests.support import RedisServer, SmtpSink, Stack, wait_until  # noqa: E402

NOTIFIER_LANES = 4  # NOTIFIER_LANES's default: SMTP connections of each pool process
PROCEDURE = "1.002181"  # Sở Tư pháp, one required component
TARGETS = {
    "dossiers_per_s": 300.0,
    "send_p99_ms_at_150": 100.0,
    "delivery_p50_ms": 200.0,
    "delivery_p99_ms": 1000.0,
    "notifier_vs_raw": 0.7,
    "api_rss_mb": 150.0,
}


@dataclass
class Run:
    count: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


# -- dossiers ---------------------------------------------------------------------------------


async def file_one(client: httpx.AsyncClient, headers: dict[str, str], attachment: bytes) -> str:
    created = await client.post(
        "/",
        json={
            "procedure_id": PROCEDURE,
            "applicant": {"full_name": "Nguyễn Văn Thử", "address": "Hà Tĩnh"},
            "declaration": {"request": "Đề nghị đăng ký hoạt động."},
        },
        headers=headers,
    )
    created.raise_for_status()
    dossier = created.json()
    component = next(c for c in dossier["components"] if c["required"])
    attached = await client.post(
        f"/{dossier['id']}/components/{component['id']}/files",
        files={"file": ("giay-to.pdf", attachment, "application/pdf")},
        headers=headers,
    )
    attached.raise_for_status()
    sent = await client.post(f"/{dossier['id']}/submit", headers=headers)
    sent.raise_for_status()
    return str(dossier["id"])


async def closed_loop(
    base: str, headers: dict[str, str], seconds: float, concurrency: int, attachment: bytes
) -> tuple[Run, list[str]]:
    ids: list[str] = []
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                ids.append(await file_one(client, headers, attachment))
                latencies.append((time.perf_counter() - started) * 1000)

        begun = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begun
    return Run(len(ids), elapsed, latencies), ids


async def open_loop(
    rate: float, seconds: float, action: Any, limit: int = 256
) -> tuple[Run, list[Any]]:
    """Start `action(i)` at a fixed rate, whatever the answers' latency (no coordinated
    omission); returns latencies measured from each action's scheduled start."""
    total = int(rate * seconds)
    results: list[Any] = [None] * total
    latencies: list[float] = []
    gate = asyncio.Semaphore(limit)
    begun = time.perf_counter()

    async def one(i: int) -> None:
        scheduled = begun + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        async with gate:
            results[i] = await action(i)
        latencies.append((time.perf_counter() - scheduled) * 1000)

    await asyncio.gather(*(one(i) for i in range(total)))
    return Run(total, time.perf_counter() - begun, latencies), results


async def bare_inserts(url: str, seconds: float, concurrency: int, size: int) -> Run:
    """The baseline: one INSERT + COMMIT of `size` bytes per dossier, same server."""
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_rows (id text PRIMARY KEY, payload bytea)"
        )
    payload = os.urandom(size)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        async with pool.acquire() as conn:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO bench_rows VALUES ($1, $2)", uuid.uuid4().hex, payload
                    )
                latencies.append((time.perf_counter() - started) * 1000)

    begun = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - begun
    async with pool.acquire() as conn:
        await conn.execute("DROP TABLE bench_rows")
    await pool.close()
    return Run(len(latencies), elapsed, latencies)


# -- e-mail -----------------------------------------------------------------------------------


def received_after(smtp: SmtpSink, since: int) -> list[Any]:
    with smtp.lock:
        return smtp.mails[since:]


async def notifier_burst(stack: Stack, smtp: SmtpSink, count: int) -> Run:
    """`count` e-mail tasks put straight on the notifier's queue; time until all arrived."""
    from celery import Celery

    from services.kernel.contracts import SendEmailV1

    app = Celery(broker=stack.redis_url)
    before = len(smtp.mails)
    tag = uuid.uuid4().hex[:6]
    begun = time.perf_counter()
    for i in range(count):
        message = SendEmailV1(
            message_id=uuid.uuid4().hex,
            to=f"bench.{tag}.{i}@example.vn",
            template="password_reset",
            context={
                "full_name": "Người Thử",
                "email": "x@example.vn",
                "code": "123456",
                "valid_minutes": 30,
            },
        )
        app.send_task(
            SendEmailV1.TASK, kwargs={"payload": message.model_dump(mode="json")}, queue="notifier"
        )
    wait_until(lambda: len(smtp.mails) - before >= count, 300, interval=0.05, what="the burst")
    elapsed = time.perf_counter() - begun
    return Run(count, elapsed, [])


async def raw_smtp(smtp: SmtpSink, count: int, connections: int) -> Run:
    """aiosmtplib sending the same rendered messages over `connections` reused connections, one
    sender each (the notifier's pool sends over as many)."""
    import aiosmtplib

    from services.notifier.mailer import build_message, render

    email = render(
        "password_reset",
        {"full_name": "Người Thử", "email": "x@example.vn", "code": "123456", "valid_minutes": 30},
    )
    clients = [aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.port) for _ in range(connections)]
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
    return Run(count, elapsed, [])


# -- memory -----------------------------------------------------------------------------------


def peak_memory(root_pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) of every process under `root_pid`, by role, in MB."""
    import psutil

    peaks: dict[str, float] = {}
    for proc in psutil.Process(root_pid).children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except (psutil.Error, OSError):
            continue
        hwm = next((line for line in status.splitlines() if line.startswith("VmHWM")), None)
        if hwm is None:
            continue
        if "uvicorn" in cmd:
            role = "gateway supervisor"
        elif "multiprocessing" in cmd and "uvicorn" in " ".join(proc.parent().cmdline()):
            role = "gateway (all APIs)"
        elif "celery" in cmd:
            queue = cmd.split("services.", 1)[1].split(".", 1)[0] if "services." in cmd else "?"
            role = f"{queue} worker"
        elif "relay" in cmd:
            role = "relay"
        else:
            continue
        mb = int(hwm.split()[1]) / 1024
        key, n = role, 2
        while key in peaks:
            key, n = f"{role} #{n}", n + 1
        peaks[key] = mb
    return peaks


def standalone_api_memory(stack: Stack, citizen: dict[str, str]) -> dict[str, float]:
    """Each API as deployment runs it (`portal serve <service>`, one process each): peak RSS
    after a few hundred requests."""
    import socket

    peaks: dict[str, float] = {}
    calls = {
        "accounts": ("/captcha", {}),
        "catalogue": ("/procedures?q=dang+ky+khai+sinh", {}),
        "dossiers": ("/summary", citizen),
    }
    for service, (path, headers) in calls.items():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portal",
                "serve",
                service,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=stack.env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"

            def up(url: str = base) -> bool:
                try:
                    return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(up, 60, what=f"{service} to serve")
            with httpx.Client(base_url=base, timeout=30) as client:
                for _ in range(300):
                    client.get(path, headers=headers)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            hwm = next(line for line in status.splitlines() if line.startswith("VmHWM"))
            peaks[f"{service} API (portal serve)"] = int(hwm.split()[1]) / 1024
        finally:
            proc.terminate()
            proc.wait(30)
    return peaks


# -- the run ----------------------------------------------------------------------------------


PARTS = ("dossiers", "delivery", "notifier", "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--burst", type=int, default=1000, help="e-mails in a notifier burst")
    parser.add_argument(
        "--notifier-concurrency",
        type=int,
        default=2,
        help="pool processes of each notifier worker (2: one per core here; deploy/ runs 4)",
    )
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated parts of {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--gateway-workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "portal.json")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")

    import tempfile

    work = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    (work / "redis").mkdir()
    redis = RedisServer(work / "redis")
    redis.start()
    smtp = SmtpSink()
    smtp.start()
    stack = Stack(
        args.database_url,
        redis.url,
        smtp,
        work / "stack",
        extra_env={
            "PORTAL_GATEWAY_WORKERS": str(args.gateway_workers),
            "PORTAL_WORKER_CONCURRENCY": f"notifier={args.notifier_concurrency}",
        },
    )
    print("starting the portal (fresh databases, catalogue import)…", flush=True)
    stack.start()
    extra_worker: subprocess.Popen[bytes] | None = None
    figures: dict[str, Any] = {}
    try:
        wait_for_catalogue_copy(stack, [PROCEDURE])
        accounts = f"{stack.base_url}/api/v1/accounts"
        with httpx.Client(base_url=accounts, timeout=30) as client:
            citizen = bearer(
                registered_citizen(client, smtp, f"bench.{uuid.uuid4().hex[:6]}@example.vn")
            )
        officer = officer_of(stack, smtp, "HT-STP")
        dossiers = f"{stack.base_url}/api/v1/dossiers"
        attachment = pdf("x" * 1000)
        ids: list[str] = []

        if "dossiers" in parts:
            print("dossier create + send vs bare INSERT…", flush=True)
            baseline = asyncio.run(
                bare_inserts(stack.db_url("dossiers"), args.seconds, args.concurrency, 4096)
            )
            full, ids = asyncio.run(
                closed_loop(dossiers, citizen, args.seconds, args.concurrency, attachment)
            )

            async def at_150_per_s() -> tuple[Run, list[Any]]:
                limits = httpx.Limits(max_connections=256)
                async with httpx.AsyncClient(
                    base_url=dossiers, timeout=60, limits=limits
                ) as client:

                    async def send(_: int) -> str | None:
                        try:
                            return await file_one(client, citizen, attachment)
                        except httpx.HTTPError:  # overload: counted, not fatal
                            return None

                    return await open_loop(150, min(args.seconds, 6), send)

            at_150, more = asyncio.run(at_150_per_s())
            ids += [i for i in more if i]
            figures["dossiers"] = {
                "bare_insert_per_s": baseline.rate,
                "bare_insert_p99_ms": percentile(baseline.latencies_ms, 99),
                "dossiers_per_s": full.rate,
                "dossier_p50_ms": percentile(full.latencies_ms, 50),
                "dossier_p99_ms": percentile(full.latencies_ms, 99),
                "ratio_to_bare_insert": full.rate / baseline.rate,
                "p99_ms_at_150_per_s": percentile(at_150.latencies_ms, 99),
                "failed_at_150_per_s": sum(1 for i in more if not i),
            }

        if "delivery" in parts:
            wanted = int(100 * min(args.seconds, 10))
            if len(ids) < wanted:
                print(f"filing {wanted - len(ids)} dossiers for the delivery run…", flush=True)
                _, more_ids = asyncio.run(
                    closed_loop_count(dossiers, citizen, wanted - len(ids), attachment)
                )
                ids += more_ids
            print("e-mail delivery at 100 status changes/s…", flush=True)
            wait_until(lambda: len(smtp.mails) >= len(ids), 120, what="the submission e-mails")
            figures["delivery"] = delivery_at_rate(stack, smtp, dossiers, officer, ids[:wanted])

        if "notifier" in parts:
            print("notifier maximum vs raw aiosmtplib; one worker vs two…", flush=True)
            raw_one = asyncio.run(raw_smtp(smtp, args.burst, 1))
            connections = args.notifier_concurrency * NOTIFIER_LANES
            raw = asyncio.run(raw_smtp(smtp, args.burst, connections))
            one = asyncio.run(notifier_burst(stack, smtp, args.burst))
            extra_worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "portal",
                    "worker",
                    "notifier",
                    "--concurrency",
                    str(args.notifier_concurrency),
                ],
                env=stack.env(),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(4)
            two = asyncio.run(notifier_burst(stack, smtp, args.burst))
            figures["notifier"] = {
                "pool_processes": args.notifier_concurrency,
                "smtp_connections": connections,
                "raw_aiosmtplib_one_connection_per_s": raw_one.rate,
                "raw_aiosmtplib_per_s": raw.rate,
                "one_worker_per_s": one.rate,
                "two_workers_per_s": two.rate,
                "ratio_to_raw": one.rate / raw.rate,
                "scaling_factor": two.rate / one.rate,
            }
        if "memory" in parts:
            assert stack.proc is not None
            figures["peak_rss_mb"] = peak_memory(stack.proc.pid)
            figures["peak_rss_mb"].update(standalone_api_memory(stack, citizen))
    finally:
        if extra_worker is not None:
            extra_worker.terminate()
            extra_worker.wait(30)
        stack.stop()
        smtp.stop()
        redis.stop()
    report(figures, args)


async def closed_loop_count(
    base: str, headers: dict[str, str], count: int, attachment: bytes, concurrency: int = 8
) -> tuple[Run, list[str]]:
    """`count` dossiers filed by `concurrency` clients (to have some to change)."""
    ids: list[str] = []
    numbers = iter(range(count))
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def worker() -> None:
            for _ in numbers:
                ids.append(await file_one(client, headers, attachment))

        begun = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Run(len(ids), time.perf_counter() - begun, []), ids


def delivery_at_rate(
    stack: Stack, smtp: SmtpSink, dossiers: str, officer: dict[str, str], changes: list[str]
) -> dict[str, Any]:
    """Officers receive `changes` dossiers at 100/s; each e-mail's delay from the history
    entry's commit time to its arrival at the SMTP server."""
    before = len(smtp.mails)
    rate = 100.0

    async def changes_at_rate() -> tuple[Run, list[Any]]:
        limits = httpx.Limits(max_connections=256)
        async with httpx.AsyncClient(base_url=dossiers, timeout=60, limits=limits) as client:

            async def receive(i: int) -> int:
                answer = await client.post(f"/{changes[i]}/receive", headers=officer)
                return answer.status_code

            return await open_loop(rate, len(changes) / rate, receive)

    run, statuses = asyncio.run(changes_at_rate())
    wait_until(lambda: len(smtp.mails) - before >= len(changes), 60, what="the processing e-mails")
    rows = stack.query(
        "dossiers",
        "SELECT d.code, h.at FROM dossier_history h JOIN dossiers d ON d.id = h.dossier_id "
        "WHERE h.action = 'receive' AND d.id = ANY($1::text[])",
        changes,
    )
    changed_at = {r["code"]: r["at"].timestamp() for r in rows}
    delays = []
    for mail in received_after(smtp, before):
        code = next((c for c in changed_at if c in mail.subject), None)
        if code:
            delays.append((mail.received_at - changed_at[code]) * 1000)
    return {
        "changes": len(changes),
        "accepted": sum(1 for s in statuses if s == 200),
        "emails": len(delays),
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "max_ms": max(delays) if delays else float("nan"),
        "within_10_s": sum(1 for d in delays if d <= 10_000),
    }


def report(figures: dict[str, Any], args: argparse.Namespace) -> None:
    d, e, n = (figures.get(part, {}) for part in ("dossiers", "delivery", "notifier"))
    lines = []
    checks: dict[str, tuple[float, float, str]] = {}
    if d:
        lines += [
            (
                "dossier create + send, dossiers/s",
                d["dossiers_per_s"],
                d["bare_insert_per_s"],
                "bare INSERT+COMMIT /s",
            ),
            (
                "dossier create + send, p99 ms",
                d["dossier_p99_ms"],
                d["bare_insert_p99_ms"],
                "bare INSERT p99 ms",
            ),
            ("dossier send p99 ms at 150/s", d["p99_ms_at_150_per_s"], None, ""),
        ]
        checks["dossiers_per_s"] = (d["dossiers_per_s"], TARGETS["dossiers_per_s"], ">=")
        checks["send_p99_ms_at_150"] = (
            d["p99_ms_at_150_per_s"],
            TARGETS["send_p99_ms_at_150"],
            "<=",
        )
    if e:
        lines += [
            ("e-mail delivery p50 ms at 100/s", e["p50_ms"], None, ""),
            ("e-mail delivery p99 ms at 100/s", e["p99_ms"], None, ""),
        ]
        checks["delivery_p50_ms"] = (e["p50_ms"], TARGETS["delivery_p50_ms"], "<=")
        checks["delivery_p99_ms"] = (e["p99_ms"], TARGETS["delivery_p99_ms"], "<=")
        checks["every_email_within_10_s"] = (e["within_10_s"], e["changes"], ">=")
    if n:
        k, c = n["pool_processes"], n["smtp_connections"]
        lines += [
            (
                f"notifier e-mails/s (1 worker, pool {k})",
                n["one_worker_per_s"],
                n["raw_aiosmtplib_per_s"],
                f"raw aiosmtplib, {c} connections /s",
            ),
            (
                f"notifier e-mails/s (1 worker, pool {k})",
                n["one_worker_per_s"],
                n["raw_aiosmtplib_one_connection_per_s"],
                "raw aiosmtplib, 1 connection /s",
            ),
            (
                "notifier e-mails/s (2 workers)",
                n["two_workers_per_s"],
                n["one_worker_per_s"],
                "1 worker /s",
            ),
        ]
        checks["notifier_vs_raw"] = (n["ratio_to_raw"], TARGETS["notifier_vs_raw"], ">=")
    print(f"\n{'measure':38} {'value':>10} {'baseline':>10} {'ratio':>7}  baseline is")
    for name, value, base, what in lines:
        ratio = f"{value / base:7.2f}" if base else "       "
        base_text = f"{base:10.1f}" if base else " " * 10
        print(f"{name:38} {value:10.1f} {base_text} {ratio}  {what}")
    if d:
        print(f"dossiers refused or dropped at 150/s: {d.get('failed_at_150_per_s', 0)}")
    if e:
        print(f"e-mails within 10 s: {e['within_10_s']}/{e['changes']} (accepted {e['accepted']})")
    if "peak_rss_mb" in figures:
        print("\npeak resident memory (MB):")
        for role, mb in sorted(figures["peak_rss_mb"].items()):
            print(f"  {role:28} {mb:7.1f}")
        api = [mb for role, mb in figures["peak_rss_mb"].items() if "(portal serve)" in role]
        checks["api_rss_mb"] = (max(api) if api else float("nan"), TARGETS["api_rss_mb"], "<=")
    print("\ntargets:")
    verdicts = {}
    for name, (value, target, op) in checks.items():
        ok = value >= target if op == ">=" else value <= target
        verdicts[name] = {"value": value, "target": target, "met": ok}
        print(f"  {name:28} {value:10.2f} {op} {target:<8g} {'met' if ok else 'MISSED'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "settings": {
                    "seconds": args.seconds,
                    "concurrency": args.concurrency,
                    "burst": args.burst,
                    "gateway_workers": args.gateway_workers,
                    "notifier_concurrency": args.notifier_concurrency,
                    "parts": sorted(args.only.split(",")),
                },
                "figures": figures,
                "targets": verdicts,
            },
            indent=1,
            default=str,
        )
    )
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()

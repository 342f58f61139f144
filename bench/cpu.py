"""CPU per request, process by process (issue 15): where the portal spends its CPU.

    uv run python -m bench.cpu                   # both shapes, ~4 minutes
    uv run python -m bench.cpu --shape gateway   # the local one-port gateway only
    uv run python -m bench.cpu --shape nginx     # deployment's nginx → `portal serve <service>`

One client does each operation N times, one after another, against a whole portal (fresh
PostgreSQL databases, a private Redis, an aiosmtpd server in this process); for each operation
the CPU seconds every process spent (utime + stime from /proc, a process and its children)
divided by N. Processes: the API (the gateway; or each `portal serve` and nginx), the relay,
each Celery worker (main and pool processes), PostgreSQL (the backends connected to this run's
databases; the server's shared background processes are not counted), Redis, the SMTP server
(its thread in this process) and the load generator (this process less that thread; `wrk`, a
compiled client, for the plain-HTTP reads, so that the client is not what limits them).

Then: the relay while nothing happens (% of a core), how soon a committed message is
published (outbox `published_at - created_at`), and filing at full speed (8 clients) — the
measured dossiers/s beside the bound the CPU per dossier gives (cores ÷ CPU per dossier).
Writes bench/results/cpu.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from bench.portal import file_one  # noqa: E402
from tests.accounts_flow import bearer, registered_citizen  # noqa: E402
from tests.dossiers_flow import officer_of, pdf, wait_for_catalogue_copy  # noqa: E402
from tests.support import RedisServer, SmtpSink, Stack, free_port, wait_until  # noqa: E402

PROCEDURE = "1.002181"  # Sở Tư pháp, one required component
AGENCY = "HT-STP"
SEARCH = "/api/v1/catalogue/procedures?q=dang%20ky%20khai%20sinh"
CORES = os.cpu_count() or 2
TARGETS_MS = {  # the targets, ms of CPU per request
    ("API", "cached read"): 0.8,
    ("API", "create"): 3.0,
    ("API", "attach"): 3.0,
    ("API", "submit"): 3.0,
    ("API", "receive"): 3.0,
    ("API", "/healthz"): 2.0,
}


# -- who is who ---------------------------------------------------------------------------------


def _role_of(cmdline: list[str]) -> str | None:
    line = " ".join(cmdline)
    if "portal.gateway:create_gateway" in line:
        return "API"
    if "celery" in line and " -Q " in f" {line} ":
        queue = cmdline[cmdline.index("-Q") + 1]
        return f"worker {queue}"
    if "portal relay" in line or ("-m portal relay" in line):
        return "relay"
    match = re.search(r"portal serve (\w+)", line)
    if match:
        return "web" if match.group(1) == "web" else f"API {match.group(1)}"
    if line.startswith("nginx") or "/nginx " in f"{line} ":
        return "nginx"
    if "-m portal run" in line:
        return "runner"
    return None


@dataclass
class Processes:
    """The processes of one run, by role; CPU seconds read from /proc."""

    roots: list[int]
    redis_pid: int
    smtp_thread: int | None
    database_names: list[str]
    admin_url: str
    extra: dict[int, str] = field(default_factory=dict)
    gateway_role: str = "API"  # "gateway (idle)" while nginx and `portal serve` take the load

    def _tree(self) -> dict[int, str]:
        roles: dict[int, str] = {}

        def walk(proc: psutil.Process, inherited: str | None) -> None:
            try:
                role = _role_of(proc.cmdline()) or inherited
                children = proc.children()
            except psutil.Error:
                return
            if role == "API":
                role = self.gateway_role
            if role:
                roles[proc.pid] = role
            for child in children:
                walk(child, role)

        for pid in self.roots:
            try:
                walk(psutil.Process(pid), None)
            except psutil.Error:
                continue
        for pid, role in self.extra.items():
            try:
                for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
                    roles[proc.pid] = role
            except psutil.Error:
                continue
        roles[self.redis_pid] = "Redis"
        for pid in self._backends():
            roles[pid] = "PostgreSQL"
        return roles

    def _backends(self) -> list[int]:
        import asyncpg

        async def fetch() -> list[int]:
            conn = await asyncpg.connect(self.admin_url)
            try:
                rows = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])",
                    self.database_names,
                )
                return [int(r["pid"]) for r in rows]
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def snapshot(self) -> dict[tuple[str, int], float]:
        """CPU seconds by (role, pid), plus the SMTP thread and this process."""
        seen: dict[tuple[str, int], float] = {}
        for pid, role in self._tree().items():
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            seen[(role, pid)] = t.user + t.system
        me = psutil.Process()
        mine = me.cpu_times()
        smtp = 0.0
        if self.smtp_thread is not None:
            for thread in me.threads():
                if thread.id == self.smtp_thread:
                    smtp = thread.user_time + thread.system_time
        seen[("SMTP server", -1)] = smtp
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        seen[("load generator", -2)] = mine.user + mine.system - smtp
        seen[("load generator", -3)] = children.ru_utime + children.ru_stime
        return seen

    @staticmethod
    def spent(
        before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]
    ) -> dict[str, float]:
        by_role: dict[str, float] = {}
        for key, value in after.items():
            by_role[key[0]] = by_role.get(key[0], 0.0) + max(0.0, value - before.get(key, 0.0))
        return by_role


@dataclass
class Measure:
    name: str
    count: int
    seconds: float
    cpu: dict[str, float]  # CPU seconds by role
    wall_ms: list[float] = field(default_factory=list)

    def per_request_ms(self) -> dict[str, float]:
        return {role: s * 1000 / self.count for role, s in self.cpu.items()}


@contextmanager
def measured(
    procs: Processes, name: str, count: Callable[[], int], results: list[Measure]
) -> Iterator[list[float]]:
    wall: list[float] = []
    before = procs.snapshot()
    begun = time.perf_counter()
    yield wall
    seconds = time.perf_counter() - begun
    after = procs.snapshot()
    results.append(Measure(name, count(), seconds, Processes.spent(before, after), wall))


# -- the operations -------------------------------------------------------------------------------


def sent_emails(stack: Stack) -> int:
    rows = stack.query("notifier", "SELECT count(*) AS n FROM deliveries WHERE status = 'sent'")
    return int(rows[0]["n"])


def pending_outbox(stack: Stack) -> int:
    total = 0
    for service in ("accounts", "catalogue", "dossiers", "notifier"):
        rows = stack.query(
            service,
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL AND available_at <= now()",
        )
        total += int(rows[0]["n"])
    return total


def settle(stack: Stack, emails: int) -> None:
    """Until the e-mails owed so far are sent and no outbox row waits."""
    wait_until(lambda: sent_emails(stack) >= emails, 120, interval=0.05, what="the e-mails")
    wait_until(lambda: pending_outbox(stack) == 0, 60, interval=0.05, what="the outboxes")


def timed(wall: list[float], call: Callable[[], httpx.Response], expected: int) -> httpx.Response:
    started = time.perf_counter()
    answer = call()
    wall.append((time.perf_counter() - started) * 1000)
    if answer.status_code != expected:
        raise AssertionError(
            f"{answer.request.method} {answer.request.url}: {answer.status_code} "
            f"{answer.text[:300]}"
        )
    return answer


def wrk(url: str, seconds: float) -> tuple[int, float, float]:
    """`wrk` with one connection for `seconds`: the requests it made, its p50 and p99 (ms)."""
    out = subprocess.run(
        ["wrk", "-t1", "-c1", f"-d{max(1, round(seconds))}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"(\d+) requests in", out)
    assert match, out
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non2xx is None, f"{url}: {out}"
    return int(match.group(1)), _wrk_ms(out, "50%"), _wrk_ms(out, "99%")


def _wrk_ms(out: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if match is None:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
    return float(match.group(1)) * scale


def http_reads(
    procs: Processes, base: str, results: list[Measure], seconds: float, client: httpx.Client
) -> None:
    """The plain reads: `/healthz` and a cached catalogue search, by wrk when installed."""
    for name, path in (("/healthz", "/healthz"), ("cached read", SEARCH)):
        assert client.get(path).status_code == 200  # warm: the answer is cached from here on
        made = [0]
        with measured(procs, name, lambda m=made: m[0], results) as wall:
            if shutil.which("wrk"):
                made[0], p50, p99 = wrk(base + path, seconds)
                wall.extend([p50] * 50 + [p99])  # the percentiles wrk measured
            else:
                for _ in range(300):
                    timed(wall, lambda p=path: client.get(p), 200)
                    made[0] += 1


def filing(
    procs: Processes,
    stack: Stack,
    base: str,
    citizen: dict[str, str],
    officer: dict[str, str],
    results: list[Measure],
    n: int,
) -> None:
    """create, attach, submit (its e-mail included), receive (its e-mail included), N each."""
    attachment = pdf("x" * 1000)
    emails = sent_emails(stack)
    with httpx.Client(base_url=f"{base}/api/v1/dossiers", timeout=30) as client:
        dossiers: list[dict[str, Any]] = []
        with measured(procs, "create", lambda: n, results) as wall:
            for _ in range(n):
                answer = timed(
                    wall,
                    lambda: client.post(
                        "/",
                        json={
                            "procedure_id": PROCEDURE,
                            "applicant": {"full_name": "Nguyễn Văn Thử", "address": "Hà Tĩnh"},
                            "declaration": {"request": "Đề nghị đăng ký hoạt động."},
                        },
                        headers=citizen,
                    ),
                    201,
                )
                dossiers.append(answer.json())
            settle(stack, emails)
        with measured(procs, "attach", lambda: n, results) as wall:
            for dossier in dossiers:
                component = next(c for c in dossier["components"] if c["required"])
                timed(
                    wall,
                    lambda d=dossier, c=component: client.post(
                        f"/{d['id']}/components/{c['id']}/files",
                        files={"file": ("giay-to.pdf", attachment, "application/pdf")},
                        headers=citizen,
                    ),
                    201,
                )
            settle(stack, emails)
        with measured(procs, "submit", lambda: n, results) as wall:
            for dossier in dossiers:
                timed(
                    wall, lambda d=dossier: client.post(f"/{d['id']}/submit", headers=citizen), 200
                )
            emails += n
            settle(stack, emails)
        with measured(procs, "receive", lambda: n, results) as wall:
            for dossier in dossiers:
                timed(
                    wall, lambda d=dossier: client.post(f"/{d['id']}/receive", headers=officer), 200
                )
            emails += n
            settle(stack, emails)


def pages(procs: Processes, base: str, results: list[Measure], n: int) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, path in (
            ("page: home", "/"),
            ("page: search", "/thu-tuc?q=dang+ky+khai+sinh"),
            ("page: procedure", f"/thu-tuc/{PROCEDURE}"),
        ):
            assert client.get(path).status_code == 200
            with measured(procs, name, lambda: n, results) as wall:
                for _ in range(n):
                    timed(wall, lambda p=path: client.get(p), 200)


def full_speed(
    procs: Processes, stack: Stack, base: str, citizen: dict[str, str], seconds: float, clients: int
) -> dict[str, Any]:
    """Filing (create, attach, submit) by `clients` clients at once: dossiers/s and CPU per
    dossier, e-mails included."""
    attachment = pdf("x" * 1000)
    emails = sent_emails(stack)
    filed: list[float] = []

    async def run() -> float:
        deadline = time.perf_counter() + seconds
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(
            base_url=f"{base}/api/v1/dossiers", timeout=60, limits=limits
        ) as client:

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    await file_one(client, citizen, attachment)
                    filed.append((time.perf_counter() - started) * 1000)

            begun = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return time.perf_counter() - begun

    before = procs.snapshot()
    elapsed = asyncio.run(run())
    settle(stack, emails + len(filed))
    cpu = Processes.spent(before, procs.snapshot())
    server = sum(s for role, s in cpu.items() if role != "load generator")
    per_dossier_ms = server * 1000 / len(filed)
    return {
        "clients": clients,
        "dossiers": len(filed),
        "dossiers_per_s": len(filed) / elapsed,
        "p50_ms": percentile(filed, 50),
        "p99_ms": percentile(filed, 99),
        "server_cpu_ms_per_dossier": per_dossier_ms,
        "bound_dossiers_per_s": CORES * 1000 / per_dossier_ms,
        "cpu_ms_per_dossier_by_role": {r: s * 1000 / len(filed) for r, s in cpu.items()},
        "load_generator_cpu_share": cpu.get("load generator", 0.0) / (elapsed * CORES),
    }


def idle(procs: Processes, seconds: float) -> dict[str, float]:
    """% of one core each process spends when nothing happens."""
    before = procs.snapshot()
    time.sleep(seconds)
    spent = Processes.spent(before, procs.snapshot())
    return {role: 100 * s / seconds for role, s in spent.items()}


def database_now(stack: Stack) -> Any:
    return stack.query("dossiers", "SELECT now() AS t")[0]["t"]


def publish_latency(stack: Stack, since: Any) -> dict[str, float]:
    """Commit → published of the messages staged since `since`, from each outbox row's own
    times (ms; `created_at` is set in the transaction, a little before its commit)."""
    delays: list[float] = []
    for service in ("accounts", "catalogue", "dossiers", "notifier"):
        rows = stack.query(
            service,
            "SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM outbox "
            "WHERE published_at IS NOT NULL AND available_at <= created_at "
            "AND created_at >= $1",
            since,
        )
        delays += [float(r["ms"]) for r in rows]
    return {
        "messages": len(delays),
        "p50_ms": statistics.median(delays) if delays else float("nan"),
        "p90_ms": percentile(delays, 90),
    }


# -- the shapes -----------------------------------------------------------------------------------


@contextmanager
def nginx_shape(stack: Stack, work: Path) -> Iterator[tuple[str, dict[int, str]]]:
    """Deployment's shape: nginx (the gateway template) → one `portal serve` per API and for
    the pages, beside the stack's workers and relay."""
    from services.kernel.registry import PUBLIC_APIS
    from tests.test_gateway_nginx import nginx_gateway

    addresses = {name: f"127.0.0.1:{free_port()}" for name in (*PUBLIC_APIS, "web")}
    web_env = {f"WEB_{name.upper()}_URL": f"http://{addresses[name]}" for name in PUBLIC_APIS}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, address in addresses.items():
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "portal", "serve", name, "--host", "127.0.0.1"]
                + ["--port", address.rsplit(":", 1)[1]],
                env={**stack.env(), **web_env, "PORTAL_TRUSTED_PROXIES": "127.0.0.1"},
                cwd=ROOT,
                stdout=open(work / f"{name}.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        for name, address in addresses.items():
            wait_until(
                lambda a=address: _answers(f"http://{a}/healthz"), 300, what=f"portal serve {name}"
            )
        with nginx_gateway(work / "nginx", addresses) as base:
            nginx_pids = {
                p.pid: "nginx"
                for p in psutil.process_iter(["cmdline"])
                if p.info["cmdline"]
                and "nginx" in p.info["cmdline"][0]
                and str(work) in " ".join(p.info["cmdline"])
            }
            for p in list(nginx_pids):
                for child in psutil.Process(p).children(recursive=True):
                    nginx_pids[child.pid] = "nginx"
            serve = {
                proc.pid: ("web" if name == "web" else f"API {name}")
                for name, proc in procs.items()
            }
            yield base, {**nginx_pids, **serve}
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def run_shape(
    shape: str,
    stack: Stack,
    procs: Processes,
    base: str,
    citizen: dict[str, str],
    officer: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    print(f"[{shape}] idle {args.idle:.0f} s…", flush=True)
    settle(stack, sent_emails(stack))
    idle_share = idle(procs, args.idle)
    results: list[Measure] = []
    print(f"[{shape}] /healthz and a cached read…", flush=True)
    with httpx.Client(base_url=base, timeout=30) as client:
        http_reads(procs, base, results, args.wrk_seconds, client)
    print(f"[{shape}] create, attach, submit, receive × {args.n}…", flush=True)
    since = database_now(stack)
    filing(procs, stack, base, citizen, officer, results, args.n)
    latency = publish_latency(stack, since)
    print(f"[{shape}] pages × {args.pages}…", flush=True)
    pages(procs, base, results, args.pages)
    print(
        f"[{shape}] filing at full speed, {args.clients} clients, {args.seconds:.0f} s…", flush=True
    )
    speed = full_speed(procs, stack, base, citizen, args.seconds, args.clients)
    return {
        "operations": {
            m.name: {
                "count": m.count,
                "seconds": m.seconds,
                "cpu_ms_per_request": m.per_request_ms(),
                "wall_p50_ms": percentile(m.wall_ms, 50)
                if m.wall_ms
                else m.seconds * 1000 / m.count,
                "wall_p99_ms": percentile(m.wall_ms, 99) if m.wall_ms else float("nan"),
            }
            for m in results
        },
        "idle_percent_of_a_core": idle_share,
        "publish_latency": latency,
        "full_speed": speed,
    }


# -- the table -------------------------------------------------------------------------------------


ORDER = ["API", "API accounts", "API catalogue", "API dossiers", "web", "nginx", "relay"]


def print_table(shape: str, figures: dict[str, Any]) -> None:
    ops = figures["operations"]
    roles: set[str] = set()
    for op in ops.values():
        roles |= {r for r, v in op["cpu_ms_per_request"].items() if v > 0.0005}
    ordered = [r for r in ORDER if r in roles] + sorted(
        r for r in roles if r not in ORDER and r != "load generator"
    )
    if "load generator" in roles:
        ordered.append("load generator")
    names = list(ops)
    width = max(9, *(len(n) for n in names))
    print(f"\nms of CPU per request — {shape}")
    print(f"{'process':22}" + "".join(f"{n:>{width + 1}}" for n in names))
    for role in ordered:
        cells = "".join(
            f"{ops[n]['cpu_ms_per_request'].get(role, 0.0):>{width + 1}.2f}" for n in names
        )
        print(f"{role:22}{cells}")
    server = {
        n: sum(v for r, v in ops[n]["cpu_ms_per_request"].items() if r != "load generator")
        for n in names
    }
    print(f"{'all server processes':22}" + "".join(f"{server[n]:>{width + 1}.2f}" for n in names))
    print(
        f"{'wall p50 ms':22}" + "".join(f"{ops[n]['wall_p50_ms']:>{width + 1}.2f}" for n in names)
    )
    print(
        f"{'wall p99 ms':22}" + "".join(f"{ops[n]['wall_p99_ms']:>{width + 1}.2f}" for n in names)
    )
    idle_share = figures["idle_percent_of_a_core"]
    print(
        "idle, % of a core: "
        + ", ".join(
            f"{r} {v:.2f}" for r, v in sorted(idle_share.items(), key=lambda x: -x[1]) if v >= 0.01
        )
    )
    lat = figures["publish_latency"]
    print(
        f"commit → published: median {lat['p50_ms']:.1f} ms, p90 {lat['p90_ms']:.1f} ms "
        f"({lat['messages']} messages)"
    )
    s = figures["full_speed"]
    filed = sum(server[n] for n in ("create", "attach", "submit") if n in server)
    print(
        f"a filed dossier (create + attach + submit + e-mail), one client: {filed:.1f} ms of "
        "server CPU; "
        f"at full speed ({s['clients']} clients): {s['server_cpu_ms_per_dossier']:.1f} ms → bound "
        f"{s['bound_dossiers_per_s']:.0f}/s on {CORES} cores; measured {s['dossiers_per_s']:.1f}/s "
        f"(p50 {s['p50_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms; the load generator used "
        f"{100 * s['load_generator_cpu_share']:.0f} % of the cores)"
    )
    for (role, op), target in TARGETS_MS.items():
        if op not in ops:
            continue
        apis = {
            r: v
            for r, v in ops[op]["cpu_ms_per_request"].items()
            if r == role or (role == "API" and r.startswith("API "))
        }
        if not apis:
            continue
        serving, value = max(apis.items(), key=lambda item: item[1])  # the API that served it
        if value < 0.005:
            continue
        verdict = "met" if value <= target else "MISSED"
        print(f"  target {serving} {op}: {value:.2f} ms ≤ {target} — {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=["gateway", "nginx", "both"], default="both")
    parser.add_argument("-n", type=int, default=100, help="requests of each filing operation")
    parser.add_argument("--pages", type=int, default=100, help="requests of each page")
    parser.add_argument("--wrk-seconds", type=float, default=5.0)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=15.0, help="of filing at full speed")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "cpu.json")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install wrk): the reads use Python's client")

    work = Path(tempfile.mkdtemp(prefix="portal-cpu-"))
    (work / "redis").mkdir()
    redis = RedisServer(work / "redis")
    redis.start()
    smtp = SmtpSink()
    smtp.start()
    controller = smtp._controller
    thread = getattr(controller, "_thread", None)
    smtp_thread = thread.native_id if isinstance(thread, threading.Thread) else None
    stack = Stack(
        args.database_url,
        redis.url,
        smtp,
        work / "stack",
        extra_env={"PORTAL_RELAY_POLL_INTERVAL": "0.2"},  # the default, not the tests' 0.1
        start_timeout=900,
    )
    print("starting the portal (fresh databases, catalogue import)…", flush=True)
    stack.start()
    figures: dict[str, Any] = {}
    try:
        wait_for_catalogue_copy(stack, [PROCEDURE], timeout=600)
        with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
            citizen = bearer(
                registered_citizen(client, smtp, f"cpu.{uuid.uuid4().hex[:6]}@example.vn")
            )
        officer = officer_of(stack, smtp, AGENCY)
        assert redis.proc is not None and stack.proc is not None
        names = [url.rsplit("/", 1)[1] for url in stack.databases.values()]
        procs = Processes([stack.proc.pid], redis.proc.pid, smtp_thread, names, args.database_url)
        if args.shape in ("gateway", "both"):
            figures["gateway"] = run_shape(
                "gateway", stack, procs, stack.base_url, citizen, officer, args
            )
            print_table("the local one-port gateway (`portal run`)", figures["gateway"])
        if args.shape in ("nginx", "both"):
            with nginx_shape(stack, work) as (base, extra):
                procs.extra, procs.gateway_role = extra, "gateway (idle)"
                figures["nginx"] = run_shape("nginx", stack, procs, base, citizen, officer, args)
                procs.extra = {}
            print_table("nginx → `portal serve <service>` (deployment)", figures["nginx"])
    finally:
        stack.stop()
        smtp.stop()
        redis.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "settings": vars(args) | {"out": str(args.out)},
                "figures": figures,
            },
            indent=1,
            default=str,
        )
    )
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()

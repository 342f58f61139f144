"""CPU per request of the catalogue's cached reads and of the pages (issue 15), process by
process: CPU time (user + system, the process and its children, from /proc) is far less noisy
than wall time on a shared machine.

    uv run python -m bench.reads_cpu [--requests 1000] [--profile DIR]

Starts the whole portal (`portal run`: PostgreSQL databases kept between runs, the catalogue
imported once, a
private Redis, an SMTP sink in this process), then beside it the catalogue API alone
(`portal serve catalogue`, as deployed) and the pages alone (`portal serve web`), the pages
calling that catalogue process and the gateway's dossiers API. One client asks the same thing
`--requests` times, one request at a time, after warming it:

- the catalogue process's CPU per cached read (a search, a procedure's detail: answers the
  per-revision cache already holds);
- for each page (home, search results, a procedure, an accountless dossier's tracking page):
  the web process's own CPU per page, and the catalogue process's CPU for the API calls that
  page made (the tracking page's dossiers call goes to the gateway, not counted here).

Wall times: the client's median and p95, and the server's own (`Server-Timing`). With
`--profile DIR`, py-spy records each measured process during each workload (root needed) and
writes speedscope files there. Prints a table and writes bench/results/reads_cpu.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from tests.dossiers_flow import attach_required  # noqa: E402
from tests.support import (  # noqa: E402
    SERVICES,
    RedisServer,
    SmtpSink,
    Stack,
    _admin_execute,
    _with_database,
    free_port,
    wait_until,
)

BIRTH = "1.001193"  # Thủ tục đăng ký khai sinh (commune)
COMMUNE = "X18073"  # Phường Thành Sen
SEARCH = "dang ky khai sinh"
READS = {
    "cached search": f"/procedures?q={SEARCH.replace(' ', '+')}",
    "cached detail": f"/procedures/{BIRTH}",
}
TIMING = re.compile(r"(?:app|web);dur=([\d.]+)")


class KeptStack(Stack):
    """The test stack on databases kept between runs (`bench_reads_<service>`): importing the
    catalogue takes minutes on a busy machine; `--fresh` starts them anew."""

    def start_kept(self, fresh: bool) -> None:
        names = {s: f"bench_reads_{s}" for s in SERVICES}
        if fresh or not _has_procedures(self.database_url, names["catalogue"]):
            drop = [f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names.values()]
            create = [f'CREATE DATABASE "{n}"' for n in names.values()]
            asyncio.run(_admin_execute(self.database_url, drop + create))
        self.databases = {s: _with_database(self.database_url, n) for s, n in names.items()}
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "run"],
            env=self.env(),
            cwd=ROOT,
            stdout=open(self.workdir / "runner.out", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._healthy, 1800, interval=1, what="the portal to be healthy")

    def stop(self) -> None:
        self.databases = {}  # kept for the next run
        super().stop()


def _has_procedures(admin_url: str, name: str) -> bool:
    async def count() -> int:
        try:
            conn = await asyncpg.connect(_with_database(admin_url, name))
        except (asyncpg.InvalidCatalogNameError, OSError):
            return 0
        try:
            return int(await conn.fetchval("SELECT count(*) FROM procedures") or 0)
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await conn.close()

    return asyncio.run(count()) > 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children, in seconds."""
    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@contextmanager
def profiled(directory: Path | None, name: str, pids: dict[str, int]) -> Iterator[None]:
    """py-spy record of each process while the block runs (nothing without a directory)."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    spy = str(ROOT / ".venv" / "bin" / "py-spy")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    recorders = [
        subprocess.Popen(
            [spy, "record", "-r", "200", "--pid", str(pid), "--format", "speedscope"]
            + ["-o", str(directory / f"{slug}.{who}.speedscope.json")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for who, pid in pids.items()
    ]
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(2)  # SIGINT: py-spy writes its file
        for recorder in recorders:
            recorder.wait(60)


def repeat(
    client: httpx.Client, path: str, requests: int, pids: dict[str, int], **kw: Any
) -> dict[str, Any]:
    """`path` asked `requests` times, one at a time (after 50 warming ones): CPU per request
    of each process in `pids`, client and server wall times."""
    for _ in range(50):
        answer = client.get(path, **kw)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    client_ms: list[float] = []
    server_ms: list[float] = []
    before = {who: cpu_seconds(pid) for who, pid in pids.items()}
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path, **kw)
        client_ms.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
        match = TIMING.search(answer.headers.get("server-timing", ""))
        if match:
            server_ms.append(float(match.group(1)))
    after = {who: cpu_seconds(pid) for who, pid in pids.items()}
    return {
        "requests": requests,
        **{f"{who}_cpu_ms": (after[who] - before[who]) * 1000 / requests for who in pids},
        "client_p50_ms": percentile(client_ms, 50),
        "client_p95_ms": percentile(client_ms, 95),
        "server_p50_ms": percentile(server_ms, 50),
        "server_p95_ms": percentile(server_ms, 95),
    }


def tracking_link(stack: Stack, smtp: SmtpSink) -> str:
    """An accountless dossier filed and sent: its tracking page's path and query."""
    api = f"{stack.base_url}/api/v1"
    address = f"bench.reads.{uuid.uuid4().hex[:6]}@example.vn"
    copied = (
        "SELECT (SELECT count(*) FROM procedure_copies WHERE code = $1)"
        " * (SELECT count(*) FROM agency_copies WHERE id = $2) AS n"
    )
    wait_until(lambda: stack.query("dossiers", copied, BIRTH, COMMUNE)[0]["n"] > 0, 900, interval=1)
    captcha = httpx.get(f"{api}/accounts/captcha").json()
    body = {
        "procedure_id": BIRTH,
        "agency_id": COMMUNE,
        "applicant": {
            "full_name": "Nguyễn Thị Hà",
            "address": "Phường Thành Sen, Hà Tĩnh",
            "email": address,
        },
        "declaration": {
            "request": "Đăng ký khai sinh cho con.",
            "child_full_name": "Nguyễn Minh An",
            "child_date_of_birth": "2026-10-02",
            "child_gender": "Nam",
            "place_of_birth": "Bệnh viện Đa khoa tỉnh Hà Tĩnh",
        },
        "captcha_id": captcha["captcha_id"],
        "captcha_answer": "test",
    }
    with httpx.Client(base_url=f"{api}/dossiers", timeout=30) as dossiers:
        created = dossiers.post("/accountless", json=body)
        assert created.status_code == 201, created.text
        dossier, token = created.json(), created.json()["token"]
        holder = {"X-Dossier-Token": token}
        attach_required(dossiers, dossier, holder)
        sent = dossiers.post(f"/{dossier['id']}/submit", headers=holder)
        assert sent.status_code == 200, sent.text
    [mail] = smtp.wait_for(address, timeout=300)
    link = re.search(r"https?://\S+?(/theo-doi-ho-so\?\S+)", mail.text)
    assert link, mail.text
    return link.group(1).rstrip(".,)")


def serve(what: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", what, "--host", "127.0.0.1"]
        + ["--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per workload")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--fresh", action="store_true", help="new databases, a new import")
    parser.add_argument("--profile", type=Path, help="py-spy speedscope files into this folder")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reads_cpu.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="portal-bench-reads-"))
    (work / "redis").mkdir()
    redis = RedisServer(work / "redis")
    redis.start()
    smtp = SmtpSink()
    smtp.start()
    stack = KeptStack(args.database_url, redis.url, smtp, work / "stack")
    print("starting the portal (the catalogue imported on a first run: minutes)…", flush=True)
    stack.start_kept(args.fresh)
    catalogue_port, web_port = free_port(), free_port()
    catalogue_url = f"http://127.0.0.1:{catalogue_port}"
    web_url = f"http://127.0.0.1:{web_port}"
    catalogue = serve("catalogue", catalogue_port, stack.env(), work / "catalogue.log")
    web = serve(
        "web",
        web_port,
        {
            **stack.env(),
            "WEB_API_URL": f"{stack.base_url}/api/v1",
            "WEB_CATALOGUE_URL": catalogue_url,
        },
        work / "web.log",
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        wait_until(lambda: _answers(f"{catalogue_url}/healthz"), 600, what="the catalogue API")
        wait_until(lambda: _answers(f"{web_url}/readyz"), 600, what="the pages")
        pages = {
            "home page": "/",
            "search results page": f"/thu-tuc?q={SEARCH.replace(' ', '+')}",
            "procedure page": f"/thu-tuc/{BIRTH}",
            "tracking page": tracking_link(stack, smtp),
        }
        with httpx.Client(base_url=catalogue_url, timeout=30) as client:
            for name, path in READS.items():
                print(f"{name}: {args.requests} requests…", flush=True)
                with profiled(args.profile, name, {"catalogue": catalogue.pid}):
                    results[name] = repeat(
                        client, path, args.requests, {"catalogue": catalogue.pid}
                    )
        pids = {"web": web.pid, "catalogue": catalogue.pid}
        with httpx.Client(base_url=web_url, timeout=30) as client:
            for name, path in pages.items():
                print(f"{name}: {args.requests} requests…", flush=True)
                with profiled(args.profile, name, {"web": web.pid}):
                    results[name] = repeat(client, path, args.requests, pids)
    finally:
        for proc in (web, catalogue):
            proc.terminate()
            proc.wait(20)
        stack.stop()
        smtp.stop()
        redis.stop()

    print(
        "\n{:22} {:>12} {:>12} {:>8} {:>8} {:>9} {:>9}".format(
            "workload", "web CPU ms", "API CPU ms", "p50 ms", "p95 ms", "srv p50", "srv p95"
        )
    )
    for name, f in results.items():
        web_cpu = f"{f['web_cpu_ms']:.2f}" if "web_cpu_ms" in f else "-"
        print(
            f"{name:22} {web_cpu:>12} {f['catalogue_cpu_ms']:12.2f} {f['client_p50_ms']:8.2f}"
            f" {f['client_p95_ms']:8.2f} {f['server_p50_ms']:9.2f} {f['server_p95_ms']:9.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"machine": machine(), "requests": args.requests, "results": results},
            indent=1,
            ensure_ascii=False,
        )
    )
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()

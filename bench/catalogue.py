"""Catalogue benchmark: search and procedure detail through the gateway, against a trivial
endpoint of the same server measured in the same run, on PostgreSQL, with the real 1,601
procedures and with the catalogue replicated to 20,000.

    make bench-catalogue            # or: uv run python -m bench.catalogue --sizes 1601 20000

Prints a table (client latency, the server's own time from `Server-Timing`, requests/s, the
ratio to the trivial endpoint) and writes JSON to bench/results/catalogue.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from services.catalogue.settings import SHARED_DATA  # noqa: E402
from tests.search_cases import MUST_BE_FIRST, QUERIES  # noqa: E402
from tests.search_everyday import EVERYDAY  # noqa: E402
from tests.support import free_port  # noqa: E402

SOURCE = SHARED_DATA / "procedures" / "national-catalogue.jsonl"
TARGETS = {"search_p95_ms": 15.0, "detail_p95_ms": 10.0, "search_throughput_ratio": 0.5}


@dataclass
class Figures:
    workload: str
    requests: int
    errors: int
    rps: float
    client_p50_ms: float
    client_p95_ms: float
    client_p99_ms: float
    server_p50_ms: float
    server_p95_ms: float
    server_p99_ms: float


def replicated(size: int, workdir: Path) -> Path:
    """The national catalogue copied until it has `size` procedures (codes made unique)."""
    if size <= 1601:
        return SOURCE
    lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
    path = workdir / f"catalogue-{size}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n, line in zip(range(size), itertools.cycle(lines), strict=False):
            record = json.loads(line)
            copy = n // len(lines)
            if copy:
                record["ma_thu_tuc"] = f"{record['ma_thu_tuc']}-{copy:02d}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


async def fresh_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def imported_count(admin_url: str, name: str) -> int:
    """Procedures in an earlier run's database (0 when there is none)."""
    try:
        conn = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + f"/{name}")
    except (asyncpg.InvalidCatalogNameError, OSError):
        return 0
    try:
        return int(await conn.fetchval("SELECT count(*) FROM procedures") or 0)
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def analyzed(url: str) -> None:
    """What the importer leaves behind: fresh statistics and an index without a pending list."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE procedures")
        await conn.execute("SELECT gin_clean_pending_list('ix_procedures_search'::regclass)")
    finally:
        await conn.close()


def prepare(size: int, admin_url: str, workdir: Path, *, reuse: bool = False) -> dict[str, str]:
    name = f"bench_catalogue_{size}"
    if reuse and asyncio.run(imported_count(admin_url, name)) == size:
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        env = {
            **os.environ,
            "PORTAL_DATA_DIR": str(workdir / f"var-{size}"),
            "CATALOGUE_DATABASE_URL": url,
            "PORTAL_ENV": "development",
        }
        subprocess.run(
            [sys.executable, "-m", "portal", "migrate", "catalogue"],
            env=env,
            check=True,
            capture_output=True,
        )
        asyncio.run(analyzed(url))
        print(f"  reusing the {size} procedures imported by an earlier run", flush=True)
        return env
    url = asyncio.run(fresh_database(admin_url, name))
    env = {
        **os.environ,
        "PORTAL_DATA_DIR": str(workdir / f"var-{size}"),
        "CATALOGUE_DATABASE_URL": url,
        "PORTAL_ENV": "development",
    }
    source = replicated(size, workdir)
    portal = [sys.executable, "-m", "portal"]
    subprocess.run([*portal, "migrate"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run(
        [*portal, "import-catalogue", "--quiet", "--source", str(source)],
        env=env,
        check=True,
        capture_output=True,
    )
    print(f"  imported {size} procedures in {time.perf_counter() - started:.0f} s", flush=True)
    return env


async def drive(
    base_url: str,
    paths: list[str],
    seconds: float,
    concurrency: int,
    name: str,
    *,
    warm_all: bool = True,
) -> Figures:
    """Requests `paths` in turn for `seconds`. `warm_all`: each distinct path is asked once
    before measuring (a repeated workload measures answers as the cache keeps them, not the
    first computation of each); otherwise only the connections are warmed."""
    client_ms: list[float] = []
    server_ms: list[float] = []
    errors = 0
    cycle = itertools.cycle(paths)
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            path = next(cycle)
            started = time.perf_counter()
            response = await client.get(path)
            client_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1
            timing = response.headers.get("server-timing", "")
            if "dur=" in timing:
                server_ms.append(float(timing.split("dur=", 1)[1].split(",")[0]))

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        for path in dict.fromkeys(paths) if warm_all else paths[: concurrency * 2]:
            await client.get(path)
        begun = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - begun
    return Figures(
        workload=name,
        requests=len(client_ms),
        errors=errors,
        rps=len(client_ms) / elapsed,
        client_p50_ms=percentile(client_ms, 50),
        client_p95_ms=percentile(client_ms, 95),
        client_p99_ms=percentile(client_ms, 99),
        server_p50_ms=percentile(server_ms, 50),
        server_p95_ms=percentile(server_ms, 95),
        server_p99_ms=percentile(server_ms, 99),
    )


def measure(size: int, env: dict[str, str], seconds: float, concurrency: int) -> list[Figures]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "portal.gateway:create_gateway",
            "--factory",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}/api/v1/catalogue"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the gateway did not start")
            time.sleep(0.2)
        queries = [q for q, _ in MUST_BE_FIRST + QUERIES]
        codes = [code for _, code in QUERIES]
        search = [str(httpx.URL("/procedures", params={"q": q})) for q in queries]
        # every request a new key for the answer cache: what a search costs when computed
        cold = [
            str(httpx.URL("/procedures", params={"q": q, "page_size": n}))
            for n in range(1, 101)
            for q in queries
        ]
        # citizens' own words (issue 13): the lexicon's reading on top of the search
        everyday = [
            str(httpx.URL("/procedures", params={"q": q, "page_size": n}))
            for n in range(1, 101)
            for q, _ in EVERYDAY
        ]
        detail = [f"/procedures/{code}" for code in codes]
        run = [
            ("trivial (/healthz)", ["/healthz"]),
            ("search (?q=)", search),
            ("procedure detail", detail),
            ("search, uncached", cold),
            ("everyday words, uncached", everyday),
        ]
        figures = []
        for name, paths in run:
            for c in (1, concurrency):
                label = f"{name} @ {size}, c={c}"
                warm_all = "uncached" not in name
                figures.append(
                    asyncio.run(drive(base, paths, seconds, c, label, warm_all=warm_all))
                )
        return figures
    finally:
        server.terminate()
        server.wait(15)


def report(results: dict[int, list[Figures]]) -> dict[str, Any]:
    header = (
        f"{'workload':32} {'req/s':>8} {'ratio':>6} {'p50':>7} {'p95':>7} {'p99':>7}"
        f" {'srv p50':>8} {'srv p95':>8} {'srv p99':>8} {'err':>4}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    verdicts: dict[str, Any] = {}
    for size, figures in results.items():
        trivial = figures[1].rps
        for f in figures:
            print(
                f"{f.workload:32} {f.rps:8.0f} {f.rps / trivial:6.2f} {f.client_p50_ms:7.2f}"
                f" {f.client_p95_ms:7.2f} {f.client_p99_ms:7.2f} {f.server_p50_ms:8.2f}"
                f" {f.server_p95_ms:8.2f} {f.server_p99_ms:8.2f} {f.errors:4d}"
            )
        # even rows: one client at a time (latency); odd rows: `concurrency` clients (throughput)
        search, detail, cold, everyday = figures[2], figures[4], figures[6], figures[8]
        loaded_search = figures[3]
        verdicts[str(size)] = {
            "search_p95_ms": (search.server_p95_ms, TARGETS["search_p95_ms"]),
            "uncached_search_p95_ms": (cold.server_p95_ms, TARGETS["search_p95_ms"]),
            "uncached_everyday_p95_ms": (everyday.server_p95_ms, TARGETS["search_p95_ms"]),
            "detail_p95_ms": (detail.server_p95_ms, TARGETS["detail_p95_ms"]),
            "search_throughput_ratio": (
                loaded_search.rps / trivial,
                TARGETS["search_throughput_ratio"],
            ),
        }
    print(
        "\ntargets: server-side p95 in ms with one client at a time; throughput with"
        " concurrent clients, as a ratio to /healthz with as many clients:"
    )
    for size, checks in verdicts.items():
        for name, (value, target) in checks.items():
            ok = value >= target if name.endswith("ratio") else value <= target
            verdict = "met" if ok else "MISSED"
            print(f"  {size:>6} {name:24} {value:8.2f}  target {target:6.2f}  {verdict}")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1601, 20000])
    parser.add_argument("--seconds", type=float, default=5.0, help="per workload and load")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep a database an earlier run imported (the 20,000 import takes minutes)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "catalogue.json")
    args = parser.parse_args()
    if not SOURCE.exists():
        raise SystemExit(f"no national catalogue at {SOURCE}")
    results: dict[int, list[Figures]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(f"catalogue of {size} procedures on PostgreSQL", flush=True)
            env = prepare(size, args.database_url, Path(tmp), reuse=args.reuse)
            results[size] = measure(size, env, args.seconds, args.concurrency)
    verdicts = report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "concurrency": args.concurrency,
                "seconds_per_workload": args.seconds,
                "results": {str(k): [asdict(f) for f in v] for k, v in results.items()},
                "targets": verdicts,
            },
            indent=1,
        )
    )
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()

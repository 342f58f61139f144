"""The pages' cost (issue 12, "Measured"): for each main page, the web app's own CPU per page
(its process alone: the APIs run in `portal run`'s processes) and its p95 server time at a
steady rate, beside the same API calls made straight to the APIs at the same rate, as a ratio.

    make bench      # every part; or: uv run python -m bench.web [--rate 20 --seconds 10]

and Lighthouse (npm `lighthouse`, pinned in bench/lighthouse/, `make bench` installs it; Debian's
chromium through CHROME_PATH) on the home, search results, procedure and registration pages,
mobile: performance and accessibility scores (targets 95 and 100). The filing pages come with
their slice.

Everything on 127.0.0.1: the whole portal (`portal run`, fresh PostgreSQL databases, a private
Redis, an SMTP sink in this process) and `portal serve web` in its own process pointed at the
portal's APIs. Prints a table and writes bench/results/web.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, percentile  # noqa: E402
from tests.accounts_flow import PASSWORD, registered_citizen  # noqa: E402
from tests.support import RedisServer, SmtpSink, Stack, free_port, wait_until  # noqa: E402

BIRTH = "1.001193"
PAGES: dict[str, tuple[str, list[str]]] = {
    # page: (its path, the API calls it makes)
    "home": (
        "/",
        [
            "/catalogue/agencies?tier=department&page=1&page_size=500",
            "/catalogue/agencies?tier=district&page=1&page_size=500",
            "/catalogue/agencies?tier=commune&page=1&page_size=500",
            "/catalogue/fields?page=1&page_size=500",
        ],
    ),
    "search": (
        "/thu-tuc?q=dang+ky+khai+sinh",
        ["/catalogue/procedures?q=dang+ky+khai+sinh&page=1&page_size=20"],
    ),
    "procedure": (f"/thu-tuc/{BIRTH}", [f"/catalogue/procedures/{BIRTH}"]),
    "agency": (
        "/co-quan/HT-STP",
        [
            "/catalogue/agencies/HT-STP",
            "/catalogue/procedures?agency_id=HT-STP&page=1&page_size=20",
        ],
    ),
    "sign-in form": ("/dang-nhap", []),
    "profile (signed in)": ("/ho-so-ca-nhan", ["/accounts/me"]),
}
SERVER_TIMING = re.compile(r"web;dur=([\d.]+)")
LIGHTHOUSE = ROOT / "bench" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
LIGHTHOUSE_PAGES = {
    "home": "/",
    "search results": "/thu-tuc?q=dang+ky+khai+sinh",
    "procedure": f"/thu-tuc/{BIRTH}",
    "registration form": "/dang-ky",
    "filing form (without an account)": f"/nop-ho-so/{BIRTH}/khong-tai-khoan",
}
CHROMIUM_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)


def lighthouse(web: str, work: Path) -> dict[str, dict[str, Any]]:
    """Mobile Lighthouse runs of the main pages: category scores (0-100) and the paint times."""
    results: dict[str, dict[str, Any]] = {}
    for name, path in LIGHTHOUSE_PAGES.items():
        out = work / f"lighthouse-{len(results)}.json"
        subprocess.run(
            [
                str(LIGHTHOUSE),
                web + path,
                "--quiet",
                "--only-categories=performance,accessibility",
                "--form-factor=mobile",
                f"--chrome-flags={CHROMIUM_FLAGS}",
                "--output=json",
                f"--output-path={out}",
            ],
            env={**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")},
            check=True,
            timeout=180,
        )
        report = json.loads(out.read_text())
        audits = report["audits"]
        results[name] = {
            **{k: round(v["score"] * 100) for k, v in report["categories"].items()},
            "fcp_ms": audits["first-contentful-paint"]["numericValue"],
            "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
            "tbt_ms": audits["total-blocking-time"]["numericValue"],
            "cls": audits["cumulative-layout-shift"]["numericValue"],
        }
    return results


async def steady(
    client: httpx.AsyncClient, paths: list[str], rate: float, seconds: float, **kw: Any
) -> list[float]:
    """Each of `paths` in turn (one page's API calls run together, as the page runs them), at
    `rate` rounds a second; the milliseconds of each round."""
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()

    async def round_trip() -> None:
        began = time.perf_counter()
        answers = await asyncio.gather(*(client.get(p, **kw) for p in paths))
        for answer in answers:
            assert answer.status_code == 200, (answer.request.url, answer.status_code)
        latencies.append((time.perf_counter() - began) * 1000)

    n = 0
    while (now := time.perf_counter() - start) < seconds:
        due = n / rate
        if due > now:
            await asyncio.sleep(due - now)
        tasks.append(asyncio.create_task(round_trip()))
        n += 1
    await asyncio.gather(*tasks)
    return latencies


async def measure_page(
    web: str,
    api: str,
    pid: int,
    page_path: str,
    calls: list[str],
    args: argparse.Namespace,
    *,
    cookies: dict[str, str],
    api_headers: dict[str, str],
) -> dict[str, Any]:
    """The page at a steady rate (its latency, the web app's Server-Timing and the web
    process's CPU over the run), then its API calls straight to the APIs at the same rate."""
    process = psutil.Process(pid)
    server_ms: list[float] = []

    async def record(response: httpx.Response) -> None:
        match = SERVER_TIMING.search(response.headers.get("server-timing", ""))
        if match:
            server_ms.append(float(match.group(1)))

    async with httpx.AsyncClient(
        base_url=web, timeout=30, cookies=cookies, event_hooks={"response": [record]}
    ) as client:
        await steady(client, [page_path], args.rate, 1.0)  # warm
        server_ms.clear()
        cpu_before = sum(process.cpu_times()[:2])
        page = await steady(client, [page_path], args.rate, args.seconds)
        cpu = sum(process.cpu_times()[:2]) - cpu_before
    figures: dict[str, Any] = {
        "requests": len(page),
        "cpu_ms_per_page": cpu * 1000 / len(page),
        "page_p50_ms": percentile(page, 50),
        "page_p95_ms": percentile(page, 95),
        "server_p95_ms": percentile(server_ms, 95),
        "api_calls": len(calls),
    }
    if calls:
        async with httpx.AsyncClient(base_url=api, timeout=30, headers=api_headers) as client:
            await steady(client, calls, args.rate, 1.0)
            direct = await steady(client, calls, args.rate, args.seconds)
        figures["api_p95_ms"] = percentile(direct, 95)
        figures["ratio_p95"] = figures["page_p95_ms"] / figures["api_p95_ms"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="pages a second, steady")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "web.json")
    parser.add_argument(
        "--no-lighthouse", action="store_true", help="skip Lighthouse (needs bench/lighthouse)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="portal-bench-web-"))
    (work / "redis").mkdir()
    redis = RedisServer(work / "redis")
    redis.start()
    smtp = SmtpSink()
    smtp.start()
    stack = Stack(args.database_url, redis.url, smtp, work / "stack")
    print("starting the portal (fresh databases, catalogue import)…", flush=True)
    stack.start()
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    api = f"{stack.base_url}/api/v1"
    log = (work / "web.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", "web", "--host", "127.0.0.1"]
        + ["--port", str(port)],
        env={**stack.env(), "WEB_API_URL": api},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    figures: dict[str, Any] = {}
    scores: dict[str, dict[str, Any]] = {}
    try:
        wait_until(lambda: _ready(web), 30, what="portal serve web")
        email = f"bench.web.{uuid.uuid4().hex[:6]}@example.vn"
        with httpx.Client(base_url=f"{api}/accounts", timeout=30) as accounts:
            tokens = registered_citizen(accounts, smtp, email)
        signed_in = _signed_in_cookies(web, email)
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        for name, (path, calls) in PAGES.items():
            print(f"{name}: {args.rate:g}/s for {args.seconds:g} s…", flush=True)
            own = "signed in" in name
            figures[name] = asyncio.run(
                measure_page(
                    web,
                    api,
                    proc.pid,
                    path,
                    calls,
                    args,
                    cookies=signed_in if own else {},
                    api_headers=bearer if own else {},
                )
            )
        if not args.no_lighthouse:
            if not LIGHTHOUSE.exists():
                sys.exit(f"no Lighthouse at {LIGHTHOUSE}: cd bench/lighthouse && npm ci")
            print("Lighthouse, mobile…", flush=True)
            scores = lighthouse(web, work)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        log.close()
        stack.stop()
        smtp.stop()
        redis.stop()
    result = {
        "machine": machine(),
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "pages": figures,
        "lighthouse_mobile": scores,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    header = ("page", "CPU ms/page", "p50 ms", "p95 ms", "server p95", "API p95", "ratio")
    print("\n{:22} {:>11} {:>7} {:>7} {:>10} {:>8} {:>6}".format(*header))
    for name, f in figures.items():
        nan = float("nan")
        print(
            f"{name:22} {f['cpu_ms_per_page']:11.1f} {f['page_p50_ms']:7.1f} "
            f"{f['page_p95_ms']:7.1f} {f['server_p95_ms']:10.1f} "
            f"{f.get('api_p95_ms', nan):8.1f} {f.get('ratio_p95', nan):6.2f}"
        )
    if scores:
        print(
            "\n{:22} {:>11} {:>13} {:>7} {:>7}".format(
                "Lighthouse, mobile", "performance", "accessibility", "FCP ms", "LCP ms"
            )
        )
        for name, f in scores.items():
            print(
                f"{name:22} {f['performance']:11d} {f['accessibility']:13d} "
                f"{f['fcp_ms']:7.0f} {f['lcp_ms']:7.0f}"
            )
    print(f"written: {args.out}")


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _signed_in_cookies(web: str, email: str) -> dict[str, str]:
    with httpx.Client(base_url=web, timeout=30) as client:
        form = client.get("/dang-nhap")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        answer = client.post(
            "/dang-nhap",
            data={"csrf_token": token.group(1), "email": email, "password": PASSWORD},
        )
        assert answer.status_code == 303, answer.text
        return dict(client.cookies)


if __name__ == "__main__":
    main()

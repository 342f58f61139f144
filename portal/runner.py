"""`portal run`: the whole portal on one machine. Checks or starts Redis, starts a mail catcher
unless SMTP_HOST is set, migrates the embedded databases, then supervises the gateway, a worker
per queue and the outbox relay until Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

from services.kernel.registry import SERVICES
from services.kernel.settings import ServiceSettings

QUEUES = SERVICES
"""A queue per service (`services.kernel.contracts.QUEUES`): `portal serve` and `portal worker`
read their argv from here before exec'ing uvicorn or Celery, so nothing heavy is imported
(Redis, Alembic, the captcha) that only `portal run` needs."""


def say(message: str) -> None:
    print(f"[portal] {message}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis(settings: ServiceSettings, data_dir: Path) -> subprocess.Popen[bytes] | None:
    """Use REDIS_URL; else start a local redis-server when one is installed."""
    url = settings.redis_url
    if _redis_answers(url):
        return None
    if "REDIS_URL" in os.environ:
        sys.exit(
            f"[portal] Redis does not answer at REDIS_URL={url}. Start it, or unset REDIS_URL."
        )
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit(
            "[portal] No Redis answers at redis://127.0.0.1:6379 and redis-server is not "
            "installed.\n  Install it (Debian/Ubuntu: sudo apt-get install redis-server), or "
            "set REDIS_URL to a running Redis."
        )
    say("starting a local redis-server on 127.0.0.1:6379")
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        if _redis_answers(url):
            return proc
        time.sleep(0.1)
    proc.terminate()
    sys.exit("[portal] redis-server did not start; see its output above.")


def migrate_all() -> None:
    import importlib

    from services.kernel.migrations import upgrade

    for service in SERVICES:
        settings = importlib.import_module(f"services.{service}.settings").get_settings()
        upgrade(service, settings.resolved_database_url())


def ensure_catalogue() -> None:
    """A first start imports the national catalogue, so there is something to browse."""
    import asyncio

    from services.catalogue.importer import run_import
    from services.catalogue.settings import get_settings

    settings = get_settings()
    if not settings.source_file.exists():
        say(f"no catalogue at {settings.source_file}: the catalogue starts empty")
        return
    report = asyncio.run(run_import(settings, settings.source_file, only_if_empty=True))
    if report is not None:
        say(f"catalogue imported: {report.created} procedures")


class Supervisor:
    def __init__(self, log: IO[bytes] | None) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.log = log

    def start(self, name: str, argv: list[str]) -> None:
        proc = subprocess.Popen(
            argv,
            stdout=self.log,
            stderr=subprocess.STDOUT if self.log else None,
            start_new_session=True,
        )
        self.children.append((name, proc))

    def dead(self) -> list[str]:
        return [name for name, proc in self.children if proc.poll() is not None]

    def stop(self, timeout: float = 15.0) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in self.children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(port: int, sup: Supervisor, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sup.dead():
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


APPS = {service: f"services.{service}.app:create_app" for service in SERVICES} | {
    "web": "web.app:create_app"  # the pages: nginx routes `/` to it
}
PROTOCOL = "portal.http:ProblemHttpToolsProtocol"
"""uvicorn's httptools protocol, answering unparseable requests with problem+json."""


def proxy_options(trusted_proxies: str | None = None) -> list[str]:
    """uvicorn's options for X-Forwarded-For: honoured only from the configured proxies
    (`PORTAL_TRUSTED_PROXIES`: addresses or CIDR networks, comma-separated). None configured:
    never — uvicorn's own default trusts 127.0.0.1, which on one machine is every client."""
    if trusted_proxies is None:
        trusted_proxies = ServiceSettings().trusted_proxies
    allowed = ",".join(p.strip() for p in trusted_proxies.split(",") if p.strip())
    if not allowed:
        return ["--no-proxy-headers"]
    return ["--proxy-headers", "--forwarded-allow-ips", allowed]


def api_argv(service: str, *, host: str = "0.0.0.0", port: int = 8000) -> list[str]:
    """One service's API on its own (deployment: behind nginx, which strips `/api/v1/<name>`),
    or the web pages. The client address comes from the gateway's X-Forwarded-For when the
    gateway is one of `PORTAL_TRUSTED_PROXIES` (the per-address limits)."""
    if service not in APPS:
        raise ValueError(f"no API service {service!r}")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        APPS[service],
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        *proxy_options(),
        "--no-access-log",
        "--http",
        PROTOCOL,
        "--timeout-graceful-shutdown",
        "20",
    ]


def worker_argv(queue: str, *, concurrency: int = 1) -> list[str]:
    """The Celery worker of one queue; SIGTERM is Celery's warm shutdown (running tasks finish)."""
    if queue not in QUEUES:
        raise ValueError(f"no queue {queue!r}")
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        f"services.{queue}.tasks:celery",
        "worker",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]


def parse_concurrency(spec: str) -> dict[str, int]:
    """Pool processes per queue's worker from `N` (every queue) or `queue=N,...` (the others 1),
    as `portal run --concurrency` and `PORTAL_WORKER_CONCURRENCY` take it."""
    spec = spec.strip() or "1"
    if spec.isdigit() and int(spec) >= 1:
        return dict.fromkeys(QUEUES, int(spec))
    plan = dict.fromkeys(QUEUES, 1)
    for part in spec.split(","):
        queue, _, number = part.partition("=")
        queue = queue.strip()
        if queue not in QUEUES or not number.strip().isdigit() or int(number) < 1:
            raise ValueError(f"bad worker concurrency {part!r}: use N or queue=N,… ({QUEUES})")
        plan[queue] = int(number)
    return plan


def process_plan(port: int, worker_concurrency: dict[str, int]) -> list[tuple[str, list[str]]]:
    """What `portal run` starts: the gateway, a worker per queue, one relay for every outbox."""
    py = sys.executable
    plan = [
        (
            "gateway",
            [
                py,
                "-m",
                "uvicorn",
                "portal.gateway:create_gateway",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *proxy_options(),
                "--no-access-log",
                "--http",
                PROTOCOL,
                "--timeout-graceful-shutdown",
                "10",
                "--workers",
                os.environ.get("PORTAL_GATEWAY_WORKERS", "1"),
            ],
        )
    ]
    for queue in QUEUES:
        plan.append(
            (f"{queue}-worker", worker_argv(queue, concurrency=worker_concurrency.get(queue, 1)))
        )
    plan.append(("relay", [py, "-m", "portal", "relay", *SERVICES]))
    return plan


def use_shared_metrics_dir(directory: Path) -> None:
    """Every process `portal run` starts records its metrics in one (emptied) folder, and the
    gateway's /metrics shows them all: no metrics port per process."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    os.environ["PORTAL_METRICS_PORT"] = "0"


def run(*, worker_concurrency: dict[str, int] | None = None) -> int:
    settings = ServiceSettings()
    settings.check_production()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PORTAL_DATA_DIR"] = str(data_dir)
    port = int(os.environ.get("PORTAL_PORT", "8000"))
    os.environ.setdefault("PORTAL_PUBLIC_URL", f"http://127.0.0.1:{port}")
    os.environ.setdefault("WEB_API_URL", f"http://127.0.0.1:{port}/api/v1")  # the pages' APIs
    use_shared_metrics_dir(data_dir / "metrics")

    redis_proc = ensure_redis(settings, data_dir)
    catcher = None
    if not os.environ.get("SMTP_HOST"):
        from portal.mailcatcher import start_mail_catcher

        mail_dir = data_dir / "mail"
        smtp_port = _free_port()
        catcher = start_mail_catcher(mail_dir, port=smtp_port)
        os.environ.update(
            SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), PORTAL_MAIL_DIR=str(mail_dir)
        )
        say(f"mail catcher on 127.0.0.1:{smtp_port}; caught mail: {mail_dir}/*.eml and /mail")

    from services.accounts.settings import get_settings as accounts_settings

    acc = accounts_settings()
    if not acc.production:
        from services.accounts.security import ensure_secret, ensure_signing_key

        ensure_signing_key(acc.private_key_path, acc.public_key_path)
        ensure_secret(acc.secret_path)
    if not acc.captcha_secret:  # accounts seals captchas with it, dossiers verifies them
        from services.kernel.captcha import load_captcha_secret

        load_captcha_secret(acc)
    say("migrating databases")
    migrate_all()
    ensure_catalogue()

    log_path = os.environ.get("PORTAL_LOG_FILE")
    log = open(log_path, "ab") if log_path else None  # noqa: SIM115
    sup = Supervisor(log)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        plan = process_plan(port, worker_concurrency or parse_concurrency("1"))
        for name, argv in plan:
            sup.start(name, argv)
        if _wait_healthy(port, sup, timeout=90):
            say(f"ready: http://127.0.0.1:{port}  (API docs: http://127.0.0.1:{port}/docs)")
        elif not stopping:
            say(f"not healthy in time; dead: {sup.dead() or 'none'}; see /healthz")
        while not stopping:
            dead = sup.dead()
            if dead:
                say(f"stopped unexpectedly: {', '.join(dead)}; shutting down")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        say("stopping")
        sup.stop()
        if catcher is not None:
            catcher.stop()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        if log is not None:
            log.close()

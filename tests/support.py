"""Test helpers: a capturing SMTP server, a local Redis server, and the whole portal started
with `portal run` against them and PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import asyncpg
import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer

from services.kernel.registry import SERVICES

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, timeout: float, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


@dataclass
class Mail:
    """One message the sink took; parsed on first look (parsing costs the sink more than
    receiving, and a benchmark's SMTP server must not be slower than the portal it measures)."""

    to: list[str]
    raw: bytes
    received_at: float = field(default_factory=time.time)

    @functools.cached_property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    def _body(self, kind: str) -> str:
        part = self.message.get_body(preferencelist=(kind,))
        return str(part.get_content()) if part is not None else ""

    @functools.cached_property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @functools.cached_property
    def text(self) -> str:
        return self._body("plain")

    @functools.cached_property
    def html(self) -> str:
        return self._body("html")

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def portal_message_id(self) -> str:
        return str(self.message["X-Portal-Message-Id"])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if self.sink.mode == "tempfail":
            self.sink.refused += 1
            return "451 4.3.0 Try again later"
        if "reject" in address:
            return "550 5.1.1 Mailbox does not exist"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        mail = Mail(to=list(envelope.rcpt_tos), raw=envelope.content)
        with self.sink.lock:
            self.sink.mails.append(mail)
        return "250 Message accepted"


class SmtpSink:
    """An aiosmtpd server that keeps what it receives; it can be stopped, restarted on the same
    port, or told to answer 451 to every recipient."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.mode = "accept"
        self.refused = 0
        self.connections = 0
        self._controller: Controller | None = None

    def start(self) -> None:
        sink = self

        class CountingSMTP(SMTPServer):
            def connection_made(self, transport):  # type: ignore[no-untyped-def]
                sink.connections += 1
                super().connection_made(transport)

        class _Controller(Controller):
            def factory(self):  # type: ignore[no-untyped-def]
                return CountingSMTP(self.handler, **self.SMTP_kwargs)

        self._controller = _Controller(self.handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def handler(self) -> Any:
        """The aiosmtpd handler; subclasses inject other failure modes here."""
        return _Handler(self)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.to]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30.0) -> list[Mail]:
        return wait_until(
            lambda: self.to(address) if len(self.to(address)) >= count else None,
            timeout,
            what=f"{count} e-mail(s) to {address}",
        )


class RedisServer:
    """A private redis-server on a free port, so stopping it harms nothing else."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._answers, 10, what="redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def _admin_dsn(database_url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", database_url)


def _with_database(database_url: str, name: str) -> str:
    base = _admin_dsn(database_url).rsplit("/", 1)[0]
    return f"{base}/{name}"


async def _admin_execute(admin_url: str, statements: list[str]) -> None:
    conn = await asyncpg.connect(_admin_dsn(admin_url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _create_databases(admin_url: str, names: list[str]) -> None:
    await _admin_execute(admin_url, [f'CREATE DATABASE "{name}"' for name in names])


async def _drop_databases(admin_url: str, names: list[str]) -> None:
    await _admin_execute(
        admin_url, [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names]
    )


TRUSTED_PROXY = "127.0.0.2"
"""The address the test stack trusts as a reverse proxy (PORTAL_TRUSTED_PROXIES): all of
127.0.0.0/8 is the loopback interface on Linux, so a client can connect from it."""
SERVICE_PREFIXES = tuple(f"{s.upper()}_" for s in SERVICES)


@dataclass
class Stack:
    """The whole portal (`portal run`) on fresh PostgreSQL databases."""

    database_url: str
    redis_url: str
    smtp: SmtpSink
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    admin_email: str = "quantri@hatinh.gov.vn"
    admin_password: str = "Quan-tri-vien-2025!"
    proc: subprocess.Popen[bytes] | None = None
    databases: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 120.0  # the first start imports the catalogue: minutes when loaded

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "portal.log"

    def db_url(self, service: str) -> str:
        return self.databases[service]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}
        env.update(
            PORTAL_ENV="test",
            PORTAL_PORT=str(self.port),
            PORTAL_DATA_DIR=str(self.workdir / "var"),
            PORTAL_CAPTCHA="test",
            PORTAL_LOG_FILE=str(self.log_path),
            PORTAL_ADMIN_EMAIL=self.admin_email,
            PORTAL_ADMIN_PASSWORD=self.admin_password,
            REDIS_URL=self.redis_url,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(self.smtp.port),
            PORTAL_RELAY_POLL_INTERVAL="0.1",
            # The tests' stand-in for a reverse proxy connects from this address: the gateway
            # takes X-Forwarded-For from it only (`via_proxy`), never from 127.0.0.1.
            PORTAL_TRUSTED_PROXIES=TRUSTED_PROXY,
            NOTIFIER_RETRY_BASE_SECONDS="0.5",
            NOTIFIER_RETRY_MAX_SECONDS="2",
            PORTAL_BODY_TIMEOUT_SECONDS="3",
            CATALOGUE_SEARCH_LOG_SECONDS="0.3",
        )
        for service, url in self.databases.items():
            env[f"{service.upper()}_DATABASE_URL"] = url
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        tag = uuid.uuid4().hex[:8]
        names = {s: f"portal_test_{tag}_{s}" for s in SERVICES}
        asyncio.run(_create_databases(self.database_url, list(names.values())))
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
        try:
            wait_until(
                self._healthy, self.start_timeout, interval=0.3, what="the portal to be healthy"
            )
        except AssertionError:
            self.stop()
            raise AssertionError("portal did not start:\n" + self.tail_logs()) from None

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError("portal exited:\n" + self.tail_logs())
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def tail_logs(self, lines: int = 80) -> str:
        out = []
        for path in (self.workdir / "runner.out", self.log_path):
            if path.exists():
                out.append(
                    f"--- {path.name}\n"
                    + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(out)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.databases:
            names = [url.rsplit("/", 1)[1] for url in self.databases.values()]
            asyncio.run(_drop_databases(self.database_url, names))
            self.databases = {}

    async def sql(self, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.databases[service])
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    def query(self, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
        return asyncio.run(self.sql(service, query, *args))

    def keys_dir(self) -> Path:
        return self.workdir / "var" / "keys"


CODE = re.compile(r"là:\s*(\d{6})\b")


def code_from(mail: Mail) -> str:
    """The 6-digit code as a person reads it in the e-mail ("... của bạn là: 123456")."""
    match = CODE.search(mail.text)
    assert match, f"no code in e-mail: {mail.text}"
    return match.group(1)


LINK = re.compile(r"https?://[^\s\"'<>]+")


def link_from(mail: Mail, path: str) -> str:
    """The link of the e-mail's text part whose path ends with `path` (e.g. "/activate")."""
    for url in LINK.findall(mail.text):
        if url.split("?", 1)[0].endswith(path):
            return url
    raise AssertionError(f"no {path} link in e-mail: {mail.text}")


ACTIVATION_PAGE, RESET_PAGE, INVITATION_PAGE = (
    "/kich-hoat",
    "/dat-lai-mat-khau",
    "/can-bo/dat-mat-khau",
)
"""The web app's pages the e-mails' links open (services/accounts/service.py, LINKED_PAGES)."""
API_PAGES = {
    ACTIVATION_PAGE: "/api/v1/accounts/activate",
    RESET_PAGE: "/api/v1/accounts/password-reset/confirm",
    INVITATION_PAGE: "/api/v1/accounts/password-reset/confirm",
}


def api_page(mail: Mail, page: str) -> str:
    """The accounts API's own small page (`GET /activate`, `GET /password-reset/confirm`) for
    the e-mail's link to the web app's `page`: the same address and token. The links open the
    web app's pages; the API's pages stay for clients that call them."""
    parts = urlsplit(link_from(mail, page))
    return urlunsplit(parts._replace(path=API_PAGES[page]))


def via_proxy(stack: Stack, client_address: str, service: str = "accounts") -> httpx.Client:
    """An HTTP client to one API as a trusted reverse proxy would call it for a citizen at
    `client_address`: connected from TRUSTED_PROXY, with X-Forwarded-For."""
    return httpx.Client(
        base_url=f"{stack.base_url}/api/v1/{service}",
        transport=httpx.HTTPTransport(local_address=TRUSTED_PROXY),
        headers={"X-Forwarded-For": client_address},
        timeout=30,
    )


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": values.get("action", ""),
                    "method": values.get("method", "get").lower(),
                    "fields": {},
                }
            )
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["fields"][values["name"]] = values.get("value", "")


def form_of(page: httpx.Response) -> dict[str, Any]:
    """The one form of an HTML page: {"action" (resolved against the page's URL, as a browser
    does), "method", "fields": {name: value}}."""
    parser = _Forms()
    parser.feed(page.text)
    assert len(parser.forms) == 1, page.text
    form = parser.forms[0]
    return {**form, "action": urljoin(str(page.url), form["action"])}

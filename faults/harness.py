"""What the fault scenarios share: an SMTP server with more ways to misbehave, a private
PostgreSQL cluster, the portal's worker processes found under `portal run`, a steady load of
registrations and dossier transitions through the gateway, and the ledger that compares what
was accepted with what was stored and e-mailed."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.dossiers_flow import pdf
from tests.support import ROOT, Mail, SmtpSink, Stack, code_from, free_port, wait_until

BIRTH = "1.001193"  # Thủ tục đăng ký khai sinh (commune tier)
COMMUNE = "X18073"  # Phường Thành Sen
OFFICER_PASSWORD = "Can-bo-Ha-Tinh-2025"
PASSWORD = "Ha-Tinh-2025-an-toan"

# Which template an e-mail came from, by its subject (services/notifier/templates/*/subject.txt).
SUBJECTS = (
    ("Mã kích hoạt tài khoản", "account_activation"),
    ("đã gửi đến cơ quan giải quyết", "dossier_submitted"),
    ("đã được tiếp nhận, đang xử lý", "dossier_processing"),
    ("bị trả lại", "dossier_rejected"),
    ("đã có kết quả", "dossier_result_returned"),
    ("yêu cầu bổ sung", "dossier_supplement_requested"),
)


def template_of(subject: str) -> str:
    for needle, template in SUBJECTS:
        if needle in subject:
            return template
    return "other"


@dataclass(frozen=True)
class Durations:
    """Seconds of each phase; CI's defaults, or the issue's with --full."""

    full: bool
    warmup: float = 4
    after_kill: float = 15
    redis_down: float = 20
    smtp_down: float = 20
    smtp_slow: float = 10
    smtp_reset: float = 10
    pg_down: float = 8
    settle: float = 120
    registrations_per_s: float = 5
    transitions_per_s: float = 5


CI = Durations(full=False)
FULL = Durations(
    full=True,
    warmup=10,
    after_kill=30,
    redis_down=60,
    smtp_down=120,
    smtp_slow=30,
    smtp_reset=30,
    pg_down=30,
    settle=240,
)


# -- SMTP -------------------------------------------------------------------------------------


@dataclass
class Received:
    at: float
    recipient: str
    template: str
    portal_message_id: str


class _FaultHandler:
    def __init__(self, sink: FaultSmtp) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if self.sink.mode == "tempfail":
            self.sink.refused += 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        sink = self.sink
        if sink.mode == "slow":
            await asyncio.sleep(sink.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        portal_id = str(message["X-Portal-Message-Id"])
        if sink.mode == "reset_in_data":
            # The whole message arrived but the server drops the connection before its reply:
            # it keeps nothing (a crash while receiving), the client cannot tell, so retries.
            sink.resets += 1
            server.transport.abort()
            return "421 reset"
        subject = str(message["Subject"])
        recipients = ",".join(envelope.rcpt_tos)
        received = Received(time.time(), recipients, template_of(subject), portal_id)
        mail = Mail(to=list(envelope.rcpt_tos), raw=envelope.content)
        with sink.lock:
            sink.received.append(received)
            sink.mails.append(mail)
        if sink.mode == "reset_after_accept":
            # The server has taken the message (a real one would deliver it), then the connection
            # drops before "250": the client cannot know, and a retry delivers it twice.
            sink.resets += 1
            sink.ambiguous.append((received.recipient, received.template))
            server.transport.abort()
            return "421 reset"
        return "250 Message accepted"


class FaultSmtp(SmtpSink):
    """The suite's SMTP sink with more modes: `accept`, `tempfail` (451 to every recipient),
    `slow` (`delay` seconds before answering DATA), `reset_in_data` (connection reset before
    the reply to DATA, message not kept) and `reset_after_accept` (message kept, then the
    connection reset before "250"). `stop()` makes it refuse connections (down)."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.received: list[Received] = []
        self.delay = 2.0
        self.resets = 0
        self.ambiguous: list[tuple[str, str]] = []

    def handler(self) -> Any:
        return _FaultHandler(self)

    @property
    def up(self) -> bool:
        return self._controller is not None

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)


# -- PostgreSQL -------------------------------------------------------------------------------

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


class PgCluster:
    """A private PostgreSQL cluster (initdb into a temporary folder, its own port), so a
    scenario can stop and restart it without touching the machine's shared server."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "pgdata"
        self.port = free_port()
        self.user: str | None = "postgres" if os.geteuid() == 0 else None

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists() and (PG_BIN / "pg_ctl").exists()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run(
            [*prefix, *argv], check=check, capture_output=True, timeout=120, cwd="/"
        )

    def init(self) -> None:
        self.dir.mkdir(parents=True)
        if self.user:  # initdb refuses root: the cluster belongs to `postgres`
            shutil.chown(self.dir, self.user)
            for parent in (self.dir.parent, *self.dir.parent.parents):
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o711)
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E",
            "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-o", options, "-l",
            str(self.dir / "server.log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        pg_ctl = str(PG_BIN / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.dir), "-m", mode, "-w", "stop", check=False)


# -- processes --------------------------------------------------------------------------------


def _ppid_map() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _cmdline(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes()).replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    parents = _ppid_map()
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid]
        found.extend(children)
        frontier.extend(children)
    return found


def celery_processes(root: int, queue: str) -> tuple[int | None, list[int]]:
    """The main process of the queue's Celery worker under `root`, and its pool children."""
    needle = f"services.{queue}.tasks:celery worker"
    mine = [p for p in [root, *descendants(root)] if needle in _cmdline(p)]
    parents = _ppid_map()
    mains = [p for p in mine if parents.get(p) not in mine]
    main = mains[0] if mains else None
    return main, [p for p in mine if parents.get(p) == main]


def start_worker(stack: Stack, queue: str, log: Path) -> subprocess.Popen[bytes]:
    """A worker started the way an operator (or Kubernetes) starts one: `portal worker`."""
    return subprocess.Popen(
        [sys.executable, "-m", "portal", "worker", queue],
        env=stack.env(),
        cwd=ROOT,
        stdout=open(log, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- people and load --------------------------------------------------------------------------


class Officer:
    """An officer of one agency, invited by the admin; signs in again when the token expires."""

    def __init__(self, stack: Stack, smtp: SmtpSink, agency_id: str) -> None:
        self.stack = stack
        self.email = f"can.bo.{uuid.uuid4().hex[:8]}@hatinh.gov.vn"
        accounts = f"{stack.base_url}/api/v1/accounts"
        admin = httpx.post(
            f"{accounts}/token",
            data={"username": stack.admin_email, "password": stack.admin_password},
        )
        assert admin.status_code == 200, admin.text
        invited = httpx.post(
            f"{accounts}/officers",
            json={"email": self.email, "full_name": "Trần Văn Cán", "agency_id": agency_id},
            headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
        )
        assert invited.status_code == 201, invited.text
        [mail] = smtp.wait_for(self.email, timeout=60)
        confirm = httpx.post(
            f"{accounts}/password-reset/confirm",
            json={"email": self.email, "code": code_from(mail), "new_password": OFFICER_PASSWORD},
        )
        assert confirm.status_code == 204, confirm.text
        self._headers: dict[str, str] = {}
        self._at = 0.0
        self.lock = threading.Lock()

    def headers(self, fresh: bool = False) -> dict[str, str]:
        with self.lock:
            if fresh or not self._headers or time.monotonic() - self._at > 600:
                signed = httpx.post(
                    f"{self.stack.base_url}/api/v1/accounts/token",
                    data={"username": self.email, "password": OFFICER_PASSWORD},
                    timeout=30,
                )
                signed.raise_for_status()
                self._headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
                self._at = time.monotonic()
            return self._headers


@dataclass
class Ledger:
    """What the load generator was told: e-mails owed per (recipient, template), dossiers and
    transitions the API accepted (2xx), and what is uncertain (no answer: it may have
    happened)."""

    expected: Counter[tuple[str, str]] = field(default_factory=Counter)
    accepted_at: dict[tuple[str, str], float] = field(default_factory=dict)
    uncertain: set[str] = field(default_factory=set)
    dossiers: set[str] = field(default_factory=set)
    transitions: list[tuple[str, str]] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def owe(self, recipient: str, template: str) -> None:
        with self.lock:
            self.expected[(recipient, template)] += 1
            self.accepted_at.setdefault((recipient, template), time.time())

    def count(self, what: str) -> None:
        with self.lock:
            self.requests[what] += 1


class Load:
    """Registrations and dossier transitions at steady rates through the gateway, each in its own
    thread. A dossier is filed without an account (one address per dossier, so every e-mail is
    told apart by recipient and template) and moves submitted → processing → result or
    rejection; each of those transitions is one e-mail."""

    def __init__(
        self,
        stack: Stack,
        officer: Officer,
        *,
        registrations_per_s: float = 5.0,
        transitions_per_s: float = 5.0,
        threads: int = 2,
    ) -> None:
        self.stack = stack
        self.officer = officer
        self.ledger = Ledger()
        self.tag = uuid.uuid4().hex[:6]
        self.domain = f"tai-{self.tag}.example.vn"
        self.rates = (registrations_per_s, transitions_per_s)
        self.threads_per_kind = threads
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: Counter[str] = Counter()

    @classmethod
    def at(cls, stack: Stack, officer: Officer, durations: Durations) -> Load:
        """The steady load every scenario runs under, at the rates `durations` gives."""
        return cls(
            stack,
            officer,
            registrations_per_s=durations.registrations_per_s,
            transitions_per_s=durations.transitions_per_s,
        )

    def start(self) -> None:
        reg, trans = self.rates
        for i in range(self.threads_per_kind):
            for target, rate in ((self._registrations, reg), (self._dossiers, trans)):
                if rate > 0:
                    t = threading.Thread(
                        target=self._paced, args=(target, rate / self.threads_per_kind), daemon=True
                    )
                    t.name = f"load-{target.__name__}-{i}"
                    t.start()
                    self.threads.append(t)

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(60)

    def _paced(self, step: Any, rate: float) -> None:
        interval = 1.0 / rate
        state: dict[str, Any] = {"queue": []}
        with httpx.Client(base_url=f"{self.stack.base_url}/api/v1", timeout=15) as client:
            next_at = time.monotonic()
            while not self.stop_event.is_set():
                try:
                    step(client, state)
                except httpx.HTTPError as exc:
                    self.errors[type(exc).__name__] += 1
                except Exception as exc:  # keep the load going; report what broke
                    self.errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
                next_at = max(next_at + interval, time.monotonic() - interval)
                self.stop_event.wait(max(0.0, next_at - time.monotonic()))

    # A call that got no answer may have taken effect: its e-mail is neither owed nor unexpected.
    def _call(self, client: httpx.Client, what: str, recipient: str, method: str, url: str, **kw):  # type: ignore[no-untyped-def]
        self.ledger.count(f"{what}:sent")
        try:
            response = client.request(method, url, **kw)
        except httpx.HTTPError:
            self.ledger.count(f"{what}:no-answer")
            with self.ledger.lock:
                self.ledger.uncertain.add(recipient)
            raise
        self.ledger.count(f"{what}:{response.status_code // 100}xx")
        return response

    def _registrations(self, client: httpx.Client, state: dict[str, Any]) -> None:
        address = f"dk.{uuid.uuid4().hex[:10]}@{self.domain}"
        captcha = client.get("/accounts/captcha")
        if captcha.status_code != 200:
            self.ledger.count(f"captcha:{captcha.status_code // 100}xx")
            return
        body = {
            "email": address,
            "password": PASSWORD,
            "full_name": "Nguyễn Thị Hà",
            "captcha_id": captcha.json()["captcha_id"],
            "captcha_answer": "test",
        }
        response = self._call(client, "register", address, "POST", "/accounts/register", json=body)
        if response.status_code == 202:
            self.ledger.owe(address, "account_activation")

    def _dossiers(self, client: httpx.Client, state: dict[str, Any]) -> None:
        """One transition: move the oldest dossier in the pipeline on, or file a new one."""
        queue: list[dict[str, Any]] = state["queue"]
        if len(queue) >= 3 or (queue and queue[0]["status"] != "new"):
            dossier = queue.pop(0)
            self._advance(client, dossier)
            if dossier["status"] not in ("result_returned", "rejected", "lost"):
                queue.append(dossier)
            return
        dossier = self._file(client)
        if dossier is not None:
            self._advance(client, dossier)
            if dossier["status"] == "submitted":
                queue.append(dossier)

    def _file(self, client: httpx.Client) -> dict[str, Any] | None:
        address = f"hs.{uuid.uuid4().hex[:10]}@{self.domain}"
        captcha = client.get("/accounts/captcha")
        if captcha.status_code != 200:
            self.ledger.count(f"captcha:{captcha.status_code // 100}xx")
            return None
        body = {
            "procedure_id": BIRTH,
            "agency_id": COMMUNE,
            "applicant": {"full_name": "Nguyễn Thị Hà", "address": "Hà Tĩnh", "email": address},
            "declaration": {
                "request": "Đăng ký khai sinh cho con.",
                "child_full_name": "Nguyễn Minh An",
                "child_date_of_birth": "2026-10-02",
                "child_gender": "Nam",
                "place_of_birth": "Bệnh viện Đa khoa tỉnh Hà Tĩnh",
            },
            "captcha_id": captcha.json()["captcha_id"],
            "captcha_answer": "test",
        }
        created = self._call(client, "file", address, "POST", "/dossiers/accountless", json=body)
        if created.status_code != 201:
            return None
        dossier = created.json()
        with self.ledger.lock:
            self.ledger.dossiers.add(dossier["id"])
        holder = {"X-Dossier-Token": dossier["token"]}
        for component in dossier["components"]:
            if component["required"]:
                files = {"file": (f"{component['id']}.pdf", pdf("Ban sao"), "application/pdf")}
                url = f"/dossiers/{dossier['id']}/components/{component['id']}/files"
                attached = self._call(client, "attach", address, "POST", url, files=files,
                                      headers=holder)  # fmt: skip
                if attached.status_code != 201:
                    return None
        return {"id": dossier["id"], "email": address, "holder": holder, "status": "new", "n": 0}

    def _advance(self, client: httpx.Client, dossier: dict[str, Any]) -> None:
        status, did = dossier["status"], dossier["id"]
        url = f"/dossiers/{did}"
        kw: dict[str, Any] = {"headers": self.officer.headers()}
        if status == "new":
            action, template, url = "submit", "dossier_submitted", f"{url}/submit"
            kw = {"headers": dossier["holder"]}
        elif status == "submitted":
            action, template, url = "receive", "dossier_processing", f"{url}/receive"
        elif hash(did) % 2:
            action, template, url = "reject", "dossier_rejected", f"{url}/reject"
            kw["json"] = {"reason": "Giấy chứng sinh không rõ, đề nghị nộp lại."}
        else:
            action, template, url = "return_result", "dossier_result_returned", f"{url}/result"
            kw["files"] = [("files", ("ket-qua.pdf", pdf("Ket qua"), "application/pdf"))]
            kw["data"] = {"note": "Đã cấp."}
        try:
            response = self._call(client, action, dossier["email"], "POST", url, **kw)
        except httpx.HTTPError:
            dossier["status"] = "lost"  # unknown whether it happened: leave this dossier alone
            raise
        if response.status_code == 401 and status != "new":
            self.officer.headers(fresh=True)
            return
        if 200 <= response.status_code < 300:
            self.ledger.owe(dossier["email"], template)
            with self.ledger.lock:
                self.ledger.transitions.append((did, action))
            dossier["status"] = response.json()["status"]
        elif response.status_code == 409:
            dossier["status"] = "lost"
        else:
            dossier["n"] += 1
            if dossier["n"] > 20:
                dossier["status"] = "lost"


# -- counting ---------------------------------------------------------------------------------


def mail_counts(smtp: FaultSmtp, domain: str) -> Counter[tuple[str, str]]:
    mails = smtp.snapshot()
    return Counter((r.recipient, r.template) for r in mails if r.recipient.endswith(domain))


def settle(smtp: FaultSmtp, load: Load, timeout: float) -> float:
    """Wait until every owed e-mail arrived (or the timeout); returns the seconds waited."""
    started = time.monotonic()

    def done() -> bool:
        got = mail_counts(smtp, load.domain)
        return all(got[key] >= n for key, n in load.ledger.expected.items())

    with contextlib.suppress(AssertionError):
        wait_until(done, timeout, interval=0.5, what="every owed e-mail")
    time.sleep(3)  # late duplicates show up here
    return time.monotonic() - started


def mail_report(smtp: FaultSmtp, load: Load, fault_end: float | None) -> dict[str, Any]:
    got = mail_counts(smtp, load.domain)
    expected = load.ledger.expected
    uncertain = load.ledger.uncertain
    lost = {k: n - got[k] for k, n in expected.items() if got[k] < n}
    duplicated = {k: got[k] - n for k, n in expected.items() if got[k] > n}
    unexpected = {k: n for k, n in got.items() if k not in expected and k[0] not in uncertain}
    ambiguous = Counter(smtp.ambiguous)
    unexplained = {k: n - ambiguous[k] for k, n in duplicated.items() if n > ambiguous[k]}
    arrivals: dict[tuple[str, str], float] = {}
    for r in smtp.snapshot():
        arrivals.setdefault((r.recipient, r.template), r.at)
    report: dict[str, Any] = {
        "emails_expected": sum(expected.values()),
        "emails_received": sum(n for k, n in got.items() if k in expected),
        "emails_lost": sum(lost.values()),
        "emails_duplicated": sum(duplicated.values()),
        "emails_unexpected": sum(unexpected.values()),
        "requests_without_answer": len(uncertain),
        "smtp_ambiguous_resets": sum(ambiguous[k] for k in expected),
        "emails_duplicated_not_by_smtp": sum(unexplained.values()),
        "unexplained_duplicates": [list(k) for k in list(unexplained)[:5]],
        "lost_examples": [list(k) for k in list(lost)[:5]],
        "duplicated_examples": [list(k) for k in list(duplicated)[:5]],
    }
    if fault_end is not None:
        owed_before = [k for k, at in load.ledger.accepted_at.items() if at <= fault_end]
        after = [r.at for r in smtp.snapshot() if r.at >= fault_end]
        report["first_mail_after_fault_s"] = round(min(after) - fault_end, 1) if after else None
        caught = [arrivals[k] for k in owed_before if k in arrivals]
        report["caught_up_after_fault_s"] = (
            round(max(max(caught) - fault_end, 0.0), 1)
            if caught and len(caught) == len(owed_before)
            else None
        )
    return report


def lost_mail_trace(stack: Stack, lost: list[list[str]]) -> list[dict[str, Any]]:
    """Where each lost e-mail got to: its delivery row in the notifier (none: the notifier
    never took the message) and the outbox rows that carried it, per service."""
    trace = []
    for recipient, template in lost:
        entry: dict[str, Any] = {"recipient": recipient, "template": template}
        rows = stack.query(
            "notifier",
            "SELECT message_id, status, attempts, last_error, updated_at::text AS updated_at "
            "FROM deliveries WHERE recipient = $1 AND template = $2",
            recipient,
            template,
        )
        entry["deliveries"] = [dict(r) for r in rows]
        for service in ("accounts", "dossiers", "notifier"):
            rows = stack.query(
                service,
                "SELECT id, created_at::text AS created_at, published_at::text AS published_at, "
                "attempts, last_error FROM outbox WHERE payload->>'to' = $1 "
                "AND payload->>'template' = $2",
                recipient,
                template,
            )
            entry[f"{service}_outbox"] = [dict(r) for r in rows]
        trace.append(entry)
    return trace


def dossier_report(stack: Stack, load: Load) -> dict[str, Any]:
    ids = sorted(load.ledger.dossiers)
    stored = stack.query("dossiers", "SELECT id FROM dossiers WHERE id = ANY($1::text[])", ids)
    history = stack.query(
        "dossiers",
        "SELECT dossier_id, action FROM dossier_history WHERE dossier_id = ANY($1::text[])",
        ids,
    )
    recorded = Counter((r["dossier_id"], r["action"]) for r in history)
    accepted = Counter(load.ledger.transitions)
    missing = sum(max(0, n - recorded[k]) for k, n in accepted.items())
    return {
        "dossiers_accepted": len(ids),
        "dossiers_stored": len(stored),
        "dossiers_lost": len(ids) - len(stored),
        "transitions_accepted": sum(accepted.values()),
        "transitions_lost": missing,
        "requests": dict(sorted(load.ledger.requests.items())),
        "load_errors": dict(load.errors.most_common(8)),
    }

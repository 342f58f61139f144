"""A worker SIGKILLed mid-burst. Two kinds of kill at once, for the notifier and then the dossiers
queue: the pool process of `portal run`'s worker (Celery's main process replaces it; the task
it held is rejected back to the queue: acks_late, reject_on_worker_lost), and a whole worker
(main and pool, as an OOM kill takes a pod) that an operator — or Kubernetes — started and
starts again. `portal run` itself does not restart a dead worker: it stops the whole portal,
which is why the whole-worker kill is done to a worker started outside it. What that worker
held comes back when the visibility timeout expires.

Then the notifier's worker killed whole, alone, on the notifier's shipped settings (the suite's
shorter CELERY_VISIBILITY_TIMEOUT is the other services'): every e-mail it held must reach its
filer within two minutes of the kill."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from typing import Any

import httpx
import redis

from faults.harness import (
    Durations,
    FaultSmtp,
    Load,
    Officer,
    celery_processes,
    dossier_report,
    lost_mail_trace,
    mail_report,
    settle,
    start_worker,
    stop_process,
)
from tests.support import RedisServer, Stack, wait_until


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class CatalogueEdits:
    """An admin editing one procedure twice a second: each edit is a new version published to
    the dossiers queue, which the dossiers worker must store (accepted vs stored)."""

    def __init__(self, stack: Stack, per_s: float = 2.0) -> None:
        self.stack, self.interval = stack, 1.0 / per_s
        self.accepted: list[int] = []
        self.stop_event = threading.Event()
        base = f"{stack.base_url}/api/v1"
        token = httpx.post(
            f"{base}/accounts/token",
            data={"username": stack.admin_email, "password": stack.admin_password},
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.client = httpx.Client(base_url=f"{base}/catalogue", timeout=15)
        field = self.client.post(
            "/fields", json={"name": f"Thử lỗi {uuid.uuid4().hex[:6]}"}, headers=self.headers
        )
        assert field.status_code == 201, field.text
        self.code = f"9.{uuid.uuid4().int % 1_000_000:06d}"
        body = {
            "code": self.code,
            "name": "Thủ tục thử lỗi",
            "field_id": field.json()["id"],
            "tier": ["province"],
            "agency_id": "HT-STP",
            "online": "full",
            "processing_days": 5,
            "components": [{"name": "Đơn đề nghị", "required": True}],
        }
        created = self.client.post("/procedures", json=body, headers=self.headers)
        assert created.status_code == 201, created.text
        self.procedure_id = created.json()["id"]
        self.accepted.append(created.json()["version"])
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stop_event.wait(self.interval):
            n += 1
            try:
                edited = self.client.put(
                    f"/procedures/{self.code}",
                    json={"processing_days": 1 + n % 20},
                    headers=self.headers,
                )
            except httpx.HTTPError:
                continue
            if edited.status_code == 200:
                self.accepted.append(edited.json()["version"])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)
        self.client.close()

    def stored(self) -> list[int]:
        rows = self.stack.query(
            "dossiers",
            "SELECT version FROM procedure_copies WHERE procedure_id = $1",
            self.procedure_id,
        )
        return sorted(r["version"] for r in rows)


def _kill_worker_scenario(
    queue: str,
    portal: tuple[Stack, RedisServer],
    fault_smtp: FaultSmtp,
    officer: Officer,
    durations: Durations,
    record: Any,
) -> None:
    stack, _ = portal
    assert stack.proc is not None
    logs = stack.workdir / f"operator-{queue}-worker.log"
    extra = start_worker(stack, queue, logs)
    wait_until(lambda: celery_processes(extra.pid, queue)[1], 60, what="the operator's worker")
    edits = CatalogueEdits(stack) if queue == "dossiers" else None
    load = Load.at(stack, officer, durations)
    load.start()
    if edits:
        edits.start()
    replacement = None
    try:
        time.sleep(durations.warmup)
        _, pool = celery_processes(stack.proc.pid, queue)
        extra_main, extra_pool = celery_processes(extra.pid, queue)
        assert pool and extra_main, "no worker processes found"
        killed_at = time.time()
        for pid in [*pool, *extra_pool, extra_main]:
            _kill(pid)
        extra.wait(10)
        replacement = start_worker(stack, queue, logs)  # the operator (or k8s) starts another

        def pool_back() -> bool:
            _, now = celery_processes(stack.proc.pid, queue)  # type: ignore[union-attr]
            return bool(now) and not set(now) & set(pool)

        wait_until(pool_back, 60, interval=0.05, what="celery to replace its pool process")
        pool_back_s = time.time() - killed_at
        wait_until(
            lambda: celery_processes(replacement.pid, queue)[1],  # type: ignore[union-attr]
            90,
            interval=0.05,
            what="the replacement worker",
        )
        replacement_s = time.time() - killed_at
        time.sleep(durations.after_kill)
    finally:
        load.stop()
        if edits:
            edits.stop()
    settle(fault_smtp, load, durations.settle)
    result = {
        "killed": f"{queue}: pool of portal run's worker + a whole operator-started worker",
        "recovery_s": round(replacement_s, 1),
        "pool_replaced_s": round(pool_back_s, 1),
        **mail_report(fault_smtp, load, killed_at),
        **dossier_report(stack, load),
    }
    if edits:
        wait_until(lambda: edits.stored() == sorted(set(edits.accepted)), 90, interval=0.5,
                   what="every procedure version in the dossiers service")  # fmt: skip
        result["procedure_versions_accepted"] = len(edits.accepted)
        result["procedure_versions_stored"] = len(edits.stored())
    if result["emails_lost"]:
        result["lost_trace"] = lost_mail_trace(stack, result["lost_examples"])
    if replacement is not None:
        stop_process(replacement)
    record(f"{queue} worker SIGKILL", **result)
    assert result["emails_lost"] == 0, result
    assert result["dossiers_lost"] == 0 and result["transitions_lost"] == 0, result
    assert result["emails_duplicated"] <= 2, result  # at most the messages being sent when killed


def test_notifier_worker_killed_mid_burst(
    portal: tuple[Stack, RedisServer],
    fault_smtp: FaultSmtp,
    officer: Officer,
    durations: Durations,
    record: Any,
) -> None:
    _kill_worker_scenario("notifier", portal, fault_smtp, officer, durations, record)


def test_dossiers_worker_killed_mid_burst(
    portal: tuple[Stack, RedisServer],
    fault_smtp: FaultSmtp,
    officer: Officer,
    durations: Durations,
    record: Any,
) -> None:
    _kill_worker_scenario("dossiers", portal, fault_smtp, officer, durations, record)


def test_notifier_worker_killed_whole_gives_its_emails_back_within_two_minutes(
    portal: tuple[Stack, RedisServer],
    fault_smtp: FaultSmtp,
    officer: Officer,
    durations: Durations,
    record: Any,
) -> None:
    """A notifier worker holding a full batch of e-mails (the SMTP server was slow, so they
    piled up) is SIGKILLed whole — main process and pool, its process group, as an OOM kill
    or an evicted pod — and another is started. Redis gives what it held to a live worker
    once the notifier's visibility timeout passed, at its next sweep: every e-mail owed
    before the kill arrives within 120 s of it, none is lost, and only the e-mails in
    the dead worker's hands at the kill may arrive twice."""
    from services.notifier.settings import get_settings
    from services.notifier.tasks import UNACKED_KEYS

    stack, private = portal
    notifier = get_settings()  # what the notifier ships with, unless FAULTS_NOTIFIER_* is set
    broker = redis.Redis.from_url(private.url)
    unacked = UNACKED_KEYS["unacked_key"]
    logs = stack.workdir / "operator-notifier-worker-whole.log"
    doomed = start_worker(stack, "notifier", logs)
    wait_until(lambda: celery_processes(doomed.pid, "notifier")[1], 60, what="the worker")
    load = Load.at(stack, officer, durations)
    load.start()
    replacement = None
    try:
        time.sleep(durations.warmup)
        fault_smtp.delay, fault_smtp.mode = 3.0, "slow"  # e-mails pile up in both workers
        time.sleep(8)
        held_before_kill = broker.hlen(unacked)
        killed_at = time.time()
        os.killpg(doomed.pid, signal.SIGKILL)  # main and pool (its own session and group)
        doomed.wait(10)
        fault_smtp.mode = "accept"
        replacement = start_worker(stack, "notifier", logs)
        time.sleep(5)  # the live worker settles its own; what stays was the dead worker's
        held_by_dead_worker = broker.hlen(unacked)
        time.sleep(max(0.0, durations.after_kill - 5))
    finally:
        fault_smtp.mode = "accept"
        load.stop()
    settle(fault_smtp, load, max(durations.settle, 150.0))
    overrides = {k: v for k, v in stack.extra_env.items() if k.startswith("NOTIFIER_")}
    result = {
        "killed": "notifier: a whole worker (process group), then another started",
        "visibility_timeout_s": int(
            overrides.get("NOTIFIER_VISIBILITY_TIMEOUT", notifier.celery_visibility_timeout)
        ),
        "restore_interval_s": int(
            overrides.get("NOTIFIER_RESTORE_INTERVAL", notifier.restore_interval)
        ),
        "notifier_settings_overridden": overrides,  # FAULTS_NOTIFIER_*: not the shipped ones
        "held_before_kill": held_before_kill,
        "held_by_dead_worker": held_by_dead_worker,
        "left_unacked_at_end": broker.hlen(unacked),
        **mail_report(fault_smtp, load, killed_at),
        **dossier_report(stack, load),
    }
    if result["emails_lost"]:
        result["lost_trace"] = lost_mail_trace(stack, result["lost_examples"])
    if replacement is not None:
        stop_process(replacement)
    record("notifier worker killed whole", **result)
    assert held_by_dead_worker > 0, result  # otherwise the kill proved nothing
    assert result["emails_lost"] == 0, result
    assert result["caught_up_after_fault_s"] is not None, result
    assert result["caught_up_after_fault_s"] <= 120, result
    assert result["emails_duplicated"] <= notifier.lanes, result  # the dead pool's lanes
    assert result["dossiers_lost"] == 0 and result["transitions_lost"] == 0, result

"""Faults: the portal on its own Redis and SMTP server, which these tests stop and start.
A registration made while Redis is down, or while the SMTP server refuses, still ends in
exactly one activation e-mail once the fault is over."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.accounts_flow import register
from tests.support import RedisServer, SmtpSink, Stack, wait_until

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
def fault_smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def fault_stack(
    database_url: str, fault_smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, RedisServer]]:
    if shutil.which("redis-server") is None:
        pytest.skip("fault tests need redis-server installed to start a private Redis")
    workdir = tmp_path_factory.mktemp("faults")
    private = RedisServer(workdir)
    private.start()
    portal = Stack(database_url, private.url, fault_smtp, workdir / "stack")
    portal.start()
    yield portal, private
    portal.stop()
    private.stop()


def _client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30)


def _pending_outbox(stack: Stack) -> int:
    rows = stack.query("accounts", "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
    return int(rows[0]["n"])


def test_registration_while_redis_is_down_mails_once_redis_is_back(
    fault_stack: tuple[Stack, RedisServer], fault_smtp: SmtpSink, email_address: str
) -> None:
    stack, private = fault_stack
    with _client(stack) as client:
        private.stop()
        try:
            response = register(client, email_address)
            assert response.status_code == 202, response.text
            time.sleep(3)
            assert fault_smtp.to(email_address) == []
            assert _pending_outbox(stack) >= 1  # kept, waiting for the broker
        finally:
            private.start()
        fault_smtp.wait_for(email_address, timeout=60)
        wait_until(lambda: _pending_outbox(stack) == 0, 30, what="the outbox to drain")
        time.sleep(3)
        assert len(fault_smtp.to(email_address)) == 1


def test_smtp_refusing_then_down_delivers_once_after_recovery(
    fault_stack: tuple[Stack, RedisServer], fault_smtp: SmtpSink, email_address: str
) -> None:
    stack, _ = fault_stack
    wait_until(lambda: httpx.get(f"{stack.base_url}/healthz").status_code == 200, 60)
    second = f"hai.{email_address}"
    with _client(stack) as client:
        fault_smtp.mode = "tempfail"
        refused_before = fault_smtp.refused
        assert register(client, email_address).status_code == 202
        wait_until(lambda: fault_smtp.refused >= refused_before + 2, 30, what="two refusals")
        fault_smtp.stop()  # now connections are refused outright
        assert register(client, second).status_code == 202
        time.sleep(3)
        fault_smtp.mode = "accept"
        fault_smtp.start()
        fault_smtp.wait_for(email_address, timeout=60)
        fault_smtp.wait_for(second, timeout=60)
    rows = stack.query(
        "notifier",
        "SELECT recipient, status, attempts FROM deliveries WHERE recipient = ANY($1::text[])",
        [email_address, second],
    )
    assert {r["recipient"]: r["status"] for r in rows} == {email_address: "sent", second: "sent"}
    assert all(r["attempts"] >= 2 for r in rows)
    time.sleep(3)
    assert len(fault_smtp.to(email_address)) == 1
    assert len(fault_smtp.to(second)) == 1

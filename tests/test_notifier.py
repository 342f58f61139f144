"""The notifier: one e-mail per message whatever the broker redelivers; permanent SMTP failures
are recorded, not retried; every message leaves through the outbox."""

from __future__ import annotations

import time
import uuid

import redis
from celery import Celery

from services.notifier.tasks import UNACKED_KEYS
from tests.accounts_flow import register
from tests.support import SmtpSink, Stack, wait_until


def _payload(to: str, message_id: str) -> dict[str, object]:
    return {
        "message_id": message_id,
        "version": 1,
        "to": to,
        "template": "password_reset",
        "locale": "vi",
        "context": {"full_name": "Võ Thị Lan", "email": to, "code": "123456", "valid_minutes": 30},
    }


def _broker(stack: Stack) -> Celery:
    """A bare sender: tasks by name onto the notifier's queue, as any service sends them."""
    app = Celery("test-sender", broker=stack.redis_url, set_as_current=False)
    app.conf.task_routes = {"notifier.*": {"queue": "notifier"}}
    return app


def _wait_queue_drained(stack: Stack) -> None:
    """Every copy taken from the notifier queue and acknowledged."""
    client = redis.Redis.from_url(stack.redis_url)
    unacked = UNACKED_KEYS["unacked_key"]
    wait_until(lambda: client.llen("notifier") == 0 and client.hlen(unacked) == 0, 20)


def _delivery(stack: Stack, message_id: str) -> dict[str, object] | None:
    rows = stack.query("notifier", "SELECT * FROM deliveries WHERE message_id = $1", message_id)
    return dict(rows[0]) if rows else None


def test_a_redelivered_message_is_sent_once(stack: Stack, smtp: SmtpSink) -> None:
    to = f"lan.{uuid.uuid4().hex[:8]}@example.vn"
    message_id = uuid.uuid4().hex
    broker = _broker(stack)
    for _ in range(3):  # as a broker redelivering after a lost ack would
        broker.send_task("notifier.send_email", kwargs={"payload": _payload(to, message_id)})
    [mail] = smtp.wait_for(to)
    assert mail.portal_message_id == message_id
    assert mail.message_id.startswith(f"<{message_id}@")
    _wait_queue_drained(stack)
    assert len(smtp.to(to)) == 1
    delivery = _delivery(stack, message_id)
    assert delivery is not None and delivery["status"] == "sent" and delivery["attempts"] == 1


def test_a_permanent_failure_is_recorded_and_not_retried(stack: Stack, smtp: SmtpSink) -> None:
    to = f"reject.{uuid.uuid4().hex[:8]}@example.vn"
    message_id = uuid.uuid4().hex
    _broker(stack).send_task("notifier.send_email", kwargs={"payload": _payload(to, message_id)})
    delivery = wait_until(
        lambda: (d := _delivery(stack, message_id)) and d["status"] == "failed" and d, 15
    )
    assert "550" in str(delivery["last_error"])
    time.sleep(2)
    assert _delivery(stack, message_id)["attempts"] == 1  # type: ignore[index]
    assert smtp.to(to) == []


def test_a_refused_email_is_retried_through_the_outbox_and_sent_once(
    stack: Stack, smtp: SmtpSink
) -> None:
    """A 451 leaves the delivery `retrying` and its next try in the notifier's outbox, written
    in the attempt's transaction; the relay sends it when due and the e-mail arrives once."""
    to = f"sau.{uuid.uuid4().hex[:8]}@example.vn"
    message_id = uuid.uuid4().hex
    retries = "SELECT published_at FROM outbox WHERE payload::jsonb ->> 'message_id' = $1"
    smtp.mode = "tempfail"
    try:
        _broker(stack).send_task(
            "notifier.send_email", kwargs={"payload": _payload(to, message_id)}
        )
        delivery = wait_until(
            lambda: (d := _delivery(stack, message_id)) and d["status"] == "retrying" and d, 15
        )
        assert "451" in str(delivery["last_error"]) and delivery["next_attempt_at"] is not None
        assert stack.query("notifier", retries, message_id)
    finally:
        smtp.mode = "accept"
    smtp.wait_for(to, timeout=30)
    delivery = wait_until(
        lambda: (d := _delivery(stack, message_id)) and d["status"] == "sent" and d, 15
    )
    assert delivery["attempts"] >= 2 and delivery["last_error"] is None
    time.sleep(2)
    assert len(smtp.to(to)) == 1
    assert all(r["published_at"] is not None for r in stack.query("notifier", retries, message_id))


def test_a_malformed_message_is_rejected_without_harm(stack: Stack, smtp: SmtpSink) -> None:
    to = f"sau.{uuid.uuid4().hex[:8]}@example.vn"
    broker = _broker(stack)
    broker.send_task("notifier.send_email", kwargs={"payload": {"message_id": "x", "version": 9}})
    good = uuid.uuid4().hex
    broker.send_task("notifier.send_email", kwargs={"payload": _payload(to, good)})
    smtp.wait_for(to)


def test_registration_and_its_message_commit_together(
    stack: Stack, client, smtp: SmtpSink, email_address: str
) -> None:  # type: ignore[no-untyped-def]
    register(client, email_address)
    smtp.wait_for(email_address)
    rows = stack.query(
        "accounts",
        "SELECT task_name, payload, published_at FROM outbox WHERE payload::jsonb ->> 'to' = $1",
        email_address,
    )
    assert len(rows) == 1
    assert rows[0]["task_name"] == "notifier.send_email"
    assert rows[0]["published_at"] is not None

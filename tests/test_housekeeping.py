"""Housekeeping on the scheduled path: the relay sends every service its purge task on the
service's own queue, and each service's worker purges what it owns — published outbox rows
past the retention in all four, handled-message ids (dossiers), records of sent e-mails
(notifier). A row not yet published (waiting for a retry, failing to publish) is never
purged, however old. The schedule is `PORTAL_PURGE_INTERVAL`: a second relay beside the
stack's sends the tasks every second, to the stack's workers."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.kernel.contracts import QUEUES
from services.kernel.registry import SERVICES
from tests.support import ROOT, Stack, wait_until

OUTBOX_ROW = (
    "INSERT INTO outbox (id, task_name, payload, created_at, available_at, published_at, "
    "attempts, last_error) VALUES ($1, 'notifier.send_email', '{}', "
    "now() - make_interval(days => $2), now() + make_interval(days => $3), "
    "now() - make_interval(days => $4::int), $5, $6)"  # NULL days: not published
)


@pytest.fixture
def hourly_purge_every_second(stack: Stack, tmp_path: Path) -> Iterator[Path]:
    env = stack.env()
    env.update(PORTAL_PURGE_INTERVAL="1", PORTAL_METRICS_PORT="0")
    log = tmp_path / "relay.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal", "relay", *SERVICES],
        env=env,
        cwd=ROOT,
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    yield log
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    broker = redis.Redis.from_url(stack.redis_url)
    wait_until(lambda: all(broker.llen(q) == 0 for q in QUEUES), 30, what="purges run")


def _outbox_rows(stack: Stack, service: str) -> dict[str, str]:
    """Rows of every kind, by what they are; published long ago or not."""
    ids = {kind: uuid.uuid4().hex for kind in ("old", "recent", "waiting", "failing")}
    rows = {
        # kind: (age in days, available in, published days ago or None, attempts, last error)
        "old": (45, -44, 40, 1, None),
        "recent": (2, -2, 1, 1, None),
        "waiting": (45, 1, None, 0, None),  # a retry scheduled for tomorrow
        "failing": (45, 1, None, 9, "ConnectionError: Redis is down"),
    }
    for kind, (age, available, published, attempts, error) in rows.items():
        stack.query(service, OUTBOX_ROW, ids[kind], age, available, published, attempts, error)
    return ids


def _exists(stack: Stack, service: str, table: str, column: str, value: str) -> bool:
    return bool(stack.query(service, f"SELECT 1 FROM {table} WHERE {column} = $1", value))


def test_every_service_purges_what_it_owns_on_the_schedule(
    stack: Stack, hourly_purge_every_second: Path
) -> None:
    outboxes = {service: _outbox_rows(stack, service) for service in SERVICES}
    handled = {"old": uuid.uuid4().hex, "recent": uuid.uuid4().hex}
    for kind, age in (("old", 45), ("recent", 1)):
        stack.query(
            "dossiers",
            "INSERT INTO processed_messages (message_id, task_name, processed_at) "
            "VALUES ($1, 'dossiers.procedure_published', now() - make_interval(days => $2))",
            handled[kind],
            age,
        )
    emails = {kind: uuid.uuid4().hex for kind in ("old_sent", "recent_sent", "old_failed")}
    for kind, age, status in (
        ("old_sent", 40, "sent"),
        ("recent_sent", 1, "sent"),
        ("old_failed", 40, "failed"),
    ):
        stack.query(
            "notifier",
            "INSERT INTO deliveries (message_id, recipient, template, locale, context, status, "
            "attempts, created_at, updated_at, sent_at) VALUES ($1, 'lan@example.vn', "
            "'password_reset', 'vi', '{}', $2::text, 1, now() - make_interval(days => $3), "
            "now() - make_interval(days => $3), "
            "CASE WHEN $2::text = 'sent' THEN now() - make_interval(days => $3) END)",
            emails[kind],
            status,
            age,
        )

    def purged() -> bool:
        return not any(
            _exists(stack, service, "outbox", "id", ids["old"]) for service, ids in outboxes.items()
        ) and not _exists(stack, "notifier", "deliveries", "message_id", emails["old_sent"])

    try:
        wait_until(purged, 60, interval=0.5, what="every service's old outbox rows purged")
        log = hourly_purge_every_second.read_text()
        assert all(f"{service}.purge_expired" in log for service in SERVICES), log
        for service, ids in outboxes.items():
            for kind in ("recent", "waiting", "failing"):
                assert _exists(stack, service, "outbox", "id", ids[kind]), (service, kind)
        assert not _exists(stack, "dossiers", "processed_messages", "message_id", handled["old"])
        assert _exists(stack, "dossiers", "processed_messages", "message_id", handled["recent"])
        for kind in ("recent_sent", "old_failed"):  # failed e-mails stay for the operator
            assert _exists(stack, "notifier", "deliveries", "message_id", emails[kind]), kind
    finally:
        for service, ids in outboxes.items():
            stack.query(service, "DELETE FROM outbox WHERE id = ANY($1::text[])", [*ids.values()])
        stack.query(
            "notifier",
            "DELETE FROM deliveries WHERE message_id = ANY($1::text[])",
            list(emails.values()),
        )

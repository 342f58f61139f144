"""The operator's commands (`python -m portal ...`) against the real databases and Redis of the
running portal: queues, failed e-mails and their replay (sent again exactly once), outbox
messages handed to the relay again, and the purge of old drafts with their files."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest

from services.kernel.contracts import QUEUES
from tests.accounts_flow import register
from tests.support import ROOT, SmtpSink, Stack, wait_until


def portal(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", *args],
        env=stack.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def accounts(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30)


def delivery_of(stack: Stack, address: str) -> dict[str, object] | None:
    rows = stack.query("notifier", "SELECT * FROM deliveries WHERE recipient = $1", address)
    return dict(rows[0]) if rows else None


def test_queues_prints_every_queue_and_outbox(stack: Stack) -> None:
    done = portal(stack, "queues")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["service", "queue", "depth"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(rows) == set(QUEUES)
    for cells in rows.values():
        depth, backlog, age = int(cells[0]), int(cells[1]), float(cells[2])
        assert depth >= 0 and backlog >= 0 and age >= 0


def test_failed_emails_are_listed(stack: Stack, accounts: httpx.Client) -> None:
    address = f"reject.{uuid.uuid4().hex[:8]}@example.vn"  # the SMTP sink answers 550
    assert register(accounts, address).status_code == 202
    failed = wait_until(
        lambda: (d := delivery_of(stack, address)) and d["status"] == "failed" and d,
        30,
        what="the 550 to be recorded as failed",
    )
    done = portal(stack, "emails", "failed", "--since", "1h")
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if address in x]
    assert line.split()[:4] == [failed["message_id"], address, "account_activation", "1"]
    assert "550" in line
    assert address not in portal(stack, "emails", "failed", "--since", "2099-01-01").stdout


def test_a_failed_email_is_replayed_exactly_once(
    stack: Stack, smtp: SmtpSink, accounts: httpx.Client, email_address: str
) -> None:
    assert register(accounts, email_address).status_code == 202
    (mail,) = smtp.wait_for(email_address)
    message_id = mail.portal_message_id
    # as if the SMTP relay had refused it for good
    stack.query(
        "notifier",
        "UPDATE deliveries SET status = 'failed', sent_at = NULL, last_error = "
        "'550 5.7.1 relay refused (simulated)' WHERE message_id = $1",
        message_id,
    )
    assert message_id in portal(stack, "emails", "failed").stdout

    done = portal(stack, "emails", "replay", message_id)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{message_id}: queued again" in done.stdout
    mails = smtp.wait_for(email_address, 2)
    assert [m.portal_message_id for m in mails] == [message_id, message_id]
    wait_until(
        lambda: delivery_of(stack, email_address)["status"] == "sent",  # type: ignore[index]
        20,
        what="the replayed delivery to be sent",
    )
    # a message that was sent is not sent again: replaying it does nothing
    again = portal(stack, "emails", "replay", message_id)
    assert again.returncode == 1 and "sent, not failed" in again.stdout
    assert portal(stack, "emails", "replay", "--all-failed").returncode == 0
    time.sleep(2)  # the relay and the worker had time to send anything they would
    assert len(smtp.to(email_address)) == 2


def test_outbox_messages_are_handed_to_the_relay_again(
    stack: Stack, smtp: SmtpSink, accounts: httpx.Client, email_address: str
) -> None:
    assert register(accounts, email_address).status_code == 202
    (mail,) = smtp.wait_for(email_address)
    (row,) = stack.query(
        "accounts", "SELECT id FROM outbox WHERE payload->>'to' = $1", email_address
    )
    # a message that already went out: re-published, and the notifier sends it no second time
    done = portal(stack, "messages", "replay", "accounts", row["id"])
    assert done.returncode == 0, done.stdout + done.stderr

    def published() -> bool:
        (r,) = stack.query("accounts", "SELECT * FROM outbox WHERE id = $1", row["id"])
        return r["published_at"] is not None

    wait_until(published, 20, what="the relay to publish the row again")
    # one that keeps failing to publish, parked far ahead: --failed makes it due now
    stack.query(
        "accounts",
        "UPDATE outbox SET published_at = NULL, attempts = 7, last_error = 'ConnectionError: x', "
        "available_at = now() + interval '1 day' WHERE id = $1",
        row["id"],
    )
    done = portal(stack, "messages", "replay", "accounts", "--failed")
    assert done.returncode == 0 and f"{row['id']}: due now" in done.stdout
    wait_until(published, 20, what="the relay to publish the failing row")
    (r,) = stack.query("accounts", "SELECT * FROM outbox WHERE id = $1", row["id"])
    assert r["last_error"] is None and r["attempts"] == 1
    assert portal(stack, "messages", "replay", "accounts", "nosuchrow").returncode == 1
    time.sleep(1.5)
    assert len(smtp.to(email_address)) == 1  # deduplicated by message id


def _draft(stack: Stack, age_days: int) -> tuple[str, object]:
    dossier_id, file_id = uuid.uuid4().hex, uuid.uuid4().hex
    key = f"{dossier_id}/{file_id}.pdf"
    path = stack.workdir / "var" / "files" / "dossiers" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.4 draft attachment")
    row: dict[str, str] = {
        "id": f"'{dossier_id}'",
        "status": "'draft'",
        "procedure_id": "'p1'",
        "procedure_version": "1",
        "agency_id": "'a1'",
        "email": "'x@example.vn'",
        "created_at": f"now() - interval '{age_days} days'",
        "updated_at": f"now() - interval '{age_days} days'",
    }
    # any other required column (the schema grows): a neutral value of its type
    neutral = {"json": "'{}'", "jsonb": "'{}'", "integer": "0", "boolean": "false"}
    for column in stack.query(
        "dossiers",
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
        "'dossiers' AND is_nullable = 'NO' AND column_default IS NULL",
    ):
        row.setdefault(column["column_name"], neutral.get(column["data_type"], "''"))
    stack.query(
        "dossiers", f"INSERT INTO dossiers ({', '.join(row)}) VALUES ({', '.join(row.values())})"
    )
    stack.query(
        "dossiers",
        "INSERT INTO dossier_files (id, dossier_id, component_id, kind, filename, content_type, "
        "size, sha256, storage_key, created_at) VALUES ($1, $2, 'c1', 'attachment', 'a.pdf', "
        "'application/pdf', 25, $3, $4, now())",
        file_id,
        dossier_id,
        "0" * 64,
        key,
    )
    return dossier_id, path


def test_purge_removes_old_drafts_with_their_files(stack: Stack) -> None:
    old_id, old_file = _draft(stack, 40)
    new_id, new_file = _draft(stack, 3)
    old_message, new_message = uuid.uuid4().hex, uuid.uuid4().hex
    for message_id, age in ((old_message, 45), (new_message, 1)):
        stack.query(
            "dossiers",
            "INSERT INTO processed_messages (message_id, task_name, processed_at) "
            "VALUES ($1, 'dossiers.procedure_published', now() - make_interval(days => $2))",
            message_id,
            age,
        )
    done = portal(stack, "purge", "--drafts-older-than", "30d", "--messages-older-than", "30d")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dossiers: 1 draft(s) older than 30d removed with 1 file(s)" in done.stdout

    def exists(table: str, column: str, value: str) -> bool:
        return bool(stack.query("dossiers", f"SELECT 1 FROM {table} WHERE {column} = $1", value))

    assert not exists("dossiers", "id", old_id) and not exists(
        "dossier_files", "dossier_id", old_id
    )
    assert not old_file.exists()  # type: ignore[attr-defined]
    assert exists("dossiers", "id", new_id) and new_file.exists()  # type: ignore[attr-defined]
    assert not exists("processed_messages", "message_id", old_message)
    assert exists("processed_messages", "message_id", new_message)
    assert portal(stack, "purge", "--drafts-older-than", "soon").returncode != 0

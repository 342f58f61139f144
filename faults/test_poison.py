"""Poison messages under load: an e-mail whose template cannot render (its context lacks what
the template needs: it fails every time) and a payload that is not a valid message at all. The
first ends as a `failed` delivery an operator can list and replay; the second is rejected
(logged, not retried); neither holds up the e-mails behind them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from typing import Any

from faults.harness import Durations, FaultSmtp, Load, Officer, dossier_report, mail_report, settle
from tests.support import ROOT, RedisServer, Stack, wait_until


def _stage(stack: Stack, payload: dict[str, Any]) -> str:
    """A row in the accounts service's outbox, as a faulty producer would write it."""
    row_id = uuid.uuid4().hex
    stack.query(
        "accounts",
        "INSERT INTO outbox (id, task_name, payload, created_at, available_at, attempts) "
        "VALUES ($1, 'notifier.send_email', $2::json, now(), now(), 0)",
        row_id,
        json.dumps(payload),
    )
    return row_id


def _portal(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal", *args],
        env=stack.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_poison_messages_fail_visibly_and_block_nothing(
    portal: tuple[Stack, RedisServer],
    fault_smtp: FaultSmtp,
    officer: Officer,
    durations: Durations,
    record: Any,
) -> None:
    stack, _ = portal
    load = Load.at(stack, officer, durations)
    poison_id = uuid.uuid4().hex
    poison_to = f"doc.{uuid.uuid4().hex[:8]}@{load.domain}"
    load.start()
    try:
        time.sleep(durations.warmup)
        injected_at = time.time()
        poison = {
            "message_id": poison_id,
            "version": 1,
            "to": poison_to,
            "template": "dossier_rejected",
            "locale": "vi",
            "context": {},  # the template needs a dossier code, a reason…
        }
        _stage(stack, poison)
        _stage(stack, {"message_id": uuid.uuid4().hex, "version": 1, "to": "not an address"})
        time.sleep(max(10.0, durations.after_kill))
    finally:
        load.stop()
    settle(fault_smtp, load, durations.settle)

    def failed() -> Any:
        rows = stack.query(
            "notifier",
            "SELECT status, attempts, last_error FROM deliveries WHERE message_id = $1",
            poison_id,
        )
        return rows if rows and rows[0]["status"] == "failed" else None

    [row] = wait_until(failed, 60, what="the poison message to be marked failed")
    result: dict[str, Any] = {
        "poison_status": row["status"],
        "poison_attempts": row["attempts"],
        "poison_error": (row["last_error"] or "")[:120],
        **mail_report(fault_smtp, load, injected_at),
        **dossier_report(stack, load),
    }
    log = stack.log_path.read_text(errors="replace")
    result["malformed_rejected_in_log"] = "rejecting a malformed notifier.send_email message" in log
    # What an operator sees and does, when the portal has the commands for it.
    listed = _portal(stack, "emails", "failed")
    if listed.returncode == 0:
        result["operator_sees_it"] = poison_id in listed.stdout or poison_to in listed.stdout
        replay = _portal(stack, "emails", "replay", poison_id)
        result["operator_replay"] = f"exit {replay.returncode}: {replay.stdout.strip()[:160]}"
        time.sleep(5)
        [after] = stack.query(
            "notifier", "SELECT status, attempts FROM deliveries WHERE message_id = $1", poison_id
        )
        result["after_replay"] = f"{after['status']} after {after['attempts']} attempt(s)"
    else:
        result["operator_sees_it"] = None
        result["operator_replay"] = "no `portal emails` command: " + listed.stderr.strip()[-120:]
    result["recovery_s"] = 0.0
    record("poison message", **result)
    assert result["emails_lost"] == 0 and result["emails_duplicated"] == 0, result
    assert poison_to not in {r.recipient for r in fault_smtp.snapshot()}
    assert result["malformed_rejected_in_log"], result

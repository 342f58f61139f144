"""Redis stopped under load, then started again EMPTY (no persistence: everything it held is
gone). The SMTP server is slow while the load runs, so the notifier queue holds a backlog when
Redis goes: those messages' outbox rows are already marked published. The relay notices the
missing marker of the broker's data (services/kernel/outbox.py) and publishes again what it had
published recently; the notifier skips what it had already sent."""

from __future__ import annotations

import re
import time
from typing import Any

import redis

from faults.harness import Durations, FaultSmtp, Load, Officer, dossier_report, mail_report, settle
from tests.support import RedisServer, Stack


def test_redis_down_then_back_empty(
    portal: tuple[Stack, RedisServer],
    fault_smtp: FaultSmtp,
    officer: Officer,
    durations: Durations,
    record: Any,
) -> None:
    stack, private = portal
    load = Load.at(stack, officer, durations)
    log_start = stack.log_path.stat().st_size if stack.log_path.exists() else 0
    fault_smtp.delay, fault_smtp.mode = 0.3, "slow"  # a backlog builds up in the notifier queue
    load.start()
    try:
        time.sleep(durations.warmup + 4)
        queued = int(redis.Redis.from_url(private.url).llen("notifier"))
        private.stop()  # everything Redis held is gone
        stopped_at = time.time()
        fault_smtp.mode = "accept"
        time.sleep(durations.redis_down)
        private.start()  # empty
        back_at = time.time()
        time.sleep(max(10.0, durations.after_kill / 2))
    finally:
        load.stop()
        fault_smtp.mode = "accept"
    settle(fault_smtp, load, durations.settle)
    log = stack.log_path.read_text(errors="replace")[log_start:] if stack.log_path.exists() else ""
    replayed = sum(int(n) for n in re.findall(r"re-publishing (\d+) message", log))
    result = {
        "redis_down_s": round(back_at - stopped_at, 1),
        "notifier_queue_when_stopped": queued,
        "outbox_rows_republished": replayed,
        **mail_report(fault_smtp, load, back_at),
        **dossier_report(stack, load),
    }
    result["recovery_s"] = result.get("first_mail_after_fault_s")
    record("Redis down, back empty", **result)
    assert result["emails_lost"] == 0, result
    assert result["emails_duplicated"] == 0, result
    assert result["dossiers_lost"] == 0 and result["transitions_lost"] == 0, result

"""The SMTP server under load: down (connections refused), then slow (2 s before answering each
message), then resetting connections during DATA (before its reply; the message is not kept),
then — briefly — resetting them after taking the message but before "250". That last case is
the one SMTP itself cannot settle: the client cannot know the message was taken, so its retry
delivers it twice; the suite counts those as ambiguous, not as the portal's duplicates."""

from __future__ import annotations

import time
from typing import Any

from faults.harness import Durations, FaultSmtp, Load, Officer, dossier_report, mail_report, settle
from tests.support import RedisServer, Stack


def test_smtp_down_then_slow_then_resetting(
    portal: tuple[Stack, RedisServer],
    fault_smtp: FaultSmtp,
    officer: Officer,
    durations: Durations,
    record: Any,
) -> None:
    stack, _ = portal
    load = Load.at(stack, officer, durations)
    resets_before = fault_smtp.resets
    phases: dict[str, float] = {}
    load.start()
    try:
        time.sleep(durations.warmup)
        started = time.time()
        fault_smtp.stop()
        time.sleep(durations.smtp_down)
        fault_smtp.delay = 2.0
        fault_smtp.mode = "slow"
        fault_smtp.start()
        phases["down_s"] = round(time.time() - started, 1)
        time.sleep(durations.smtp_slow)
        fault_smtp.mode = "reset_in_data"
        time.sleep(durations.smtp_reset)
        fault_smtp.mode = "reset_after_accept"
        time.sleep(3 if not durations.full else 10)
        fault_smtp.mode = "accept"
        fault_end = time.time()
        time.sleep(5)
    finally:
        fault_smtp.mode = "accept"
        if not fault_smtp.up:
            fault_smtp.start()
        load.stop()
    settle(fault_smtp, load, durations.settle)
    result = {
        **phases,
        "slow_s": durations.smtp_slow,
        "reset_s": durations.smtp_reset,
        "connection_resets": fault_smtp.resets - resets_before,
        **mail_report(fault_smtp, load, fault_end),
        **dossier_report(stack, load),
    }
    result["recovery_s"] = result.get("caught_up_after_fault_s")
    failed = stack.query("notifier", "SELECT count(*) AS n FROM deliveries WHERE status = 'failed'")
    result["deliveries_failed"] = int(failed[0]["n"])
    record("SMTP down, slow, resetting", **result)
    assert result["emails_lost"] == 0, result
    assert result["emails_duplicated_not_by_smtp"] == 0, result
    assert result["dossiers_lost"] == 0 and result["transitions_lost"] == 0, result

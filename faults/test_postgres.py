"""PostgreSQL restarted under load. The machine's shared server is not ours to restart, so this
scenario runs the portal on a private cluster (initdb into a temporary folder, its own port)
and a private Redis, stops the cluster for a while, and starts it again."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from faults.conftest import fault_env
from faults.harness import (
    BIRTH,
    COMMUNE,
    Durations,
    FaultSmtp,
    Load,
    Officer,
    PgCluster,
    dossier_report,
    mail_report,
    settle,
)
from tests.dossiers_flow import wait_for_catalogue_copy
from tests.support import RedisServer, Stack


@pytest.fixture(scope="module")
def pg_portal(
    fault_smtp: FaultSmtp, durations: Durations, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, PgCluster]]:
    if not PgCluster.available() or shutil.which("redis-server") is None:
        pytest.skip("needs PostgreSQL's initdb/pg_ctl (PG_BIN) and redis-server")
    workdir = tmp_path_factory.mktemp("faults-pg")
    cluster = PgCluster(workdir)
    cluster.init()
    cluster.start()
    private = RedisServer(workdir)
    private.start()
    stack = Stack(cluster.url, private.url, fault_smtp, workdir / "stack", fault_env(durations))
    try:
        stack.start()
        yield stack, cluster
    finally:
        stack.stop()
        private.stop()
        cluster.stop()


def test_postgres_restarted_under_load(
    pg_portal: tuple[Stack, PgCluster],
    fault_smtp: FaultSmtp,
    durations: Durations,
    record: Any,
) -> None:
    stack, cluster = pg_portal
    wait_for_catalogue_copy(stack, [BIRTH])
    officer = Officer(stack, fault_smtp, COMMUNE)
    load = Load.at(stack, officer, durations)
    load.start()
    try:
        time.sleep(durations.warmup)
        stopped_at = time.time()
        cluster.stop("fast")
        time.sleep(durations.pg_down)
        cluster.start()
        back_at = time.time()
        time.sleep(max(10.0, durations.after_kill / 2))
    finally:
        load.stop()
    settle(fault_smtp, load, durations.settle)
    accepted_after = [at for at in load.ledger.accepted_at.values() if at >= back_at]
    result = {
        "pg_down_s": round(back_at - stopped_at, 1),
        "recovery_s": round(min(accepted_after) - back_at, 1) if accepted_after else None,
        **mail_report(fault_smtp, load, back_at),
        **dossier_report(stack, load),
    }
    record("PostgreSQL restarted", **result)
    assert result["emails_lost"] == 0, result
    assert result["emails_duplicated"] == 0, result
    assert result["dossiers_lost"] == 0 and result["transitions_lost"] == 0, result

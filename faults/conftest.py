"""The fault suite (`make faults`): each scenario runs the whole portal under a steady load,
injects one fault, and counts what was accepted against what was stored and e-mailed. Short
durations by default (CI); `--full` uses the issue's (Redis down 60 s, SMTP down 2 minutes…).
The summary table is printed at the end and written to faults/results/latest.json."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faults.harness import CI, FULL, Durations, FaultSmtp, Officer
from tests.support import RedisServer, Stack

RESULTS: list[dict[str, Any]] = []
RESULTS_FILE = Path(__file__).parent / "results" / "latest.json"
STARTED = time.time()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full", action="store_true", help="the issue's full fault durations (about 20 minutes)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    limit = 900 if config.getoption("--full") else 420
    for item in items:
        item.add_marker(pytest.mark.timeout(limit))
        item.add_marker(pytest.mark.fault)


@pytest.fixture(scope="session")
def durations(pytestconfig: pytest.Config) -> Durations:
    return FULL if pytestconfig.getoption("--full") or os.environ.get("FAULTS_FULL") else CI


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.skip("the fault suite needs DATABASE_URL (make faults sets it)")
    return url


def fault_env(durations: Durations) -> dict[str, str]:
    """Settings the scenarios run with: retries long enough to outlast the SMTP outage, and a
    visibility timeout short enough that a message held by a killed worker comes back within
    the scenario (600 s by default; the notifier ships its own, 90 s). `FAULTS_NOTIFIER_<X>`
    sets the notifier's `NOTIFIER_<X>`: e.g. FAULTS_NOTIFIER_VISIBILITY_TIMEOUT=600 to see a
    killed notifier worker hold its e-mails as it did before."""
    outage = durations.smtp_down + durations.smtp_slow + durations.smtp_reset + 10
    replay = os.environ.get("FAULTS_OUTBOX_REPLAY_SECONDS")  # 0: see what is lost without it
    notifier = {
        k.removeprefix("FAULTS_"): v
        for k, v in os.environ.items()
        if k.startswith("FAULTS_NOTIFIER_")
    }
    return {
        **({"PORTAL_OUTBOX_REPLAY_SECONDS": replay} if replay else {}),
        **notifier,
        "NOTIFIER_RETRY_BASE_SECONDS": "0.5",
        "NOTIFIER_RETRY_MAX_SECONDS": "5",
        "NOTIFIER_MAX_ATTEMPTS": str(int(outage / 2) + 20),
        "CELERY_VISIBILITY_TIMEOUT": os.environ.get("FAULTS_VISIBILITY_TIMEOUT", "45"),
    }


@pytest.fixture(scope="session")
def fault_smtp() -> Iterator[FaultSmtp]:
    sink = FaultSmtp()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def portal(
    database_url: str,
    fault_smtp: FaultSmtp,
    durations: Durations,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, RedisServer]]:
    """The portal on its own Redis (which a scenario stops and empties) and the SMTP sink."""
    if shutil.which("redis-server") is None:
        pytest.skip("the fault suite needs redis-server to start a private Redis")
    workdir = tmp_path_factory.mktemp("faults")
    private = RedisServer(workdir)
    private.start()
    stack = Stack(database_url, private.url, fault_smtp, workdir / "stack", fault_env(durations))
    stack.start()
    yield stack, private
    stack.stop()
    private.stop()


@pytest.fixture(scope="session")
def officer(portal: tuple[Stack, RedisServer], fault_smtp: FaultSmtp) -> Officer:
    from faults.harness import BIRTH, COMMUNE
    from tests.dossiers_flow import wait_for_catalogue_copy

    stack, _ = portal
    wait_for_catalogue_copy(stack, [BIRTH], timeout=300)
    return Officer(stack, fault_smtp, COMMUNE)


@pytest.fixture
def record(request: pytest.FixtureRequest, durations: Durations) -> Any:
    def _record(scenario: str, **values: Any) -> None:
        RESULTS.append({"scenario": scenario, "test": request.node.name, **values})
        print(f"\n[faults] {scenario}: {json.dumps(values, ensure_ascii=False)}", flush=True)

    return _record


COLUMNS = (
    ("scenario", "scenario", 34),
    ("emails_expected", "mail exp", 8),
    ("emails_received", "recv", 6),
    ("emails_lost", "lost", 5),
    ("emails_duplicated", "dup", 4),
    ("smtp_ambiguous_resets", "ambig", 5),
    ("dossiers_accepted", "dos acc", 7),
    ("dossiers_stored", "stored", 6),
    ("transitions_lost", "tr lost", 7),
    ("recovery_s", "recovery s", 10),
    ("caught_up_after_fault_s", "caught up s", 11),
)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RESULTS:
        return
    full = bool(session.config.getoption("--full"))
    lines = [
        "",
        f"fault suite ({'full' if full else 'CI'} durations), {time.time() - STARTED:.0f} s",
        "  ".join(title.ljust(width) for _, title, width in COLUMNS),
    ]
    for row in RESULTS:
        lines.append(
            "  ".join(_cell(row.get(key)).ljust(width)[:width] for key, _, width in COLUMNS)
        )
    print("\n".join(lines), flush=True)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(
        json.dumps(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "durations": "full" if full else "ci",
                "python": sys.version.split()[0],
                "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
                "seconds": round(time.time() - STARTED),
                "exit_status": int(exitstatus),
                "scenarios": RESULTS,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )
    print(f"written: {RESULTS_FILE}", flush=True)

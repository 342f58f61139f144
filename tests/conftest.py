"""Fixtures: PostgreSQL and Redis from DATABASE_URL and REDIS_URL, else testcontainers when a
Docker engine answers, else the tests that need them are skipped with the reason."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support import RedisServer, SmtpSink, Stack


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-not-found]

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer  # type: ignore[import-not-found]

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    pytest.skip(
        "no PostgreSQL: set DATABASE_URL "
        "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) or run Docker"
    )


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        client = redis.Redis.from_url(url)
        client.flushdb()  # the suite's own database number: queues start empty
        yield url
        return
    if _docker_available():
        from testcontainers.redis import RedisContainer  # type: ignore[import-not-found]

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            yield f"redis://{host}:{container.get_exposed_port(6379)}/0"
        return
    pytest.skip("no Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/14) or run Docker")


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def stack(
    database_url: str, redis_url: str, smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    portal = Stack(database_url, redis_url, smtp, tmp_path_factory.mktemp("stack"))
    portal.start()
    yield portal
    portal.stop()


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as c:
        yield c


@pytest.fixture
def email_address() -> str:
    return f"cong.dan.{uuid.uuid4().hex[:10]}@example.vn"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("fault tests need redis-server installed to start a private Redis")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The search quality figures of the query set, when it ran."""
    from tests.test_catalogue import SEARCH_REPORT

    if SEARCH_REPORT:
        terminalreporter.write_sep("-", "catalogue search on the real-name query set")
        terminalreporter.write_line(
            f"{SEARCH_REPORT['queries']} queries: expected procedure first in "
            f"{SEARCH_REPORT['first']:.0%}, in the top 5 in {SEARCH_REPORT['top5']:.0%}"
        )
        for query, expected, codes in SEARCH_REPORT["misses"]:
            terminalreporter.write_line(f"  not first: {query!r} -> {codes} (wanted {expected})")

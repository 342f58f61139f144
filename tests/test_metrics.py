"""Metrics after real traffic through the whole portal (`portal run`): request series by route
template on the gateway's /metrics, the workers' task series, and the gauges read at scrape time
(queue depth, outbox backlog and age, e-mails by status); a service app's own /metrics; and the
relay's and a worker's metrics ports as deployment runs them."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.kernel.contracts import QUEUES
from services.kernel.registry import SERVICES
from tests.accounts_flow import register
from tests.support import ROOT, SmtpSink, Stack, free_port, wait_until

Labels = frozenset[tuple[str, str]]


def parse(text: str) -> dict[str, dict[Labels, float]]:
    series: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return series


def scrape(url: str) -> dict[str, dict[Labels, float]]:
    response = httpx.get(url, timeout=15)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(series: dict[str, dict[Labels, float]], name: str, **labels: str) -> float:
    return series.get(name, {}).get(frozenset(labels.items()), 0.0)


def test_requests_are_counted_by_route_template(
    stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    metrics_url = f"{stack.base_url}/metrics"
    before = scrape(metrics_url)
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        assert register(accounts, email_address).status_code == 202
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/catalogue", timeout=30) as catalogue:
        for q in ("khai sinh", "đăng ký kết hôn"):
            assert catalogue.get("/procedures", params={"q": q}).status_code == 200
        assert catalogue.get("/procedures/no-such-code-42").status_code == 404
    after = scrape(metrics_url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "portal_http_requests_total"
    # the gateway: full route templates; each service: its own templates
    assert delta(total, service="gateway", route="/api/v1/accounts/register", method="POST",
                 status="202") == 1  # fmt: skip
    assert delta(total, service="accounts", route="/register", method="POST", status="202") == 1
    assert delta(total, service="accounts", route="/captcha", method="GET", status="200") == 1
    assert delta(total, service="catalogue", route="/procedures", method="GET", status="200") == 2
    assert delta(total, service="gateway", route="/api/v1/catalogue/procedures", method="GET",
                 status="200") == 2  # fmt: skip
    # the template, not the raw path, even for a 404 of a matched route
    assert delta(total, service="catalogue", route="/procedures/{id_or_code}", method="GET",
                 status="404") == 1  # fmt: skip
    routes = {dict(labels)["route"] for labels in after[total]}
    assert not any("no-such-code" in r or "?" in r or "@" in r for r in routes), routes
    latency = "portal_http_request_duration_seconds_count"
    assert delta(latency, service="catalogue", route="/procedures", method="GET") == 2
    buckets = after["portal_http_request_duration_seconds_bucket"]
    assert any(dict(k).get("le") == "+Inf" for k in buckets)
    # a service's own /metrics is not passed on to the public
    assert httpx.get(f"{stack.base_url}/api/v1/accounts/metrics").status_code == 404


def test_worker_queue_outbox_and_email_series(
    stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        assert register(accounts, email_address).status_code == 202
    smtp.wait_for(email_address)
    metrics_url = f"{stack.base_url}/metrics"

    def sent_counted() -> dict[str, dict[Labels, float]] | None:
        series = scrape(metrics_url)
        done = value(
            series,
            "portal_celery_tasks_total",
            queue="notifier",
            task="notifier.send_email",
            outcome="success",
        )
        return series if done >= 1 and value(series, "portal_emails", status="sent") >= 1 else None

    series = wait_until(sent_counted, 20, interval=0.5, what="the e-mail task and count")
    assert value(
        series,
        "portal_celery_task_duration_seconds_count",
        queue="notifier",
        task="notifier.send_email",
    ) >= value(
        series,
        "portal_celery_tasks_total",
        queue="notifier",
        task="notifier.send_email",
        outcome="success",
    )
    (sent,) = stack.query("notifier", "SELECT count(*) AS n FROM deliveries WHERE status='sent'")
    assert value(series, "portal_emails", status="sent") <= sent["n"]
    assert {"pending", "sent", "retrying", "failed"} <= {
        dict(k)["status"] for k in series["portal_emails"]
    }
    assert {dict(k)["queue"] for k in series["portal_queue_depth"]} == set(QUEUES)
    assert all(v >= 0 for v in series["portal_queue_depth"].values())
    for name in ("portal_outbox_backlog", "portal_outbox_oldest_age_seconds"):
        assert {dict(k)["service"] for k in series[name]} == set(SERVICES)
        assert all(v >= 0 for v in series[name].values())
    assert set(series["portal_metrics_source_up"].values()) == {1.0}


def test_a_service_app_serves_its_own_metrics(tmp_path: Path) -> None:
    import asyncio

    from services.kernel.db import database_for
    from services.kernel.settings import ServiceSettings
    from services.kernel.web import create_service_app

    settings = ServiceSettings(service_name="probe", data_dir=tmp_path)
    app = create_service_app(
        title="probe",
        description="",
        settings=settings,
        db=database_for(f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}"),
        routers=[],
    )

    async def main() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/nowhere/7")).status_code == 404
            response = await client.get("/metrics")
            assert response.status_code == 200
            return response.text

    series = parse(asyncio.run(main()))
    total = "portal_http_requests_total"
    assert value(series, total, service="probe", route="/healthz", method="GET", status="200") == 1
    assert value(series, total, service="probe", route="<unmatched>", method="GET", status="404")
    assert not any(dict(k)["route"] == "/metrics" for k in series[total])


@pytest.fixture
def deployed_process(stack: Stack) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _start(stack: Stack, argv: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = stack.env()
    env.update(PORTAL_METRICS_PORT=str(port), PORTAL_PURGE_INTERVAL="0")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.Popen(
        [sys.executable, "-m", "portal", *argv],
        env=env,
        cwd=ROOT,
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )


def test_relay_and_worker_metrics_ports(
    stack: Stack, deployed_process: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """As deployment runs them: the relay serves the shared-state gauges, a worker what its
    pool processes recorded, each on PORTAL_METRICS_PORT."""
    relay_port, worker_port = free_port(), free_port()
    deployed_process.append(_start(stack, ["relay", "notifier"], relay_port, tmp_path / "r.log"))
    deployed_process.append(_start(stack, ["worker", "accounts"], worker_port, tmp_path / "w.log"))

    def answers(port: int) -> str | None:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None

    relay = parse(wait_until(lambda: answers(relay_port), 30, 0.3, "the relay's metrics port"))
    assert set(relay["portal_metrics_source_up"].values()) == {1.0}
    assert {dict(k)["service"] for k in relay["portal_outbox_backlog"]} == {"notifier"}
    assert value(relay, "portal_emails", status="sent") >= 0
    assert {dict(k)["queue"] for k in relay["portal_queue_depth"]} == set(QUEUES)
    wait_until(lambda: answers(worker_port) is not None, 60, 0.3, "the worker's metrics port")
    # the stack's accounts worker shares the queue: send harmless purges until this one ran one
    from celery import Celery

    broker = Celery("probe", broker=stack.redis_url, set_as_current=False)
    labels = {"queue": "accounts", "task": "accounts.purge_expired", "outcome": "success"}

    def counted() -> bool:
        broker.send_task("accounts.purge_expired", queue="accounts")
        text = answers(worker_port) or ""
        return value(parse(text), "portal_celery_tasks_total", **labels) >= 1

    wait_until(counted, 60, 0.5, "a task counted on the worker's metrics port")

"""Prometheus metrics every process shares: HTTP requests of the APIs (by route template, method
and status), Celery tasks (by name and outcome, with their latency), and how a process exposes
them (`/metrics` on an app, or an HTTP port of its own: `PORTAL_METRICS_PORT`).

Processes that fork (Celery's prefork pool) or that are several (`portal run`) use the client's
multiprocess mode: `PROMETHEUS_MULTIPROC_DIR` names a folder every process of the set writes its
values to, and whoever serves them reads the whole folder. Gauges that describe shared state
(queue depth, outbox backlog, e-mail counts) are not recorded here: they are read from Redis and
the databases when scraped (portal/metrics.py)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("portal.metrics")

UNMATCHED = "<unmatched>"
"""The route label of requests no route matched (never the raw path: unbounded labels)."""

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

HTTP_REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by service, route template, method and status code.",
    ["service", "route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response started), by route template.",
    ["service", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
TASKS = Counter(
    "portal_celery_tasks",
    "Celery tasks finished, by queue, task name and outcome "
    "(success, failure, retry, rejected, revoked).",
    ["queue", "task", "outcome"],
)
TASK_LATENCY = Histogram(
    "portal_celery_task_duration_seconds",
    "Time a Celery task ran, by queue and task name.",
    ["queue", "task"],
    buckets=TASK_BUCKETS,
)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """What a scrape of this process shows: its own metrics, or in multiprocess mode those of
    every process writing to the folder; plus `extra` collectors."""
    directory = multiprocess_dir()
    if directory is None and not extra:
        return REGISTRY
    registry = CollectorRegistry(auto_describe=True)
    if directory is not None:
        from prometheus_client import multiprocess

        # prometheus_client leaves this constructor unannotated
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return registry


class _Forward(Collector):
    """Another registry's metrics, inside a registry that adds collectors of its own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Any]:
        return self.registry.collect()

    def describe(self) -> Iterable[Any]:
        return []


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_port() -> int:
    """`PORTAL_METRICS_PORT`: the port a worker or relay serves its metrics on (0: none)."""
    try:
        return int(os.environ.get("PORTAL_METRICS_PORT", "0") or 0)
    except ValueError:
        log.warning("PORTAL_METRICS_PORT is not a number: metrics port off")
        return 0


def serve_metrics(port: int, registry: CollectorRegistry, addr: str = "0.0.0.0") -> None:
    """Serve `registry` at http://addr:port/metrics from a daemon thread."""
    start_http_server(port, addr=addr, registry=registry)
    log.info("metrics on :%d/metrics", port)


# --- HTTP ---------------------------------------------------------------------------------------


def _template_of(scope: Scope, root_path_before: str) -> str:
    """The matched route's template relative to where the middleware sits. Starlette records
    the matched route in the scope (`scope["route"]`); a mounted app overwrites it with its own
    route and extends `root_path`, so the gateway sees `/api/v1/accounts` + `/register`."""
    route = scope.get("route")
    if route is None or isinstance(route, Mount):
        return UNMATCHED  # no route, or nothing inside the mounted app
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    prefix = str(scope.get("root_path", ""))[len(root_path_before) :]
    return prefix + path


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template (`/dossiers/{dossier_id}`,
    never the raw path). `/metrics` itself is not counted."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith("/metrics"):
            await self.app(scope, receive, send)
            return
        root_path = str(scope.get("root_path", ""))
        started = time.perf_counter()
        status = 500
        elapsed: float | None = None

        async def send_timed(message: Message) -> None:
            nonlocal status, elapsed
            if message["type"] == "http.response.start":
                status = int(message["status"])
                elapsed = time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            route = _template_of(scope, root_path)
            method = str(scope.get("method", "GET"))
            HTTP_REQUESTS.labels(self.service, route, method, str(status)).inc()
            duration = elapsed if elapsed is not None else time.perf_counter() - started
            HTTP_LATENCY.labels(self.service, route, method).observe(duration)


# --- Celery -------------------------------------------------------------------------------------


def install_task_metrics(app: Any, queue: str) -> None:
    """Count and time the tasks of `app` (a Celery app) through Celery's signals, which fire in
    the process that runs the task (a prefork child: hence the multiprocess mode)."""
    from celery.signals import (
        task_failure,
        task_postrun,
        task_prerun,
        task_rejected,
        task_retry,
        task_revoked,
        task_success,
    )

    started: dict[str, float] = {}

    def ours(sender: Any) -> bool:
        return getattr(sender, "app", None) is app

    def name_of(sender: Any) -> str:
        return str(getattr(sender, "name", None) or "unknown")

    @task_prerun.connect(weak=False)
    def _prerun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
        if ours(sender) and task_id:
            started[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def _postrun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
        if not ours(sender) or not task_id or task_id not in started:
            return
        TASK_LATENCY.labels(queue, name_of(sender)).observe(
            time.perf_counter() - started.pop(task_id)
        )

    @task_success.connect(weak=False)
    def _success(sender: Any = None, **_: Any) -> None:
        if ours(sender):
            TASKS.labels(queue, name_of(sender), "success").inc()

    @task_failure.connect(weak=False)
    def _failure(sender: Any = None, **_: Any) -> None:
        if ours(sender):
            TASKS.labels(queue, name_of(sender), "failure").inc()

    @task_retry.connect(weak=False)
    def _retry(sender: Any = None, **_: Any) -> None:
        if ours(sender):
            TASKS.labels(queue, name_of(sender), "retry").inc()

    @task_rejected.connect(weak=False)
    def _rejected(sender: Any = None, message: Any = None, **_: Any) -> None:
        # an unknown task name: the sender is the consumer, not a task
        TASKS.labels(queue, "unknown", "rejected").inc()

    @task_revoked.connect(weak=False)
    def _revoked(sender: Any = None, request: Any = None, **_: Any) -> None:
        if ours(sender):
            TASKS.labels(queue, name_of(sender), "revoked").inc()


def start_worker_metrics_server(queue: str) -> None:
    """In a worker's main process: serve what its pool processes recorded, when
    `PORTAL_METRICS_PORT` is set."""
    port = metrics_port()
    if not port:
        return
    if multiprocess_dir() is None:
        log.warning(
            "%s worker: PROMETHEUS_MULTIPROC_DIR is unset, so the tasks its pool processes run "
            "are not counted; start workers with `portal worker`",
            queue,
        )
    serve_metrics(port, scrape_registry())


def metric_names(*registries: CollectorRegistry) -> set[str]:
    """Every series name the registries can expose (a counter's `_total`, a histogram's
    `_bucket`/`_sum`/`_count`...): what dashboards may query."""
    names: set[str] = set()
    for registry in registries:
        names.update(registry._names_to_collectors)  # noqa: SLF001 (no public listing)
    return names

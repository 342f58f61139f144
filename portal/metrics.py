"""Gauges of shared state, read when Prometheus scrapes: the depth of each Celery queue (Redis
LLEN), each service's outbox backlog and the age of its oldest due row, and the notifier's
deliveries by status. They are computed in one place so that they are read once per scrape,
not once per replica: the relay process (deployment: its `PORTAL_METRICS_PORT`), and under
`portal run` the local gateway's `/metrics`, which then also shows every worker's series."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from services.kernel.contracts import QUEUES
from services.kernel.db import Database, database_for, utcnow
from services.kernel.outbox import OutboxMixin

log = logging.getLogger("portal.metrics")

PRIORITY_SEPARATOR = "\x06\x16"
"""Kombu's Redis transport keeps priority levels in lists named `<queue>\\x06\\x16<level>`."""


def queue_keys(queue: str) -> list[str]:
    return [queue, *(f"{queue}{PRIORITY_SEPARATOR}{level}" for level in range(1, 10))]


async def queue_depths(redis_url: str) -> dict[str, int]:
    """Messages waiting in each Celery queue (not those a worker has taken)."""
    client = aioredis.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        depths: dict[str, int] = {}
        for queue in QUEUES:
            pipe = client.pipeline(transaction=False)
            for key in queue_keys(queue):
                pipe.llen(key)
            depths[queue] = sum(int(n) for n in await pipe.execute())
        return depths
    finally:
        await client.aclose()


@dataclass
class OutboxState:
    due: int
    """Unpublished rows whose time has come (the backlog)."""
    scheduled: int
    """Unpublished rows waiting for a later time (the notifier's retry waits)."""
    failing: int
    """Unpublished rows whose last publication failed (`last_error` set)."""
    oldest_due_age: float
    """Seconds since the oldest due row became due; 0 when there is none."""


async def outbox_state(db: Database, outbox: type[OutboxMixin]) -> OutboxState:
    now = utcnow()
    async with db.sessionmaker() as session:
        pending = outbox.published_at.is_(None)
        due_rows = select(func.count(), func.min(outbox.available_at)).where(
            pending, outbox.available_at <= now
        )
        due, oldest = (await session.execute(due_rows)).one()
        scheduled = await session.scalar(
            select(func.count()).where(pending, outbox.available_at > now)
        )
        failing = await session.scalar(
            select(func.count()).where(pending, outbox.last_error.is_not(None))
        )
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        age = max(0.0, (now - oldest).total_seconds())
    return OutboxState(int(due or 0), int(scheduled or 0), int(failing or 0), age)


async def delivery_counts(db: Database) -> dict[str, int]:
    from services.notifier.models import FAILED, PENDING, RETRYING, SENT, Delivery

    counts = dict.fromkeys((PENDING, SENT, RETRYING, FAILED), 0)
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        for status, count in rows:
            counts[str(status)] = int(count)
    return counts


def service_database(service: str) -> tuple[Database, type[OutboxMixin]]:
    settings = importlib.import_module(f"services.{service}.settings").get_settings()
    models = importlib.import_module(f"services.{service}.models")
    return database_for(settings.resolved_database_url()), models.OutboxMessage


@dataclass
class Snapshot:
    queues: dict[str, int] = field(default_factory=dict)
    outboxes: dict[str, OutboxState] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)
    up: dict[str, int] = field(default_factory=dict)


class BacklogCollector(Collector):
    """Reads the shared state at scrape time. `refresh()` is a coroutine (the gateway awaits it
    before rendering); `collect()` called from another thread (prometheus_client's HTTP server)
    runs it on `loop`, the loop that owns the database pools."""

    def __init__(
        self,
        redis_url: str,
        services: Sequence[str],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.redis_url = redis_url
        self.services = list(services)
        self.loop = loop
        self.timeout = timeout
        self.snapshot = Snapshot()
        self._lock = threading.Lock()

    async def refresh(self) -> Snapshot:
        snap = Snapshot()
        try:
            snap.queues = await queue_depths(self.redis_url)
            snap.up["redis"] = 1
        except Exception as exc:
            log.warning("metrics: queue depths unavailable: %s", exc)
            snap.up["redis"] = 0
        for service in self.services:
            try:
                db, outbox = service_database(service)
                snap.outboxes[service] = await outbox_state(db, outbox)
                if service == "notifier":
                    snap.emails = await delivery_counts(db)
                snap.up[f"{service}.database"] = 1
            except Exception as exc:
                log.warning("metrics: %s's database unavailable: %s", service, exc)
                snap.up[f"{service}.database"] = 0
        self.snapshot = snap
        return snap

    def _current(self) -> Snapshot:
        loop = self.loop
        if loop is None or not loop.is_running():
            return self.snapshot
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # called on the loop itself: the caller awaited refresh()
            return self.snapshot
        with self._lock:
            future = asyncio.run_coroutine_threadsafe(self.refresh(), loop)
            try:
                return future.result(self.timeout)
            except Exception as exc:
                log.warning("metrics: refresh failed: %s", exc)
                future.cancel()
                return self.snapshot

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families(Snapshot())

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self._families(self._current())

    def _families(self, snap: Snapshot) -> list[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "portal_queue_depth",
            "Messages waiting in a Celery queue (Redis LLEN).",
            labels=["queue"],
        )
        for queue, n in snap.queues.items():
            depth.add_metric([queue], n)
        backlog = GaugeMetricFamily(
            "portal_outbox_backlog",
            "Outbox rows due for publication and not yet published.",
            labels=["service"],
        )
        scheduled = GaugeMetricFamily(
            "portal_outbox_scheduled",
            "Outbox rows waiting for a later publication time (scheduled retries).",
            labels=["service"],
        )
        failing = GaugeMetricFamily(
            "portal_outbox_failing",
            "Unpublished outbox rows whose last publication attempt failed.",
            labels=["service"],
        )
        age = GaugeMetricFamily(
            "portal_outbox_oldest_age_seconds",
            "Seconds the oldest due, unpublished outbox row has waited (0: none).",
            labels=["service"],
        )
        for service, state in snap.outboxes.items():
            backlog.add_metric([service], state.due)
            scheduled.add_metric([service], state.scheduled)
            failing.add_metric([service], state.failing)
            age.add_metric([service], state.oldest_due_age)
        emails = GaugeMetricFamily(
            "portal_emails",
            "E-mail messages in the notifier's deliveries table, by status "
            "(pending, sent, retrying, failed).",
            labels=["status"],
        )
        for status, n in snap.emails.items():
            emails.add_metric([status], n)
        up = GaugeMetricFamily(
            "portal_metrics_source_up",
            "1 when the last scrape could read this source (redis, <service>.database).",
            labels=["source"],
        )
        for source, ok in snap.up.items():
            up.add_metric([source], ok)
        return [depth, backlog, scheduled, failing, age, emails, up]


def all_metric_names() -> set[str]:
    """Every series name the portal's code defines: what the dashboard may query."""
    from prometheus_client import REGISTRY, CollectorRegistry

    from services.kernel import metrics  # noqa: F401 (defines the HTTP and task metrics)
    from services.kernel.metrics import metric_names

    backlog = CollectorRegistry()
    backlog.register(BacklogCollector("redis://unused", []))
    return metric_names(REGISTRY, backlog)

"""What the relay process does besides relaying: it serves the gauges of shared state
(portal/metrics.py) on `PORTAL_METRICS_PORT`, and every `PORTAL_PURGE_INTERVAL` seconds (3600;
0: never; the first an interval after it starts) it sends every service its purge task,
`<service>.purge_expired`, on the service's own queue: each service purges what it owns
(`services/<service>/maintenance.py`; published outbox rows and handled-message ids past
`PORTAL_MESSAGE_RETENTION_DAYS`, 30, through one kernel helper; and its own: expired codes,
tokens and captcha ids, old drafts with their files, records of sent e-mails). The workers run
them (the dossiers worker has the files). With several relay replicas, a Redis key lets one of
them send per interval."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from collections.abc import Sequence

import redis.asyncio as aioredis

from portal.metrics import BacklogCollector
from services.kernel.metrics import metrics_port, scrape_registry, serve_metrics
from services.kernel.registry import SERVICES
from services.kernel.settings import ServiceSettings

log = logging.getLogger("portal.housekeeping")

PURGE_TASKS = {service: f"{service}.purge_expired" for service in SERVICES}
PURGE_KEY = "portal:purge:sent"


def purge_interval() -> float:
    try:
        return float(os.environ.get("PORTAL_PURGE_INTERVAL", "3600") or 0)
    except ValueError:
        log.warning("PORTAL_PURGE_INTERVAL is not a number: periodic purge off")
        return 0.0


def serve_relay_metrics(services: Sequence[str]) -> BacklogCollector | None:
    """Queue depth, outbox backlog and age, e-mail counts, read when scraped, on
    PORTAL_METRICS_PORT (0: off). Call from the relay's running event loop."""
    port = metrics_port()
    if not port:
        return None
    collector = BacklogCollector(
        ServiceSettings().redis_url, services, loop=asyncio.get_running_loop()
    )
    serve_metrics(port, scrape_registry(collector))
    return collector


async def send_purges(services: Sequence[str]) -> list[str]:
    sent = []
    for service in services:
        name = PURGE_TASKS.get(service)
        if name is None:
            continue
        celery = importlib.import_module(f"services.{service}.tasks").celery
        await asyncio.to_thread(celery.send_task, name, queue=service, retry=False)
        sent.append(name)
    return sent


async def periodic_purges(services: Sequence[str], stop: asyncio.Event) -> None:
    interval = purge_interval()
    if interval <= 0:
        return
    client = aioredis.Redis.from_url(
        ServiceSettings().redis_url, socket_timeout=3, socket_connect_timeout=3
    )
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):  # the first purge an interval after start
                await asyncio.wait_for(stop.wait(), timeout=interval)
            if stop.is_set():
                break
            try:
                # one relay replica per interval (the key lives a little less than it)
                if await client.set(PURGE_KEY, "1", nx=True, ex=max(1, int(interval * 0.9))):
                    sent = await send_purges(services)
                    if sent:
                        log.info("sent %s", ", ".join(sent))
            except Exception as exc:
                log.warning("purge tasks not sent (%s); trying again next interval", exc)
    finally:
        await client.aclose()

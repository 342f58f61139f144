"""The outbox relay process: publishes the pending outbox rows of one or more services, each
woken by its database's notifications (PostgreSQL) or polling (services/kernel/outbox.py)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket

from services.kernel.db import database_for
from services.kernel.health import Heartbeat
from services.kernel.outbox import Relay

log = logging.getLogger("portal.relay")


def _relay_for(service: str) -> tuple[Relay, Heartbeat, float]:
    settings = importlib.import_module(f"services.{service}.settings").get_settings()
    models = importlib.import_module(f"services.{service}.models")
    celery = importlib.import_module(f"services.{service}.tasks").celery
    relay = Relay(
        database_for(settings.resolved_database_url()),
        models.OutboxMessage,
        celery,
        replay_window=settings.outbox_replay_seconds,
    )
    beat = Heartbeat(settings.redis_url, "relay", service, f"{socket.gethostname()}-{os.getpid()}")
    return relay, beat, settings.relay_safety_interval


async def run_relays(services: list[str], poll_interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    relays = [_relay_for(s) for s in services]
    log.info("relaying the outboxes of %s", ", ".join(services))
    from portal.housekeeping import periodic_purges, serve_relay_metrics

    serve_relay_metrics(services)  # PORTAL_METRICS_PORT; and the hourly purge tasks:
    await asyncio.gather(
        *(
            relay.run(poll_interval, stop, beat.safe_beat, safety_interval=safety)
            for relay, beat, safety in relays
        ),
        periodic_purges(services, stop),
    )

"""Celery wiring shared by every service: one queue per service, tasks sent by name, late acks
for idempotent tasks, a visibility timeout longer than any task, and one persistent event loop
per worker process so async database pools and SMTP connections are reused across tasks. Tasks
are counted and timed by name and outcome (services/kernel/metrics.py); a worker started with
`PORTAL_METRICS_PORT` serves them on that port."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Collection, Coroutine
from typing import Any, TypeVar, cast

from celery import Celery, Task
from celery.exceptions import Reject
from celery.signals import worker_init, worker_ready, worker_shutdown
from celery_batches import Batches, SimpleRequest
from celery_batches.trace import apply_batches_task
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.contracts import ROUTES, Contract
from services.kernel.db import database_for
from services.kernel.health import Heartbeat
from services.kernel.metrics import install_task_metrics, start_worker_metrics_server
from services.kernel.settings import ServiceSettings
from services.kernel.transient import is_transient, retry_transient

T = TypeVar("T")
log = logging.getLogger("portal.messaging")


def make_celery(
    service: str,
    settings: ServiceSettings,
    *,
    time_limit: int | None = None,
    transport_options: dict[str, Any] | None = None,
) -> Celery:
    """The service's Celery app. `time_limit` (default: half the visibility timeout, at least
    60 s) and `transport_options` (merged over the defaults) let a service with short tasks
    take its messages back from a dead worker sooner (the notifier)."""
    app = Celery(f"portal-{service}", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_routes=ROUTES,
        task_default_queue=service,
        task_time_limit=time_limit or max(60, settings.celery_visibility_timeout // 2),
        worker_prefetch_multiplier=settings.celery_prefetch_multiplier,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout,
            "socket_timeout": 5,
            "socket_connect_timeout": 3,
            "retry_on_timeout": True,
            **(transport_options or {}),
        },
        # A task running when the broker connection drops finishes rather than being killed:
        # killed between the SMTP server's "250" and the notifier's commit, an e-mail would
        # be sent again. Every task is idempotent (deliveries locked by message id, processed
        # message ids), so the copy Redis gives back later is skipped.
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    _install_worker_heartbeat(app, service, settings.redis_url)
    install_task_metrics(app, service)

    @worker_init.connect(weak=False)
    def _metrics_port(sender: Any = None, **_: Any) -> None:
        if sender is not None and getattr(sender, "app", None) is app:
            start_worker_metrics_server(service)

    return app


def _install_worker_heartbeat(app: Celery, queue: str, redis_url: str) -> None:
    """A running worker says so in Redis every few seconds, the first time as soon as it
    consumes; `/healthz` reads it. A worker that shuts down takes its heartbeat with it."""
    stop = threading.Event()
    beats: list[tuple[Heartbeat, threading.Thread]] = []

    @worker_ready.connect(weak=False)
    def _start(sender: Any = None, **_: Any) -> None:
        if sender is None or sender.app is not app:
            return
        beat = Heartbeat(redis_url, "worker", queue, f"{socket.gethostname()}-{os.getpid()}")

        def loop() -> None:
            while not stop.is_set():
                beat.safe_beat()
                stop.wait(Heartbeat.INTERVAL)

        thread = threading.Thread(target=loop, name="portal-heartbeat", daemon=True)
        thread.start()
        beats.append((beat, thread))

    @worker_shutdown.connect(weak=False)
    def _stop(sender: Any = None, **_: Any) -> None:
        stop.set()
        for beat, thread in beats:
            thread.join(timeout=5)  # a beat being written is not to come after its removal
            beat.stop()


_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on this process's persistent event loop (created after any fork)."""
    global _loop, _loop_pid
    if _loop is None or _loop_pid != os.getpid():
        _loop = asyncio.new_event_loop()
        _loop_pid = os.getpid()
    return _loop.run_until_complete(coro)


C = TypeVar("C", bound=Contract)


def consume(
    task: Task[Any, Any],
    contract: type[C],
    payload: dict[str, Any],
    handle: Callable[[C], Coroutine[Any, Any, T]],
) -> T:
    """What every consumer does with a message: a payload that does not fit its contract is
    rejected (never retried, never requeued); the handler runs on the worker's event loop; a
    passing fault of the database retries with backoff instead of dropping the message."""
    try:
        message = contract.model_validate(payload)
    except ValidationError as exc:
        log.error("rejecting a malformed %s message: %s", contract.TASK, exc)
        raise Reject(str(exc), requeue=False) from exc
    try:
        return run_async(handle(message))
    except Exception as exc:
        retry_transient(task, exc)


class HandedBackBatches(Batches):  # type: ignore[misc]  # celery-batches has no types
    """A celery-batches task whose batch goes back to the queue when its pool process dies (an
    out-of-memory kill, the hard time limit): celery-batches acknowledges a batch when it
    returns and does nothing when it is lost, so its messages stayed unacknowledged — held
    from the queue until the visibility timeout, and counted against the worker's prefetch
    for good. Each request also carries `flushed_at`, when the batch was handed to the pool
    (time.time()), so the batch can keep to a budget counted from then (`consume_batch`)."""

    abstract = True

    def flush(self, requests: Collection[Any]) -> Any:
        requests = list(requests)
        flushed_at = time.time()
        simple = []
        for request in requests:
            copy = SimpleRequest.from_request(request)
            copy.flushed_at = flushed_at
            simple.append(copy)
        early = [r for r in requests if not r.task.acks_late]
        late = [r for r in requests if r.task.acks_late]

        def on_accepted(pid: int, time_accepted: float) -> None:
            for request in early:
                request.acknowledge()

        def on_return(result: Any) -> None:
            for request in late:
                request.acknowledge()

        def on_lost(error: Any) -> None:
            reason = getattr(error, "exception", error)
            log.error(
                "%s: a batch was lost (%r); %d message(s) back to the queue",
                self.name,
                reason,
                len(late),
            )
            for request in late:
                request.reject(requeue=True)

        return self._pool.apply_async(
            apply_batches_task,
            (self, (simple,), 0, None),
            accept_callback=on_accepted,
            callback=on_return,
            error_callback=on_lost,
        )


def consume_batch(
    task: Task[Any, Any],
    contract: type[C],
    requests: list[Any],
    handle: Callable[[C, int], Coroutine[Any, Any, Any]],
    *,
    lanes: int,
    lane_key: Callable[[C], str] | None = None,
    budget: float | None = None,
) -> None:
    """`consume` for a batch of messages (a `celery_batches.Batches` task). Each message is
    handled as `consume` handles one — in its own transaction, committed before the lane takes
    the next — on `lanes` concurrent lanes (`handle(message, lane)`; a lane keeps its own
    connections), so one message's network waits overlap another's work. Messages with the
    same `lane_key` (the same recipient) go down one lane, in the order they came. The batch is
    acknowledged when this returns, so nothing may be left unsettled: a message that met a
    passing fault is published again after a backoff, as a retry would; one that does not fit
    its contract is dropped with the same log line as `consume`'s. With a `budget`, no message
    starts later than `budget` seconds after the batch was handed to the pool
    (`HandedBackBatches`), waiting for a free pool process included: the rest are published
    again unstarted, so a slow SMTP server cannot make a live worker hold a message for longer
    than the visibility timeout."""
    count = max(1, lanes)
    queues: list[list[tuple[C, dict[str, Any]]]] = [[] for _ in range(count)]
    for position, request in enumerate(requests):
        payload = request.kwargs.get("payload") if isinstance(request.kwargs, dict) else None
        try:
            message = contract.model_validate(payload)
        except ValidationError as exc:
            log.error("rejecting a malformed %s message: %s", contract.TASK, exc)
            continue
        if lane_key is None:
            number = position % count
        else:
            number = zlib.crc32(lane_key(message).encode()) % count
        queues[number].append((message, cast(dict[str, Any], payload)))  # it validated: a dict
    failures: list[tuple[dict[str, Any], Exception]] = []
    unstarted: list[dict[str, Any]] = []
    deadline = None
    if budget is not None:
        handed = [getattr(r, "flushed_at", None) for r in requests]
        deadline = min((t for t in handed if t is not None), default=time.time()) + budget

    async def lane(number: int) -> None:
        for message, payload in queues[number]:
            if deadline is not None and time.time() >= deadline:
                unstarted.append(payload)
                continue
            try:
                await handle(message, number)
            except Exception as exc:
                failures.append((payload, exc))

    async def all_lanes() -> None:
        await asyncio.gather(*(lane(n) for n in range(count)))

    run_async(all_lanes())
    if unstarted:
        log.warning(
            "%s: %d message(s) not started within %.0f s; back to the queue",
            contract.TASK,
            len(unstarted),
            budget,
        )
    for payload in unstarted:
        task.apply_async(kwargs={"payload": payload})
    for payload, error in failures:
        if not is_transient(error):
            log.error("%s message failed: %r", contract.TASK, error, exc_info=error)
            continue
        log.warning("%s message met %r; published again", contract.TASK, error)
        task.apply_async(kwargs={"payload": payload}, countdown=random.uniform(1.0, 5.0))


def purge_age(days: float | None) -> dt.timedelta | None:
    """A purge task's age argument in days (None: the service's configured retention)."""
    return None if days is None else dt.timedelta(days=days)


async def in_session(url: str, work: Callable[[AsyncSession], Coroutine[Any, Any, T]]) -> T:
    """Run `work` in a session of the database at `url` and commit: a task's edge."""
    async with database_for(url).sessionmaker() as session:
        result = await work(session)
        await session.commit()
    return result

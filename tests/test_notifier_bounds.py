"""How long a notifier worker can hold e-mails, checked on the configuration the notifier ships
with (fast, no stack): a worker killed whole gives its e-mails back within two minutes, and a
live worker never holds one long enough for Redis to give it to another worker while it is
still being sent. `faults/test_workers.py` kills a real worker under load."""

from __future__ import annotations

import asyncio
import importlib
import time
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from services.kernel.contracts import QUEUES, SendEmailV1
from services.kernel.messaging import HandedBackBatches, consume_batch
from services.notifier import tasks
from services.notifier.settings import NotifierSettings

PROMISE = 120.0
"""Seconds within which an e-mail held by a worker killed whole must reach its filer."""
SENDING = 10.0
"""Seconds left, after Redis gives a message back, for a live worker to take and send it."""


def test_a_killed_worker_gives_its_emails_back_within_two_minutes() -> None:
    conf = tasks.celery.conf
    options = conf.broker_transport_options
    visibility = options["visibility_timeout"]
    sweep = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    # An e-mail the dead worker fetched becomes restorable `visibility` seconds after its
    # fetch; a live worker sweeps every `sweep` seconds (and when it starts).
    assert visibility + sweep + SENDING <= PROMISE
    # A worker killed mid-sweep holds the sweep's lock: it must expire before the e-mails it
    # held become restorable, or it would add to the wait.
    assert options["unacked_mutex_expire"] < visibility


def test_a_live_worker_never_holds_an_email_past_the_visibility_timeout() -> None:
    settings = tasks.settings
    conf = tasks.celery.conf
    visibility = conf.broker_transport_options["visibility_timeout"]
    # The batch keeps to its budget (from when it was handed to the pool), each attempt to its
    # timeout, recording a sent e-mail to its patience: under the hard limit, which is under
    # the visibility timeout. No soft limit: raised inside a batch it would acknowledge
    # e-mails not yet sent.
    held = settings.batch_wait + settings.longest_batch
    assert held < conf.task_time_limit < visibility
    assert conf.task_soft_time_limit is None
    assert settings.message_timeout > settings.smtp_timeout  # one slow command is the SMTP's
    send = tasks.celery.tasks[SendEmailV1.TASK]
    assert isinstance(send, HandedBackBatches)
    assert send.flush_every == settings.batch_size and send.flush_interval == settings.batch_wait
    # celery-batches fills a batch only from messages fetched ahead; a kill holds at most this
    # many per pool process.
    assert conf.worker_prefetch_multiplier >= settings.batch_size


def test_the_notifier_keeps_its_unacked_messages_apart() -> None:
    """kombu applies the sweeping app's visibility timeout to every message in its unacked
    keys: shared keys would let the notifier's 90 s take back another service's long task."""
    notifier = tasks.celery.conf.broker_transport_options
    for queue in QUEUES:
        if queue == "notifier":
            continue
        other = importlib.import_module(f"services.{queue}.tasks").celery.conf
        options = other.broker_transport_options
        for key in ("unacked_key", "unacked_index_key", "unacked_mutex_key"):
            assert notifier[key] != options.get(key, key.removesuffix("_key"))  # kombu's default
        assert options["visibility_timeout"] > other.task_time_limit


@pytest.mark.parametrize(
    "values",
    [
        {"time_limit": 95},  # past the visibility timeout
        {"record_sent_patience": 70},  # a batch could outlive the time limit
        {"visibility_timeout": 60},  # the time limit past the visibility timeout
    ],
)
def test_a_configuration_that_breaks_the_bound_is_refused(
    values: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"NOTIFIER_{name.upper()}", str(value))
    with pytest.raises(ValidationError, match="redelivered"):
        NotifierSettings()


# -- the batch's own bounds -------------------------------------------------------------------


class _Sent:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def apply_async(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


class _Request:
    def __init__(self, payload: dict[str, Any], flushed_at: float) -> None:
        self.kwargs = {"payload": payload}
        self.flushed_at = flushed_at


def _payload(n: int) -> dict[str, Any]:
    return {
        "message_id": uuid.uuid4().hex,
        "version": 1,
        "to": f"lan.{n}@example.vn",
        "template": "password_reset",
        "context": {},
    }


def test_a_batch_handed_to_the_pool_too_long_ago_sends_nothing_and_gives_all_back() -> None:
    handled: list[str] = []

    async def handle(message: SendEmailV1, lane: int) -> None:
        handled.append(message.message_id)

    task = _Sent()
    stale = [_Request(_payload(n), time.time() - 11) for n in range(5)]
    consume_batch(task, SendEmailV1, stale, handle, lanes=2, budget=10)  # type: ignore[arg-type]
    assert handled == []
    given_back = sorted(c["kwargs"]["payload"]["message_id"] for c in task.calls)
    assert given_back == sorted(r.kwargs["payload"]["message_id"] for r in stale)
    assert all("countdown" not in c for c in task.calls)  # back at once, unsent

    fresh = [_Request(_payload(n), time.time()) for n in range(5)]
    task = _Sent()
    consume_batch(task, SendEmailV1, fresh, handle, lanes=2, budget=10)  # type: ignore[arg-type]
    assert len(handled) == 5 and task.calls == []


def test_a_batch_stops_starting_emails_when_its_budget_is_spent() -> None:
    started: list[str] = []

    async def slow(message: SendEmailV1, lane: int) -> None:
        started.append(message.message_id)
        await asyncio.sleep(0.3)

    task = _Sent()
    same_lane = [_Request({**_payload(0)}, time.time()) for _ in range(4)]  # one recipient
    consume_batch(
        task,  # type: ignore[arg-type]
        SendEmailV1,
        same_lane,
        slow,
        lanes=4,
        budget=0.5,
        lane_key=lambda m: str(m.to),
    )
    assert len(started) == 2  # at 0 s and 0.3 s; the third would start at 0.6 s
    assert len(task.calls) == 2


class _PoolRequest:
    """What celery-batches hands `flush`: a worker request, acknowledged or rejected."""

    def __init__(self) -> None:
        self.id, self.name = uuid.uuid4().hex, SendEmailV1.TASK
        self._payload = ((), {"payload": _payload(0)}, {})
        self.delivery_info: dict[str, Any] = {}
        self.hostname, self.reply_to, self.correlation_id = "w", None, None
        self.request_dict: dict[str, Any] = {}
        self.task = tasks.celery.tasks[SendEmailV1.TASK]
        self.outcome: str | None = None

    def acknowledge(self) -> None:
        self.outcome = "acked"

    def reject(self, requeue: bool = False) -> None:
        self.outcome = "requeued" if requeue else "dropped"


class _Pool:
    def __init__(self) -> None:
        self.jobs: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def apply_async(self, *args: Any, **kwargs: Any) -> None:
        self.jobs.append((args, kwargs))


@pytest.mark.parametrize("fate", ["returned", "lost"])
def test_a_batch_is_acknowledged_when_it_returns_and_handed_back_when_lost(
    fate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    send = tasks.celery.tasks[SendEmailV1.TASK]
    pool = _Pool()
    monkeypatch.setattr(send, "_pool", pool)
    requests = [_PoolRequest() for _ in range(3)]
    before = time.time()
    send.flush(requests)
    ((args, callbacks),) = pool.jobs
    simple = args[1][1][0]
    assert all(before <= r.flushed_at <= time.time() for r in simple)
    if fate == "returned":
        callbacks["callback"](None)
        assert {r.outcome for r in requests} == {"acked"}
    else:  # the pool process died (OOM kill, hard time limit)
        callbacks["error_callback"](RuntimeError("Worker exited prematurely"))
        assert {r.outcome for r in requests} == {"requeued"}

"""The platform's own promises: every contract has a consumer, every queue a worker, every
service's migrations reach one head on an empty PostgreSQL database, and the pure rules."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import importlib.util
import uuid

import pytest
from alembic.script import ScriptDirectory
from starlette.requests import Request

from portal import runner
from services.accounts.service import ACCOUNT, CLIENT, PAIR
from services.kernel.contracts import CONTRACTS, QUEUES, SendEmailV1, queue_of
from services.kernel.errors import request_language
from services.kernel.migrations import alembic_config, upgrade
from services.kernel.registry import SERVICES
from services.notifier.mailer import PermanentFailure, build_message, render
from services.notifier.service import retry_delay
from tests.support import _create_databases, _drop_databases, _with_database


def test_every_contract_has_a_consumer_on_its_queue() -> None:
    for task_name in CONTRACTS:
        queue = queue_of(task_name)
        tasks = importlib.import_module(f"services.{queue}.tasks")
        assert task_name in tasks.celery.tasks, f"{task_name} has no consumer in {queue}"


def test_every_queue_has_a_worker_and_every_service_a_relay() -> None:
    plan = dict(runner.process_plan(8000, runner.parse_concurrency("1")))
    consumed = {argv[argv.index("-Q") + 1] for argv in plan.values() if "-Q" in argv}
    assert consumed == set(QUEUES)
    relayed = set(plan["relay"][plan["relay"].index("relay") + 1 :])
    assert relayed == set(SERVICES)
    for queue in QUEUES:
        tasks = importlib.import_module(f"services.{queue}.tasks")
        assert tasks.celery.conf.task_default_queue == queue
        assert tasks.celery.conf.task_acks_late and tasks.celery.conf.task_reject_on_worker_lost
        visibility = tasks.celery.conf.broker_transport_options["visibility_timeout"]
        assert tasks.celery.conf.task_time_limit < visibility
    assert set(SERVICES) == set(QUEUES)


def test_every_service_has_the_same_shape_and_its_purge_task() -> None:
    """The one list of services (services/kernel/registry.py): each has its app, settings,
    migrations and housekeeping, its purge task registered on its own queue the same way."""
    for service in SERVICES:
        for module in ("app", "settings", "tasks", "maintenance", "migrations.env"):
            assert importlib.util.find_spec(f"services.{service}.{module}"), (service, module)
        tasks = importlib.import_module(f"services.{service}.tasks")
        purge = tasks.celery.tasks[f"{service}.purge_expired"]
        assert queue_of(purge.name) == service
        assert "messages_older_than_days" in purge.__wrapped__.__code__.co_varnames
        maintenance = importlib.import_module(f"services.{service}.maintenance")
        assert asyncio.iscoroutinefunction(maintenance.purge)


def test_worker_concurrency_is_given_for_all_queues_or_per_queue() -> None:
    assert runner.parse_concurrency("3") == dict.fromkeys(QUEUES, 3)
    plan = runner.parse_concurrency("notifier=4, dossiers=2")
    assert plan["notifier"] == 4 and plan["dossiers"] == 2 and plan["accounts"] == 1
    argv = dict(runner.process_plan(8000, plan))["notifier-worker"]
    assert argv[argv.index("--concurrency") + 1] == "4"
    for bad in ("0", "mail=2", "notifier=0", "notifier=x"):
        with pytest.raises(ValueError, match="concurrency"):
            runner.parse_concurrency(bad)


def test_each_service_has_a_single_migration_head() -> None:
    for service in SERVICES:
        script = ScriptDirectory.from_config(alembic_config(service, "sqlite://"))
        assert len(script.get_heads()) == 1, service


def test_migrations_upgrade_an_empty_postgresql_database(database_url: str) -> None:
    names = [f"portal_migrate_{uuid.uuid4().hex[:8]}_{s}" for s in SERVICES]
    asyncio.run(_create_databases(database_url, names))
    try:
        for service, name in zip(SERVICES, names, strict=True):
            url = _with_database(database_url, name).replace(
                "postgresql://", "postgresql+asyncpg://"
            )
            upgrade(service, url)
            upgrade(service, url)  # a second run is a no-op
    finally:
        asyncio.run(_drop_databases(database_url, names))


def test_contract_payloads_are_strict() -> None:
    message = SendEmailV1(
        message_id="m1", to="a@example.vn", template="password_reset", context={"code": "1"}
    )
    assert message.model_dump()["version"] == 1
    with pytest.raises(ValueError):
        SendEmailV1.model_validate({**message.model_dump(), "unexpected": 1})
    with pytest.raises(ValueError):
        SendEmailV1.model_validate({**message.model_dump(), "template": "nope"})


def test_sign_in_throttle_grows_and_stays_bounded() -> None:
    assert PAIR.lock_for(4) is None
    assert PAIR.lock_for(5) == dt.timedelta(seconds=2)
    assert PAIR.lock_for(6) == dt.timedelta(seconds=4)
    assert PAIR.lock_for(1000) == dt.timedelta(minutes=15)
    # Locks that anybody can cause for a citizen's account stay short.
    assert ACCOUNT.lock_for(10_000) == dt.timedelta(minutes=1)
    assert CLIENT.lock_for(49) is None


def test_retry_delay_is_exponential_with_jitter_and_capped() -> None:
    for attempts, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (20, 600.0)):
        delays = {retry_delay(attempts, 2.0, 600.0) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("", "vi"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        ("fr;q=0.5, en;q=0.7", "en"),
        ("vi;q=0.1, en;q=0.2", "en"),
    ],
)
def test_language_negotiation(header: str, lang: str) -> None:
    scope = {"type": "http", "headers": [(b"accept-language", header.encode())]}
    assert request_language(Request(scope)) == lang


SAMPLE_CONTEXTS = {
    "account_activation": {
        "code": "012345",
        "link": "http://x/activate?a=1&b=2",
        "valid_minutes": 30,
    },
    "account_exists": {"reset_url": "http://x/reset"},
    "password_reset": {"code": "012345", "valid_minutes": 30},
    "officer_invitation": {
        "code": "012345",
        "role": "officer",
        "agency_id": "so-tu-phap",
        "confirm_url": "http://x/confirm",
        "valid_hours": 72,
    },
}
_DOSSIER = {
    "dossier_code": "HT-STP-261124-0001",
    "procedure_name": "Đăng ký hoạt động",
    "procedure_code": "1.002181",
    "agency_name": "Sở Tư pháp",
    "accountless": False,
    "dossier_url": "http://x/d/1",
    "tracking_url": None,
    "occurred_at": "24/11/2026 09:30",
}
SAMPLE_CONTEXTS |= {
    "dossier_submitted": {**_DOSSIER, "status": "submitted", "status_label": "Hồ sơ đã gửi"},
    "dossier_processing": {
        **_DOSSIER,
        "status": "processing",
        "status_label": "Hồ sơ đang xử lý",
        "due_at": "03/12/2026 17:00",
    },
    "dossier_supplement_requested": {
        **_DOSSIER,
        "status": "supplement_requested",
        "status_label": "Hồ sơ yêu cầu bổ sung",
        "content": "Bổ sung bản sao",
    },
    "dossier_rejected": {
        **_DOSSIER,
        "status": "rejected",
        "status_label": "Hồ sơ bị trả lại",
        "reason": "Không đủ điều kiện",
    },
    "dossier_result_returned": {
        **_DOSSIER,
        "status": "result_returned",
        "status_label": "Hồ sơ đã trả kết quả",
        "note": "Đã cấp",
        "results": ["giay-phep.pdf"],
    },
}


@pytest.mark.parametrize("template", sorted(SAMPLE_CONTEXTS))
def test_every_template_renders_text_and_escaped_html(template: str) -> None:
    context = {
        "full_name": "<Đặng Thị Hoà>",
        "email": "hoa@example.vn",
        **SAMPLE_CONTEXTS[template],
    }
    email = render(template, context)
    assert email.subject and "\n" not in email.subject
    assert "<Đặng Thị Hoà>" in email.text
    assert "&lt;Đặng Thị Hoà&gt;" in email.html
    message = build_message("Cổng DVC <no-reply@example.vn>", "hoa@example.vn", "m1", email)
    assert message.is_multipart()
    parts = message.get_payload()
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_every_contract_template_exists() -> None:
    templates = SendEmailV1.model_fields["template"].annotation.__args__  # type: ignore[union-attr]
    assert set(templates) == set(SAMPLE_CONTEXTS)


def test_a_template_missing_a_value_fails_permanently() -> None:
    with pytest.raises(PermanentFailure):
        render("password_reset", {"full_name": "A", "email": "a@example.vn"})


def test_a_database_outage_answers_503_problem_with_retry_after() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import OperationalError

    from services.kernel.errors import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/down")
    async def down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    @app.get("/bug")
    async def bug() -> None:
        raise FileNotFoundError("a bug, not an outage")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/down")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "5"
        assert "thử lại" in response.json()["detail"]
        assert client.get("/bug").status_code == 500


def test_a_batch_settles_every_message_and_publishes_again_those_that_met_a_passing_fault() -> None:
    """consume_batch: each message handled on a lane; a transient fault (the database away)
    publishes that message again; a malformed payload is dropped; a bug is logged."""
    from types import SimpleNamespace

    from services.kernel.messaging import consume_batch

    def payload(to: str) -> dict[str, object]:
        return SendEmailV1(
            message_id=uuid.uuid4().hex, to=to, template="password_reset", context={}
        ).model_dump(mode="json")

    handled: list[tuple[str, int]] = []

    async def handle(message: SendEmailV1, lane: int) -> None:
        await asyncio.sleep(0.001)  # a network wait: the other lanes go on meanwhile
        if message.to.startswith("away"):
            raise ConnectionRefusedError("database away")
        if message.to.startswith("bug"):
            raise KeyError("bug")
        handled.append((str(message.to), lane))

    published: list[dict[str, object]] = []
    task = SimpleNamespace(apply_async=lambda kwargs, countdown: published.append(kwargs))
    good = [payload(f"ok{i}@example.vn") for i in range(6)]
    away = payload("away@example.vn")
    requests = [SimpleNamespace(kwargs={"payload": p}) for p in [*good, away]]
    requests += [SimpleNamespace(kwargs={"payload": {"version": 9}})]
    requests += [SimpleNamespace(kwargs={"payload": payload("bug@example.vn")})]
    consume_batch(task, SendEmailV1, requests, handle, lanes=3)  # type: ignore[arg-type]
    assert sorted(to for to, _ in handled) == sorted(str(p["to"]) for p in good)
    assert {lane for _, lane in handled} == {0, 1, 2}
    assert published == [{"payload": away}]

    # one recipient's messages go down one lane, in the order they came
    handled.clear()
    same = [payload(f"ha.{n}@example.vn") for n in range(3) for _ in range(4)]
    for number, item in enumerate(same):
        item["context"] = {"n": number}
    order: list[tuple[str, int]] = []

    async def record(message: SendEmailV1, lane: int) -> None:
        await asyncio.sleep(0.001 * (3 - int(message.context["n"]) % 3))
        order.append((str(message.to), int(message.context["n"])))

    consume_batch(
        task,  # type: ignore[arg-type]
        SendEmailV1,
        [SimpleNamespace(kwargs={"payload": p}) for p in same],
        record,
        lanes=3,
        lane_key=lambda message: str(message.to),
    )
    for recipient in {to for to, _ in order}:
        numbers = [n for to, n in order if to == recipient]
        assert numbers == sorted(numbers), recipient

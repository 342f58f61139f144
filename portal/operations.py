"""What the operator's commands do (portal/cli.py parses, this acts), against the databases and
Redis of the settings in the environment: queue and outbox state, failed e-mails and their
replay, outbox rows that keep failing, and the purge of expired data."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from portal.metrics import OutboxState, outbox_state, queue_depths, service_database
from services.kernel.contracts import QUEUES, SendEmailV1
from services.kernel.db import database_for, utcnow
from services.kernel.outbox import OUTBOX_CHANNEL
from services.kernel.registry import SERVICES
from services.kernel.settings import ServiceSettings

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> dt.timedelta:
    """`30d`, `12h`, `90m`, `45s`, `2w`."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (e.g. 30d, 12h, 90m)")
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_since(text: str) -> dt.datetime:
    """A duration back from now (`24h`, `7d`) or an ISO date/time (UTC when no zone)."""
    try:
        return utcnow() - parse_age(text)
    except ValueError:
        moment = dt.datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- queues -------------------------------------------------------------------------------------


@dataclass
class QueuesReport:
    depths: dict[str, int]
    outboxes: dict[str, OutboxState]


async def queues_report() -> QueuesReport:
    depths = await queue_depths(ServiceSettings().redis_url)
    outboxes = {}
    for service in SERVICES:
        db, outbox = service_database(service)
        outboxes[service] = await outbox_state(db, outbox)
        await db.dispose()
    return QueuesReport(depths, outboxes)


def format_queues(report: QueuesReport) -> str:
    rows = []
    for name in QUEUES:
        state = report.outboxes.get(name)
        rows.append(
            [
                name,
                report.depths.get(name, 0),
                state.due if state else "-",
                f"{state.oldest_due_age:.1f}" if state else "-",
                state.scheduled if state else "-",
                state.failing if state else "-",
            ]
        )
    headers = [
        "service",
        "queue depth",
        "outbox backlog",
        "oldest pending (s)",
        "scheduled",
        "failing",
    ]
    return table(headers, rows)


# --- e-mails ------------------------------------------------------------------------------------


def _notifier() -> Any:
    from services.notifier.settings import get_settings

    return database_for(get_settings().resolved_database_url())


async def failed_emails(since: dt.datetime | None, limit: int) -> list[Any]:
    from services.notifier.models import FAILED, Delivery

    db = _notifier()
    async with db.sessionmaker() as session:
        query = select(Delivery).where(Delivery.status == FAILED)
        if since is not None:
            query = query.where(Delivery.updated_at >= since)
        rows = list(await session.scalars(query.order_by(Delivery.updated_at.desc()).limit(limit)))
    await db.dispose()
    return rows


def format_failed(rows: Sequence[Any]) -> str:
    def reason(text: str | None) -> str:
        one_line = " ".join((text or "").split())
        return one_line if len(one_line) <= 60 else one_line[:57] + "..."

    return table(
        ["id", "recipient", "template", "attempts", "reason", "time (UTC)"],
        [
            [
                r.message_id,
                r.recipient,
                r.template,
                r.attempts,
                reason(r.last_error),
                r.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            ]
            for r in rows
        ],
    )


@dataclass
class ReplayResult:
    replayed: list[str]
    skipped: dict[str, str]
    """id -> why it was not replayed (not found, already sent, not failed)."""


async def replay_emails(ids: Sequence[str] | None) -> ReplayResult:
    """Send failed e-mails once more, through the notifier's outbox. In one transaction per
    message, with its delivery row locked: only a `failed` delivery is replayed; it becomes
    `pending` with a fresh attempt budget and one outbox row carrying the same message id.
    The notifier then sends it as it sends any message: a delivery already `sent` is never sent
    again (redeliveries, a second replay, a replay of a sent message are all no-ops), so the
    replayed message leaves at most once more. `ids=None`: every failed delivery."""
    from services.kernel.outbox import add_message
    from services.notifier.models import FAILED, PENDING, Delivery, OutboxMessage

    db = _notifier()
    result = ReplayResult([], {})
    if ids is None:
        async with db.sessionmaker() as session:
            ids = list(
                await session.scalars(select(Delivery.message_id).where(Delivery.status == FAILED))
            )
    for message_id in ids:
        async with db.sessionmaker() as session:
            delivery = await session.get(Delivery, message_id, with_for_update=True)
            if delivery is None:
                result.skipped[message_id] = "no such e-mail"
                continue
            if delivery.status != FAILED:
                result.skipped[message_id] = f"{delivery.status}, not failed: not replayed"
                continue
            message = SendEmailV1(
                message_id=delivery.message_id,
                to=delivery.recipient,
                template=delivery.template,
                locale=delivery.locale,
                context=delivery.context,
            )
            delivery.status, delivery.attempts = PENDING, 0
            delivery.next_attempt_at = None
            add_message(session, OutboxMessage, message)
            await session.commit()
            result.replayed.append(message_id)
    await db.dispose()
    return result


# --- outbox messages ----------------------------------------------------------------------------


async def replay_messages(service: str, ids: Sequence[str] | None, min_attempts: int) -> list[str]:
    """Make outbox rows due now for the relay: the given ids (published or not: consumers
    deduplicate by message id, so re-publishing a handled message is harmless), or (`ids=None`)
    every unpublished row that failed to publish (`last_error` set or `min_attempts` tries).
    Their error and attempt count are cleared. Returns the ids made due."""
    db, outbox = service_database(service)
    async with db.sessionmaker() as session:
        condition: ColumnElement[bool]
        if ids is None:
            condition = outbox.published_at.is_(None) & (
                outbox.last_error.is_not(None) | (outbox.attempts >= min_attempts)
            )
        else:
            condition = outbox.id.in_(list(ids))
        chosen = list(await session.scalars(select(outbox.id).where(condition)))
        if chosen:
            await session.execute(
                update(outbox)
                .where(outbox.id.in_(chosen))
                .values(published_at=None, available_at=utcnow(), attempts=0, last_error=None)
            )
            if db.is_postgres:  # the relay publishes them now, not at its next safety pass
                await session.execute(select(func.pg_notify(OUTBOX_CHANNEL, "")))
        await session.commit()
    await db.dispose()
    return chosen


# --- purge --------------------------------------------------------------------------------------


async def purge(
    drafts_older_than: dt.timedelta,
    messages_older_than: dt.timedelta,
    progress_factory: Callable[[int], Any] | None = None,
) -> dict[str, dict[str, int]]:
    """What each service's hourly purge task does (`services/<service>/maintenance.py`), now,
    with these ages: expired codes, tokens, notices and captcha ids (accounts), old drafts
    with their files (dossiers), and every service's published outbox rows, handled-message
    ids and sent e-mail records older than `messages_older_than`. `progress_factory(total)`
    makes a progress bar (tqdm) for the drafts. Returns what was removed, by service."""
    from services.dossiers.maintenance import count_old_drafts

    summary: dict[str, dict[str, int]] = {}
    for service in SERVICES:
        maintenance = importlib.import_module(f"services.{service}.maintenance")
        settings = importlib.import_module(f"services.{service}.settings").get_settings()
        if service != "dossiers":
            summary[service] = await maintenance.purge(
                settings, messages_older_than=messages_older_than
            )
            continue
        db = database_for(settings.resolved_database_url())
        total = await count_old_drafts(db, drafts_older_than)
        bar = progress_factory(total) if progress_factory is not None else None
        try:
            summary[service] = await maintenance.purge(
                settings,
                drafts_older_than=drafts_older_than,
                messages_older_than=messages_older_than,
                progress=bar.update if bar is not None else None,
            )
        finally:
            if bar is not None:
                bar.close()
    for service in SERVICES:
        settings = importlib.import_module(f"services.{service}.settings").get_settings()
        await database_for(settings.resolved_database_url()).dispose()
    return summary

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.db import UTCDateTime, utcnow
from services.kernel.outbox import OutboxMixin

PENDING, SENT, RETRYING, FAILED = "pending", "sent", "retrying", "failed"


class Base(DeclarativeBase):
    pass


class Delivery(Base):
    """One e-mail message and what became of it. The message id is the key: a message sent
    once is never sent again, whatever the broker redelivers."""

    __tablename__ = "deliveries"

    message_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8), default="vi")
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(OutboxMixin, Base):
    """Scheduled retries leave through the notifier's own outbox."""

    __tablename__ = "outbox"

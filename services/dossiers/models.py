"""Tables of the dossiers database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.db import UTCDateTime, utcnow
from services.kernel.outbox import OutboxMixin, ProcessedMessageMixin


class Base(DeclarativeBase):
    pass


class ProcedureCopy(Base):
    """A procedure version as the catalogue published it: what dossiers are filed against.
    Every version is kept, so a dossier's snapshot can always be found again."""

    __tablename__ = "procedure_copies"

    procedure_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[str | None] = mapped_column(String(64))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"

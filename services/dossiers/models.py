from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.kernel.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"

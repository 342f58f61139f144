"""Tables of the dossiers database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.captcha import SpentCaptchaMixin
from services.kernel.db import UTCDateTime, new_id, utcnow
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
    processing_days: Mapped[int | None] = mapped_column(Integer)
    processing_time_source: Mapped[str | None] = mapped_column(String(40))
    """Both also in the snapshot; columns for the dossier lists, which read no JSON."""
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AgencyCopy(Base):
    """The catalogue's agencies, as last published: where dossiers can be filed."""

    __tablename__ = "agency_copies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    tier: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    performs_commune_tier: Mapped[bool] = mapped_column(Boolean, default=False)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class Dossier(Base):
    """A dossier (hồ sơ): filed against one procedure version, owned by an account holder or,
    without an account, by whoever holds its capability token."""

    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_owner_status", "owner_id", "status"),
        Index("ix_dossiers_agency_status", "agency_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str | None] = mapped_column(String(60), unique=True)
    status: Mapped[str] = mapped_column(String(30), default="draft")
    procedure_id: Mapped[str] = mapped_column(String(32))
    procedure_version: Mapped[int] = mapped_column(Integer)
    procedure: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The snapshot of the procedure version filed against (components, schema, agency…)."""
    agency_id: Mapped[str] = mapped_column(String(64))
    agency_name: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(320))
    """Where every status change is e-mailed."""
    applicant: Mapped[dict[str, Any]] = mapped_column(JSON)
    applicant_name: Mapped[str | None] = mapped_column(String(200))
    """The applicant's full name, in its own column for the lists (never parsed out of the JSON
    in SQL, where one broken row would fail the whole list); kept by `set_applicant`."""
    declaration: Mapped[dict[str, Any]] = mapped_column(JSON)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    tracking_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    paused_working_days: Mapped[int] = mapped_column(Integer, default=0)
    history_count: Mapped[int] = mapped_column(Integer, default=0)
    """Lines in the history so far (numbers them; the dossier's row lock orders them)."""
    supplement_request: Mapped[str | None] = mapped_column(Text)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def accountless(self) -> bool:
        return self.owner_id is None

    def set_applicant(self, applicant: dict[str, Any]) -> None:
        self.applicant = applicant
        name = applicant.get("full_name")
        self.applicant_name = name[:200] if isinstance(name, str) and name else None


class DossierFile(Base):
    """A file attached to a component, or a result file returned by the agency."""

    __tablename__ = "dossier_files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dossier_id: Mapped[str] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    component_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10), default="attachment")
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HistoryEntry(Base):
    """One line of "Xem quá trình xử lý hồ sơ": a transition or a processing step."""

    __tablename__ = "dossier_history"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dossier_id: Mapped[str] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(String(30))
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class CodeSequence(Base):
    """The last dossier number given by an agency on a day (mã hồ sơ)."""

    __tablename__ = "code_sequences"

    agency_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class SpentCaptcha(SpentCaptchaMixin, Base):
    """Captcha ids already used here (accounts seals them; each is good for one use)."""

    __tablename__ = "spent_captchas"


class ProcessedMessage(ProcessedMessageMixin, Base):
    __tablename__ = "processed_messages"


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"

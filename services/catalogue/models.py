"""Tables of the catalogue database: agencies, fields, procedures, their published versions and
form templates. A procedure's current content lives in `Procedure.document`; every change
publishes an immutable `ProcedureVersion`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.db import UTCDateTime, new_id, utcnow
from services.kernel.outbox import OutboxMixin

TIERS = ("province", "department", "district", "commune")


class Base(DeclarativeBase):
    pass


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    tier: Mapped[str] = mapped_column(String(20), index=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Field(Base):
    """A field (lĩnh vực) of procedures, e.g. Hộ tịch."""

    __tablename__ = "fields"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Procedure(Base):
    __tablename__ = "procedures"
    __table_args__ = (Index("ix_procedures_field_agency", "field_id", "agency_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(Text)
    field_id: Mapped[str] = mapped_column(ForeignKey("fields.id"))
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"))
    """The department (or the province) that performs it at province tier."""
    on_province: Mapped[bool] = mapped_column(Boolean, default=False)
    on_commune: Mapped[bool] = mapped_column(Boolean, default=False)
    online: Mapped[str] = mapped_column(String(10))
    processing_days: Mapped[int | None] = mapped_column(Integer)
    processing_time_source: Mapped[str] = mapped_column(String(40), default="unknown")
    """How `processing_days` was obtained: the importer's rule (services/catalogue/parsing.py:
    stated, inferred_unit_from_channel, inferred_unit_from_text, assumed_working_days,
    unknown) or "admin" — set by an admin, which a re-import keeps."""
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    """Everything else the detail page shows: channels, steps, components, schema…"""
    version: Mapped[int] = mapped_column(Integer, default=1)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    name_accented: Mapped[str] = mapped_column(Text)
    name_folded: Mapped[str] = mapped_column(Text)
    search_document: Mapped[str] = mapped_column(Text)
    """Folded words of name and field, space-separated: what full-text search indexes."""
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProcedureVersion(Base):
    """A published, immutable state of a procedure; dossiers filed against it keep it."""

    __tablename__ = "procedure_versions"
    __table_args__ = (UniqueConstraint("procedure_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    procedure_id: Mapped[str] = mapped_column(ForeignKey("procedures.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Form(Base):
    """A form template (mẫu đơn, tờ khai) named by the catalogue; its file arrives when an admin
    uploads it."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("procedure_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    procedure_id: Mapped[str] = mapped_column(ForeignKey("procedures.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str | None] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(120))
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class SearchTerm(Base):
    """The folded words of every procedure name: the vocabulary typos are corrected against."""

    __tablename__ = "search_terms"

    term: Mapped[str] = mapped_column(String(80), primary_key=True)
    frequency: Mapped[int] = mapped_column(Integer, default=0)


class LexiconEntry(Base):
    """An admin's addition to the search lexicon (the file's entries are not stored): what
    citizens say, and the catalogue's wordings it stands for."""

    __tablename__ = "lexicon_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    says: Mapped[list[str]] = mapped_column(JSON)
    means: Mapped[list[str]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SearchCount(Base):
    """How often a normalised query was searched on a day, and how often it found something.
    No personal data: no user, no address, no time of day; long digit runs are masked."""

    __tablename__ = "search_counts"

    query: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    searches: Mapped[int] = mapped_column(Integer, default=0)
    found: Mapped[int] = mapped_column(Integer, default=0)
    """Searches with at least one result."""


class SearchOpen(Base):
    """Which result of a normalised query was opened, how often, on a day."""

    __tablename__ = "search_opens"

    query: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    procedure_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    opens: Mapped[int] = mapped_column(Integer, default=0)


class CatalogueRevision(Base):
    """One row whose number grows with every change to the catalogue: API processes cache
    answers per revision, so a change is visible on the next request."""

    __tablename__ = "catalogue_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"

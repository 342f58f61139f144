"""Queries of the dossiers database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.dossiers.models import (
    AgencyCopy,
    CodeSequence,
    Dossier,
    DossierFile,
    HistoryEntry,
    ProcedureCopy,
)
from services.kernel.db import conflict_insert

SUMMARY_COLUMNS = (
    Dossier.id,
    Dossier.code,
    Dossier.status,
    Dossier.procedure_id,
    Dossier.procedure_version,
    ProcedureCopy.code.label("procedure_code"),
    ProcedureCopy.name.label("procedure_name"),
    ProcedureCopy.processing_days,
    ProcedureCopy.processing_time_source,
    Dossier.agency_id,
    Dossier.agency_name,
    Dossier.applicant_name,
    Dossier.submitted_at,
    Dossier.due_at,
    Dossier.updated_at,
)
"""What a dossier list shows, by name (`DossierService.summary` reads these): plain columns
only, the procedure's code and name from the copy of the version filed against."""


class DossiersRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, obj: object) -> None:
        self.session.add(obj)

    # -- dossiers ----------------------------------------------------------------------------

    async def dossier(self, dossier_id: str, *, for_update: bool = False) -> Dossier | None:
        query = select(Dossier).where(Dossier.id == dossier_id)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def dossier_with_files(
        self, dossier_id: str, *, for_update: bool = False
    ) -> tuple[Dossier, list[DossierFile]] | None:
        """The dossier and its files (as `files` orders them), in one query; `for_update` locks
        the dossier's row only. Files change only under that lock, in statuses where the
        callers' actions are refused, so the list read with the row is the list after it."""
        query = (
            select(Dossier, DossierFile)
            .outerjoin(DossierFile, DossierFile.dossier_id == Dossier.id)
            .where(Dossier.id == dossier_id)
            .order_by(DossierFile.created_at)
        )
        if for_update:
            query = query.with_for_update(of=Dossier)
        rows = (await self.session.execute(query)).all()
        if not rows:
            return None
        return rows[0][0], [row[1] for row in rows if row[1] is not None]

    async def dossier_by_token(self, token_hash: str) -> Dossier | None:
        return await self.session.scalar(select(Dossier).where(Dossier.token_hash == token_hash))

    async def dossier_by_code(self, code: str) -> Dossier | None:
        return await self.session.scalar(select(Dossier).where(Dossier.code == code))

    async def page(
        self, conditions: Sequence[ColumnElement[bool]], order: Any, offset: int, limit: int
    ) -> tuple[list[Row[*tuple[Any, ...]]], int]:
        """One page of dossier summaries: only the columns a list shows (never the applicant,
        the declaration or the procedure snapshot whole)."""
        total = await self.session.scalar(
            select(func.count()).select_from(Dossier).where(*conditions)
        )
        rows = await self.session.execute(
            select(*SUMMARY_COLUMNS)
            .join(
                ProcedureCopy,
                (ProcedureCopy.procedure_id == Dossier.procedure_id)
                & (ProcedureCopy.version == Dossier.procedure_version),
            )
            .where(*conditions)
            .order_by(order, Dossier.id)
            .offset(offset)
            .limit(limit)
        )
        return list(rows.all()), total or 0

    async def counts(
        self, conditions: Sequence[ColumnElement[bool]], *, overdue: ColumnElement[bool]
    ) -> dict[str, int]:
        """Dossiers matching `conditions` by status, and how many of them are `overdue`."""
        rows = await self.session.execute(
            select(Dossier.status, func.count(), func.count().filter(overdue))
            .where(*conditions)
            .group_by(Dossier.status)
        )
        found: dict[str, int] = {"overdue": 0}
        for status, n, late in rows.all():
            found[status] = int(n)
            found["overdue"] += int(late)
        return found

    async def counts_by_status(self, owner_id: str) -> dict[str, int]:
        rows = await self.session.execute(
            select(Dossier.status, func.count())
            .where(Dossier.owner_id == owner_id)
            .group_by(Dossier.status)
        )
        return {status: int(n) for status, n in rows.all()}

    async def next_number(self, agency_id: str, day: dt.date) -> int:
        """The agency's next dossier number of the day: the counter row is incremented in place,
        under its row lock, so concurrent sends never get the same number."""
        statement = (
            conflict_insert(self.session, CodeSequence)
            .values(agency_id=agency_id, day=day, last=1)
            .on_conflict_do_update(
                index_elements=["agency_id", "day"], set_={"last": CodeSequence.last + 1}
            )
            .returning(CodeSequence.last)
        )
        return int((await self.session.execute(statement)).scalar_one())

    # -- files and history -------------------------------------------------------------------

    async def files(self, dossier_id: str, kind: str | None = None) -> list[DossierFile]:
        query = select(DossierFile).where(DossierFile.dossier_id == dossier_id)
        if kind:
            query = query.where(DossierFile.kind == kind)
        return list(await self.session.scalars(query.order_by(DossierFile.created_at)))

    async def file(
        self, dossier_id: str, file_id: str, kind: str, component_id: str | None = None
    ) -> DossierFile | None:
        query = select(DossierFile).where(
            DossierFile.id == file_id,
            DossierFile.dossier_id == dossier_id,
            DossierFile.kind == kind,
        )
        if component_id is not None:
            query = query.where(DossierFile.component_id == component_id)
        return await self.session.scalar(query)

    async def history(self, dossier_id: str) -> list[HistoryEntry]:
        rows = await self.session.scalars(
            select(HistoryEntry)
            .where(HistoryEntry.dossier_id == dossier_id)
            .order_by(HistoryEntry.seq)
        )
        return list(rows)

    async def last_note(self, dossier_id: str) -> str | None:
        return await self.session.scalar(
            select(HistoryEntry.note)
            .where(HistoryEntry.dossier_id == dossier_id)
            .order_by(HistoryEntry.seq.desc())
            .limit(1)
        )

    # -- the copy of the catalogue -----------------------------------------------------------

    async def latest_procedure_and_performer(
        self, id_or_code: str
    ) -> tuple[ProcedureCopy, AgencyCopy | None] | None:
        """The latest copy of a procedure and the agency that performs it (its `agency_id`),
        in one query: what filing a dossier reads first."""
        row = (
            await self.session.execute(
                select(ProcedureCopy, AgencyCopy)
                .outerjoin(AgencyCopy, AgencyCopy.id == ProcedureCopy.agency_id)
                .where(
                    (ProcedureCopy.procedure_id == id_or_code) | (ProcedureCopy.code == id_or_code),
                    ProcedureCopy.is_latest.is_(True),
                )
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def agency(self, agency_id: str) -> AgencyCopy | None:
        return await self.session.get(AgencyCopy, agency_id)

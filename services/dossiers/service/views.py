"""What readers see: a dossier, the filer's folders and the officer's inbox (with lateness), the
history, and the tracking link's page. Each returns the API's schema class."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from services.dossiers import schemas
from services.dossiers.deadlines import deadline_note
from services.dossiers.errors import DossierNotFound, OfficersOnly
from services.dossiers.lifecycle import (
    Action,
    Status,
    is_late,
    label,
    late_clause,
)
from services.dossiers.models import Dossier
from services.dossiers.service.access import Actor, ServiceBase, tracking_matches
from services.kernel.db import utcnow
from services.kernel.inputs import readable


@dataclass(frozen=True)
class SummaryValues:
    """The columns of a dossier list (`repository.SUMMARY_COLUMNS`), for a dossier in hand."""

    id: str
    code: str | None
    status: str
    procedure_id: str
    procedure_version: int
    procedure_code: str | None
    procedure_name: str | None
    processing_days: int | None
    processing_time_source: str | None
    agency_id: str
    agency_name: str | None
    applicant_name: str | None
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    updated_at: dt.datetime


def _status(value: str) -> schemas.Status:
    """A stored status as the API's (a status the lifecycle does not know fails here)."""
    return Status(value).value


class Views(ServiceBase):
    """What readers see, as the API's schema classes."""

    async def view(self, dossier_id: str, actor: Actor) -> schemas.DossierOut:
        dossier = await self._open(dossier_id, actor, Action.VIEW, with_files=True)
        return await self.render(dossier)

    async def render(self, dossier: Dossier) -> schemas.DossierOut:
        files = self.known_files.get(dossier.id)
        if files is None:
            files = await self.repo.files(dossier.id)
        by_component: dict[str | None, list[schemas.FileOut]] = {}
        for f in files:
            by_component.setdefault(
                f.component_id if f.kind == "attachment" else "__result", []
            ).append(schemas.FileOut.model_validate(f))
        components = [
            schemas.ComponentOut(
                id=c["id"],
                name=c["name"],
                required=c.get("required", False),
                form_id=c.get("form_id"),
                files=by_component.get(c["id"], []),
            )
            for c in dossier.procedure.get("components", [])
        ]
        summary = self._summary_of(dossier)
        return schemas.DossierOut(
            **dict(summary),
            applicant=readable(dossier.applicant),
            declaration=readable(dossier.declaration),
            components=components,
            received_at=dossier.received_at,
            supplement_request=dossier.supplement_request,
            rejection_reason=dossier.rejection_reason,
            results=by_component.get("__result", []),
            accountless=dossier.accountless,
            created_at=dossier.created_at,
        )

    def _summary_of(self, dossier: Dossier) -> schemas.DossierSummary:
        snapshot = dossier.procedure
        return self.summary(
            SummaryValues(
                id=dossier.id,
                code=dossier.code,
                status=dossier.status,
                procedure_id=dossier.procedure_id,
                procedure_version=dossier.procedure_version,
                procedure_code=snapshot.get("code"),
                procedure_name=snapshot.get("name"),
                processing_days=snapshot.get("processing_days"),
                processing_time_source=snapshot.get("processing_time_source"),
                agency_id=dossier.agency_id,
                agency_name=dossier.agency_name,
                applicant_name=dossier.applicant.get("full_name"),
                submitted_at=dossier.submitted_at,
                due_at=dossier.due_at,
                updated_at=dossier.updated_at,
            )
        )

    def summary(self, row: Any) -> schemas.DossierSummary:
        """A dossier's summary from the columns a list reads (`SUMMARY_COLUMNS`), or from the
        same names of a `SummaryValues`. Text is read with `readable`: one row stored before
        the edge refused broken text must not take a list down."""
        return schemas.DossierSummary(
            id=row.id,
            code=row.code,
            status=_status(row.status),
            status_label=label(row.status),
            procedure=schemas.ProcedureRef(
                id=row.procedure_id,
                code=readable(row.procedure_code),
                name=readable(row.procedure_name),
                version=row.procedure_version,
                processing_days=row.processing_days,
                processing_time_source=row.processing_time_source,
            ),
            agency=schemas.AgencyRef(id=row.agency_id, name=readable(row.agency_name)),
            applicant_name=readable(row.applicant_name),
            submitted_at=row.submitted_at,
            due_at=row.due_at,
            deadline_note=deadline_note(row.processing_days),
            overdue=is_late(row.status, row.due_at, utcnow()),
            updated_at=row.updated_at,
        )

    async def list_own(
        self, actor: Actor, status: str | None, page: int, page_size: int
    ) -> schemas.DossierPage:
        conditions = [Dossier.owner_id == actor.user_id]
        if status:
            conditions.append(Dossier.status == status)
        return await self._page(conditions, page, page_size, Dossier.updated_at.desc())

    def _agency_inbox(self, actor: Actor) -> list[Any]:
        """What an officer's inbox holds: the sent dossiers of the officer's agency."""
        if actor.role != "officer" or not actor.agency_id:
            raise OfficersOnly()
        return [Dossier.agency_id == actor.agency_id, Dossier.status != Status.DRAFT.value]

    async def inbox(
        self, actor: Actor, status: str | None, overdue: bool | None, page: int, page_size: int
    ) -> schemas.DossierPage:
        conditions = self._agency_inbox(actor)
        if status:
            conditions.append(Dossier.status == status)
        if overdue is not None:
            late = late_clause(Dossier.status, Dossier.due_at, utcnow())
            conditions.append(late if overdue else ~late)
        return await self._page(conditions, page, page_size, Dossier.submitted_at.asc())

    async def inbox_counts(self, actor: Actor) -> dict[str, int]:
        """How many dossiers the officer's inbox holds in each status, and how many are late
        (`overdue`): one query."""
        late = late_clause(Dossier.status, Dossier.due_at, utcnow())
        found = await self.repo.counts(self._agency_inbox(actor), overdue=late)
        counts = {s.value: int(found.get(s, 0)) for s in Status if s is not Status.DRAFT}
        return {**counts, "overdue": int(found.get("overdue", 0))}

    async def _page(
        self, conditions: list[Any], page: int, page_size: int, order: Any
    ) -> schemas.DossierPage:
        rows, total = await self.repo.page(conditions, order, (page - 1) * page_size, page_size)
        return schemas.DossierPage(
            items=[self.summary(row) for row in rows],
            total=total,
            page=page,
            page_size=page_size,
        )

    async def counts(self, actor: Actor) -> dict[str, int]:
        found = await self.repo.counts_by_status(actor.user_id or "")
        return {s.value: int(found.get(s, 0)) for s in Status}

    async def history(self, dossier_id: str, actor: Actor) -> list[schemas.HistoryOut]:
        dossier = await self._open(dossier_id, actor, Action.HISTORY)
        return await self._history_of(dossier)

    async def _history_of(self, dossier: Dossier) -> list[schemas.HistoryOut]:
        rows = await self.repo.history(dossier.id)
        return [
            schemas.HistoryOut(
                at=h.at,
                status=_status(h.status),
                status_label=label(h.status),
                action=h.action,
                actor_role=h.actor_role,
                note=h.note,
            )
            for h in rows
        ]

    async def track(self, code: str, token: str) -> schemas.TrackOut:
        dossier = await self.repo.dossier_by_code(code)
        if dossier is None or not tracking_matches(dossier, token):
            raise DossierNotFound()
        summary = self._summary_of(dossier)
        results = await self.repo.files(dossier.id, "result")
        return schemas.TrackOut(
            id=summary.id,
            code=code,
            status=summary.status,
            status_label=summary.status_label,
            procedure=summary.procedure,
            agency=summary.agency,
            submitted_at=dossier.submitted_at,
            due_at=dossier.due_at,
            deadline_note=summary.deadline_note,
            supplement_request=dossier.supplement_request,
            rejection_reason=dossier.rejection_reason,
            results=[schemas.FileOut.model_validate(f) for f in results],
            history=await self._history_of(dossier),
        )

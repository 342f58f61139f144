"""Publishing and indexing: every change of a procedure becomes a new version (recorded, and
sent to the dossiers service through the outbox) and is indexed for search; every change of an
agency sends the whole agency tree. Also the stored document's shape (`content_of`) and the
form rows its components name, which the admins' writes and the importer share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import (
    Agency,
    Field,
    Form,
    OutboxMessage,
    Procedure,
    ProcedureVersion,
)
from services.catalogue.repository import procedure_terms
from services.catalogue.search import term_string
from services.catalogue.service.base import stable_id
from services.catalogue.service.views import CONTENT_FIELDS, Views
from services.catalogue.text import accented, clean
from services.kernel.contracts import (
    AgenciesPublishedV1,
    ProcedurePublishedV1,
    PublishedAgency,
    PublishedProcedure,
)
from services.kernel.db import new_id, utcnow
from services.kernel.outbox import add_message


def component_ids(code: str, components: Sequence[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for component in components:
        base = stable_id(code, component.get("group") or "", component["name"], length=12)
        candidate, n = base, 1
        while candidate in ids:
            n += 1
            candidate = f"{base}-{n}"
        ids.append(candidate)
    return ids


class Publishing(Views):
    async def publish(self, procedure: Procedure, *, first: bool = False) -> None:
        """Record the procedure's current state as a new version and tell the dossiers
        service, in the caller's transaction."""
        if not first:
            procedure.version += 1
        procedure.updated_at = utcnow()
        await self.session.flush()
        detail = await self.detail_values(procedure)
        self.repo.add(
            ProcedureVersion(
                id=new_id(), procedure_id=procedure.id, version=procedure.version, snapshot=detail
            )
        )
        agency = detail["agency"]
        published = PublishedProcedure.model_validate(
            {
                **detail,
                "agency_id": agency["id"] if agency else None,
                "agency_name": agency["name"] if agency else None,
                "field_id": detail["field"]["id"],
                "field_name": detail["field"]["name"],
            }
        )
        add_message(
            self.session,
            OutboxMessage,
            ProcedurePublishedV1(message_id=new_id(), procedure=published),
        )
        await self.repo.index_procedure(procedure)
        await self.repo.bump_revision()

    async def publish_agencies(self) -> None:
        """Send the whole agency tree to the dossiers service (after any agency change)."""
        await self.repo.bump_revision()
        agencies = await self.agencies_of(self.session)
        add_message(
            self.session,
            OutboxMessage,
            AgenciesPublishedV1(
                message_id=new_id(),
                revision=await self.repo.revision(),
                commune_tiers=list(self.commune_tiers),
                agencies=[
                    PublishedAgency(
                        id=a.id,
                        name=a.name,
                        tier=a.tier,  # type: ignore[arg-type]  # a tier, typed str by the model
                        parent_id=a.parent_id,
                        retired=a.retired,
                    )
                    for a in agencies
                ],
            ),
        )

    def index_fields(self, procedure: Procedure, field: Field) -> None:
        procedure.name_accented = accented(procedure.name)
        procedure.name_folded = term_string(procedure.name)
        procedure.search_document = procedure_terms(procedure.name, field.name)

    async def rebuild_vocabulary(self) -> int:
        return await self.repo.rebuild_vocabulary()

    def content_of(self, code: str, content: dict[str, Any]) -> dict[str, Any]:
        """The stored document: content fields only, components with stable ids and the ids of
        the forms they name."""
        keys = (*CONTENT_FIELDS, "source_url", "problems", "processing_time_basis")
        document = {k: content.get(k) for k in keys}
        components = [dict(c) for c in (content.get("components") or [])]
        ids = component_ids(code, components)
        for component, generated in zip(components, ids, strict=True):
            component["id"] = component.get("id") or generated
            names = component.pop("form_names", None) or []
            if component.get("form_name"):
                names = [component["form_name"], *names]
            component["form_names"] = [clean(n) for n in dict.fromkeys(names) if clean(n)]
            component.pop("form_name", None)
            first = component["form_names"][:1]
            component["form_id"] = stable_id(code, first[0]) if first else None
        document["components"] = components
        return document

    async def ensure_forms(self, procedure: Procedure) -> None:
        """A form row, without a file, for every form the components name."""
        existing = {f.id for f in await self.repo.forms(procedure.id)}
        for component in procedure.document.get("components") or []:
            for name in component.get("form_names") or []:
                form_id = stable_id(procedure.code, name)
                if form_id not in existing:
                    self.repo.add(Form(id=form_id, procedure_id=procedure.id, name=name[:300]))
                    existing.add(form_id)
        await self.session.flush()

    @staticmethod
    async def agencies_of(session: AsyncSession) -> Sequence[Agency]:
        return (await session.scalars(select(Agency))).all()

    @staticmethod
    async def fields_of(session: AsyncSession) -> Sequence[Field]:
        return (await session.scalars(select(Field))).all()

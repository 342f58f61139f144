"""Admins' writes of procedures: create, change and retire. Each publishes a new version (see
`publishing`) and rebuilds the search vocabulary; each returns what readers will see."""

from __future__ import annotations

from collections.abc import Sequence

from services.catalogue import schemas
from services.catalogue.declarations import declaration_schema
from services.catalogue.errors import (
    AGENCY_REQUIRED,
    AGENCY_UNKNOWN,
    FIELD_UNKNOWN,
    ProcedureExists,
    ProcedureNotFound,
)
from services.catalogue.models import Field, Procedure
from services.catalogue.service.publishing import Publishing
from services.catalogue.service.views import CONTENT_FIELDS, tiers_of
from services.catalogue.text import clean
from services.kernel.db import new_id
from services.kernel.errors import FieldError, Invalid

ADMIN = "admin"
"""`Procedure.processing_time_source` of a processing time an admin set (a re-import keeps it)."""
NULL_KEEPS = frozenset(
    {"name", "field_id", "tier", "online", "fees", "steps", "legal_basis", "components"}
    | {"present_at_counter", "notes"}
)
"""Fields of a procedure update where null means "unchanged" (they cannot be empty)."""


class Procedures(Publishing):
    async def create_procedure(self, data: schemas.ProcedureIn) -> schemas.ProcedureDetail:
        if await self.repo.procedure(data.code) is not None:
            raise ProcedureExists()
        field = await self._active_field(data.field_id)
        await self._check_performer(data.tier, data.agency_id)
        procedure = Procedure(
            id=new_id(),
            code=data.code,
            name=clean(data.name),
            field_id=field.id,
            agency_id=data.agency_id if "province" in data.tier else None,
            on_province="province" in data.tier,
            on_commune="commune" in data.tier,
            online=data.online,
            processing_days=data.processing_days,
            processing_time_source=ADMIN if data.processing_days is not None else "unknown",
            version=1,
            retired=False,
        )
        document = self.content_of(data.code, data.model_dump(include=set(CONTENT_FIELDS)))
        if not document["declaration_schema"]:
            document["declaration_schema"] = declaration_schema(procedure.name, field.name)
        procedure.document = document
        self.index_fields(procedure, field)
        self.repo.add(procedure)
        await self.session.flush()
        await self.ensure_forms(procedure)
        await self.publish(procedure, first=True)
        await self.rebuild_vocabulary()
        return await self.procedure_detail(procedure)

    async def update_procedure(
        self, id_or_code: str, data: schemas.ProcedureUpdate
    ) -> schemas.ProcedureDetail:
        procedure = await self.repo.procedure(id_or_code, for_update=True)
        if procedure is None or procedure.retired:
            raise ProcedureNotFound()
        # The fields the request names; nested models (components, fees...) keep their defaults,
        # and a null where the procedure must have a value (or a list) leaves it as it is.
        changes = {
            k: v
            for k, v in data.model_dump().items()
            if k in data.model_fields_set and not (v is None and k in NULL_KEEPS)
        }
        field = await self._active_field(changes.get("field_id", procedure.field_id))
        tier = changes.get("tier") or tiers_of(procedure)
        agency_id = changes.get("agency_id", procedure.agency_id)
        if "tier" in changes or "agency_id" in changes:
            await self._check_performer(tier, agency_id)
        if "name" in changes:
            procedure.name = clean(changes["name"])
        procedure.field_id = field.id
        procedure.on_province = "province" in tier
        procedure.on_commune = "commune" in tier
        procedure.agency_id = agency_id if procedure.on_province else None
        for key in ("online", "processing_days"):
            if key in changes:
                setattr(procedure, key, changes[key])
        content = {k: v for k, v in changes.items() if k in CONTENT_FIELDS}
        if "processing_days" in changes:  # the admin's value: a re-import keeps it
            procedure.processing_time_source = ADMIN
            content["processing_time_basis"] = None
        if "declaration_schema" in content and not content["declaration_schema"]:
            content["declaration_schema"] = declaration_schema(procedure.name, field.name)
        procedure.document = self.content_of(procedure.code, {**procedure.document, **content})
        self.index_fields(procedure, field)
        await self.ensure_forms(procedure)
        await self.publish(procedure)
        await self.rebuild_vocabulary()
        return await self.procedure_detail(procedure)

    async def retire_procedure(self, id_or_code: str) -> None:
        procedure = await self.repo.procedure(id_or_code, for_update=True)
        if procedure is None or procedure.retired:
            raise ProcedureNotFound()
        procedure.retired = True
        await self.publish(procedure)
        await self.rebuild_vocabulary()

    async def _active_field(self, field_id: str) -> Field:
        field = await self.repo.field(field_id)
        if field is None or field.retired:
            raise Invalid(FieldError("field_id", "field_unknown", FIELD_UNKNOWN))
        return field

    async def _check_performer(self, tier: Sequence[str], agency_id: str | None) -> None:
        if "province" not in tier:
            return
        if agency_id is None:
            raise Invalid(FieldError("agency_id", "agency_required", AGENCY_REQUIRED))
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired or agency.tier not in ("province", "department"):
            raise Invalid(FieldError("agency_id", "agency_unknown", AGENCY_UNKNOWN))

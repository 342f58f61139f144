"""Admins' writes of the reference lists: agencies (each change publishes the agency tree) and
fields (each change bumps the catalogue's revision, so cached reads refresh)."""

from __future__ import annotations

from services.catalogue import schemas
from services.catalogue.errors import (
    PARENT_REQUIRED,
    PARENT_TIER,
    PARENT_UNKNOWN,
    AgencyExists,
    AgencyHasProcedures,
    AgencyHasUnits,
    AgencyNotFound,
    FieldExists,
    FieldInUse,
    FieldNotFound,
)
from services.catalogue.models import Agency, Field
from services.catalogue.repository import ProcedureFilter
from services.catalogue.service.base import field_id_for
from services.catalogue.service.publishing import Publishing
from services.kernel.db import new_id
from services.kernel.errors import FieldError, Invalid

ALLOWED_PARENTS: dict[str, tuple[str, ...]] = {
    "province": (),
    "department": ("province", "department"),
    "district": ("province",),
    "commune": ("province", "district"),
}


class Agencies(Publishing):
    async def create_agency(self, data: schemas.AgencyIn) -> Agency:
        if await self.repo.agency(data.id) is not None:
            raise AgencyExists()
        await self._check_parent(data.tier, data.parent_id)
        agency = Agency(id=data.id, name=data.name, tier=data.tier, parent_id=data.parent_id)
        self.repo.add(agency)
        await self.session.flush()
        await self.publish_agencies()
        return agency

    async def _check_parent(self, tier: str, parent_id: str | None) -> None:
        if parent_id is None:
            if tier != "province":
                raise Invalid(FieldError("parent_id", "parent_required", PARENT_REQUIRED))
            return
        parent = await self.repo.agency(parent_id)
        if parent is None or parent.retired:
            raise Invalid(FieldError("parent_id", "parent_unknown", PARENT_UNKNOWN))
        if parent.tier not in ALLOWED_PARENTS[tier]:
            raise Invalid(FieldError("parent_id", "parent_tier", PARENT_TIER))

    async def update_agency(self, agency_id: str, data: schemas.AgencyUpdate) -> Agency:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise AgencyNotFound()
        if data.name:
            agency.name = data.name
        if "parent_id" in data.model_fields_set and data.parent_id != agency.parent_id:
            if data.parent_id == agency.id:
                raise Invalid(FieldError("parent_id", "parent_tier", PARENT_TIER))
            await self._check_parent(agency.tier, data.parent_id)
            agency.parent_id = data.parent_id
        await self.session.flush()
        await self.publish_agencies()
        return agency

    async def retire_agency(self, agency_id: str) -> None:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise AgencyNotFound()
        if await self.repo.children(agency.id):
            raise AgencyHasUnits()
        result = await self.repo.browse(ProcedureFilter(agency=agency), 0, 1)
        if agency.tier in ("province", "department") and result.total:
            raise AgencyHasProcedures(result.total)
        agency.retired = True
        await self.session.flush()
        await self.publish_agencies()


class Fields(Publishing):
    async def create_field(self, data: schemas.FieldIn) -> Field:
        if await self.repo.field_by_name(data.name) is not None:
            raise FieldExists()
        field = Field(id=field_id_for(data.name), name=data.name)
        if await self.repo.field(field.id) is not None:
            field.id = f"{field.id[:100]}-{new_id()[:8]}"
        self.repo.add(field)
        await self.repo.bump_revision()
        await self.session.flush()
        return field

    async def update_field(self, field_id: str, data: schemas.FieldIn) -> Field:
        field = await self.repo.field(field_id)
        if field is None or field.retired:
            raise FieldNotFound()
        other = await self.repo.field_by_name(data.name)
        if other is not None and other.id != field.id:
            raise FieldExists()
        field.name = data.name
        await self.repo.bump_revision()
        await self.session.flush()
        return field

    async def retire_field(self, field_id: str) -> None:
        field = await self.repo.field(field_id)
        if field is None or field.retired:
            raise FieldNotFound()
        in_use = await self.repo.active_procedures_in_field(field.id)
        if in_use:
            raise FieldInUse(in_use)
        field.retired = True
        await self.repo.bump_revision()
        await self.session.flush()

"""Admins' writes of the reference lists: agencies (each change publishes the agency tree) and
fields (each change bumps the catalogue's revision, so cached reads refresh)."""

from __future__ import annotations

from services.catalogue import schemas
from services.catalogue.models import Agency, Field
from services.catalogue.repository import ProcedureFilter
from services.catalogue.service.base import (
    AGENCY_NOT_FOUND,
    FIELD_NOT_FOUND,
    field_id_for,
    invalid,
    not_found,
)
from services.catalogue.service.publishing import Publishing
from services.kernel.db import new_id
from services.kernel.errors import ProblemError, Text

ALLOWED_PARENTS: dict[str, tuple[str, ...]] = {
    "province": (),
    "department": ("province", "department"),
    "district": ("province",),
    "commune": ("province", "district"),
}
PARENT_REQUIRED = Text("Cơ quan phải thuộc một cơ quan cấp trên.", "A parent agency is required.")
PARENT_UNKNOWN = Text("Không có cơ quan cấp trên này.", "No such parent agency.")
PARENT_TIER = Text(
    "Cơ quan cấp trên không phù hợp: sở, ngành và huyện thuộc tỉnh; xã thuộc tỉnh hoặc huyện.",
    "Wrong parent: departments and districts belong to the province; communes to the province "
    "or a district.",
)


class Agencies(Publishing):
    async def create_agency(self, data: schemas.AgencyIn, lang: str) -> Agency:
        if await self.repo.agency(data.id) is not None:
            raise ProblemError(
                "conflict", Text("Mã cơ quan đã tồn tại.", "An agency with this id exists.")
            )
        await self._check_parent(data.tier, data.parent_id, lang)
        agency = Agency(id=data.id, name=data.name, tier=data.tier, parent_id=data.parent_id)
        self.repo.add(agency)
        await self.session.flush()
        await self.publish_agencies()
        return agency

    async def _check_parent(self, tier: str, parent_id: str | None, lang: str) -> None:
        if parent_id is None:
            if tier != "province":
                raise invalid("parent_id", "parent_required", PARENT_REQUIRED, lang)
            return
        parent = await self.repo.agency(parent_id)
        if parent is None or parent.retired:
            raise invalid("parent_id", "parent_unknown", PARENT_UNKNOWN, lang)
        if parent.tier not in ALLOWED_PARENTS[tier]:
            raise invalid("parent_id", "parent_tier", PARENT_TIER, lang)

    async def update_agency(self, agency_id: str, data: schemas.AgencyUpdate, lang: str) -> Agency:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise not_found(AGENCY_NOT_FOUND)
        if data.name:
            agency.name = data.name
        if "parent_id" in data.model_fields_set and data.parent_id != agency.parent_id:
            if data.parent_id == agency.id:
                raise invalid("parent_id", "parent_tier", PARENT_TIER, lang)
            await self._check_parent(agency.tier, data.parent_id, lang)
            agency.parent_id = data.parent_id
        await self.session.flush()
        await self.publish_agencies()
        return agency

    async def retire_agency(self, agency_id: str) -> None:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise not_found(AGENCY_NOT_FOUND)
        if await self.repo.children(agency.id):
            raise ProblemError(
                "conflict",
                Text(
                    "Cơ quan còn đơn vị trực thuộc; hãy chuyển hoặc ngừng các đơn vị đó trước.",
                    "The agency still has units under it; move or retire them first.",
                ),
            )
        result = await self.repo.browse(ProcedureFilter(agency=agency), 0, 1)
        if agency.tier in ("province", "department") and result.total:
            raise ProblemError(
                "conflict",
                Text(
                    f"Cơ quan còn thực hiện {result.total} thủ tục; hãy chuyển chúng trước.",
                    f"The agency still performs {result.total} procedures; move them first.",
                ),
            )
        agency.retired = True
        await self.session.flush()
        await self.publish_agencies()


class Fields(Publishing):
    async def create_field(self, data: schemas.FieldIn) -> Field:
        if await self.repo.field_by_name(data.name) is not None:
            raise ProblemError(
                "conflict", Text("Lĩnh vực này đã tồn tại.", "This field already exists.")
            )
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
            raise not_found(FIELD_NOT_FOUND)
        other = await self.repo.field_by_name(data.name)
        if other is not None and other.id != field.id:
            raise ProblemError(
                "conflict", Text("Lĩnh vực này đã tồn tại.", "This field already exists.")
            )
        field.name = data.name
        await self.repo.bump_revision()
        await self.session.flush()
        return field

    async def retire_field(self, field_id: str) -> None:
        field = await self.repo.field(field_id)
        if field is None or field.retired:
            raise not_found(FIELD_NOT_FOUND)
        in_use = await self.repo.active_procedures_in_field(field.id)
        if in_use:
            raise ProblemError(
                "conflict",
                Text(
                    f"Lĩnh vực còn {in_use} thủ tục; hãy chuyển chúng trước.",
                    f"The field still has {in_use} procedures; move them first.",
                ),
            )
        field.retired = True
        await self.repo.bump_revision()
        await self.session.flush()

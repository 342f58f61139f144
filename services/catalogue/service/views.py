"""What readers see: an agency, the fields, a page of procedures (browsed or searched) and a
procedure's detail. Each returns the API's schema class; `detail_values` is the detail as plain
values, which is also what each published version records."""

from __future__ import annotations

from typing import Any

from services.catalogue import schemas
from services.catalogue.errors import AgencyNotFound, ProcedureNotFound
from services.catalogue.lexicon import file_entries
from services.catalogue.models import Agency, Field, Procedure
from services.catalogue.repository import ProcedureFilter, SearchResult
from services.catalogue.search import Query
from services.catalogue.service.base import ServiceBase
from services.catalogue.text import clean
from services.kernel.contracts import PROCESSING_TIME_UNKNOWN

CONTENT_FIELDS = (
    "fees",
    "steps",
    "legal_basis",
    "conditions",
    "result",
    "subjects",
    "components",
    "declaration_schema",
    "present_at_counter",
    "notes",
)
"""The parts of a procedure kept in its document (`Procedure.document`), not in columns."""


def tiers_of(procedure: Procedure) -> list[str]:
    return [
        t
        for t, on in (("province", procedure.on_province), ("commune", procedure.on_commune))
        if on
    ]


class Views(ServiceBase):
    async def agency_detail(self, agency_id: str) -> schemas.AgencyDetail:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise AgencyNotFound()
        parent = await self.repo.agency(agency.parent_id) if agency.parent_id else None
        children = await self.repo.children(agency.id)
        return schemas.AgencyDetail(
            id=agency.id,
            name=agency.name,
            tier=agency.tier,  # type: ignore[arg-type]  # a tier, typed str by the model
            parent_id=agency.parent_id,
            parent=schemas.AgencyRef.model_validate(parent) if parent else None,
            children=[schemas.AgencyRef.model_validate(c) for c in children],
        )

    async def fields(self, tier: str | None) -> list[schemas.FieldOut]:
        rows = await self.repo.fields_with_counts(
            ProcedureFilter(tier=tier, commune_tiers=self.commune_tiers)
        )
        return [schemas.FieldOut(id=f.id, name=f.name, procedures=n) for f, n in rows]

    async def find(
        self,
        q: str | None,
        *,
        agency_id: str | None,
        field_id: str | None,
        tier: str | None,
        online: str | None,
        page: int,
        page_size: int,
    ) -> schemas.ProcedurePage:
        agency = None
        if agency_id:
            agency = await self.repo.agency(agency_id)
            if agency is None:
                raise AgencyNotFound()
        flt = ProcedureFilter(
            agency=agency,
            commune_tiers=self.commune_tiers,
            field_id=field_id,
            tier=tier,
            online=online,
        )
        offset = (page - 1) * page_size
        if q and clean(q):
            lexicon = await self.repo.lexicon(file_entries(self.settings.lexicon_path))
            result = await self.repo.search(Query.parse(q), flt, offset, page_size, lexicon)
        else:
            result = await self.repo.browse(flt, offset, page_size)
        return await self._page(result, page, page_size)

    async def _page(self, result: SearchResult, page: int, page_size: int) -> schemas.ProcedurePage:
        agencies: dict[str, Agency | None] = {}
        fields: dict[str, Field | None] = {}
        items = [
            schemas.ProcedureSummary.model_validate(
                await self._summary_values(procedure, agencies, fields)
            )
            for procedure in result.procedures
        ]
        return schemas.ProcedurePage(
            items=items,
            total=result.total,
            page=page,
            page_size=page_size,
            corrected_query=" ".join(result.corrected) if result.corrected else None,
        )

    async def _summary_values(
        self,
        procedure: Procedure,
        agencies: dict[str, Agency | None] | None = None,
        fields: dict[str, Field | None] | None = None,
    ) -> dict[str, Any]:
        agencies = {} if agencies is None else agencies
        fields = {} if fields is None else fields
        agency = None
        if procedure.agency_id:
            if procedure.agency_id not in agencies:
                agencies[procedure.agency_id] = await self.repo.agency(procedure.agency_id)
            agency = agencies[procedure.agency_id]
        if procedure.field_id not in fields:
            fields[procedure.field_id] = await self.repo.field(procedure.field_id)
        field = fields[procedure.field_id]
        return {
            "id": procedure.id,
            "code": procedure.code,
            "name": procedure.name,
            "tier": tiers_of(procedure),
            "agency": (
                {"id": agency.id, "name": agency.name, "tier": agency.tier} if agency else None
            ),
            "field": {"id": field.id, "name": field.name} if field else None,
            "online": procedure.online,
            "processing_days": procedure.processing_days,
            "processing_time_source": procedure.processing_time_source,
            "processing_time_note": (
                PROCESSING_TIME_UNKNOWN if procedure.processing_days is None else None
            ),
            "version": procedure.version,
        }

    async def detail(self, id_or_code: str) -> schemas.ProcedureDetail:
        procedure = await self.repo.procedure(id_or_code)
        if procedure is None:
            raise ProcedureNotFound()
        return await self.procedure_detail(procedure)

    async def procedure_detail(self, procedure: Procedure) -> schemas.ProcedureDetail:
        return schemas.ProcedureDetail.model_validate(await self.detail_values(procedure))

    async def detail_values(self, procedure: Procedure) -> dict[str, Any]:
        """The detail as plain values: what `ProcedureDetail` reads and a version records."""
        document = procedure.document
        forms = await self.repo.forms(procedure.id)
        return {
            **await self._summary_values(procedure),
            **{key: document.get(key) for key in CONTENT_FIELDS},
            "fees": document.get("fees") or [],
            "steps": document.get("steps") or [],
            "legal_basis": document.get("legal_basis") or [],
            "components": document.get("components") or [],
            "present_at_counter": document.get("present_at_counter") or [],
            "notes": document.get("notes") or [],
            "forms": [
                {
                    "id": f.id,
                    "name": f.name,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size": f.size,
                    "available": f.storage_key is not None,
                }
                for f in forms
            ],
            "source_url": document.get("source_url"),
            "processing_time_basis": document.get("processing_time_basis"),
            "retired": procedure.retired,
        }

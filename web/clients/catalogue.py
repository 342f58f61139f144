"""The catalogue API (`/api/v1/catalogue`): agencies, fields, procedures, form templates."""

from __future__ import annotations

from typing import Any, Literal

import httpx

from web.clients.base import ApiClient, ApiModel, path_segment

Tier = Literal["province", "department", "district", "commune"]


class AgencyRef(ApiModel):
    id: str
    name: str
    tier: Tier


class Agency(AgencyRef):
    parent_id: str | None = None


class AgencyDetail(Agency):
    parent: AgencyRef | None = None
    children: list[AgencyRef] = []


class FieldRef(ApiModel):
    id: str
    name: str


class Field(FieldRef):
    procedures: int = 0


class Channel(ApiModel):
    channel: Literal["online", "direct", "postal"]
    time_value: float | None = None
    time_unit: str | None = None
    fee_vnd: int | None = None
    fee_text: str = ""
    description: str = ""


class LegalDocument(ApiModel):
    title: str
    code: str | None = None


class Component(ApiModel):
    id: str
    name: str
    group: str | None = None
    quantity: str | None = None
    required: bool
    form_id: str | None = None


class Form(ApiModel):
    id: str
    name: str
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    available: bool = True


class ProcedureSummary(ApiModel):
    id: str
    code: str
    name: str
    tier: list[str]
    agency: AgencyRef | None = None
    field: FieldRef
    online: Literal["full", "partial"]
    processing_days: int | None = None
    processing_time_source: str = "stated"
    """stated, admin, inferred_unit_from_channel, inferred_unit_from_text,
    assumed_working_days or unknown: how the catalogue got `processing_days`."""
    processing_time_note: str | None = None
    """The API's words for a procedure without a processing time."""
    version: int

    @property
    def processing_time_inferred(self) -> bool:
        return self.processing_time_source not in ("stated", "admin", "unknown")


class ProcedureDetail(ProcedureSummary):
    subjects: str | None = None
    fees: list[Channel] = []
    steps: list[str] = []
    legal_basis: list[LegalDocument] = []
    conditions: str | None = None
    result: str | None = None
    components: list[Component] = []
    present_at_counter: list[str] = []
    notes: list[str] = []
    declaration_schema: dict[str, Any] = {}
    forms: list[Form] = []
    retired: bool = False

    def form(self, form_id: str | None) -> Form | None:
        return next((f for f in self.forms if f.id == form_id), None)


class ProcedurePage(ApiModel):
    items: list[ProcedureSummary]
    total: int
    page: int
    page_size: int
    corrected_query: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class CatalogueClient(ApiClient):
    name = "catalogue"
    revalidates = True  # its reads are public and cached by the API per catalogue revision

    async def agencies(
        self, tier: Tier | None = None, parent_id: str | None = None
    ) -> list[Agency]:
        return await self.get_all("/agencies", Agency, tier=tier, parent_id=parent_id)

    async def agency(self, agency_id: str) -> AgencyDetail:
        return await self.get_model(f"/agencies/{path_segment(agency_id)}", AgencyDetail)

    async def fields(self, tier: Tier | None = None) -> list[Field]:
        return await self.get_all("/fields", Field, tier=tier)

    async def procedures(
        self,
        *,
        q: str | None = None,
        agency_id: str | None = None,
        field_id: str | None = None,
        tier: Tier | None = None,
        online: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> ProcedurePage:
        return await self.get_model(
            "/procedures",
            ProcedurePage,
            q=q,
            agency_id=agency_id,
            field_id=field_id,
            tier=tier,
            online=online,
            page=page,
            page_size=page_size,
        )

    async def procedure(self, id_or_code: str, *, searched: str | None = None) -> ProcedureDetail:
        """A procedure; `searched`: the query it was opened from (the search log counts it)."""
        return await self.get_model(
            f"/procedures/{path_segment(id_or_code)}", ProcedureDetail, q=searched
        )

    async def form_file(self, id_or_code: str, form_id: str) -> httpx.Response:
        """The template file, streamed: the caller passes it on and closes it."""
        return await self.stream(
            f"/procedures/{path_segment(id_or_code)}/forms/{path_segment(form_id)}"
        )

    # -- admins: the search lexicon and what citizens searched for ---------------------------

    async def lexicon(self, access_token: str) -> LexiconPage:
        response = await self.request("GET", "/lexicon", headers=_bearer(access_token))
        return LexiconPage.model_validate_json(response.content)

    async def add_lexicon_entry(self, access_token: str, entry: dict[str, Any]) -> LexiconEntry:
        response = await self.request(
            "POST", "/lexicon", json_body=entry, headers=_bearer(access_token)
        )
        return LexiconEntry.model_validate_json(response.content)

    async def remove_lexicon_entry(self, access_token: str, entry_id: str) -> None:
        await self.request(
            "DELETE", f"/lexicon/{path_segment(entry_id)}", headers=_bearer(access_token)
        )

    async def search_report(self, access_token: str, days: int, limit: int = 50) -> SearchReport:
        response = await self.request(
            "GET",
            "/search-report",
            params={"days": days, "limit": limit},
            headers=_bearer(access_token),
        )
        return SearchReport.model_validate_json(response.content)

    # -- admins: every change publishes a new version of the procedure -----------------------

    async def update_procedure(
        self, access_token: str, id_or_code: str, changes: dict[str, Any]
    ) -> ProcedureDetail:
        """`PUT /procedures/{id}` with only the fields that change (the API keeps the rest)."""
        response = await self.request(
            "PUT",
            f"/procedures/{path_segment(id_or_code)}",
            json_body=changes,
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return ProcedureDetail.model_validate_json(response.content)

    async def upload_form(
        self,
        access_token: str,
        id_or_code: str,
        upload: tuple[str, Any, str],
        *,
        form_id: str | None = None,
        name: str | None = None,
    ) -> Form:
        """A form template's file (`upload`: filename, file object, content type), for the
        form `form_id` names or as a new form called `name`."""
        fields = {"form_id": form_id} if form_id else {"name": name}
        response = await self.request(
            "POST",
            f"/procedures/{path_segment(id_or_code)}/forms",
            data=fields,
            files=[("file", upload)],
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return Form.model_validate_json(response.content)


# -- the search lexicon and the search log (admins) ---------------------------------------------


class LexiconEntry(ApiModel):
    id: str | None = None
    origin: Literal["file", "admin"]
    noise: bool = False
    says: list[str]
    means: list[str]
    note: str = ""
    source: str = ""
    unmatched: list[str] = []


class LexiconPage(ApiModel):
    items: list[LexiconEntry]
    total: int
    unmatched: int


class SearchReportItem(ApiModel):
    query: str
    searches: int
    found: int
    opens: int


class SearchReport(ApiModel):
    days: int
    min_searches: int
    no_results: list[SearchReportItem]
    not_opened: list[SearchReportItem]
    frequent: list[SearchReportItem]


def _bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}

"""Request and response bodies of the catalogue API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.catalogue.text import clean
from services.kernel.inputs import bounded_json

Tier = Literal["province", "department", "district", "commune"]
ProcedureTier = Literal["province", "commune"]
Online = Literal["full", "partial"]
ProcessingTimeSource = Literal[
    "stated",
    "inferred_unit_from_channel",
    "inferred_unit_from_text",
    "assumed_working_days",
    "unknown",
    "admin",
]
Name = Annotated[str, StringConstraints(min_length=2, max_length=300)]
AgencyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AgencyRef(Out):
    id: str
    name: str
    tier: Tier


class AgencyOut(AgencyRef):
    parent_id: str | None
    retired: bool = False


class AgencyDetail(AgencyOut):
    parent: AgencyRef | None
    children: list[AgencyRef]


class FieldRef(Out):
    id: str
    name: str


class FieldOut(FieldRef):
    procedures: int = 0


class Channel(BaseModel):
    channel: Literal["online", "direct", "postal"]
    time_value: float | None = None
    time_unit: Literal["working_day", "day", "hour", "month", "year"] | None = None
    fee_vnd: int | None = Field(None, ge=0)
    fee_text: str = ""
    description: str = ""


class LegalDocument(BaseModel):
    title: str
    code: str | None = None


class ComponentOut(BaseModel):
    id: str
    name: str
    group: str | None = None
    quantity: str | None = None
    required: bool
    form_id: str | None = None


class FormOut(BaseModel):
    id: str
    name: str
    filename: str | None
    content_type: str | None
    size: int | None
    available: bool


class ProcedureSummary(BaseModel):
    id: str
    code: str
    name: str
    tier: list[ProcedureTier]
    agency: AgencyRef | None
    field: FieldRef
    online: Online
    processing_days: int | None
    processing_time_source: ProcessingTimeSource = Field(
        "stated",
        description="how processing_days was obtained: as the national catalogue states it; "
        "its unit inferred from another channel or from the page text, or working days "
        "assumed (the source lost the unit); unknown (no number); or set by an admin",
    )
    processing_time_note: str | None = Field(
        None, description="what to show instead of a processing time when there is none"
    )
    version: int


class ProcedureDetail(ProcedureSummary):
    subjects: str | None = None
    fees: list[Channel]
    steps: list[str]
    legal_basis: list[LegalDocument]
    conditions: str | None
    result: str | None
    components: list[ComponentOut]
    present_at_counter: list[str] = Field(
        [], description="giấy tờ phải xuất trình: shown at the counter, not uploaded"
    )
    notes: list[str] = Field([], description="lưu ý about the components")
    declaration_schema: dict[str, Any]
    forms: list[FormOut]
    source_url: str | None = None
    processing_time_basis: str | None = Field(
        None, description="for an inferred processing time: where its unit came from"
    )
    retired: bool = False


class AgencyPage(BaseModel):
    items: list[AgencyOut]
    total: int
    page: int
    page_size: int


class FieldPage(BaseModel):
    items: list[FieldOut]
    total: int
    page: int
    page_size: int


class ProcedurePage(BaseModel):
    items: list[ProcedureSummary]
    total: int
    page: int
    page_size: int
    corrected_query: str | None = Field(
        None, description="the query as searched, when unknown words were corrected"
    )


class AgencyIn(BaseModel):
    id: AgencyId
    name: Name
    tier: Tier
    parent_id: str | None = None

    _clean = field_validator("name")(clean)


class AgencyUpdate(BaseModel):
    name: Name | None = None
    parent_id: str | None = None

    _clean = field_validator("name")(lambda v: clean(v) if v else v)


class FieldIn(BaseModel):
    name: Name

    _clean = field_validator("name")(clean)


class ComponentIn(BaseModel):
    id: str | None = Field(None, max_length=40)
    name: Annotated[str, StringConstraints(min_length=2, max_length=2000)]
    group: str | None = Field(None, max_length=500)
    quantity: str | None = Field(None, max_length=100)
    required: bool = True
    form_name: str | None = Field(None, max_length=300)


PROCEDURE_LIMITS = {
    "max_bytes": 1024 * 1024,
    "max_string": 60_000,
    "max_depth": 12,
    "max_items": 1000,
}
"""Bounds of a procedure document an admin sends: the national catalogue's longest text (the
conditions of one procedure) is 44,590 characters; a declaration schema nests a few levels."""
_check_procedure_size = bounded_json(**PROCEDURE_LIMITS)


class BoundedDocument(BaseModel):
    @model_validator(mode="after")
    def _bounded(self) -> BoundedDocument:
        _check_procedure_size(self.model_dump(mode="json", exclude_unset=True))
        return self


class ProcedureIn(BoundedDocument):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,39}$")]
    name: Annotated[str, StringConstraints(min_length=5, max_length=2000)]
    field_id: str
    tier: list[ProcedureTier] = Field(min_length=1)
    agency_id: str | None = None
    online: Online = "partial"
    processing_days: int | None = Field(None, ge=0, le=3650)
    fees: list[Channel] = []
    steps: list[str] = []
    legal_basis: list[LegalDocument] = []
    conditions: str | None = None
    result: str | None = None
    subjects: str | None = None
    components: list[ComponentIn] = []
    present_at_counter: list[str] | None = None
    notes: list[str] | None = None
    declaration_schema: dict[str, Any] | None = None


class ProcedureUpdate(BoundedDocument):
    """Only the given fields change; any change publishes a new version."""

    name: Annotated[str, StringConstraints(min_length=5, max_length=2000)] | None = None
    field_id: str | None = None
    tier: list[ProcedureTier] | None = Field(None, min_length=1)
    agency_id: str | None = None
    online: Online | None = None
    processing_days: int | None = Field(None, ge=0, le=3650)
    fees: list[Channel] | None = None
    steps: list[str] | None = None
    legal_basis: list[LegalDocument] | None = None
    conditions: str | None = None
    result: str | None = None
    subjects: str | None = None
    components: list[ComponentIn] | None = None
    present_at_counter: list[str] | None = None
    notes: list[str] | None = None
    declaration_schema: dict[str, Any] | None = None


# -- the search lexicon and the search log (admins) ------------------------------------------------

Phrase = Annotated[str, StringConstraints(min_length=1, max_length=120)]


class LexiconEntryIn(BaseModel):
    """An admin's lexicon entry: phrases citizens type, and the catalogue's wordings for them."""

    says: list[Phrase] = Field(min_length=1, max_length=10, description="what citizens type")
    means: list[Phrase] = Field(
        min_length=1, max_length=10, description="the catalogue's wordings: any one matches"
    )
    note: str = Field("", max_length=500)
    source: str = Field("", max_length=300)

    @field_validator("says", "means")
    @classmethod
    def _clean_phrases(cls, phrases: list[str]) -> list[str]:
        return [clean(p) for p in phrases]

    _clean = field_validator("note", "source")(clean)


class LexiconEntryOut(BaseModel):
    id: str | None = Field(None, description="admin entries only (the file's have none)")
    origin: Literal["file", "admin"]
    noise: bool = Field(False, description="words that carry no meaning in a query")
    says: list[str]
    means: list[str]
    note: str
    source: str
    unmatched: list[str] = Field(
        default_factory=list, description="wordings that match no procedure of the catalogue"
    )


class LexiconPage(BaseModel):
    items: list[LexiconEntryOut]
    total: int
    unmatched: int = Field(description="entries with a wording that matches no procedure")


class SearchReportItem(BaseModel):
    query: str
    searches: int
    found: int = Field(description="searches with at least one result")
    opens: int = Field(description="results opened from this query")


class SearchReport(BaseModel):
    days: int
    min_searches: int
    no_results: list[SearchReportItem] = Field(description="frequent queries that found nothing")
    not_opened: list[SearchReportItem] = Field(
        description="frequent queries with results nobody opened"
    )
    frequent: list[SearchReportItem]

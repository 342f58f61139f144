"""Request and response bodies of the dossiers API."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from services.kernel.inputs import OneLine, bounded_json

Status = Literal[
    "draft", "submitted", "supplement_requested", "processing", "result_returned", "rejected"
]
"""The values of `lifecycle.Status`, spelled out for the OpenAPI document (a unit test keeps
them equal)."""

APPLICANT_LIMITS = {"max_bytes": 16 * 1024, "max_string": 2000, "max_depth": 4, "max_items": 50}
DECLARATION_LIMITS = {"max_bytes": 64 * 1024, "max_string": 4000, "max_depth": 6, "max_items": 200}
"""Bounds of the free-form parts of a dossier (the README's "Limits" table): generous for any
form the catalogue describes (its longest text field takes 4,000 characters), small enough that
no dossier weighs on the lists, the inbox or an e-mail."""

OneLineText = Annotated[str, OneLine, StringConstraints(min_length=1, max_length=500)]


class ApplicantIn(BaseModel):
    """The applicant (người nộp hồ sơ): the common fields are typed here, so that a name is one
    line and an e-mail address is one; the procedure's own schema (`$defs.applicant`) decides
    at sending what is required. Other members are kept as sent, within the bounds."""

    model_config = ConfigDict(extra="allow")

    full_name: Annotated[str, OneLine, StringConstraints(min_length=1, max_length=200)] | None = (
        None
    )
    email: EmailStr | None = Field(None, max_length=320)
    phone: Annotated[str, OneLine, StringConstraints(max_length=20)] | None = None
    id_number: Annotated[str, OneLine, StringConstraints(max_length=20)] | None = None
    gender: Annotated[str, OneLine, StringConstraints(max_length=20)] | None = None
    date_of_birth: Annotated[str, OneLine, StringConstraints(max_length=10)] | None = None
    address: OneLineText | None = None


def _applicant_dict(value: ApplicantIn) -> dict[str, Any]:
    return value.model_dump(mode="json", exclude_unset=True)


if TYPE_CHECKING:  # what the service reads: the validated applicant as a dict
    Applicant = dict[str, Any]
else:  # the API takes and documents an ApplicantIn, and hands on its dict
    Applicant = Annotated[
        ApplicantIn,
        AfterValidator(_applicant_dict),
        AfterValidator(bounded_json(**APPLICANT_LIMITS)),
    ]
Declaration = Annotated[dict[str, Any], AfterValidator(bounded_json(**DECLARATION_LIMITS))]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class DossierIn(BaseModel):
    """Create a draft ("Lưu lại"): for commune-tier procedures, `agency_id` is the commune."""

    procedure_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    agency_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    applicant: Applicant = Field(default_factory=dict)
    declaration: Declaration = Field(default_factory=dict)


class AccountlessDossierIn(DossierIn):
    applicant: Applicant
    email: EmailStr | None = Field(None, max_length=320, description="defaults to applicant.email")
    captcha_id: Annotated[str, StringConstraints(min_length=1, max_length=400)]
    captcha_answer: Annotated[str, StringConstraints(min_length=1, max_length=20)]


class DossierUpdate(BaseModel):
    applicant: Applicant | None = None
    declaration: Declaration | None = None


class SupplementRequestIn(BaseModel):
    content: Note


class RejectIn(BaseModel):
    reason: Note


class StepIn(BaseModel):
    note: Note


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class ComponentOut(BaseModel):
    id: str
    name: str
    required: bool
    form_id: str | None = None
    files: list[FileOut]


class ProcedureRef(BaseModel):
    id: str
    code: str
    name: str
    version: int
    processing_days: int | None = None
    processing_time_source: str | None = Field(
        None, description="how the catalogue obtained processing_days (see the catalogue API)"
    )


class AgencyRef(BaseModel):
    id: str
    name: str | None


class DossierOut(BaseModel):
    id: str
    code: str | None
    status: Status
    status_label: str
    procedure: ProcedureRef
    agency: AgencyRef
    applicant: dict[str, Any]
    declaration: dict[str, Any]
    components: list[ComponentOut]
    submitted_at: dt.datetime | None
    received_at: dt.datetime | None
    due_at: dt.datetime | None
    deadline_note: str | None = Field(
        None, description="shown instead of a due date: the procedure has no processing time"
    )
    overdue: bool
    supplement_request: str | None
    rejection_reason: str | None
    results: list[FileOut]
    accountless: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountlessDossierOut(DossierOut):
    token: str = Field(description="send as X-Dossier-Token to attach files and submit")


class DossierSummary(BaseModel):
    id: str
    code: str | None
    status: Status
    status_label: str
    procedure: ProcedureRef
    agency: AgencyRef
    applicant_name: str | None
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    deadline_note: str | None = Field(
        None, description="shown instead of a due date: the procedure has no processing time"
    )
    overdue: bool
    updated_at: dt.datetime


class DossierPage(BaseModel):
    items: list[DossierSummary]
    total: int
    page: int
    page_size: int


class HistoryOut(BaseModel):
    at: dt.datetime
    status: Status
    status_label: str
    action: str
    actor_role: str
    note: str | None


class TrackOut(BaseModel):
    """What the tracking link shows: status and history, minimal personal data."""

    id: str = Field(description="the dossier's id, for its result files (`/{id}/results/…`)")
    code: str
    status: Status
    status_label: str
    procedure: ProcedureRef
    agency: AgencyRef
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    deadline_note: str | None = Field(
        None, description="shown instead of a due date: the procedure has no processing time"
    )
    supplement_request: str | None
    rejection_reason: str | None
    results: list[FileOut]
    history: list[HistoryOut]

"""Request and response bodies of the dossiers API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Status = Literal[
    "draft", "submitted", "supplement_requested", "processing", "result_returned", "rejected"
]
STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]

STATUS_LABELS: dict[str, str] = {
    "draft": "Hồ sơ chưa gửi",
    "submitted": "Hồ sơ đã gửi",
    "supplement_requested": "Hồ sơ yêu cầu bổ sung",
    "processing": "Hồ sơ đang xử lý",
    "result_returned": "Hồ sơ đã trả kết quả",
    "rejected": "Hồ sơ bị trả lại",
}

JsonObject = Annotated[dict[str, Any], Field(max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class DossierIn(BaseModel):
    """Create a draft ("Lưu lại"): for commune-tier procedures, `agency_id` is the commune."""

    procedure_id: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    agency_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    applicant: JsonObject = {}
    declaration: JsonObject = {}


class AccountlessDossierIn(DossierIn):
    applicant: JsonObject
    email: EmailStr | None = Field(None, description="defaults to applicant.email")
    captcha_id: Annotated[str, StringConstraints(min_length=1, max_length=400)]
    captcha_answer: Annotated[str, StringConstraints(min_length=1, max_length=20)]


class DossierUpdate(BaseModel):
    applicant: JsonObject | None = None
    declaration: JsonObject | None = None


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

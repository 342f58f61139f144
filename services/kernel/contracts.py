"""The messages services exchange: Celery tasks sent by name, with versioned pydantic payloads.
A payload's `message_id` is the id of the outbox row it left through, so consumers can
recognise a redelivery."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr

from services.kernel.registry import SERVICES

QUEUES: tuple[str, ...] = SERVICES
"""One queue per service, named after it."""


def queue_of(task_name: str) -> str:
    """Task names are "<service>.<verb>"; each service consumes its own queue."""
    service = task_name.split(".", 1)[0]
    if service not in QUEUES:
        raise ValueError(f"task {task_name!r} names no service queue")
    return service


ROUTES: dict[str, dict[str, str]] = {f"{q}.*": {"queue": q} for q in QUEUES}


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    TASK: ClassVar[str]
    message_id: str
    version: int


EmailTemplate = Literal[
    "account_activation",
    "account_exists",
    "password_reset",
    "officer_invitation",
    "dossier_submitted",
    "dossier_processing",
    "dossier_supplement_requested",
    "dossier_rejected",
    "dossier_result_returned",
]


class SendEmailV1(Contract):
    """Ask the notifier to render a template and e-mail it to one recipient."""

    TASK: ClassVar[str] = "notifier.send_email"
    version: Literal[1] = 1
    to: EmailStr
    template: EmailTemplate
    locale: Literal["vi", "en"] = "vi"
    context: dict[str, Any]


class SessionsRevokedV1(Contract):
    """Accounts ended these sessions (refresh-token families, the `sid` of their access
    tokens): every service must refuse their access tokens until they expire. Accounts' own
    worker writes them to the store the services check (services/kernel/revocation.py)."""

    TASK: ClassVar[str] = "accounts.sessions_revoked"
    version: Literal[1] = 1
    session_ids: list[str]
    revoked_at: dt.datetime
    token_ttl: int
    """The access-token lifetime the sessions' tokens were issued with (seconds)."""


class PublishedComponent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    required: bool
    form_id: str | None = None


class PublishedProcedure(BaseModel):
    """What the dossiers service needs of a procedure version to file against it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    code: str
    name: str
    version: int
    tier: list[str]
    agency_id: str | None
    agency_name: str | None
    field_id: str
    field_name: str
    online: Literal["full", "partial"]
    processing_days: int | None
    processing_time_source: str | None = None
    """How the catalogue obtained `processing_days` ("stated", "assumed_working_days",
    "unknown", "admin"…, services/catalogue/parsing.py); None in messages published before it
    was added. With no processing days, a dossier has no due date: say so
    (`PROCESSING_TIME_UNKNOWN`)."""
    components: list[PublishedComponent]
    declaration_schema: dict[str, Any]
    retired: bool = False


PROCESSING_TIME_UNKNOWN = (
    "Thời hạn giải quyết: chưa được công bố; vui lòng liên hệ cơ quan thực hiện"
)
"""What officers and filers read where a procedure has no processing time (no due date)."""


class ProcedurePublishedV1(Contract):
    """The catalogue published a new version of a procedure (a retirement is one too)."""

    TASK: ClassVar[str] = "dossiers.procedure_published"
    version: Literal[1] = 1
    procedure: PublishedProcedure


class PublishedAgency(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    tier: Literal["province", "department", "district", "commune"]
    parent_id: str | None
    retired: bool = False


class AgenciesPublishedV1(Contract):
    """The catalogue's whole agency tree after a change; `revision` orders the messages."""

    TASK: ClassVar[str] = "dossiers.agencies_published"
    version: Literal[1] = 1
    revision: int
    commune_tiers: list[str]
    """The tiers whose agencies perform commune-tier procedures (the layout's choice)."""
    agencies: list[PublishedAgency]


CONTRACTS: dict[str, type[Contract]] = {
    c.TASK: c for c in (SendEmailV1, SessionsRevokedV1, ProcedurePublishedV1, AgenciesPublishedV1)
}

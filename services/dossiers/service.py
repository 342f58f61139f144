"""The dossiers service's rules: who may do what to a dossier, the state machine (here, once),
codes, deadlines, files, and the e-mail every status change sends through the outbox."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from jsonschema import Draft202012Validator
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.dossiers import schemas
from services.dossiers.deadlines import (
    LOCAL_TZ,
    add_working_days,
    working_days_between,
)
from services.dossiers.lifecycle import (
    CREATED,
    TRANSITIONS,
    Action,
    Party,
    Status,
    is_late,
    label,
    late_clause,
    not_found,
    only_officers,
    require,
    role_refusal,
)
from services.dossiers.lifecycle import problem as refused
from services.dossiers.models import (
    AgencyCopy,
    Dossier,
    DossierFile,
    HistoryEntry,
    OutboxMessage,
    ProcedureCopy,
    ProcessedMessage,
)
from services.dossiers.repository import DossiersRepository
from services.dossiers.settings import DossiersSettings
from services.kernel.auth import Principal
from services.kernel.contracts import (
    PROCESSING_TIME_UNKNOWN,
    AgenciesPublishedV1,
    ProcedurePublishedV1,
    SendEmailV1,
)
from services.kernel.db import new_id, utcnow
from services.kernel.errors import ProblemError, Text
from services.kernel.inputs import readable
from services.kernel.outbox import add_message, claim_message
from services.kernel.storage import (
    FileStorage,
    delete_after_commit,
    new_storage_key,
    put_in_transaction,
)
from services.kernel.uploads import DOSSIER_TYPES, UploadRejected, check_upload
from services.kernel.uploads import safe_display_name as display_name

TRACKING_PAGE = "/theo-doi-ho-so"
"""The pages' tracking page (web/pages/filing.py), under `PORTAL_PUBLIC_URL`: the e-mailed link
opens a page, not the API's JSON (the API keeps `GET /track` with the same `code` and `token`)."""
DOSSIER_PAGE = "/ho-so/{id}"
"""The pages' dossier page of an account holder's dossier (sign-in first, then back there)."""


@dataclass(frozen=True)
class SummaryValues:
    """The columns of a dossier list (`repository.SUMMARY_COLUMNS`), for a dossier in hand."""

    id: str
    code: str | None
    status: str
    procedure_id: str
    procedure_version: int
    procedure_code: str | None
    procedure_name: str | None
    processing_days: int | None
    processing_time_source: str | None
    agency_id: str
    agency_name: str | None
    applicant_name: str | None
    submitted_at: dt.datetime | None
    due_at: dt.datetime | None
    updated_at: dt.datetime


# -- who is acting --------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    role: str  # citizen, accountless, officer, admin
    user_id: str | None = None
    agency_id: str | None = None
    email: str | None = None
    dossier_id: str | None = None
    """For the holder of an accountless dossier's token: the one dossier it opens."""

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(
            role=principal.role,
            user_id=principal.user_id,
            agency_id=principal.agency_id,
            email=principal.email,
        )


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def party_of(actor: Actor, dossier: Dossier) -> Party:
    """Who `actor` is to `dossier`, for the lifecycle's rules."""
    if actor.role == "citizen":
        return Party.OWNER if dossier.owner_id == actor.user_id else Party.STRANGER
    if actor.role == "accountless":
        return Party.ACCOUNTLESS_FILER if actor.dossier_id == dossier.id else Party.STRANGER
    if actor.role == "officer":
        return Party.OFFICER if actor.agency_id == dossier.agency_id else Party.OTHER_OFFICER
    if actor.role == "admin":
        return Party.ADMIN
    return Party.STRANGER


def validation(errors: list[dict[str, Any]], detail: Text) -> ProblemError:
    return ProblemError("validation", detail, status=422, errors=errors)


def _error(field: str, code: str, message: Text, lang: str) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message(lang)}


class DossierService:
    def __init__(
        self, session: AsyncSession, settings: DossiersSettings, storage: FileStorage
    ) -> None:
        self.session = session
        self.repo = DossiersRepository(session)
        self.settings = settings
        self.storage = storage

    # -- loading, with the access rules ------------------------------------------------------

    async def _open(
        self, dossier_id: str, actor: Actor, action: Action, *, for_update: bool = False
    ) -> Dossier:
        """The dossier if the actor may take `action` on it now (the lifecycle's rules); a
        party who may not see it gets 404, with no hint that it exists."""
        refusal = role_refusal(action, actor.role == "officer")
        if refusal is not None:  # before looking it up
            raise refused(refusal, action)
        dossier = await self.repo.dossier(dossier_id, for_update=for_update)
        if dossier is None:
            raise not_found()
        require(action, dossier.status, party_of(actor, dossier))
        return dossier

    async def actor_for_token(self, token: str) -> Actor | None:
        """The holder of an accountless dossier's capability token."""
        dossier = await self.repo.dossier_by_token(digest(token))
        if dossier is None:
            return None
        return Actor(role="accountless", dossier_id=dossier.id, email=dossier.email)

    # -- filing ------------------------------------------------------------------------------

    async def _procedure(self, procedure_id: str, lang: str) -> ProcedureCopy:
        copy = await self.repo.latest_procedure(procedure_id)
        if copy is None or copy.retired:
            message = Text(
                "Không có thủ tục này, hoặc thủ tục đã ngừng áp dụng.",
                "No such procedure, or it is no longer in use.",
            )
            raise validation([_error("procedure_id", "procedure_unknown", message, lang)], message)
        return copy

    async def _filing_agency(
        self, procedure: ProcedureCopy, agency_id: str | None, lang: str
    ) -> AgencyCopy | None:
        """The agency the dossier goes to: the procedure's performer at province tier, or the
        commune chosen by the filer for commune-tier procedures."""
        snapshot = procedure.snapshot
        province = "province" in snapshot.get("tier", [])
        if agency_id is None and province and procedure.agency_id:
            return await self.repo.agency(procedure.agency_id)
        agency = await self.repo.agency(agency_id) if agency_id else None
        commune_ok = (
            agency is not None
            and not agency.retired
            and agency.performs_commune_tier
            and "commune" in snapshot.get("tier", [])
        )
        if commune_ok or (province and agency_id == procedure.agency_id):
            return agency
        message = Text(
            "Hãy chọn xã, phường nơi nộp hồ sơ (agency_id) trong danh sách cơ quan.",
            "Choose the commune to file with (agency_id) from the agencies list.",
        )
        raise validation([_error("agency_id", "agency_required", message, lang)], message)

    async def create(
        self, actor: Actor, data: schemas.DossierIn, lang: str, *, email: str | None = None
    ) -> tuple[Dossier, str | None]:
        """A draft ("Lưu lại"). Without an account, also the capability token (returned once)."""
        procedure = await self._procedure(data.procedure_id, lang)
        agency = await self._filing_agency(procedure, data.agency_id, lang)
        token = None
        dossier = Dossier(
            id=new_id(),
            status=Status.DRAFT.value,
            procedure_id=procedure.procedure_id,
            procedure_version=procedure.version,
            procedure=procedure.snapshot,
            agency_id=agency.id if agency else procedure.agency_id or "",
            agency_name=agency.name if agency else procedure.snapshot.get("agency_name"),
            owner_id=actor.user_id if actor.role == "citizen" else None,
            email=(email or actor.email or str(data.applicant.get("email") or "")).lower(),
            declaration=data.declaration,
            paused_working_days=0,
            history_count=0,
        )
        dossier.set_applicant(data.applicant)
        if actor.role == "accountless":
            token = secrets.token_urlsafe(32)
            dossier.token_hash = digest(token)
        if not dossier.email:
            message = Text(
                "Cần địa chỉ thư điện tử để nhận thông báo về hồ sơ.",
                "An e-mail address is needed to receive the dossier's notices.",
            )
            raise validation([_error("applicant.email", "email_required", message, lang)], message)
        self.repo.add(dossier)
        await self.session.flush()
        await self._history(dossier, CREATED, actor, None)
        return dossier, token

    async def update(self, dossier_id: str, actor: Actor, data: schemas.DossierUpdate) -> Dossier:
        dossier = await self._open(dossier_id, actor, Action.UPDATE, for_update=True)
        if data.applicant is not None:
            dossier.set_applicant(data.applicant)
        if data.declaration is not None:
            dossier.declaration = data.declaration
        await self.session.flush()
        return dossier

    async def discard(self, dossier_id: str, actor: Actor) -> None:
        """Delete a draft; its files leave storage once that is committed."""
        dossier = await self._open(dossier_id, actor, Action.DISCARD, for_update=True)
        for stored in await self.repo.files(dossier.id):
            delete_after_commit(self.session, self.storage, stored.storage_key)
        await self.session.delete(dossier)
        await self.session.flush()

    # -- files -------------------------------------------------------------------------------

    async def attach(
        self,
        dossier_id: str,
        component_id: str,
        actor: Actor,
        filename: str,
        data: bytes,
        lang: str,
    ) -> DossierFile:
        dossier = await self._open(dossier_id, actor, Action.ATTACH, for_update=True)
        if component_id not in {c["id"] for c in dossier.procedure.get("components", [])}:
            raise ProblemError(
                "not-found",
                Text("Hồ sơ không có thành phần này.", "The dossier has no such component."),
                status=404,
            )
        used = sum(f.size for f in await self.repo.files(dossier.id, "attachment"))
        return await self._store(dossier, component_id, "attachment", filename, data, used, lang)

    async def _store(
        self,
        dossier: Dossier,
        component_id: str | None,
        kind: str,
        filename: str,
        data: bytes,
        used: int,
        lang: str,
    ) -> DossierFile:
        try:
            checked = check_upload(data, filename, DOSSIER_TYPES, self.settings.max_file_bytes)
        except UploadRejected as exc:
            raise exc.problem() from exc
        if used + checked.size > self.settings.max_dossier_bytes:
            raise ProblemError(
                "payload-too-large",
                Text(
                    f"Tổng dung lượng tệp của hồ sơ vượt quá "
                    f"{self.settings.max_dossier_bytes // 1024 // 1024} MB.",
                    f"The dossier's files would exceed "
                    f"{self.settings.max_dossier_bytes // 1024 // 1024} MB.",
                ),
                status=413,
            )
        key = new_storage_key(dossier.id, checked.extension)
        await put_in_transaction(self.session, self.storage, key, data)
        stored = DossierFile(
            id=new_id(),
            dossier_id=dossier.id,
            component_id=component_id,
            kind=kind,
            filename=safe_display_name(filename, checked.extension),
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            storage_key=key,
        )
        self.repo.add(stored)
        await self.session.flush()
        return stored

    async def detach(self, dossier_id: str, component_id: str, file_id: str, actor: Actor) -> None:
        """Remove an attachment; the file leaves storage once that is committed."""
        dossier = await self._open(dossier_id, actor, Action.DETACH, for_update=True)
        stored = await self.repo.file(dossier.id, file_id, "attachment", component_id)
        if stored is None:
            raise ProblemError("not-found", Text("Không có tệp này.", "No such file."), status=404)
        await self.session.delete(stored)
        await self.session.flush()
        delete_after_commit(self.session, self.storage, stored.storage_key)

    async def read_file(
        self, dossier_id: str, file_id: str, actor: Actor, *, kind: str
    ) -> tuple[DossierFile, bytes]:
        dossier = await self._open(dossier_id, actor, Action.READ_FILE)
        return await self._file_of(dossier, file_id, kind)

    async def _file_of(
        self, dossier: Dossier, file_id: str, kind: str
    ) -> tuple[DossierFile, bytes]:
        stored = await self.repo.file(dossier.id, file_id, kind)
        if stored is None:
            raise ProblemError("not-found", Text("Không có tệp này.", "No such file."), status=404)
        return stored, await self.storage.get(stored.storage_key)

    # -- sending -----------------------------------------------------------------------------

    async def submit(self, dossier_id: str, actor: Actor, lang: str) -> Dossier:
        """ "Gửi hồ sơ": check it is complete, give it its code, tell the filer."""
        dossier = await self._open(dossier_id, actor, Action.SUBMIT, for_update=True)
        await self._check_complete(dossier, lang)
        dossier.code = await self._allocate_code(dossier.agency_id)
        dossier.submitted_at = utcnow()
        tracking = None
        if dossier.accountless:
            tracking = secrets.token_urlsafe(24)
            dossier.tracking_hash = digest(tracking)
        await self._transition(dossier, Action.SUBMIT, actor, None, tracking=tracking)
        return dossier

    async def send_supplement(self, dossier_id: str, actor: Actor, lang: str) -> Dossier:
        """ "Gửi bổ sung": the corrected dossier goes back to the agency; the clock restarts."""
        dossier = await self._open(dossier_id, actor, Action.SUPPLEMENT, for_update=True)
        await self._check_complete(dossier, lang)
        if dossier.paused_at is not None:
            dossier.paused_working_days += working_days_between(dossier.paused_at, utcnow())
            dossier.paused_at = None
            self._set_due(dossier)
        await self._transition(dossier, Action.SUPPLEMENT, actor, None)
        return dossier

    async def _check_complete(self, dossier: Dossier, lang: str) -> None:
        errors: list[dict[str, Any]] = []
        with_files = {f.component_id for f in await self.repo.files(dossier.id, "attachment")}
        for component in dossier.procedure.get("components", []):
            if component.get("required") and component["id"] not in with_files:
                message = Text(
                    f"Thiếu tệp cho thành phần “{component['name'][:200]}”.",
                    f"A file is missing for the component “{component['name'][:200]}”.",
                )
                errors.append(
                    _error(f"components.{component['id']}", "component_missing", message, lang)
                )
        schema = dossier.procedure.get("declaration_schema") or {"type": "object"}
        applicant_schema = (schema.get("$defs") or {}).get("applicant")
        if applicant_schema:
            errors += _schema_errors("applicant", applicant_schema, dossier.applicant, lang)
        declaration_schema = {k: v for k, v in schema.items() if k != "$defs"}
        errors += _schema_errors("declaration", declaration_schema, dossier.declaration, lang)
        if errors:
            raise validation(
                errors,
                Text(
                    "Hồ sơ chưa đầy đủ; hãy bổ sung những mục được nêu rồi gửi lại.",
                    "The dossier is incomplete; complete the items listed and send again.",
                ),
            )

    async def _allocate_code(self, agency_id: str) -> str:
        """`<agency>-<yymmdd>-<n>`: numbered per agency and local day."""
        today = utcnow().astimezone(LOCAL_TZ).date()
        number = await self.repo.next_number(agency_id, today)
        return f"{agency_id}-{today:%y%m%d}-{number:04d}"

    # -- processing (officers) ---------------------------------------------------------------

    async def receive(self, dossier_id: str, actor: Actor) -> Dossier:
        """ "Tiếp nhận": processing starts; the deadline counts from the first reception."""
        dossier = await self._open(dossier_id, actor, Action.RECEIVE, for_update=True)
        if dossier.received_at is None:
            dossier.received_at = utcnow()
            self._set_due(dossier)
        await self._transition(dossier, Action.RECEIVE, actor, None)
        return dossier

    async def request_supplement(self, dossier_id: str, actor: Actor, content: str) -> Dossier:
        dossier = await self._open(dossier_id, actor, Action.REQUEST_SUPPLEMENT, for_update=True)
        dossier.supplement_request = content
        dossier.paused_at = utcnow()
        await self._transition(dossier, Action.REQUEST_SUPPLEMENT, actor, content)
        return dossier

    async def reject(self, dossier_id: str, actor: Actor, reason: str) -> Dossier:
        dossier = await self._open(dossier_id, actor, Action.REJECT, for_update=True)
        dossier.rejection_reason = reason
        await self._transition(dossier, Action.REJECT, actor, reason)
        return dossier

    async def add_step(self, dossier_id: str, actor: Actor, note: str) -> Dossier:
        dossier = await self._open(dossier_id, actor, Action.STEP, for_update=True)
        await self._history(dossier, Action.STEP, actor, note)
        return dossier

    async def return_result(
        self,
        dossier_id: str,
        actor: Actor,
        note: str | None,
        files: list[tuple[str, bytes]],
        lang: str,
    ) -> Dossier:
        dossier = await self._open(dossier_id, actor, Action.RETURN_RESULT, for_update=True)
        if not files:
            message = Text("Cần ít nhất một tệp kết quả.", "At least one result file is needed.")
            raise validation([_error("files", "result_required", message, lang)], message)
        used = 0
        for filename, data in files:
            stored = await self._store(dossier, None, "result", filename, data, used, lang)
            used += stored.size
        await self._transition(dossier, Action.RETURN_RESULT, actor, note)
        return dossier

    def _set_due(self, dossier: Dossier) -> None:
        days = dossier.procedure.get("processing_days")
        if dossier.received_at is None or days is None:
            dossier.due_at = None
            return
        dossier.due_at = add_working_days(dossier.received_at, days + dossier.paused_working_days)

    # -- transitions, history and e-mail -----------------------------------------------------

    async def _transition(
        self,
        dossier: Dossier,
        action: Action,
        actor: Actor,
        note: str | None,
        *,
        tracking: str | None = None,
    ) -> None:
        """Move the dossier (`_open` checked the transition), record it in the history, and
        e-mail the filer — one e-mail per change, leaving through the outbox in this
        transaction."""
        transition = TRANSITIONS[action]
        dossier.status = transition.target.value
        dossier.updated_at = utcnow()
        await self._history(dossier, action, actor, note)
        await self._notify(dossier, transition.email, tracking=tracking)

    async def _history(self, dossier: Dossier, action: str, actor: Actor, note: str | None) -> None:
        dossier.history_count = (dossier.history_count or 0) + 1
        self.repo.add(
            HistoryEntry(
                id=new_id(),
                dossier_id=dossier.id,
                seq=dossier.history_count,
                at=utcnow(),
                status=dossier.status,
                action=str(action),
                actor_role=actor.role,
                actor_id=actor.user_id,
                note=note,
            )
        )
        await self.session.flush()

    async def _notify(self, dossier: Dossier, template: str, *, tracking: str | None) -> None:
        pages = self.settings.public_url.rstrip("/")
        tracking_url = None
        if dossier.accountless and tracking:
            query = urlencode({"code": dossier.code, "token": tracking})
            tracking_url = f"{pages}{TRACKING_PAGE}?{query}"
        context: dict[str, Any] = {
            # An accountless filer named an address nobody confirmed: the e-mails to it carry
            # none of the filer's text, the name included (issue 11, item 10).
            "full_name": None
            if dossier.accountless
            else str(dossier.applicant.get("full_name") or ""),
            "dossier_code": dossier.code,
            "procedure_name": dossier.procedure.get("name"),
            "procedure_code": dossier.procedure.get("code"),
            "agency_name": dossier.agency_name,
            "status": dossier.status,
            "status_label": label(dossier.status),
            "accountless": dossier.accountless,
            "dossier_url": None
            if dossier.accountless
            else pages + DOSSIER_PAGE.format(id=quote(dossier.id, safe="")),
            "tracking_url": tracking_url,
            "occurred_at": local_time(utcnow()),
        }
        if dossier.status == Status.PROCESSING:
            context["due_at"] = local_time(dossier.due_at) if dossier.due_at else None
            context["deadline_note"] = deadline_note(dossier.procedure.get("processing_days"))
        elif dossier.status == Status.SUPPLEMENT_REQUESTED:
            context["content"] = dossier.supplement_request
        elif dossier.status == Status.REJECTED:
            context["reason"] = dossier.rejection_reason
        elif dossier.status == Status.RESULT_RETURNED:
            results = await self.repo.files(dossier.id, "result")
            context["results"] = [f.filename for f in results]
            context["note"] = await self.repo.last_note(dossier.id)
        add_message(
            self.session,
            OutboxMessage,
            SendEmailV1(
                message_id=new_id(),
                to=dossier.email,
                template=template,
                context=readable(context),  # type: ignore[arg-type]
            ),
        )

    # -- reading -----------------------------------------------------------------------------

    async def view(self, dossier_id: str, actor: Actor) -> dict[str, Any]:
        dossier = await self._open(dossier_id, actor, Action.VIEW)
        return await self.render(dossier)

    async def render(self, dossier: Dossier) -> dict[str, Any]:
        files = await self.repo.files(dossier.id)
        by_component: dict[str | None, list[dict[str, Any]]] = {}
        for f in files:
            by_component.setdefault(
                f.component_id if f.kind == "attachment" else "__result", []
            ).append(_file_out(f))
        components = [
            {
                "id": c["id"],
                "name": c["name"],
                "required": c.get("required", False),
                "form_id": c.get("form_id"),
                "files": by_component.get(c["id"], []),
            }
            for c in dossier.procedure.get("components", [])
        ]
        return {
            **self._summary_fields(dossier),
            "applicant": readable(dossier.applicant),
            "declaration": readable(dossier.declaration),
            "components": components,
            "received_at": dossier.received_at,
            "supplement_request": dossier.supplement_request,
            "rejection_reason": dossier.rejection_reason,
            "results": by_component.get("__result", []),
            "accountless": dossier.accountless,
            "created_at": dossier.created_at,
        }

    def _summary_fields(self, dossier: Dossier) -> dict[str, Any]:
        snapshot = dossier.procedure
        return self.summary(
            SummaryValues(
                id=dossier.id,
                code=dossier.code,
                status=dossier.status,
                procedure_id=dossier.procedure_id,
                procedure_version=dossier.procedure_version,
                procedure_code=snapshot.get("code"),
                procedure_name=snapshot.get("name"),
                processing_days=snapshot.get("processing_days"),
                processing_time_source=snapshot.get("processing_time_source"),
                agency_id=dossier.agency_id,
                agency_name=dossier.agency_name,
                applicant_name=dossier.applicant.get("full_name"),
                submitted_at=dossier.submitted_at,
                due_at=dossier.due_at,
                updated_at=dossier.updated_at,
            )
        )

    def summary(self, row: Any) -> dict[str, Any]:
        """A dossier's summary from the columns a list reads (`SUMMARY_COLUMNS`), or from the
        same names of a `SummaryValues`. Text is read with `readable`: one row stored before
        the edge refused broken text must not take a list down."""
        return {
            "id": row.id,
            "code": row.code,
            "status": row.status,
            "status_label": label(row.status),
            "procedure": {
                "id": row.procedure_id,
                "code": readable(row.procedure_code),
                "name": readable(row.procedure_name),
                "version": row.procedure_version,
                "processing_days": row.processing_days,
                "processing_time_source": row.processing_time_source,
            },
            "agency": {"id": row.agency_id, "name": readable(row.agency_name)},
            "applicant_name": readable(row.applicant_name),
            "submitted_at": row.submitted_at,
            "due_at": row.due_at,
            "deadline_note": deadline_note(row.processing_days),
            "overdue": is_late(row.status, row.due_at, utcnow()),
            "updated_at": row.updated_at,
        }

    async def list_own(
        self, actor: Actor, status: str | None, page: int, page_size: int
    ) -> dict[str, Any]:
        conditions = [Dossier.owner_id == actor.user_id]
        if status:
            conditions.append(Dossier.status == status)
        return await self._page(conditions, page, page_size, Dossier.updated_at.desc())

    def _agency_inbox(self, actor: Actor) -> list[Any]:
        """What an officer's inbox holds: the sent dossiers of the officer's agency."""
        if actor.role != "officer" or not actor.agency_id:
            raise only_officers()
        return [Dossier.agency_id == actor.agency_id, Dossier.status != Status.DRAFT.value]

    async def inbox(
        self, actor: Actor, status: str | None, overdue: bool | None, page: int, page_size: int
    ) -> dict[str, Any]:
        conditions = self._agency_inbox(actor)
        if status:
            conditions.append(Dossier.status == status)
        if overdue is not None:
            late = late_clause(Dossier.status, Dossier.due_at, utcnow())
            conditions.append(late if overdue else ~late)
        return await self._page(conditions, page, page_size, Dossier.submitted_at.asc())

    async def inbox_counts(self, actor: Actor) -> dict[str, int]:
        """How many dossiers the officer's inbox holds in each status, and how many are late
        (`overdue`): one query."""
        found = await self.repo.counts(
            self._agency_inbox(actor), overdue=late_clause(Dossier.status, Dossier.due_at, utcnow())
        )
        counts = {s.value: int(found.get(s, 0)) for s in Status if s is not Status.DRAFT}
        return {**counts, "overdue": int(found.get("overdue", 0))}

    async def _page(
        self, conditions: list[Any], page: int, page_size: int, order: Any
    ) -> dict[str, Any]:
        rows, total = await self.repo.page(conditions, order, (page - 1) * page_size, page_size)
        return {
            "items": [self.summary(row) for row in rows],
            "total": total,
            "page": page,
            "page_size": page_size,
        }

    async def counts(self, actor: Actor) -> dict[str, int]:
        found = await self.repo.counts_by_status(actor.user_id or "")
        return {s.value: int(found.get(s, 0)) for s in Status}

    async def history(self, dossier_id: str, actor: Actor) -> list[dict[str, Any]]:
        dossier = await self._open(dossier_id, actor, Action.HISTORY)
        return await self._history_of(dossier)

    async def _history_of(self, dossier: Dossier) -> list[dict[str, Any]]:
        rows = await self.repo.history(dossier.id)
        return [
            {
                "at": h.at,
                "status": h.status,
                "status_label": label(h.status),
                "action": h.action,
                "actor_role": h.actor_role,
                "note": h.note,
            }
            for h in rows
        ]

    async def _tracked(self, code: str, token: str) -> Dossier:
        dossier = await self.repo.dossier_by_code(code)
        if (
            dossier is None
            or dossier.tracking_hash is None
            or not secrets.compare_digest(dossier.tracking_hash, digest(token))
        ):
            raise not_found()
        return dossier

    async def track(self, code: str, token: str) -> dict[str, Any]:
        dossier = await self._tracked(code, token)
        summary = self._summary_fields(dossier)
        return {
            **{
                k: summary[k]
                for k in ("id", "code", "status", "status_label", "procedure", "agency")
            },
            "submitted_at": dossier.submitted_at,
            "due_at": dossier.due_at,
            "deadline_note": summary["deadline_note"],
            "supplement_request": dossier.supplement_request,
            "rejection_reason": dossier.rejection_reason,
            "results": [_file_out(f) for f in await self.repo.files(dossier.id, "result")],
            "history": await self._history_of(dossier),
        }

    async def result_file(
        self, dossier_id: str, file_id: str, actor: Actor | None, tracking: str | None
    ) -> tuple[DossierFile, bytes]:
        if actor is not None and actor.role != "accountless":
            dossier = await self._open(dossier_id, actor, Action.READ_RESULT)
        else:
            dossier = await self.repo.dossier(dossier_id)
            if (
                dossier is None
                or not tracking
                or dossier.tracking_hash is None
                or not secrets.compare_digest(dossier.tracking_hash, digest(tracking))
            ):
                raise not_found()
        return await self._file_of(dossier, file_id, "result")


def _file_out(f: DossierFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "filename": f.filename,
        "content_type": f.content_type,
        "size": f.size,
        "sha256": f.sha256,
    }


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(
        json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _schema_errors(
    prefix: str, schema: dict[str, Any], value: dict[str, Any], lang: str
) -> list[dict[str, Any]]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.path)):
        path = [str(p) for p in error.path]
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path.append(missing)
            message = Text("Trường này là bắt buộc.", "This field is required.")
            code = "required"
        elif error.validator == "additionalProperties":
            message = Text("Trường này không có trong tờ khai.", "This field is not in the form.")
            code = "unknown_field"
        else:
            title = (error.schema or {}).get("title") if isinstance(error.schema, dict) else None
            message = Text(
                f"Giá trị không hợp lệ{f' ({title})' if title else ''}.",
                f"Invalid value{f' ({title})' if title else ''}: {error.message[:200]}",
            )
            code = str(error.validator)
        errors.append(_error(".".join([prefix, *path]), code, message, lang))
    return errors


def local_time(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def safe_display_name(filename: str, extension: str) -> str:
    """The client's name for the file, harmless, with the extension of its real type."""
    name = display_name(filename)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem or 'tep'}.{extension}"


def deadline_note(processing_days: int | None) -> str | None:
    """What to read instead of a due date when the procedure has no processing time."""
    return PROCESSING_TIME_UNKNOWN if processing_days is None else None


# -- the copy of the catalogue ------------------------------------------------------------------


async def record_published_procedure(session: AsyncSession, message: ProcedurePublishedV1) -> bool:
    """Keep the published version; idempotent by message id and by (procedure, version), and
    a late, older version never hides a newer one. True when something was recorded."""
    if not await claim_message(session, ProcessedMessage, message.message_id, message.TASK):
        return False
    published = message.procedure
    if await session.get(ProcedureCopy, (published.id, published.version)) is not None:
        return False
    newest = await session.scalar(
        select(ProcedureCopy.version)
        .where(ProcedureCopy.procedure_id == published.id)
        .order_by(ProcedureCopy.version.desc())
        .limit(1)
        .with_for_update()
    )
    is_latest = newest is None or published.version > newest
    if is_latest:
        await session.execute(
            update(ProcedureCopy)
            .where(ProcedureCopy.procedure_id == published.id)
            .values(is_latest=False)
        )
    session.add(
        ProcedureCopy(
            procedure_id=published.id,
            version=published.version,
            code=published.code,
            name=published.name,
            agency_id=published.agency_id,
            retired=published.retired,
            is_latest=is_latest,
            processing_days=published.processing_days,
            processing_time_source=published.processing_time_source,
            snapshot=published.model_dump(mode="json"),
        )
    )
    await session.flush()
    return True


async def record_published_agencies(session: AsyncSession, message: AgenciesPublishedV1) -> bool:
    """Replace the agency copy with a newer tree; older or repeated messages change nothing."""
    if not await claim_message(session, ProcessedMessage, message.message_id, message.TASK):
        return False
    current = await session.scalar(select(func.max(AgencyCopy.revision)))
    if current is not None and current >= message.revision:
        return False
    await session.execute(delete(AgencyCopy))
    session.add_all(
        AgencyCopy(
            id=a.id,
            name=a.name,
            tier=a.tier,
            parent_id=a.parent_id,
            retired=a.retired,
            performs_commune_tier=a.tier in message.commune_tiers,
            revision=message.revision,
        )
        for a in message.agencies
    )
    await session.flush()
    return True

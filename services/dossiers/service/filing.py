"""Filing, by the citizen or the holder of an accountless dossier's token: a draft, its changes,
discarding it, sending it ("Gửi hồ sơ": complete, numbered, e-mailed) and sending it back
after a supplement was requested ("Gửi bổ sung")."""

from __future__ import annotations

import secrets

from services.dossiers import schemas
from services.dossiers.deadlines import LOCAL_TZ, working_days_between
from services.dossiers.errors import AGENCY_REQUIRED, EMAIL_REQUIRED, PROCEDURE_UNKNOWN
from services.dossiers.lifecycle import CREATED, Action, Status
from services.dossiers.models import AgencyCopy, Dossier, DossierFile, ProcedureCopy
from services.dossiers.service.access import Actor, digest
from services.dossiers.service.changes import Changes, reset_due
from services.dossiers.service.completeness import check_complete
from services.kernel.db import new_id, utcnow
from services.kernel.errors import FieldError, Invalid
from services.kernel.storage import delete_after_commit


class Filing(Changes):
    """What the filer does: drafts, sending, sending back after a supplement."""

    async def _procedure(self, procedure_id: str) -> tuple[ProcedureCopy, AgencyCopy | None]:
        """The procedure's latest copy and its performing agency's."""
        found = await self.repo.latest_procedure_and_performer(procedure_id)
        if found is None or found[0].retired:
            raise Invalid(FieldError("procedure_id", "procedure_unknown", PROCEDURE_UNKNOWN))
        return found

    async def _filing_agency(
        self, procedure: ProcedureCopy, performer: AgencyCopy | None, agency_id: str | None
    ) -> AgencyCopy | None:
        """The agency the dossier goes to: the procedure's performer at province tier, or the
        commune chosen by the filer for commune-tier procedures."""
        snapshot = procedure.snapshot
        province = "province" in snapshot.get("tier", [])
        if agency_id is None and province and procedure.agency_id:
            return performer
        if agency_id and agency_id == procedure.agency_id:
            agency = performer
        else:
            agency = await self.repo.agency(agency_id) if agency_id else None
        commune_ok = (
            agency is not None
            and not agency.retired
            and agency.performs_commune_tier
            and "commune" in snapshot.get("tier", [])
        )
        if commune_ok or (province and agency_id == procedure.agency_id):
            return agency
        raise Invalid(FieldError("agency_id", "agency_required", AGENCY_REQUIRED))

    async def create(
        self, actor: Actor, data: schemas.DossierIn, *, email: str | None = None
    ) -> tuple[Dossier, str | None]:
        """A draft ("Lưu lại"). Without an account, also the capability token (returned once)."""
        procedure, performer = await self._procedure(data.procedure_id)
        agency = await self._filing_agency(procedure, performer, data.agency_id)
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
            raise Invalid(FieldError("applicant.email", "email_required", EMAIL_REQUIRED))
        self.repo.add(dossier)
        self.known_files[dossier.id] = []  # a new dossier has none
        await self._history(dossier, CREATED, actor, None)
        await self.session.flush()  # one pass: the dossier, then its first history entry
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

    async def submit(self, dossier_id: str, actor: Actor) -> Dossier:
        """ "Gửi hồ sơ": check it is complete, give it its code, tell the filer."""
        dossier = await self._open(dossier_id, actor, Action.SUBMIT, for_update=True)
        self.known_files[dossier.id] = await self._check_complete(dossier)
        dossier.code = await self._allocate_code(dossier.agency_id)
        dossier.submitted_at = utcnow()
        tracking = None
        if dossier.accountless:
            tracking = secrets.token_urlsafe(24)
            dossier.tracking_hash = digest(tracking)
        await self._transition(dossier, Action.SUBMIT, actor, None, tracking=tracking)
        return dossier

    async def send_supplement(self, dossier_id: str, actor: Actor) -> Dossier:
        """ "Gửi bổ sung": the corrected dossier goes back to the agency; the clock restarts."""
        dossier = await self._open(dossier_id, actor, Action.SUPPLEMENT, for_update=True)
        await self._check_complete(dossier)
        if dossier.paused_at is not None:
            dossier.paused_working_days += working_days_between(dossier.paused_at, utcnow())
            dossier.paused_at = None
            reset_due(dossier)
        await self._transition(dossier, Action.SUPPLEMENT, actor, None)
        return dossier

    async def _allocate_code(self, agency_id: str) -> str:
        """`<agency>-<yymmdd>-<n>`: numbered per agency and local day."""
        today = utcnow().astimezone(LOCAL_TZ).date()
        number = await self.repo.next_number(agency_id, today)
        return f"{agency_id}-{today:%y%m%d}-{number:04d}"

    async def _check_complete(self, dossier: Dossier) -> list[DossierFile]:
        """Refuse an incomplete dossier; returns all its files (the answer shows them)."""
        files = await self.repo.files(dossier.id)
        check_complete(
            dossier.procedure,
            dossier.applicant,
            dossier.declaration,
            {f.component_id for f in files if f.kind == "attachment"},
        )
        return files

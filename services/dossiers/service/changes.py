"""A change of status as it happens: the dossier moves (the lifecycle's transition), the history
records it, and the filer's e-mail leaves through the outbox in the same transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from services.dossiers.deadlines import LOCAL_TZ, add_working_days, deadline_note
from services.dossiers.lifecycle import TRANSITIONS, Action, Status, label
from services.dossiers.models import Dossier, HistoryEntry, OutboxMessage
from services.dossiers.service.access import Actor, ServiceBase
from services.kernel.contracts import EmailTemplate, SendEmailV1
from services.kernel.db import new_id, utcnow
from services.kernel.inputs import readable
from services.kernel.outbox import add_message

TRACKING_PAGE = "/theo-doi-ho-so"
"""The pages' tracking page (web/pages/filing.py), under `PORTAL_PUBLIC_URL`: the e-mailed link
opens a page, not the API's JSON (the API keeps `GET /track` with the same `code` and `token`)."""
DOSSIER_PAGE = "/ho-so/{id}"
"""The pages' dossier page of an account holder's dossier (sign-in first, then back there)."""


class Changes(ServiceBase):
    """Recording changes: what filing and processing call once a dossier may change."""

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
        # no flush of its own: the entry is written with the request's other changes, at the
        # next query or the commit (each flush is a pass of the unit of work)

    async def _notify(
        self, dossier: Dossier, template: EmailTemplate, *, tracking: str | None
    ) -> None:
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
                context=readable(context),
            ),
        )


def local_time(moment: dt.datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def reset_due(dossier: Dossier) -> None:
    """`due_at` from the first reception, the procedure's working days and the working days
    the clock was paused for supplements (none without a processing time)."""
    days = dossier.procedure.get("processing_days")
    if dossier.received_at is None or days is None:
        dossier.due_at = None
        return
    dossier.due_at = add_working_days(dossier.received_at, days + dossier.paused_working_days)

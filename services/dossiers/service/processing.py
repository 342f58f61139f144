"""What officers of the competent agency do: receive (the deadline starts), ask for a
supplement (it pauses), reject, note a processing step, return the result."""

from __future__ import annotations

from services.dossiers.errors import RESULT_REQUIRED
from services.dossiers.lifecycle import Action
from services.dossiers.models import Dossier
from services.dossiers.service.access import Actor
from services.dossiers.service.changes import Changes, reset_due
from services.dossiers.service.files import Files
from services.kernel.db import utcnow
from services.kernel.errors import FieldError, Invalid


class Processing(Files, Changes):
    """What an officer of the competent agency does (each checked by the lifecycle once)."""

    async def receive(self, dossier_id: str, actor: Actor) -> Dossier:
        """ "Tiếp nhận": processing starts; the deadline counts from the first reception."""
        dossier = await self._open(
            dossier_id, actor, Action.RECEIVE, for_update=True, with_files=True
        )
        if dossier.received_at is None:
            dossier.received_at = utcnow()
            reset_due(dossier)
        await self._transition(dossier, Action.RECEIVE, actor, None)
        return dossier

    async def request_supplement(self, dossier_id: str, actor: Actor, content: str) -> Dossier:
        dossier = await self._open(
            dossier_id, actor, Action.REQUEST_SUPPLEMENT, for_update=True, with_files=True
        )
        dossier.supplement_request = content
        dossier.paused_at = utcnow()
        await self._transition(dossier, Action.REQUEST_SUPPLEMENT, actor, content)
        return dossier

    async def reject(self, dossier_id: str, actor: Actor, reason: str) -> Dossier:
        dossier = await self._open(
            dossier_id, actor, Action.REJECT, for_update=True, with_files=True
        )
        dossier.rejection_reason = reason
        await self._transition(dossier, Action.REJECT, actor, reason)
        return dossier

    async def add_step(self, dossier_id: str, actor: Actor, note: str) -> Dossier:
        dossier = await self._open(dossier_id, actor, Action.STEP, for_update=True, with_files=True)
        dossier.updated_at = utcnow()  # set here, not at the commit's flush: the answer shows it
        await self._history(dossier, Action.STEP, actor, note)
        return dossier

    async def return_result(
        self,
        dossier_id: str,
        actor: Actor,
        note: str | None,
        files: list[tuple[str, bytes]],
    ) -> Dossier:
        dossier = await self._open(dossier_id, actor, Action.RETURN_RESULT, for_update=True)
        if not files:
            raise Invalid(FieldError("files", "result_required", RESULT_REQUIRED))
        used = 0
        for filename, data in files:
            stored = await self._store(dossier, None, "result", filename, data, used)
            used += stored.size
        await self._transition(dossier, Action.RETURN_RESULT, actor, note)
        return dossier

"""Who is acting, and the dossier they may act on: the base every part of the service builds on.
What each party may do in which status is the lifecycle's (`lifecycle.refusal`); here it is
applied to the dossier loaded from the database."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.dossiers.errors import DossierNotFound
from services.dossiers.lifecycle import Action, Party, require, role_refusal
from services.dossiers.lifecycle import problem as refused
from services.dossiers.models import Dossier, DossierFile
from services.dossiers.repository import DossiersRepository
from services.dossiers.settings import DossiersSettings
from services.kernel.auth import Principal
from services.kernel.storage import FileStorage


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


def party_of(actor: Actor, dossier: Dossier) -> Party:
    """Who `actor` is to `dossier`, for the lifecycle's rules."""
    if actor.role == "citizen":
        owner = actor.user_id is not None and dossier.owner_id == actor.user_id
        return Party.OWNER if owner else Party.STRANGER
    if actor.role == "accountless":
        return Party.ACCOUNTLESS_FILER if actor.dossier_id == dossier.id else Party.STRANGER
    if actor.role == "officer":
        return Party.OFFICER if actor.agency_id == dossier.agency_id else Party.OTHER_OFFICER
    if actor.role == "admin":
        return Party.ADMIN
    return Party.STRANGER


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tracking_matches(dossier: Dossier, token: str | None) -> bool:
    """Whether `token` is the tracking token e-mailed for `dossier` (filed without an account)."""
    return (
        bool(token)
        and dossier.tracking_hash is not None
        and secrets.compare_digest(dossier.tracking_hash, digest(token or ""))
    )


class ServiceBase:
    """The request's session, repository, settings and file storage, and the one way to load a
    dossier for an action."""

    def __init__(
        self, session: AsyncSession, settings: DossiersSettings, storage: FileStorage
    ) -> None:
        self.session = session
        self.repo = DossiersRepository(session)
        self.settings = settings
        self.storage = storage
        self.known_files: dict[str, list[DossierFile]] = {}
        """A dossier's files as this request already read them (or knows them: none for a new
        dossier), so the answer does not read them again; only while nothing changes them."""

    async def _open(
        self,
        dossier_id: str,
        actor: Actor,
        action: Action,
        *,
        for_update: bool = False,
        with_files: bool = False,
    ) -> Dossier:
        """The dossier if the actor may take `action` on it now (the lifecycle's rules); a
        party who may not see it gets 404, with no hint that it exists. `with_files`: its files
        are read in the same query (`known_files`), for an action that adds none and whose
        answer shows them."""
        refusal = role_refusal(action, actor.role == "officer")
        if refusal is not None:  # before looking it up
            raise refused(refusal, action)
        files: list[DossierFile] | None = None
        if with_files:
            found = await self.repo.dossier_with_files(dossier_id, for_update=for_update)
            dossier, files = found if found is not None else (None, None)
        else:
            dossier = await self.repo.dossier(dossier_id, for_update=for_update)
        if dossier is None:
            raise DossierNotFound()
        require(action, dossier.status, party_of(actor, dossier))
        if files is not None:
            self.known_files[dossier.id] = files
        return dossier

    async def actor_for_token(self, token: str) -> Actor | None:
        """The holder of an accountless dossier's capability token."""
        dossier = await self.repo.dossier_by_token(digest(token))
        if dossier is None:
            return None
        return Actor(role="accountless", dossier_id=dossier.id, email=dossier.email)

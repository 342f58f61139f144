"""The base every part of the catalogue service builds on: the request's session, repository,
settings and file storage; and stable ids."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.repository import CatalogueRepository
from services.catalogue.search import term_string
from services.catalogue.settings import CatalogueSettings
from services.kernel.storage import FileStorage


class ServiceBase:
    """The request's session, repository, settings, file storage and commune tiers."""

    def __init__(
        self,
        session: AsyncSession,
        settings: CatalogueSettings,
        storage: FileStorage,
        commune_tiers: tuple[str, ...],
    ) -> None:
        self.session = session
        self.repo = CatalogueRepository(session)
        self.settings = settings
        self.storage = storage
        self.commune_tiers = commune_tiers


def stable_id(*parts: str, length: int = 16) -> str:
    """Ids that stay the same when the same catalogue is imported again."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def field_id_for(name: str) -> str:
    return "-".join(term_string(name).split())[:120] or stable_id(name)

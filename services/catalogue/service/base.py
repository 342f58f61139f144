"""The base every part of the catalogue service builds on: the request's session, repository,
settings and file storage; stable ids; and the errors more than one part raises."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.repository import CatalogueRepository
from services.catalogue.search import term_string
from services.catalogue.settings import CatalogueSettings
from services.kernel.errors import ProblemError, Text, field_error
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


def not_found(what: Text) -> ProblemError:
    return ProblemError("not-found", what, status=404)


def invalid(field: str, code: str, message: Text, lang: str) -> ProblemError:
    return ProblemError("validation", message, errors=[field_error([field], code, message, lang)])


PROCEDURE_NOT_FOUND = Text("Không tìm thấy thủ tục hành chính.", "No such procedure.")
AGENCY_NOT_FOUND = Text("Không tìm thấy cơ quan.", "No such agency.")
FIELD_NOT_FOUND = Text("Không tìm thấy lĩnh vực.", "No such field.")
FORM_NOT_FOUND = Text("Không tìm thấy mẫu đơn, tờ khai.", "No such form.")

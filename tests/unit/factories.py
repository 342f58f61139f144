"""Small factories for the fast tier (as notifications-api's tests/app/db.py): the dossiers
service on SQLite in a temporary folder, with files in a folder beside it — the real service,
repository and rules, no server. Each factory has defaults a test overrides by keyword."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from services.dossiers.models import AgencyCopy, Base, Dossier, OutboxMessage, ProcedureCopy
from services.dossiers.service import Actor, DossierService
from services.dossiers.settings import DossiersSettings
from services.kernel.db import Database
from services.kernel.storage import LocalStorage

T = TypeVar("T")
AGENCY = "G01.SO-TU-PHAP"


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async test body (the suite's way: `asyncio.run`, no plugin)."""
    return asyncio.run(main())


@dataclass
class Dossiers:
    """The dossiers service of one test: its SQLite database and file storage."""

    db: Database
    settings: DossiersSettings
    storage: LocalStorage

    @asynccontextmanager
    async def service(self) -> AsyncIterator[DossierService]:
        """A service on a fresh session; commits when the block ends without an error."""
        async with self.db.sessionmaker() as session:
            yield DossierService(session, self.settings, self.storage)
            await session.commit()

    async def do(self, call: Callable[[DossierService], Awaitable[T]]) -> T:
        """One request's worth: `call` on a fresh service, committed."""
        async with self.service() as service:
            return await call(service)

    async def emails(self) -> list[dict[str, Any]]:
        """The e-mails staged in the outbox, oldest first (their `SendEmailV1` payloads)."""
        async with self.db.sessionmaker() as session:
            rows = await session.scalars(
                select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
            return [r.payload for r in rows if r.task_name == "notifier.send_email"]


@asynccontextmanager
async def dossiers_service(tmp_path: Path) -> AsyncIterator[Dossiers]:
    """A dossiers database on SQLite with the tables made from the models, an agency and
    nothing else; disposed of when the block ends."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'dossiers.db'}"
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    settings = DossiersSettings(database_url=url, public_url="https://dichvucong.example.vn")
    world = Dossiers(db, settings, LocalStorage(tmp_path / "files"))
    async with db.sessionmaker() as session:
        session.add(agency_copy())
        await session.commit()
    try:
        yield world
    finally:
        await db.dispose()


# -- who acts -----------------------------------------------------------------------------------


def citizen(**overrides: Any) -> Actor:
    values: dict[str, Any] = {
        "role": "citizen",
        "user_id": uuid.uuid4().hex,
        "email": f"cong.dan.{uuid.uuid4().hex[:8]}@example.vn",
    }
    return Actor(**{**values, **overrides})


def officer(agency_id: str = AGENCY, **overrides: Any) -> Actor:
    values: dict[str, Any] = {"role": "officer", "user_id": uuid.uuid4().hex}
    values["agency_id"] = agency_id
    return Actor(**{**values, **overrides})


# -- the copy of the catalogue ------------------------------------------------------------------


def agency_copy(**overrides: Any) -> AgencyCopy:
    values: dict[str, Any] = {
        "id": AGENCY,
        "name": "Sở Tư pháp",
        "tier": "province",
        "parent_id": None,
        "retired": False,
        "performs_commune_tier": False,
        "revision": 1,
    }
    return AgencyCopy(**{**values, **overrides})


APPLICANT_SCHEMA = {
    "type": "object",
    "required": ["full_name", "email"],
    "properties": {"full_name": {"type": "string"}, "email": {"type": "string"}},
}
DECLARATION_SCHEMA = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "title": "Lý do", "maxLength": 200}},
    "additionalProperties": False,
    "$defs": {"applicant": APPLICANT_SCHEMA},
}


def procedure_copy(**overrides: Any) -> ProcedureCopy:
    """A province-tier procedure of the agency, two components (one required), a declaration
    asking for a reason, 5 working days; `snapshot` keys may be overridden by name."""
    snapshot: dict[str, Any] = {
        "id": "p-" + uuid.uuid4().hex[:8],
        "code": "1.000" + uuid.uuid4().hex[:3],
        "name": "Cấp phiếu lý lịch tư pháp",
        "version": 1,
        "tier": ["province"],
        "agency_id": AGENCY,
        "agency_name": "Sở Tư pháp",
        "field_id": "f1",
        "field_name": "Lý lịch tư pháp",
        "online": "full",
        "processing_days": 5,
        "processing_time_source": "stated",
        "components": [
            {"id": "c1", "name": "Tờ khai", "required": True, "form_id": None},
            {"id": "c2", "name": "Giấy tờ khác", "required": False, "form_id": None},
        ],
        "declaration_schema": DECLARATION_SCHEMA,
        "retired": False,
    }
    snapshot.update(overrides)
    return ProcedureCopy(
        procedure_id=snapshot["id"],
        version=snapshot["version"],
        code=snapshot["code"],
        name=snapshot["name"],
        agency_id=snapshot["agency_id"],
        retired=snapshot["retired"],
        is_latest=True,
        processing_days=snapshot["processing_days"],
        processing_time_source=snapshot["processing_time_source"],
        snapshot=snapshot,
    )


async def published(world: Dossiers, **overrides: Any) -> ProcedureCopy:
    """A procedure copy, stored."""
    copy = procedure_copy(**overrides)
    async with world.db.sessionmaker() as session:
        session.add(copy)
        await session.commit()
    return copy


# -- dossiers -----------------------------------------------------------------------------------


def pdf(text: str = "Ban sao") -> bytes:
    """A small, well-formed PDF."""
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        + f"% {text}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


async def draft(
    world: Dossiers,
    actor: Actor,
    procedure: ProcedureCopy,
    *,
    applicant: dict[str, Any] | None = None,
    declaration: dict[str, Any] | None = None,
    files: tuple[str, ...] = (),
) -> Dossier:
    """A draft filed through the service (its rules apply), with a PDF per component in
    `files`. Complete by default: the required component has a file once `files=("c1",)`."""
    from services.dossiers.schemas import DossierIn

    body = DossierIn(
        procedure_id=procedure.procedure_id,
        applicant=applicant if applicant is not None else {"full_name": "Nguyễn Văn An"},
        declaration=declaration if declaration is not None else {"reason": "Xin việc"},
    )
    dossier, _ = await world.do(lambda s: s.create(actor, body))
    for component in files:
        async with world.service() as service:
            await service.attach(dossier.id, component, actor, f"{component}.pdf", pdf())
    return dossier


async def sent(world: Dossiers, actor: Actor, procedure: ProcedureCopy, **kw: Any) -> Dossier:
    """A complete dossier, submitted."""
    dossier = await draft(world, actor, procedure, files=("c1",), **kw)
    return await world.do(lambda s: s.submit(dossier.id, actor))


async def fetch(world: Dossiers, dossier_id: str) -> Dossier:
    async with world.db.sessionmaker() as session:
        found = await session.get(Dossier, dossier_id)
        assert found is not None
        return found

"""The catalogue service of the fast tier: a slice of the real national catalogue imported into
SQLite in a temporary folder by the real importer — search, publishing and admin writes on the
real service and repository, no server. The slice is imported once per run; a test that writes
works on its own copy of the database file."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from services.catalogue.importer import run_import
from services.catalogue.layouts import load_layout
from services.catalogue.models import OutboxMessage, ProcedureVersion
from services.catalogue.repository import install_search_functions
from services.catalogue.service import CatalogueService
from services.catalogue.settings import SHARED_DATA, CatalogueSettings
from services.kernel.db import Database
from services.kernel.migrations import upgrade
from services.kernel.storage import LocalStorage

T = TypeVar("T")

SOURCE = SHARED_DATA / "procedures" / "national-catalogue.jsonl"
SLICE_WORDS = ("khai sinh", "khai tử", "kết hôn", "hộ tịch", "quyền sử dụng đất", "chứng thực")
"""The slice: every procedure whose name holds one of these (civil status, land, certified
copies: what the search tests look for), and the file's first lines as other procedures."""
FIRST_LINES = 60


def slice_of_catalogue(target: Path) -> int:
    """Write the slice as JSON lines to `target`; how many records it holds."""
    lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [
        line
        for n, line in enumerate(lines)
        if n < FIRST_LINES
        or any(word in json.loads(line)["ten_thu_tuc"].lower() for word in SLICE_WORDS)
    ]
    target.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return len(chosen)


def import_slice(folder: Path) -> Path:
    """The slice imported into a SQLite database in `folder` (migrated as in production)."""
    settings = CatalogueSettings(data_dir=folder, database_url="")
    upgrade("catalogue", settings.resolved_database_url())
    slice_of_catalogue(folder / "slice.jsonl")
    asyncio.run(run_import(settings, folder / "slice.jsonl", show_progress=False))
    return folder / "catalogue.db"


@dataclass
class Catalogue:
    """The catalogue service of one test: its SQLite database and file storage."""

    db: Database
    settings: CatalogueSettings
    storage: LocalStorage
    commune_tiers: tuple[str, ...]

    @asynccontextmanager
    async def service(self) -> AsyncIterator[CatalogueService]:
        """A service on a fresh session; commits when the block ends without an error."""
        async with self.db.sessionmaker() as session:
            yield CatalogueService(session, self.settings, self.storage, self.commune_tiers)
            await session.commit()

    async def do(self, call: Callable[[CatalogueService], Awaitable[T]]) -> T:
        """One request's worth: `call` on a fresh service, committed."""
        async with self.service() as service:
            return await call(service)

    async def versions(self, procedure_id: str) -> list[dict[str, Any]]:
        """The snapshots of a procedure's published versions, oldest first."""
        async with self.db.sessionmaker() as session:
            rows = await session.scalars(
                select(ProcedureVersion)
                .where(ProcedureVersion.procedure_id == procedure_id)
                .order_by(ProcedureVersion.version)
            )
            return [{"version": r.version, **r.snapshot} for r in rows]

    async def published(self) -> list[dict[str, Any]]:
        """The messages staged in the outbox, oldest first: (task, payload)."""
        async with self.db.sessionmaker() as session:
            rows = await session.scalars(
                select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
            return [{"task": r.task_name, **r.payload} for r in rows]


@asynccontextmanager
async def catalogue_service(database: Path, folder: Path) -> AsyncIterator[Catalogue]:
    """The catalogue of `database` (an imported slice), copied into `folder` when the test will
    write; disposed of when the block ends."""
    if database.parent != folder:
        shutil.copy(database, folder / "catalogue.db")
    settings = CatalogueSettings(data_dir=folder, database_url="")
    db = Database(settings.resolved_database_url())
    install_search_functions(db.engine)
    world = Catalogue(
        db, settings, LocalStorage(folder / "files"), load_layout(settings).commune_tiers
    )
    try:
        yield world
    finally:
        await db.dispose()

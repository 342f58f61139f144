"""The catalogue FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from services.catalogue.api import reads, router
from services.catalogue.layouts import commune_tiers
from services.catalogue.lexicon import file_entries
from services.catalogue.lexicon_service import LexiconService
from services.catalogue.reads import ReadCache, RevisionReader
from services.catalogue.repository import install_search_functions
from services.catalogue.search_log import SearchLog
from services.catalogue.settings import CatalogueSettings, get_settings
from services.kernel.db import Database, database_for
from services.kernel.storage import storage_from_settings
from services.kernel.web import create_service_app

log = logging.getLogger("portal.catalogue")


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = database_for(settings.resolved_database_url())
    install_search_functions(db.engine)
    search_log = SearchLog()
    revisions = RevisionReader(db)
    file_entries(settings.lexicon_path)  # a broken lexicon file stops the start, loudly
    background: list[asyncio.Task[None]] = []

    async def start(app: FastAPI) -> None:
        background.append(asyncio.create_task(search_log.run(db, settings.search_log_seconds)))
        background.append(asyncio.create_task(_check_lexicon(db, settings)))

    async def stop(app: FastAPI) -> None:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await search_log.flush(db)
        await revisions.close()

    return create_service_app(
        title="Thủ tục hành chính — Catalogue",
        description="Danh mục thủ tục hành chính, cơ quan và lĩnh vực; tra cứu theo từ khóa.",
        settings=settings,
        db=db,
        routers=[reads, router],
        storage=storage_from_settings(settings.storage_dir, "catalogue", settings),
        commune_tiers=commune_tiers(settings),
        read_cache=ReadCache(),
        revisions=revisions,
        search_log=search_log,
        on_startup=start,
        on_shutdown=stop,
    )


async def _check_lexicon(db: Database, settings: CatalogueSettings) -> None:
    """Report the lexicon's wordings that match no procedure (in the background: the start
    does not wait for it)."""
    try:
        async with db.sessionmaker() as session:
            unmatched = await LexiconService(session, settings).check_all()
        log.info(
            "search lexicon checked: %d entries with a wording that matches nothing", unmatched
        )
    except Exception:  # the database may not be migrated or reachable yet
        log.warning("search lexicon not checked", exc_info=True)

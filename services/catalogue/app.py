"""The catalogue FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from services.catalogue.api import ReadCache, router
from services.catalogue.layouts import commune_tiers
from services.catalogue.repository import install_search_functions
from services.catalogue.settings import CatalogueSettings, get_settings
from services.kernel.db import database_for
from services.kernel.storage import storage_from_settings
from services.kernel.web import create_service_app


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = database_for(settings.resolved_database_url())
    install_search_functions(db.engine)
    return create_service_app(
        title="Thủ tục hành chính — Catalogue",
        description="Danh mục thủ tục hành chính, cơ quan và lĩnh vực; tra cứu theo từ khóa.",
        settings=settings,
        db=db,
        routers=[router],
        storage=storage_from_settings(settings.storage_dir, "catalogue", settings),
        commune_tiers=commune_tiers(settings),
        read_cache=ReadCache(),
    )

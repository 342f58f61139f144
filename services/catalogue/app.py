"""The catalogue FastAPI app (its routes arrive with the catalogue issue)."""

from __future__ import annotations

from fastapi import FastAPI

from services.catalogue.settings import CatalogueSettings, get_settings
from services.kernel.db import database_for
from services.kernel.web import create_service_app


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        title="Thủ tục hành chính — Catalogue",
        description="Danh mục thủ tục hành chính, cơ quan và lĩnh vực.",
        settings=settings,
        db=database_for(settings.resolved_database_url()),
        routers=[],
    )

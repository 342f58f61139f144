"""The dossiers FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from services.dossiers.api import router
from services.dossiers.settings import DossiersSettings, get_settings
from services.kernel.db import database_for
from services.kernel.storage import storage_from_settings
from services.kernel.web import create_service_app


def create_app(settings: DossiersSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        title="Hồ sơ — Dossiers",
        description="Nộp hồ sơ trực tuyến (có hoặc không có tài khoản), theo dõi và xử lý hồ sơ.",
        settings=settings,
        db=database_for(settings.resolved_database_url()),
        routers=[router],
        storage=storage_from_settings(settings.storage_dir, "dossiers", settings),
    )

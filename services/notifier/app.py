"""The notifier has no public API: this app answers health checks only."""

from __future__ import annotations

from fastapi import FastAPI

from services.kernel.db import database_for
from services.kernel.web import create_service_app
from services.notifier.settings import NotifierSettings, get_settings


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        title="Notifier",
        description="Gửi e-mail thông báo. No public API: health only.",
        settings=settings,
        db=database_for(settings.resolved_database_url()),
        routers=[],
    )

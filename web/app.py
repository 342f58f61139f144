"""The web app's factory: `portal serve web` in deployment (nginx routes `/` here), mounted at
`/` of `portal run`'s one-port gateway locally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from web.auth import TokenKeeper
from web.clients.accounts import AccountsClient
from web.clients.catalogue import CatalogueClient
from web.clients.dossiers import DossiersClient, ProcessingClient
from web.errors import PAGES, install_error_pages
from web.headers import PageHeaders
from web.pages import accounts, admin, admin_search, catalogue, filing, folders, officer
from web.sessions import install_sessions
from web.settings import WebSettings, get_settings
from web.templating import STATIC, render_text


@dataclass(frozen=True)
class Clients:
    accounts: AccountsClient
    catalogue: CatalogueClient
    dossiers: DossiersClient
    processing: ProcessingClient
    """The dossiers API's officers' calls."""


def create_app(
    settings: WebSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`transport`: how the API clients reach the APIs (default: over the network; the
    in-process tests give an `httpx.MockTransport` to show a catalogue the stack has not)."""
    settings = settings or get_settings()
    redis = aioredis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    http = httpx.AsyncClient(
        timeout=settings.api_timeout,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
        transport=transport,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.aclose()
            await redis.aclose()

    app = FastAPI(
        title="Cổng Dịch vụ công — trang web",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.tokens = TokenKeeper(redis, settings.session_idle_seconds)
    app.state.clients = Clients(
        accounts=AccountsClient(http, settings.accounts_url),
        catalogue=CatalogueClient(http, settings.catalogue_url),
        dossiers=DossiersClient(http, settings.dossiers_url),
        processing=ProcessingClient(http, settings.dossiers_url),
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready when Redis (the sessions) answers; an API that is down gives the 503 page
        on the pages that need it, not an empty Service."""
        try:
            await redis.ping()
        except Exception as exc:
            return JSONResponse({"redis": type(exc).__name__}, status_code=503)
        return JSONResponse({"redis": "ok"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (catalogue, accounts, filing, folders):
        app.include_router(module.router)
    for module in (officer, admin, admin_search):  # the officers' console, the admins' pages
        app.include_router(module.router)
    install_error_pages(app)

    # Outermost last: headers (and the 500 page) around gzip around the sessions.
    install_sessions(app, settings, redis, on_signed_in=app.state.tokens.touch)
    app.add_middleware(GZipMiddleware, minimum_size=600, compresslevel=6)
    fallback = render_text(None, "error.html", {"status": 500, **_page(500)}).encode()
    app.add_middleware(
        PageHeaders,
        production=settings.production,
        static_max_age=settings.static_max_age,
        error_page=fallback,
    )
    return app


def _page(status: int) -> dict[str, str]:
    title, message = PAGES[status]
    return {"title": title, "message": message}

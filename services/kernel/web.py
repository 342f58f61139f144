"""The FastAPI app factory every service uses: problem+json errors, request ids, `/healthz`
(alive), `/readyz` (database and Redis answer) and `/metrics` (Prometheus: requests by route
template, method and status, and their latency)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kernel.auth import KeyFileVerifier
from services.kernel.db import Database
from services.kernel.errors import install_problem_handlers
from services.kernel.metrics import MetricsMiddleware, render, scrape_registry
from services.kernel.revocation import RevocationCheck
from services.kernel.settings import ServiceSettings


class RequestIdMiddleware:
    """Pass on the gateway's X-Request-ID, or make one, and return it on the response, with
    the time the service spent before answering (`Server-Timing: app;dur=<ms>`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:200]
                break
        request_id = request_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                elapsed = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


async def _db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in request.app.state.db.session():
        yield session


DbSession = Annotated[AsyncSession, Depends(_db_session)]
"""The request's database session; routes commit at the end (`commit_through`)."""


async def check_ready(db: Database, redis_url: str) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    finally:
        await client.aclose()
    return checks


def create_service_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    db: Database,
    routers: list[APIRouter],
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    **state: Any,
) -> FastAPI:
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup(app)
        yield
        await db.dispose()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    app.state.token_verifier = KeyFileVerifier(
        settings.public_key_path, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.state.session_revocations = RevocationCheck(settings.redis_url)
    for key, value in state.items():
        setattr(app.state, key, value)
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: database and Redis")
    async def readyz(request: Request) -> JSONResponse:
        checks = await check_ready(db, settings.redis_url)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus exposition (the gateway does not pass it on to the public)."""
        body, content_type = render(scrape_registry())
        return Response(body, media_type=content_type)

    for router in routers:
        app.include_router(router)
    return app

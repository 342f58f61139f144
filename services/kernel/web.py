"""The FastAPI app factory every service uses: problem+json errors, request ids, `/healthz`
(alive), `/readyz` (database and Redis answer) and `/metrics` (Prometheus: requests by route
template, method and status, and their latency)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kernel.auth import KeyFileVerifier
from services.kernel.db import EDGE_COMMITS, Database, settle
from services.kernel.errors import (
    FIELDS_INVALID,
    FieldError,
    Invalid,
    Text,
    install_problem_handlers,
    problem_response,
    request_language,
)
from services.kernel.health import OkCache, database_check, health_redis, redis_check
from services.kernel.inputs import PROBLEMS, InputRefused, parse_json_body, readable
from services.kernel.metrics import MetricsMiddleware, render, scrape_registry
from services.kernel.revocation import RevocationCheck
from services.kernel.settings import ServiceSettings


class ResponseHeadersMiddleware:
    """Pass on the gateway's X-Request-ID, or make one, and return it on the response; add the
    security headers every answer carries (no sniffing, no referrer, never framed; HSTS in
    production) and, outside production or when asked, the time the service spent before
    answering (`Server-Timing: app;dur=<ms>`)."""

    def __init__(self, app: ASGIApp, *, production: bool, server_timing: bool) -> None:
        self.app = app
        self.server_timing = server_timing
        self.security = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if production:
            self.security.append(
                (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
            )

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

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers += [(k, v) for k, v in self.security if k not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", _csp(headers)))
                if self.server_timing:
                    elapsed = (time.perf_counter() - started) * 1000
                    headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _csp(headers: list[tuple[bytes, bytes]]) -> bytes:
    """JSON and files load nothing and are never framed; an HTML page of a service (the API
    docs) keeps what it loads but is never framed either."""
    html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
    return b"frame-ancestors 'none'" if html else b"default-src 'none'; frame-ancestors 'none'"


class BodyTimeoutMiddleware:
    """A client that stops sending its body halfway gets 408 after `seconds` of silence, instead
    of holding a connection and a worker forever (uvicorn sets no such limit)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def receive_in_time() -> Message:
            try:
                # a timeout scope, not wait_for: wait_for wraps each receive in a new task
                async with asyncio.timeout(self.seconds):
                    return await receive()
            except TimeoutError:
                # an HTTPException: FastAPI passes it on from its body reading untouched
                raise HTTPException(408, "request body incomplete") from None

        await self.app(scope, receive_in_time, send)


class PortalRoute(APIRoute):
    """The route class of every service.

    - The body is bounded: the route's `max_body_size`, else the service's `max_body_bytes`;
      past it, 413 problem+json (a declared length is refused before anything is read).
    - A JSON body is checked at the edge before the route sees it: nesting, valid Unicode and no
      NUL in any string or key (services/kernel/inputs.py); a refused body is a 422 naming the
      field.
    - The request's transaction is settled once the answer is rendered (serialised): committed
      when it is a success, rolled back when it is a refusal (status ≥ 400) or anything failed.
      So nothing is committed whose answer could not be rendered, and a refused request leaves
      nothing behind (`services.kernel.db.on_rollback` undoes what lies outside the database).
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # The limit is enforced here, with a problem+json answer: FastAPI would hand it to
        # Starlette's limiter, which answers 413 in plain text, replacing whatever the app
        # answers. So `max_body_size` stays None for FastAPI; an included router's routes
        # still run this route's own handler, which reads `body_limit`.
        self.body_limit: int | None = kwargs.pop("max_body_size", None)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            limit = self.body_limit or request.app.state.settings.max_body_bytes
            bound_body(request, limit)
            await _check_json_body(request)
            try:
                try:
                    response = await handler(request)
                except BaseException:
                    await _settle_request(request, commit=False)
                    raise
                await _settle_request(request, commit=response.status_code < 400)
            finally:
                await _wait_for_floor(request)
            return response

        return handle


def _too_large(limit: int) -> HTTPException:
    # an HTTPException: FastAPI passes it on from its body reading untouched
    return HTTPException(413, f"at most {limit} bytes")


def bound_body(request: Request, limit: int) -> None:
    """Refuse a body announced larger than `limit`; count one that streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    receive = request._receive  # noqa: SLF001 (Starlette reads the body through it)
    received = 0

    async def receive_bounded() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _too_large(limit)
        return message

    request._receive = receive_bounded  # noqa: SLF001


class BodyLimitMiddleware:
    """The local gateway's body limit (nginx's `client_max_body_size` in deployment): a body
    announced or streamed past `max_bytes` is answered 413 problem+json."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            bound_body(request, self.max_bytes)
        except HTTPException:
            detail = Text(
                "Dữ liệu gửi lên vượt quá dung lượng cho phép.",
                "The request body is larger than allowed.",
            )
            answer = problem_response(
                request, "payload-too-large", detail(request_language(request))
            )
            await answer(scope, receive, send)
            return
        await self.app(scope, request.receive, send)


async def _check_json_body(request: Request) -> None:
    content_type = request.headers.get("content-type", "")
    if request.method in ("GET", "HEAD") or "json" not in content_type.lower():
        return
    body = await request.body()
    if not body:
        return
    try:
        # FastAPI's own request.json() then reads this parsed, checked value
        request._json = parse_json_body(body)  # noqa: SLF001
    except json.JSONDecodeError:
        return  # FastAPI answers 422 json_invalid itself
    except InputRefused as refused:
        loc = [readable(part) for part in refused.loc]
        raise Invalid(
            FieldError(loc, refused.code, PROBLEMS[refused.code]), detail=FIELDS_INVALID
        ) from None


def answer_no_sooner_than(request: Request, seconds: float) -> None:
    """Answer this request no sooner than `seconds` from now, whatever it does and however it
    ends (the commit included): where the time an answer takes must not tell whether, say, an
    account exists."""
    request.state.answer_not_before = time.perf_counter() + seconds


async def _wait_for_floor(request: Request) -> None:
    not_before = request.scope.get("state", {}).get("answer_not_before")
    if not_before is not None:
        await asyncio.sleep(max(0.0, not_before - time.perf_counter()))


async def _settle_request(request: Request, *, commit: bool) -> None:
    session = request.scope.get("state", {}).get("db_session")
    if session is not None:
        await settle(session, commit=commit)


async def _db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in request.app.state.db.session():
        session.info[EDGE_COMMITS] = True
        request.state.db_session = session
        yield session


DbSession = Annotated[AsyncSession, Depends(_db_session)]
"""The request's database session; `PortalRoute` commits it once the answer is rendered."""


def service_router() -> APIRouter:
    """The router of a service's routes (`PortalRoute`)."""
    return APIRouter(route_class=PortalRoute)


async def check_ready(db: Database, client: aioredis.Redis) -> dict[str, str]:
    """The database and Redis, checked at once on pooled connections."""
    database, redis = await asyncio.gather(database_check(db), redis_check(client))
    return {"database": database, "redis": redis}


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's OpenTelemetry instrumentation off: the portal's metrics are Prometheus's
(`MetricsMiddleware`), and left on, FastAPI looks for a configured OpenTelemetry provider on
every request."""


def create_service_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    db: Database,
    routers: list[APIRouter],
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    on_shutdown: Callable[[FastAPI], Awaitable[None]] | None = None,
    **state: Any,
) -> FastAPI:
    settings.check_production()
    health = health_redis(settings.redis_url)  # /readyz's: one connection kept across probes
    ready = OkCache(lambda: check_ready(db, health))  # an ok may be one second stale

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup(app)
        yield
        if on_shutdown is not None:
            await on_shutdown(app)
        await health.aclose()
        await db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.token_verifier = KeyFileVerifier(
        settings.public_key_path, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    app.state.session_revocations = RevocationCheck(settings.redis_url)
    for key, value in state.items():
        setattr(app.state, key, value)
    install_problem_handlers(app)
    app.add_middleware(BodyTimeoutMiddleware, seconds=settings.body_timeout_seconds)
    app.add_middleware(
        ResponseHeadersMiddleware,
        production=settings.production,
        server_timing=settings.server_timing_enabled,
    )
    app.add_middleware(MetricsMiddleware, service=settings.service_name)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: database and Redis")
    async def readyz(request: Request) -> JSONResponse:
        checks = await ready()
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

"""The one-port gateway for local running: every public API behind one address, routed by
`/api/v1/<service>/` (deployment uses nginx with the same prefixes), with `/healthz` for the
whole portal, one OpenAPI page, the caught mail at `/mail` when the local catcher runs, and
`/metrics`: the requests through it (service `gateway`, route templates under `/api/v1/...`),
those of the services it hosts, what the workers recorded (`portal run` gives every process
one PROMETHEUS_MULTIPROC_DIR) and the queue, outbox and e-mail gauges (portal/metrics.py).
Everything else is the web pages (`web/`), mounted at `/` last: they call the APIs back
through this same gateway over HTTP (WEB_API_URL), as they call them through nginx or directly
in deployment."""

from __future__ import annotations

import html
import importlib
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.metrics import BacklogCollector
from services.kernel.contracts import QUEUES
from services.kernel.errors import (
    Text,
    install_problem_handlers,
    problem_response,
    request_language,
)
from services.kernel.health import PortalHealth
from services.kernel.metrics import MetricsMiddleware, render, scrape_registry
from services.kernel.registry import PUBLIC_APIS, SERVICES
from services.kernel.settings import ServiceSettings
from services.kernel.web import NO_TELEMETRY, BodyLimitMiddleware
from web.app import create_app as web_app


def gateway_body_limit() -> int:
    """The local gateway's body limit, like nginx's `client_max_body_size`: the largest any
    service route takes."""
    from services.catalogue.api import FORM_BODY_BYTES, PROCEDURE_BODY_BYTES
    from services.dossiers.api import ATTACHMENT_BODY_BYTES, RESULT_BODY_BYTES

    return max(FORM_BODY_BYTES, PROCEDURE_BODY_BYTES, ATTACHMENT_BODY_BYTES, RESULT_BODY_BYTES)


def create_gateway() -> FastAPI:
    apps: dict[str, FastAPI] = {
        service: importlib.import_module(f"services.{service}.app").create_app()
        for service in SERVICES
    }
    pages = web_app()
    redis_url = ServiceSettings().redis_url
    mail_dir = os.environ.get("PORTAL_MAIL_DIR")
    health = PortalHealth(
        {name: app.state.db for name, app in apps.items()}, redis_url, QUEUES, SERVICES
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Starlette does not run the lifespans of mounted apps: enter them here.
        async with AsyncExitStack() as stack:
            stack.push_async_callback(health.close)
            for app in (*apps.values(), pages):
                await stack.enter_async_context(app.router.lifespan_context(app))
            yield

    gateway = FastAPI(
        title="Cổng Dịch vụ công — gateway",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    # the largest body any route takes (a result's files); each route's own limit is lower
    gateway.add_middleware(BodyLimitMiddleware, max_bytes=gateway_body_limit())
    gateway.add_middleware(MetricsMiddleware, service="gateway")
    backlog = BacklogCollector(redis_url, SERVICES)

    @gateway.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        await backlog.refresh()
        body, content_type = render(scrape_registry(backlog))
        return Response(body, media_type=content_type)

    @gateway.get("/api/v1/{service}/metrics", include_in_schema=False)
    async def no_service_metrics(service: str) -> None:
        """Like the nginx gateway: the services' /metrics are not passed on."""
        raise HTTPException(404)

    # The gateway's own answers (e.g. a path no service matches, such as one with a newline
    # that the mounts' patterns refuse) are problem+json like the services' answers.
    install_problem_handlers(gateway)
    for name in PUBLIC_APIS:
        gateway.mount(f"/api/v1/{name}", apps[name])

    @gateway.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """200 once every service's database, Redis, a worker per queue and a relay per
        outbox answer; 503 before, saying what is missing. An `ok` may be one second stale
        (`PortalHealth`)."""
        checks = await health.checks()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "starting", "checks": checks},
            status_code=200 if ok else 503,
        )

    @gateway.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"/api/v1/{PUBLIC_APIS[0]}/openapi.json",
            title="Cổng Dịch vụ công — API",
            swagger_ui_parameters={
                "urls": [
                    {"url": f"/api/v1/{name}/openapi.json", "name": name} for name in PUBLIC_APIS
                ],
                "persistAuthorization": True,
            },
        )

    if mail_dir:
        from portal.mailcatcher import read_mail

        @gateway.get("/mail", include_in_schema=False)
        async def mail() -> HTMLResponse:
            rows = "".join(
                "<article style='border-bottom:1px solid #ccc;padding:8px 0'>"
                f"<b>{html.escape(m['subject'])}</b><br>"
                f"<small>{html.escape(m['to'])} · {html.escape(m['date'])} · "
                f"{html.escape(m['file'])}</small>"
                f"<pre style='white-space:pre-wrap'>{html.escape(m['text'])}</pre></article>"
                for m in read_mail(Path(mail_dir))
            )
            page = (
                "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
                "<title>Thư đã nhận (mail catcher)</title></head>"
                "<body style='font-family:sans-serif;max-width:50em;margin:2em auto'>"
                f"<h1>Thư đã nhận</h1><p>Thư mục: {html.escape(mail_dir)}</p>"
                f"{rows or '<p>Chưa có thư nào.</p>'}</body></html>"
            )
            return HTMLResponse(page)

    gateway.mount("/", outside_the_apis(pages))  # last: whatever no route above took is a page
    return gateway


NO_SUCH_API = Text("Không tìm thấy tài nguyên yêu cầu.", "The resource was not found.")


def outside_the_apis(pages: ASGIApp) -> ASGIApp:
    """The pages take every path but `/api/…`: a path there that no API took (one with a
    newline, another version, another name) is the gateway's problem+json 404, as nginx's
    `location /api/` answers it in deployment — never an HTML page to an API client."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            request = Request(scope, receive)
            detail = NO_SUCH_API(request_language(request))
            await problem_response(request, "not-found", detail)(scope, receive, send)
            return
        await pages(scope, receive, send)

    return app

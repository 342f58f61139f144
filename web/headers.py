"""What every answer of the web app carries: a strict Content-Security-Policy (no inline
script or style: the pages use none), no sniffing, no framing, a referrer policy, and a cache
policy — static files versioned by content are cached for a year, pages are private. An error
no page handled becomes the 500 page here, with the same headers, instead of a trace."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.clients.base import client_address, request_id

log = logging.getLogger("web")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Bootstrap's CSS draws a few icons as data: SVG; captchas
        "media-src 'self' data:",  # a captcha's sound, when the API offers it
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


class PageHeaders:
    def __init__(self, app: ASGIApp, *, production: bool, static_max_age: int, error_page: bytes):
        self.app = app
        self.production = production
        self.static_max_age = static_max_age
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:128]
        rid = rid or uuid.uuid4().hex  # the gateway's, or one made here: sent on to the APIs
        token = request_id.set(rid)
        client = scope.get("client")
        address_token = client_address.set(client[0] if client else None)
        started = time.perf_counter()
        path: str = scope["path"]
        versioned = path.startswith("/static/") and b"v=" in scope.get("query_string", b"")
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if self.production:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                if path.startswith("/static/"):
                    age = self.static_max_age if versioned else 3600
                    extra = ", immutable" if versioned else ""
                    headers["Cache-Control"] = f"public, max-age={age}{extra}"
                elif "cache-control" not in headers:
                    headers["Cache-Control"] = "private, no-cache"
                elapsed = (time.perf_counter() - started) * 1000
                headers.append("Server-Timing", f"web;dur={elapsed:.1f}")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), path)
            if response_started:
                raise
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": self.error_page})
        finally:
            request_id.reset(token)
            client_address.reset(address_token)

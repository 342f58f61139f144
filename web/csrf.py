"""CSRF protection for every state-changing request of the pages, urlencoded and multipart
alike: a synchronizer token kept in the server-side session (a hidden `csrf_token` field in
every form, masked anew on each page so compressed pages do not leak it — BREACH), plus a check
that the browser says the request comes from the portal itself (`Sec-Fetch-Site`, `Origin`).

A small module of our own rather than a library: `asgi-csrf` fails on multipart bodies with the
python-multipart version this project pins, `starlette-csrf` reads the token from a header only
(it needs JavaScript, and every flow here must work without it).

The check runs in the route class (`ProtectedRoute`) every page router uses, before the page's
own code and after Starlette parsed the form once (the page reads the same parsed form): a page
cannot forget it. tests/web/test_structure.py checks that every POST/PUT/PATCH/DELETE route of
the web app is a `ProtectedRoute`."""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import Message

FIELD = "csrf_token"
SESSION_KEY = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})
"""`none`: the person typed the address or used a bookmark; anything else (same-site,
cross-site) is another site's form."""


class CsrfRefused(Exception):
    """The form did not come from a page of the portal in this session."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _session_token(request: Request) -> str:
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def form_token(request: Request) -> str:
    """The value of the hidden field: the session's token XORed with a fresh pad."""
    secret = _session_token(request).encode()
    pad = secrets.token_bytes(len(secret))
    masked = bytes(a ^ b for a, b in zip(secret, pad, strict=True))
    return base64.urlsafe_b64encode(pad + masked).decode()


def _unmask(value: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except (ValueError, UnicodeEncodeError):
        return None
    half = len(raw) // 2
    if half == 0 or len(raw) != 2 * half:
        return None
    return bytes(a ^ b for a, b in zip(raw[:half], raw[half:], strict=True))


def check_origin(request: Request, allowed_origins: set[str]) -> None:
    """What the browser says about where the form was: refused when another site sent it."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in TRUSTED_FETCH_SITES:
        raise CsrfRefused(f"Sec-Fetch-Site: {site}")
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() not in allowed_origins:
        raise CsrfRefused(f"Origin: {origin}")


async def verify(request: Request) -> None:
    """Raises `CsrfRefused` unless the request carries this session's token and comes from
    the portal's own origin."""
    allowed = {request.app.state.settings.public_origin, _own_origin(request)}
    check_origin(request, allowed)
    form = await request.form()
    sent = form.get(FIELD)
    expected = request.session.get(SESSION_KEY)
    if not isinstance(sent, str) or not isinstance(expected, str):
        raise CsrfRefused("no token")
    unmasked = _unmask(sent)
    if unmasked is None or not hmac.compare_digest(unmasked, expected.encode()):
        raise CsrfRefused("wrong token")


def _own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}".lower()


FORM_BODY_BYTES = 1024 * 1024
"""A page form's body, unless its route takes files (`max_body_size=`): checked before the form
is parsed, so a stranger cannot make the web app write large bodies to disk on any route."""


UPLOAD_BODY_BYTES = 55 * 1024 * 1024
"""A form that carries files (a dossier's, a result's, a form template): a dossier's 50 MB and
the form around them; nginx's `client_max_body_size` on the same routes."""


class ProtectedRoute(APIRoute):
    """A page route whose unsafe methods are refused without a valid CSRF token, and whose body
    is bounded (`max_body_size`, else `FORM_BODY_BYTES`): 413 before anything is read."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # enforced here, answered with the 413 page: given to FastAPI, Starlette's own limiter
        # would answer in plain text (see services.kernel.web.PortalRoute)
        self.body_limit: int | None = kwargs.pop("max_body_size", None)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def protected(request: Request) -> Response:
            if request.method not in SAFE_METHODS:
                _bound_body(request, self.body_limit or FORM_BODY_BYTES)
                await verify(request)
            return await handler(request)

        return protected


def _bound_body(request: Request, limit: int) -> None:
    """Refuse a body announced larger than `limit`; count one that streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413)
    receive = request._receive  # noqa: SLF001 (Starlette reads the body through it)
    received = 0

    async def receive_bounded() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise HTTPException(413)
        return message

    request._receive = receive_bounded  # noqa: SLF001


def page_router(**kwargs: Any) -> APIRouter:
    """The router every page module uses."""
    return APIRouter(route_class=ProtectedRoute, include_in_schema=False, **kwargs)

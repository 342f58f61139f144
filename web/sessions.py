"""Server-side sessions in Redis (starsessions' RedisStore): the cookie holds an opaque random
id only — HttpOnly, SameSite=Lax, Secure and `__Host-` prefixed in production — and a session
nobody used for `WEB_SESSION_IDLE_SECONDS` expires (rolling lifetime: each request pushes the
expiry back, in Redis and in the cookie). The API's tokens of a signed-in person are kept on
the server too, beside the session (`web.auth`), and never reach the browser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send
from starsessions import SessionMiddleware
from starsessions.session import get_session_handler, regenerate_session_id
from starsessions.stores.redis import RedisStore

from web.settings import WebSettings

KEY_PREFIX = "web:session:"


class LoadSession:
    """Loads the session of every request before the page runs (one Redis GET, none without a
    cookie). A cookie naming no stored session is not adopted: if the request stores anything,
    it gets a fresh id, so nobody can plant a session id in a citizen's browser and share it
    (session fixation)."""

    def __init__(self, app: ASGIApp, on_signed_in: Callable[[str], Awaitable[None]]) -> None:
        self.app = app
        self.on_signed_in = on_signed_in
        """Pushes back the expiry of what is kept beside the session (the API's tokens)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = get_session_handler(Request(scope))
            await handler.load()
            if handler.session_id and handler.initially_empty:
                handler.session_id = None
            elif handler.session_id and "person" in scope["session"]:
                await self.on_signed_in(handler.session_id)
        await self.app(scope, receive, send)


def install_sessions(
    app: FastAPI,
    settings: WebSettings,
    redis: aioredis.Redis,
    on_signed_in: Callable[[str], Awaitable[None]],
) -> None:
    app.add_middleware(LoadSession, on_signed_in=on_signed_in)
    app.add_middleware(
        SessionMiddleware,
        store=RedisStore(connection=redis, prefix=KEY_PREFIX),
        lifetime=settings.session_idle_seconds,
        rolling=True,
        cookie_name=settings.session_cookie,
        cookie_same_site="lax",
        cookie_https_only=settings.production,
        cookie_path="/",
    )


@dataclass(frozen=True)
class SignedIn:
    """Who the session belongs to, as the header and the pages show it."""

    account_id: str
    email: str
    full_name: str
    role: str
    agency_id: str | None = None


def signed_in(request: Request) -> SignedIn | None:
    person = request.session.get("person")
    if not isinstance(person, dict):
        return None
    try:
        return SignedIn(**person)
    except TypeError:
        return None


def start_signed_in(request: Request, person: SignedIn) -> str:
    """A new session id for the signed-in person (nothing of the anonymous session is kept
    but its CSRF token); returns the id, under which `web.auth` keeps the API's tokens."""
    keep = {k: v for k, v in request.session.items() if k == "csrf"}
    request.session.clear()
    session_id = regenerate_session_id(request)
    request.session.update(keep)
    request.session["person"] = person.__dict__
    return session_id


def session_id(request: Request) -> str | None:
    return get_session_handler(request).session_id


def end(request: Request) -> None:
    """Forget everything: the Redis key is deleted and the cookie expired."""
    request.session.clear()


def flash(request: Request, message: str) -> None:
    """A status message for the next page this session shows (after a redirect)."""
    request.session.setdefault("flash", []).append(message)


def take_flashes(request: Request) -> list[str]:
    messages = request.session.pop("flash", None)
    return [m for m in messages if isinstance(m, str)] if isinstance(messages, list) else []


def remember_email(request: Request, email: str) -> None:
    """The address a person just used (registration, reset): the next form is filled in with
    it, without putting it in a URL."""
    request.session["email"] = email


def remembered_email(request: Request) -> str:
    value = request.session.get("email")
    return value if isinstance(value, str) else ""

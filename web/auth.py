"""The API's tokens of a signed-in person: kept in Redis beside the session (key
`web:tokens:<session id>`, the same idle expiry), never in the browser, and refreshed under a
per-session lock.

Why beside the session and not in it: the session is written back whole at the end of every
request, so a request that began before another refreshed the tokens would put the old pair
back — and the API ends a session whose refresh token is used twice. Only the refresh writes
this key, under the lock: two tabs (or two requests of one page) never refresh twice; the
second waits for the first and uses the pair it got."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import Annotated
from urllib.parse import urlencode

import redis.asyncio as aioredis
from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException

from web import sessions
from web.clients.accounts import AccountsClient, TokenPair
from web.clients.base import ApiProblem

TOKENS_PREFIX = "web:tokens:"
LOCK_PREFIX = "web:refresh-lock:"
REFRESH_MARGIN = 30.0
"""Seconds before the access token's expiry at which it is refreshed rather than sent."""
LOCK_SECONDS = 15
WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class HeldTokens:
    access: str
    refresh: str
    expires_at: float

    @classmethod
    def of(cls, pair: TokenPair) -> HeldTokens:
        return cls(pair.access_token, pair.refresh_token, time.time() + pair.expires_in)

    @property
    def fresh(self) -> bool:
        return self.expires_at - REFRESH_MARGIN > time.time()


class TokenKeeper:
    def __init__(self, redis: aioredis.Redis, idle_seconds: int) -> None:
        self.redis = redis
        self.idle_seconds = idle_seconds

    async def read(self, session_id: str) -> HeldTokens | None:
        raw = await self.redis.get(TOKENS_PREFIX + session_id)
        if not raw:
            return None
        try:
            return HeldTokens(**json.loads(raw))
        except (TypeError, ValueError):
            return None

    async def write(self, session_id: str, tokens: HeldTokens) -> None:
        await self.redis.set(
            TOKENS_PREFIX + session_id, json.dumps(asdict(tokens)), ex=self.idle_seconds
        )

    async def forget(self, session_id: str) -> None:
        await self.redis.delete(TOKENS_PREFIX + session_id)

    async def touch(self, session_id: str) -> None:
        """The session was used: its tokens live as long as it does."""
        await self.redis.expire(TOKENS_PREFIX + session_id, self.idle_seconds)

    async def current(self, session_id: str, accounts: AccountsClient) -> HeldTokens | None:
        """A pair whose access token is good for a while, refreshing it at most once however
        many requests of this session ask at the same moment; None when the API ended the
        session (the refresh token was revoked or expired)."""
        held = await self.read(session_id)
        if held is None or held.fresh:
            return held
        lock = LOCK_PREFIX + session_id
        deadline = time.monotonic() + WAIT_SECONDS
        while not await self.redis.set(lock, "1", nx=True, ex=LOCK_SECONDS):
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        try:
            held = await self.read(session_id)  # another request may have refreshed it
            if held is None or held.fresh:
                return held
            try:
                pair = await accounts.refresh(held.refresh)
            except ApiProblem as problem:
                if problem.status in (400, 401, 403):
                    await self.forget(session_id)
                    return None
                raise
            held = HeldTokens.of(pair)
            await self.write(session_id, held)
            return held
        finally:
            await self.redis.delete(lock)


def keeper(request: Request) -> TokenKeeper:
    # Starlette's app.state holds Any; create_app put the token store there
    return request.app.state.tokens  # type: ignore[no-any-return]


async def access_token(request: Request) -> str | None:
    """The signed-in person's access token for an API call, or None (not signed in, or the
    API ended the session: then the page's session ends too)."""
    session_id = sessions.session_id(request)
    if session_id is None or sessions.signed_in(request) is None:
        return None
    held = await keeper(request).current(session_id, request.app.state.clients.accounts)
    if held is None:
        sessions.end(request)
        return None
    return held.access


class SignInRequired(Exception):
    """A page for signed-in people only: the sign-in page first, then back here."""

    page = "/dang-nhap"
    """Where the person signs in."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class StaffSignInRequired(SignInRequired):
    """A page for officers and admins: their sign-in page ("Cán bộ đăng nhập") first."""

    page = "/can-bo/dang-nhap"


def sign_in_redirect(target: str, page: str = "/dang-nhap") -> RedirectResponse:
    return RedirectResponse(page + "?" + urlencode({"tiep": target}), status_code=303)


async def _required_token(request: Request) -> str:
    token = await access_token(request)
    if token is None:
        raise SignInRequired(request.url.path)
    return token


AccessToken = Annotated[str, Depends(_required_token)]
"""A page parameter: the signed-in person's access token; without one, the sign-in page."""


@dataclass(frozen=True)
class StaffMember:
    """An officer or admin on one of their pages, with the access token for its API calls."""

    person: sessions.SignedIn
    token: str


async def staff_member(request: Request, role: str) -> StaffMember:
    """The signed-in person when their role is `role`: otherwise the officers' sign-in page
    (nobody signed in) or the 403 page (a citizen, or the other staff role). The role is the
    one the API gave at sign-in; the APIs check it again on every call."""
    person = sessions.signed_in(request)
    if person is None:
        raise StaffSignInRequired(request.url.path)
    if person.role != role:
        raise HTTPException(403)
    token = await access_token(request)
    if token is None:
        raise StaffSignInRequired(request.url.path)
    return StaffMember(person, token)

"""Revoked sessions, which every service refuses although it verifies access tokens itself.

An access token carries its session's id (`sid`: the refresh-token family). When accounts ends
sessions — a logout, a refresh token used twice, a password change (the other sessions) or a
reset (all) — it stages a `SessionsRevokedV1` message in its outbox in the same transaction; its
own worker writes each id to Redis (`revoked_session_key`), to live as long as an access token
of that session can (the token lifetime plus clock skew, from the revocation time). Going
through the outbox means a committed revocation is never lost: the relay keeps publishing while
Redis is down, and publishes again what Redis lost if it restarts empty.

Every service checks the id of each token it accepts (`RevocationCheck`), through a small
per-process cache: an answer is reused for `cache_seconds` (5 s), so a busy service asks Redis
about a session at most once per 5 s, and a revocation takes effect everywhere within the
outbox's delay (well under a second) plus those 5 s. When Redis does not answer, the check
lets the token through (it is still signed, unexpired and at most 15 minutes old) and logs it:
refusing every signed-in request while Redis is down would take the whole portal down with it,
and Redis down stops the portal's messages anyway. It asks again after `retry_seconds`."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import OrderedDict

from services.kernel.shared_store import RedisError, shared_redis

log = logging.getLogger("portal.revocation")

CLOCK_SKEW = 60
"""Seconds a token's expiry may be judged late by a verifier whose clock runs behind."""


def revoked_session_key(session_id: str) -> str:
    return f"portal:revoked-session:{session_id}"


def revocation_lifetime(revoked_at: dt.datetime, token_ttl: int, now: dt.datetime) -> int:
    """Seconds a revocation must still be kept: until the last access token of the session,
    issued at the latest at `revoked_at`, has expired everywhere; 0 when that has passed."""
    end = revoked_at + dt.timedelta(seconds=token_ttl + CLOCK_SKEW)
    return max(0, int((end - now).total_seconds() + 0.999))


async def record_revoked_sessions(
    redis_url: str, session_ids: list[str], revoked_at: dt.datetime, token_ttl: int
) -> int:
    """Write the revocations (idempotent: each key is set again with what is left of its
    life); returns how many were written. Raises RedisError when Redis does not answer."""
    seconds = revocation_lifetime(revoked_at, token_ttl, dt.datetime.now(dt.UTC))
    if not seconds or not session_ids:
        return 0
    async with shared_redis(redis_url).pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.set(revoked_session_key(session_id), b"1", ex=seconds)
        await pipe.execute()
    return len(session_ids)


class RevocationCheck:
    """Whether a session was revoked, asked of Redis at most once per `cache_seconds` per
    session in this process (at most `max_entries` sessions remembered)."""

    def __init__(
        self,
        redis_url: str,
        *,
        cache_seconds: float = 5.0,
        retry_seconds: float = 2.0,
        max_entries: int = 50_000,
    ) -> None:
        self.redis_url = redis_url
        self.cache_seconds = cache_seconds
        self.retry_seconds = retry_seconds
        self.max_entries = max_entries
        self._answers: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._unreachable_until = 0.0

    async def is_revoked(self, session_id: str) -> bool:
        now = time.monotonic()
        cached = self._answers.get(session_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        if now < self._unreachable_until:
            return False
        try:
            key = revoked_session_key(session_id)
            revoked = bool(await shared_redis(self.redis_url).exists(key))
        except (RedisError, OSError) as exc:
            self._unreachable_until = now + self.retry_seconds
            log.warning("session revocations unreadable (%s): tokens accepted unchecked", exc)
            return False
        self._answers[session_id] = (revoked, now + self.cache_seconds)
        self._answers.move_to_end(session_id)
        while len(self._answers) > self.max_entries:
            self._answers.popitem(last=False)
        return revoked

"""Captchas any service can verify without asking the one that issued them.

The issuer (accounts) draws the image and seals the answer into the captcha id: a Fernet token
(AES-128-CBC + HMAC-SHA256, with its issue time) under a key derived from the shared secret
`PORTAL_CAPTCHA_SECRET`. A verifying service opens the token with the same secret — tampered,
foreign or expired ids open to nothing — and spends it: once means once across the portal, so
the token's `jti` is recorded in Redis, which every service shares (`SET … NX EX`: the first
service to set it wins, and it is kept until the captcha has expired everywhere). Each verifying
service also records it in a table of its own (`SpentCaptchaMixin`), in a transaction of its own
so a refused request does not forget it: the second line when Redis does not answer (then an id
is still answered once per service) or restarted without its data. `verify_captcha` does all of
that in one call; a wrong answer spends the id too (one guess per image).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import logging
import os
import secrets
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import (
    CONFLICT_DIALECTS,
    UTCDateTime,
    conflict_insert,
    own_transaction,
    utcnow,
)
from services.kernel.errors import FieldError, ProblemError, Text
from services.kernel.shared_store import RedisError, shared_redis

if TYPE_CHECKING:
    from services.kernel.settings import ServiceSettings

log = logging.getLogger("portal.captcha")

TEST_ANSWER = "TEST"
"""Also accepted when PORTAL_CAPTCHA=test (never in production: see check_production)."""

CLOCK_SKEW = 60
"""Seconds a token's issue time may lie in the future (Fernet's own allowance): a spent id is
kept this much longer than the captcha's lifetime, so it cannot come back valid on a host whose
clock runs behind the issuer's."""

_HKDF_INFO = b"portal captcha challenge v1"


# -- the shared secret ----------------------------------------------------------------------------


def ensure_secret_file(path: Path) -> str:
    """The secret in `path`, created (random, mode 0600) by whichever process comes first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic, and never replaces a secret another process wrote
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def load_captcha_secret(settings: ServiceSettings) -> str:
    """PORTAL_CAPTCHA_SECRET; outside production, when unset, the file
    `<data dir>/keys/captcha-secret`, created on first use (every service of one `portal run`
    shares the data dir, so they share the secret)."""
    if settings.captcha_secret:
        return settings.captcha_secret
    if settings.production:
        raise RuntimeError("production needs PORTAL_CAPTCHA_SECRET")
    return ensure_secret_file(settings.captcha_secret_path)


# -- sealing and opening --------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _fernet(secret: str) -> Fernet:
    if not secret:
        raise ValueError("empty captcha secret")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal_challenge(secret: str, answer: str, ttl: int, *, now: float | None = None) -> str:
    """The captcha id for `answer`: a Fernet token of {"jti", "a", "ttl"}. `ttl` (seconds) is
    sealed in too: a verifier honours the shorter of its own and the issuer's. `now` (a Unix
    time) backdates or postdates the token, for tests."""
    payload = json.dumps(
        {"jti": secrets.token_urlsafe(16), "a": answer.strip().upper(), "ttl": int(ttl)},
        separators=(",", ":"),
    ).encode()
    fernet = _fernet(secret)
    token = fernet.encrypt(payload) if now is None else fernet.encrypt_at_time(payload, int(now))
    return token.decode("ascii")


def open_challenge(
    secret: str, captcha_id: str, ttl: int, *, now: float | None = None
) -> tuple[str, str] | None:
    """(jti, answer) of a captcha id sealed with `secret` less than `ttl` seconds ago; None when
    it is tampered with, sealed with another secret, malformed or expired."""
    fernet = _fernet(secret)
    current = int(now if now is not None else time.time())
    try:
        token = captcha_id.encode("ascii")
        payload: Any = json.loads(fernet.decrypt_at_time(token, ttl, current))
        # the issuer may have promised a shorter life than this verifier allows: hold it to that
        issued = fernet.extract_timestamp(token)
    except (InvalidToken, UnicodeError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    jti, answer, sealed_ttl = payload.get("jti"), payload.get("a"), payload.get("ttl", ttl)
    if not (isinstance(jti, str) and isinstance(answer, str) and isinstance(sealed_ttl, int)):
        return None
    if not jti or len(jti) > 40 or not answer or current - issued > sealed_ttl:
        return None
    return jti, answer


def answer_matches(given: str, answer: str, test_mode: bool) -> bool:
    """Case-insensitive, surrounding spaces ignored; in test mode `test` is right too."""
    wanted = given.strip().upper().encode()
    return hmac.compare_digest(wanted, answer.strip().upper().encode()) or (
        test_mode and wanted == TEST_ANSWER.encode()
    )


# -- single use: across the portal in Redis, and in the verifying service's own table -------------


def spent_captcha_key(jti: str) -> str:
    return f"portal:spent-captcha:{jti}"


async def spend_captcha_across_portal(redis_url: str, jti: str, ttl: int) -> bool | None:
    """True the first time any service spends `jti`, False after; None when Redis does not
    answer. Kept until the captcha has expired, whatever clock skew (`CLOCK_SKEW`)."""
    try:
        first = await shared_redis(redis_url).set(
            spent_captcha_key(jti), b"1", nx=True, ex=ttl + CLOCK_SKEW
        )
    except (RedisError, OSError) as exc:
        log.warning("spent captchas unreadable in Redis (%s): this service's table only", exc)
        return None
    return bool(first)


class SpentCaptchaMixin:
    """A verifying service's table of spent captcha ids, e.g.
    `class SpentCaptcha(SpentCaptchaMixin, Base): __tablename__ = "spent_captchas"`."""

    jti: Mapped[str] = mapped_column(String(40), primary_key=True)
    spent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


async def spend_captcha(session: AsyncSession, model: type[SpentCaptchaMixin], jti: str) -> bool:
    """Record `jti` as spent in the session's transaction; True the first time only. Two
    concurrent requests with one id cannot both win: the primary key decides (PostgreSQL makes
    the second wait for the first transaction, then skips the row)."""
    values = {"jti": jti, "spent_at": utcnow()}
    if session.get_bind().dialect.name in CONFLICT_DIALECTS:
        statement = (
            conflict_insert(session, model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["jti"])
            .returning(model.jti)
        )
        return (await session.execute(statement)).scalar_one_or_none() is not None
    try:
        async with session.begin_nested():
            session.add(model(**values))
            await session.flush()
    except IntegrityError:
        return False
    return True


async def verify_captcha(
    session: AsyncSession,
    model: type[SpentCaptchaMixin],
    *,
    secret: str,
    captcha_id: str,
    answer: str,
    ttl: int,
    test_mode: bool,
    redis_url: str,
) -> bool:
    """Open the captcha id, spend it across the portal and in this service's table (a wrong
    answer spends it too: one guess per image), and compare the answer. The spending outlives
    the request's answer: Redis keeps it, and the table row is committed in a transaction of
    its own (`own_transaction`), before the request has written anything."""
    opened = open_challenge(secret, captcha_id, ttl)
    if opened is None:
        return False
    jti, expected = opened
    if await spend_captcha_across_portal(redis_url, jti, ttl) is False:
        return False
    async with own_transaction(session) as side:
        if not await spend_captcha(side, model, jti):
            return False
    return answer_matches(answer, expected, test_mode)


async def purge_spent_captchas(
    session: AsyncSession,
    model: type[SpentCaptchaMixin],
    ttl: int,
    now: dt.datetime | None = None,
) -> int:
    """Forget spent ids whose captcha has expired everywhere; returns rows removed."""
    cutoff = (now or utcnow()) - dt.timedelta(seconds=ttl + CLOCK_SKEW)
    result = await session.execute(delete(model).where(model.spent_at < cutoff))
    # execute() is typed as returning a Result; a DELETE's is a CursorResult, with rowcount
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


CAPTCHA_INVALID = Text(
    "Mã xác nhận không đúng hoặc đã hết hạn. Vui lòng lấy mã mới.",
    "The captcha answer is wrong or expired. Please get a new captcha.",
)


class CaptchaInvalid(ProblemError):
    """The answer to a wrong, spent or expired captcha, the same in every service."""

    code = "captcha-invalid"
    status = 400
    detail = CAPTCHA_INVALID

    def __init__(self) -> None:
        super().__init__(errors=[FieldError("captcha_answer", "captcha_invalid", CAPTCHA_INVALID)])

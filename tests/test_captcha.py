"""services/kernel/captcha.py on its own: sealing and opening captcha ids, answers, single use
across services (Redis, REDIS_URL) with each service's table as the second line (SQLite here;
PostgreSQL too when DATABASE_URL is set, requests racing for one id) and the shared secret's
file. No service is started or imported."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from services.kernel.captcha import (
    CLOCK_SKEW,
    SpentCaptchaMixin,
    _fernet,
    answer_matches,
    ensure_secret_file,
    load_captcha_secret,
    open_challenge,
    purge_spent_captchas,
    seal_challenge,
    spend_captcha,
    verify_captcha,
)
from services.kernel.db import utcnow
from services.kernel.settings import ServiceSettings

SECRET = "a" * 64
TTL = 600


class Base(DeclarativeBase):
    pass


class SpentCaptcha(SpentCaptchaMixin, Base):
    __tablename__ = "spent_captchas"


# -- sealing and opening --------------------------------------------------------------------------


def test_a_sealed_id_opens_to_its_answer_uppercased_with_a_fresh_jti() -> None:
    first, second = seal_challenge(SECRET, "ab3de", TTL), seal_challenge(SECRET, "ab3de", TTL)
    assert first != second
    opened_first, opened_second = (
        open_challenge(SECRET, first, TTL),
        open_challenge(SECRET, second, TTL),
    )
    assert opened_first is not None and opened_second is not None
    assert opened_first[1] == opened_second[1] == "AB3DE"
    assert opened_first[0] != opened_second[0] and len(opened_first[0]) <= 40
    assert len(first) <= 300  # what the APIs accept as a captcha_id
    assert "AB3DE" not in base64.urlsafe_b64decode(first + "==").decode("latin-1")  # encrypted


def test_another_secret_tampering_and_garbage_open_to_nothing() -> None:
    captcha_id = seal_challenge(SECRET, "AB3DE", TTL)
    assert open_challenge("b" * 64, captcha_id, TTL) is None
    raw = bytearray(base64.urlsafe_b64decode(captcha_id))
    for position in (10, 30, len(raw) - 1):  # iv, ciphertext, hmac
        tampered = raw.copy()
        tampered[position] ^= 1
        assert open_challenge(SECRET, base64.urlsafe_b64encode(tampered).decode(), TTL) is None
    for garbage in ("", "nope", captcha_id[:-4], "ờ" * 10, "%" * 120):
        assert open_challenge(SECRET, garbage, TTL) is None
    # base64 is lenient about what trails the padding, but the same bytes carry the same jti:
    # single use holds however the id is spelled
    assert open_challenge(SECRET, captcha_id + "A", TTL) == open_challenge(SECRET, captcha_id, TTL)


def test_a_token_of_the_right_key_but_the_wrong_payload_is_refused() -> None:
    fernet = _fernet(SECRET)
    for payload in (b"[]", b"not json", b'{"a": "X"}', b'{"jti": 1, "a": "X"}', b'{"jti": "j"}'):
        assert open_challenge(SECRET, fernet.encrypt(payload).decode(), TTL) is None
    long_jti = json.dumps({"jti": "j" * 41, "a": "X"}).encode()
    assert open_challenge(SECRET, fernet.encrypt(long_jti).decode(), TTL) is None
    assert open_challenge(SECRET, fernet.encrypt(b'{"jti": "j", "a": "X"}').decode(), TTL) == (
        "j",
        "X",
    )


def test_expired_ids_are_refused() -> None:
    now = time.time()
    old = seal_challenge(SECRET, "AB3DE", TTL, now=now - TTL - 5)
    assert open_challenge(SECRET, old, TTL) is None
    assert open_challenge(SECRET, old, TTL, now=now - 10) is not None
    recent = seal_challenge(SECRET, "AB3DE", TTL, now=now - 30)
    assert open_challenge(SECRET, recent, TTL) is not None
    assert open_challenge(SECRET, recent, 20) is None  # the verifier's ttl is an upper bound
    short = seal_challenge(SECRET, "AB3DE", 20, now=now - 30)  # the issuer's ttl too
    assert open_challenge(SECRET, short, TTL) is None
    future = seal_challenge(SECRET, "AB3DE", TTL, now=now + 2 * CLOCK_SKEW)
    assert open_challenge(SECRET, future, TTL) is None  # Fernet refuses a far-future issue time


def test_the_key_is_derived_from_the_secret_not_the_secret_itself() -> None:
    captcha_id = seal_challenge(SECRET, "AB3DE", TTL)
    naive = Fernet(base64.urlsafe_b64encode(bytes.fromhex(SECRET[:64])))
    with pytest.raises(Exception):  # noqa: B017, PT011
        naive.decrypt(captcha_id.encode())
    with pytest.raises(ValueError):
        seal_challenge("", "AB3DE", TTL)


def test_answers_compare_without_case_or_spaces_and_test_only_in_test_mode() -> None:
    assert answer_matches(" ab3de ", "AB3DE", test_mode=False)
    assert not answer_matches("ab3dx", "AB3DE", test_mode=False)
    assert not answer_matches("", "AB3DE", test_mode=False)
    assert not answer_matches("test", "AB3DE", test_mode=False)
    assert answer_matches(" Test", "AB3DE", test_mode=True)
    assert not answer_matches("mã sai", "AB3DE", test_mode=True)  # not ASCII: no exception


# -- the secret -----------------------------------------------------------------------------------


def test_the_secret_comes_from_the_setting_or_a_shared_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("PORTAL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PORTAL_DATA_DIR", str(tmp_path))
    settings = ServiceSettings()
    secret = load_captcha_secret(settings)
    path = tmp_path / "keys" / "captcha-secret"
    assert path.read_text() == secret and len(secret) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_captcha_secret(ServiceSettings(service_name="dossiers")) == secret
    assert ensure_secret_file(path) == secret
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind

    monkeypatch.setenv("PORTAL_CAPTCHA_SECRET", "from-the-environment")
    assert load_captcha_secret(ServiceSettings()) == "from-the-environment"


def test_production_needs_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("PORTAL_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PORTAL_ENV", "production")
    settings = ServiceSettings(database_url="postgresql://db/x")
    with pytest.raises(RuntimeError, match="PORTAL_CAPTCHA_SECRET"):
        settings.check_production()
    with pytest.raises(RuntimeError, match="PORTAL_CAPTCHA_SECRET"):
        load_captcha_secret(settings)
    monkeypatch.setenv("PORTAL_CAPTCHA_SECRET", SECRET)
    settings = ServiceSettings(database_url="postgresql://db/x")
    settings.check_production()
    assert load_captcha_secret(settings) == SECRET


# -- single use -----------------------------------------------------------------------------------


@asynccontextmanager
async def database(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


NO_REDIS = "redis://127.0.0.1:1/0"
"""Nothing listens there: Redis unreachable."""


async def verify(
    sessions: async_sessionmaker[AsyncSession],
    captcha_id: str,
    answer: str,
    redis_url: str,
    *,
    test_mode: bool = False,
    commit: bool = True,
) -> bool:
    async with sessions() as session:
        ok = await verify_captcha(
            session,
            SpentCaptcha,
            secret=SECRET,
            captcha_id=captcha_id,
            answer=answer,
            ttl=TTL,
            test_mode=test_mode,
            redis_url=redis_url,
        )
        if commit:
            await session.commit()
        else:
            await session.rollback()  # the request was refused for another reason
        return ok


def test_an_id_is_spent_once_even_by_a_wrong_answer(tmp_path: Path, redis_url: str) -> None:
    async def main() -> None:
        async with database(f"sqlite+aiosqlite:///{tmp_path / 'spent.db'}") as sessions:
            right = seal_challenge(SECRET, "AB3DE", TTL)
            assert await verify(sessions, right, "ab3de", redis_url)
            assert not await verify(sessions, right, "ab3de", redis_url)  # spent

            guessed = seal_challenge(SECRET, "AB3DE", TTL)
            assert not await verify(sessions, guessed, "wrong", redis_url)
            assert not await verify(sessions, guessed, "AB3DE", redis_url)  # the wrong one spent it

            assert await verify(
                sessions, seal_challenge(SECRET, "X", TTL), "test", redis_url, test_mode=True
            )
            foreign = seal_challenge("b" * 64, "AB3DE", TTL)
            assert not await verify(sessions, foreign, "AB3DE", redis_url)
            expired = seal_challenge(SECRET, "AB3DE", TTL, now=time.time() - TTL - 1)
            assert not await verify(sessions, expired, "AB3DE", redis_url)
            async with sessions() as session:
                spent = (await session.scalars(select(SpentCaptcha))).all()
            assert len(spent) == 3  # refused ids that did not open spend nothing

    asyncio.run(main())


def test_spent_at_one_service_is_spent_at_every_other(tmp_path: Path, redis_url: str) -> None:
    """Two services (two databases) share Redis: an id answered at one is refused at the
    other, even with the right answer, and even when the first request was refused."""

    async def main() -> None:
        accounts = database(f"sqlite+aiosqlite:///{tmp_path / 'accounts.db'}")
        dossiers = database(f"sqlite+aiosqlite:///{tmp_path / 'dossiers.db'}")
        async with accounts as at_accounts, dossiers as at_dossiers:
            captcha_id = seal_challenge(SECRET, "AB3DE", TTL)
            assert await verify(at_accounts, captcha_id, "AB3DE", redis_url, commit=False)
            assert not await verify(at_dossiers, captcha_id, "AB3DE", redis_url)
            assert not await verify(at_accounts, captcha_id, "AB3DE", redis_url)
            key = f"portal:spent-captcha:{open_challenge(SECRET, captcha_id, TTL)[0]}"  # type: ignore[index]
            client = redis.Redis.from_url(redis_url)
            try:
                assert TTL < client.ttl(key) <= TTL + CLOCK_SKEW
            finally:
                client.close()

    asyncio.run(main())


def test_without_redis_each_service_still_spends_an_id_once(tmp_path: Path) -> None:
    """Redis does not answer: the services' own tables are the second line (once per service;
    the refused request's spending is kept too)."""

    async def main() -> None:
        async with (
            database(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}") as one,
            database(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}") as other,
        ):
            captcha_id = seal_challenge(SECRET, "AB3DE", TTL)
            assert await verify(one, captcha_id, "AB3DE", NO_REDIS, commit=False)
            assert not await verify(one, captcha_id, "AB3DE", NO_REDIS)
            assert await verify(other, captcha_id, "AB3DE", NO_REDIS)

    asyncio.run(main())


def test_a_rolled_back_spend_is_forgotten_and_old_ids_are_purged(tmp_path: Path) -> None:
    async def main() -> None:
        async with database(f"sqlite+aiosqlite:///{tmp_path / 'spent.db'}") as sessions:
            async with sessions() as session:
                assert await spend_captcha(session, SpentCaptcha, "j1")
                assert not await spend_captcha(session, SpentCaptcha, "j1")  # same transaction
                await session.rollback()
            async with sessions() as session:
                assert await spend_captcha(session, SpentCaptcha, "j1")
                now = utcnow()
                session.add(SpentCaptcha(jti="old", spent_at=now - dt.timedelta(seconds=TTL + 30)))
                session.add(SpentCaptcha(jti="older", spent_at=now - dt.timedelta(hours=1)))
                await session.commit()
            async with sessions() as session:
                # kept for the captcha's life plus Fernet's clock-skew allowance
                assert await purge_spent_captchas(session, SpentCaptcha, TTL) == 1
                await session.commit()
                left = set((await session.scalars(select(SpentCaptcha.jti))).all())
            assert left == {"j1", "old"}

    asyncio.run(main())


def test_parallel_requests_with_one_id_on_postgresql(redis_url: str) -> None:
    """Five requests with one id at once: one is answered, whether Redis or (when it does not
    answer) the table decides."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.skip("set DATABASE_URL to race transactions on PostgreSQL")
    admin = re.sub(r"^postgresql(\+\w+)?://", "postgresql://", url)
    name = f"portal_test_captcha_{uuid.uuid4().hex[:8]}"
    target = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name

    async def admin_execute(statement: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def race(sessions: async_sessionmaker[AsyncSession], store: str) -> list[bool]:
        captcha_id = seal_challenge(SECRET, "AB3DE", TTL)
        return list(
            await asyncio.gather(*(verify(sessions, captcha_id, "AB3DE", store) for _ in range(5)))
        )

    async def main() -> None:
        await admin_execute(f'CREATE DATABASE "{name}"')
        try:
            async with database(target) as sessions:
                assert sorted(await race(sessions, redis_url)) == [False] * 4 + [True]
                assert sorted(await race(sessions, NO_REDIS)) == [False] * 4 + [True]
        finally:
            await admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    asyncio.run(main())


def test_an_audio_captcha_speaks_digits_and_seals_them(tmp_path: Path) -> None:
    """WCAG 1.1.1: the accessible alternative to the image is the same kind of challenge,
    spoken. Its answer is digits (what the voice can say), drawn and spoken alike."""
    import io
    import wave

    from services.accounts.security import (
        AUDIO_CAPTCHA_DIGITS,
        audio_data_url,
        make_audio_captcha,
    )

    made = make_audio_captcha()
    assert made.answer.isdigit() and len(made.answer) == AUDIO_CAPTCHA_DIGITS
    assert made.wav is not None and made.png.startswith(b"\x89PNG")
    with wave.open(io.BytesIO(made.wav)) as sound:
        seconds = sound.getnframes() / sound.getframerate()
    assert 2 < seconds < 30
    url = audio_data_url(made.wav)
    assert url.startswith("data:audio/wav;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == made.wav
    secret = "s" * 32
    assert open_challenge(secret, seal_challenge(secret, made.answer, 600), 600)[1] == made.answer  # type: ignore[index]

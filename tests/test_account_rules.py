"""The accounts' rules on their own, in process (no portal started): which throttles hold a
sign-in, device tokens, one-line names, what counts as a short code, the revocation store and
its per-process check (a Redis from REDIS_URL, and one that does not answer)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import pytest
import redis
from pydantic import ValidationError

from services.accounts.schemas import RegisterIn
from services.accounts.security import (
    device_token,
    is_short_code,
    new_link_token,
    open_device_token,
)
from services.accounts.service import ACCOUNT, CLIENT, DEVICE, PAIR, sign_in_keys
from services.kernel.revocation import (
    CLOCK_SKEW,
    RevocationCheck,
    record_revoked_sessions,
    revocation_lifetime,
    revoked_session_key,
)

SECRET = "b" * 64
NO_REDIS = "redis://127.0.0.1:1/0"


def test_an_unknown_client_is_held_by_the_account_wide_lock_a_known_one_is_not() -> None:
    unknown = sign_in_keys("an@example.vn", "203.0.113.9", None, known=False)
    assert set(unknown.checked) == {
        "pair:an@example.vn|203.0.113.9",
        "account:an@example.vn",
        "client:203.0.113.9",
    }
    known = sign_in_keys("an@example.vn", "198.51.100.7", None, known=True)
    assert "account:an@example.vn" not in known.checked
    assert known.counted[ACCOUNT] == "account:an@example.vn"  # its failures still count there
    assert set(known.counted) == set(unknown.counted) == {PAIR, ACCOUNT, CLIENT}
    device = sign_in_keys("an@example.vn", "203.0.113.9", "d1", known=False)
    assert device.checked == ["device:d1"] and device.counted == {DEVICE: "device:d1"}
    # success never clears the account-wide count: the owner signing in does not give a
    # guesser elsewhere a fresh start
    assert all(not key.startswith("account:") for key in unknown.cleared_on_success)


def test_device_tokens_name_their_account_and_expire() -> None:
    token = device_token(SECRET, "user1", "device1")
    assert open_device_token(SECRET, token, ttl=3600) == ("user1", "device1")
    assert open_device_token("c" * 64, token, ttl=3600) is None
    forged = token.replace("user1", "user2")
    assert open_device_token(SECRET, forged, ttl=3600) is None
    old = device_token(SECRET, "user1", "device1", issued=int(time.time()) - 7200)
    assert open_device_token(SECRET, old, ttl=3600) is None
    for garbage in ("", "dv1", "dv1.a.b.c.d", "x" * 200, token + "."):
        assert open_device_token(SECRET, garbage, ttl=3600) is None


def test_short_codes_are_six_digits_and_links_are_long() -> None:
    assert is_short_code("012345") and is_short_code(" 012345 ")
    for not_short in ("12345", "1234567", "١٢٣٤٥٦", "abcdef", new_link_token()):
        assert not is_short_code(not_short)
    assert len(new_link_token()) >= 43  # 256 random bits


def register_with(full_name: str) -> RegisterIn:
    return RegisterIn(
        email="an@example.vn",
        password="Ha-Tinh-2025-an-toan",
        full_name=full_name,
        captcha_id="x",
        captcha_answer="x",
    )


def test_names_are_one_trimmed_line_of_at_most_100_characters() -> None:
    assert register_with("  Nguyễn \u00a0 Văn   An ").full_name == "Nguyễn Văn An"
    assert register_with("Nguye\u0302\u0303n").full_name == "Nguyễn"  # NFC
    assert register_with("A" * 100).full_name == "A" * 100
    for bad in ("A\nB", "A\rB", "A\tB", "A\u2028B", "A\u202eB", "A\u200bB", "A\x00", "", " "):
        with pytest.raises(ValidationError) as refused:
            register_with(bad)
        assert refused.value.errors()[0]["loc"] == ("full_name",), bad
    with pytest.raises(ValidationError):
        register_with("A" * 101)


def test_a_revocation_lives_as_long_as_the_sessions_last_token_can() -> None:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    assert revocation_lifetime(now, 900, now) == 900 + CLOCK_SKEW
    assert revocation_lifetime(now - dt.timedelta(seconds=600), 900, now) == 300 + CLOCK_SKEW
    assert revocation_lifetime(now - dt.timedelta(hours=1), 900, now) == 0


def test_the_check_sees_a_revocation_within_its_cache_time(redis_url: str) -> None:
    session = uuid.uuid4().hex

    async def main() -> None:
        check = RevocationCheck(redis_url, cache_seconds=0.3)
        assert not await check.is_revoked(session)
        now = dt.datetime.now(dt.UTC)
        assert await record_revoked_sessions(redis_url, [session], now, 900) == 1
        assert not await check.is_revoked(session)  # the cached answer, for 0.3 s
        await asyncio.sleep(0.35)
        assert await check.is_revoked(session)
        assert await record_revoked_sessions(redis_url, [session], now, 900) == 1  # again: same
        long_ago = now - dt.timedelta(hours=1)
        assert await record_revoked_sessions(redis_url, ["old"], long_ago, 900) == 0

    asyncio.run(main())
    client = redis.Redis.from_url(redis_url)
    try:
        assert 900 < client.ttl(revoked_session_key(session)) <= 900 + CLOCK_SKEW
        assert not client.exists(revoked_session_key("old"))
    finally:
        client.close()


def test_without_redis_tokens_pass_unchecked_and_redis_is_not_asked_each_time() -> None:
    async def main() -> None:
        check = RevocationCheck(NO_REDIS, retry_seconds=60)
        started = time.monotonic()
        assert not await check.is_revoked("s1")
        for _ in range(100):
            assert not await check.is_revoked("s2")
        assert time.monotonic() - started < 2  # one failed try, then the back-off

    asyncio.run(main())

"""Queries of the accounts database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts.models import (
    EmailNotice,
    RefreshToken,
    SignInThrottle,
    SpentCaptcha,
    User,
    VerificationCode,
)
from services.kernel.captcha import purge_spent_captchas
from services.kernel.db import utcnow


class AccountsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        query = select(User).where(User.email == email)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def lock_user(self, user_id: str) -> None:
        await self.session.execute(select(User.id).where(User.id == user_id).with_for_update())

    def add(self, obj: object) -> None:
        self.session.add(obj)

    async def live_code(self, user_id: str, purposes: tuple[str, ...]) -> VerificationCode | None:
        """The newest unused, unexpired code of those purposes, locked for the check."""
        return await self.session.scalar(
            select(VerificationCode)
            .where(
                VerificationCode.user_id == user_id,
                VerificationCode.purpose.in_(purposes),
                VerificationCode.used_at.is_(None),
                VerificationCode.expires_at > utcnow(),
            )
            .order_by(VerificationCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )

    async def retire_codes(self, user_id: str, purposes: tuple[str, ...]) -> None:
        await self.session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.user_id == user_id,
                VerificationCode.purpose.in_(purposes),
                VerificationCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )

    async def refresh_token(self, digest: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == digest).with_for_update()
        )

    async def revoke_family(self, family_id: str) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def revoke_user_tokens(self, user_id: str, *, keep_family: str | None = None) -> None:
        query = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if keep_family:
            query = query.where(RefreshToken.family_id != keep_family)
        await self.session.execute(query.values(revoked_at=utcnow()))

    async def throttles(self, keys: list[str]) -> list[SignInThrottle]:
        rows = await self.session.scalars(
            select(SignInThrottle).where(SignInThrottle.key.in_(keys))
        )
        return list(rows)

    async def throttle(self, key: str) -> SignInThrottle | None:
        return await self.session.get(SignInThrottle, key, with_for_update=True)

    async def clear_throttles(self, keys: list[str]) -> None:
        await self.session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))

    async def emails_since(self, user_id: str, since: dt.datetime) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(EmailNotice)
                .where(EmailNotice.user_id == user_id, EmailNotice.created_at >= since)
            )
            or 0
        )

    async def purge_expired(self, now: dt.datetime, captcha_ttl: int) -> int:
        """Delete spent captcha ids whose captcha has expired, expired codes and refresh tokens
        and notices older than a day; returns rows removed."""
        result = await self.session.execute(
            delete(EmailNotice).where(EmailNotice.created_at < now - dt.timedelta(days=1))
        )
        removed: int = result.rowcount or 0  # type: ignore[attr-defined]
        removed += await purge_spent_captchas(self.session, SpentCaptcha, captcha_ttl, now)
        for table, column in (
            (VerificationCode, VerificationCode.expires_at),
            (RefreshToken, RefreshToken.expires_at),
        ):
            result = await self.session.execute(delete(table).where(column < now))
            removed += result.rowcount or 0  # type: ignore[attr-defined]
        return removed

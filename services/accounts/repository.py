"""Queries of the accounts database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts.models import (
    CodeGuesses,
    EmailNotice,
    KnownClient,
    PendingRegistration,
    RefreshToken,
    SignInThrottle,
    SpentCaptcha,
    User,
    VerificationCode,
)
from services.kernel.captcha import purge_spent_captchas
from services.kernel.db import conflict_insert, utcnow


class AccountsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        query = select(User).where(User.email == email)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return await self.session.scalar(query)

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def lock_user(self, user_id: str) -> None:
        await self.session.execute(select(User.id).where(User.id == user_id).with_for_update())

    def add(self, obj: object) -> None:
        self.session.add(obj)

    # -- pending registrations ---------------------------------------------------------------

    async def keep_registration(self, registration: PendingRegistration, keep: int | None) -> None:
        """Store `registration` beside the address's others, keeping the `keep` newest (None:
        it is the first). None replaces another, not even one from the same client address
        (many people share one behind a carrier's NAT): activation tells them apart by
        password."""
        self.session.add(registration)
        await self.session.flush()
        if keep is None:
            return
        older = (
            select(PendingRegistration.id)
            .where(PendingRegistration.user_id == registration.user_id)
            .order_by(PendingRegistration.created_at.desc(), PendingRegistration.id)
            .offset(keep)
        )
        stale = list((await self.session.scalars(older)).all())
        if stale:
            await self.session.execute(
                delete(PendingRegistration).where(PendingRegistration.id.in_(stale))
            )

    async def pending_registrations(self, user_id: str, limit: int) -> list[PendingRegistration]:
        """The address's unexpired registrations, newest first."""
        rows = await self.session.scalars(
            select(PendingRegistration)
            .where(
                PendingRegistration.user_id == user_id,
                PendingRegistration.expires_at > utcnow(),
            )
            .order_by(PendingRegistration.created_at.desc(), PendingRegistration.id)
            .limit(limit)
        )
        return list(rows)

    async def count_pending_registrations(self, user_id: str) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(PendingRegistration)
                .where(
                    PendingRegistration.user_id == user_id,
                    PendingRegistration.expires_at > utcnow(),
                )
            )
            or 0
        )

    async def discard_registrations(self, user_id: str) -> None:
        await self.session.execute(
            delete(PendingRegistration).where(PendingRegistration.user_id == user_id)
        )

    # -- codes and links ---------------------------------------------------------------------

    async def live_short_code(
        self, user_id: str, purposes: tuple[str, ...]
    ) -> VerificationCode | None:
        """The newest code of those purposes if its short code still works (not used, not
        retired, not expired); read without a lock (tries are reserved atomically)."""
        newest = await self.session.scalar(
            select(VerificationCode)
            .where(
                VerificationCode.user_id == user_id,
                VerificationCode.purpose.in_(purposes),
                VerificationCode.used_at.is_(None),
            )
            .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
            .limit(1)
        )
        if newest is None or newest.code_retired_at is not None or newest.expires_at <= utcnow():
            return None
        return newest

    async def code_by_link(self, user_id: str, token_hashes: list[str]) -> VerificationCode | None:
        """The unused code whose link token has one of these keyed hashes, if unexpired."""
        return await self.session.scalar(
            select(VerificationCode).where(
                VerificationCode.user_id == user_id,
                VerificationCode.token_hash.in_(token_hashes),
                VerificationCode.used_at.is_(None),
                VerificationCode.link_expires_at > utcnow(),
            )
        )

    async def reserve_code_try(self, code_id: str, max_attempts: int) -> bool:
        """Count one more try at a short code before comparing it, in one statement: parallel
        guesses cannot all pass a count read before any of them wrote. False when it is spent."""
        result = await self.session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.id == code_id,
                VerificationCode.used_at.is_(None),
                VerificationCode.code_retired_at.is_(None),
                VerificationCode.failed_attempts < max_attempts,
            )
            .values(failed_attempts=VerificationCode.failed_attempts + 1)
            .returning(VerificationCode.id)
        )
        return result.first() is not None

    async def reserve_code_guess(
        self, user_id: str, now: dt.datetime, window: dt.timedelta, budget: int
    ) -> bool:
        """Count one more short-code try against the account's budget for its window (a new
        window when the last one is over); False when the budget is spent."""
        table = CodeGuesses.__table__
        over = table.c.window_started_at < now - window
        statement = (
            conflict_insert(self.session, CodeGuesses)
            .values(user_id=user_id, wrong_tries=1, window_started_at=now)
            .on_conflict_do_update(
                index_elements=["user_id"],
                set_={
                    "wrong_tries": case((over, 1), else_=table.c.wrong_tries + 1),
                    "window_started_at": case((over, now), else_=table.c.window_started_at),
                },
                where=over | (table.c.wrong_tries < budget),
            )
            .returning(table.c.user_id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def refund_code_guess(self, user_id: str) -> None:
        """The reserved try was the right code: it does not count against the budget."""
        await self.session.execute(
            update(CodeGuesses)
            .where(CodeGuesses.user_id == user_id, CodeGuesses.wrong_tries > 0)
            .values(wrong_tries=CodeGuesses.wrong_tries - 1)
        )

    async def use_code(self, code_id: str) -> bool:
        """Mark the code used; False when another request used it first."""
        result = await self.session.execute(
            update(VerificationCode)
            .where(VerificationCode.id == code_id, VerificationCode.used_at.is_(None))
            .values(used_at=utcnow())
            .returning(VerificationCode.id)
        )
        return result.first() is not None

    async def retire_short_codes(self, user_id: str, purposes: tuple[str, ...]) -> None:
        """A new code of the purposes is being sent: the older short codes stop working, their
        links do not."""
        await self.session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.user_id == user_id,
                VerificationCode.purpose.in_(purposes),
                VerificationCode.used_at.is_(None),
                VerificationCode.code_retired_at.is_(None),
            )
            .values(code_retired_at=utcnow())
        )

    async def retire_codes(self, user_id: str, purposes: tuple[str, ...]) -> None:
        """Every code and link of the purposes stops working (one of them was used)."""
        await self.session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.user_id == user_id,
                VerificationCode.purpose.in_(purposes),
                VerificationCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )

    # -- sessions ----------------------------------------------------------------------------

    async def refresh_token(self, digest: str, *, for_update: bool = True) -> RefreshToken | None:
        query = select(RefreshToken).where(RefreshToken.token_hash == digest)
        if for_update:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def revoke_family(self, family_id: str) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def revoke_user_tokens(
        self, user_id: str, *, keep_family: str | None = None
    ) -> list[str]:
        """Revoke the account's sessions (all, or all but `keep_family`); returns the ids of
        the sessions that were live."""
        query = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if keep_family:
            query = query.where(RefreshToken.family_id != keep_family)
        result = await self.session.execute(
            query.values(revoked_at=utcnow()).returning(RefreshToken.family_id)
        )
        return sorted({family for (family,) in result.all()})

    # -- clients and sign-in throttles -------------------------------------------------------

    async def remember_client(self, user_id: str, client: str) -> None:
        now = utcnow()
        await self.session.execute(
            conflict_insert(self.session, KnownClient)
            .values(user_id=user_id, client=client, last_seen_at=now)
            .on_conflict_do_update(index_elements=["user_id", "client"], set_={"last_seen_at": now})
        )

    async def is_known_client(self, user_id: str, client: str, since: dt.datetime) -> bool:
        seen = await self.session.scalar(
            select(KnownClient.last_seen_at).where(
                KnownClient.user_id == user_id, KnownClient.client == client
            )
        )
        return seen is not None and seen >= since

    async def throttles(self, keys: list[str]) -> list[SignInThrottle]:
        rows = await self.session.scalars(
            select(SignInThrottle).where(SignInThrottle.key.in_(keys))
        )
        return list(rows)

    async def throttle(self, key: str) -> SignInThrottle | None:
        return await self.session.get(SignInThrottle, key, with_for_update=True)

    async def clear_throttles(self, keys: list[str]) -> None:
        await self.session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))

    # -- e-mails -----------------------------------------------------------------------------

    async def emails_since(
        self, user_id: str, since: dt.datetime, *, client: str | None = None
    ) -> int:
        """E-mails sent to the account since then (caused from `client`, when given)."""
        query = (
            select(func.count())
            .select_from(EmailNotice)
            .where(EmailNotice.user_id == user_id, EmailNotice.created_at >= since)
        )
        if client is not None:
            query = query.where(EmailNotice.client == client)
        return int(await self.session.scalar(query) or 0)

    # -- housekeeping ------------------------------------------------------------------------

    async def purge_expired(
        self,
        now: dt.datetime,
        captcha_ttl: int,
        *,
        known_for: dt.timedelta | None = None,
        guess_window: dt.timedelta | None = None,
    ) -> int:
        """Delete spent captcha ids whose captcha has expired, expired codes, refresh tokens and
        registrations, notices older than a day, clients not seen for `known_for` and wrong-code
        counts of past windows (both from the settings unless given); returns rows removed."""
        if known_for is None or guess_window is None:
            from services.accounts.settings import get_settings

            settings = get_settings()
            known_for = known_for or settings.known_client_period
            guess_window = guess_window or settings.code_guess_period
        removed = 0
        for statement in (
            delete(EmailNotice).where(EmailNotice.created_at < now - dt.timedelta(days=1)),
            delete(VerificationCode).where(
                VerificationCode.expires_at < now,
                (VerificationCode.link_expires_at.is_(None))
                | (VerificationCode.link_expires_at < now),
            ),
            delete(RefreshToken).where(RefreshToken.expires_at < now),
            delete(PendingRegistration).where(PendingRegistration.expires_at < now),
            delete(KnownClient).where(KnownClient.last_seen_at < now - known_for),
            delete(CodeGuesses).where(CodeGuesses.window_started_at < now - guess_window),
        ):
            result = await self.session.execute(statement)
            # execute() is typed as returning a Result; a DELETE's is a CursorResult (rowcount)
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        removed += await purge_spent_captchas(self.session, SpentCaptcha, captcha_ttl, now)
        return removed

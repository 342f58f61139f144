"""The accounts domain: registration with captcha, activation and reset codes, sign-in with
throttling, token rotation, profiles and officer invitations. Services flush; routes commit.

Limits are made to stop a stranger without stopping the owner (README, "Security limits"):
- registrations of an address nobody has activated are kept apart (`PendingRegistration`);
  activation applies the one whose password the person holding the e-mail knows;
- every code e-mail carries a 6-digit code (live until a newer one is sent, 5 tries, and a
  per-account budget of wrong tries) and a link with an unguessable token (never burned by
  wrong tries, valid until it expires or a code of its purpose is used);
- e-mail caps count per (account, client address) and per account; clients the account knows
  (a device token, an address it signed in or activated from) are held by their own cap only;
- sign-in failures from clients the account does not know lock it for unknown clients only;
  a device token is held by its own failures only.
Records that must outlive a refusal (a failed sign-in, a reserved try at a code, a revoked
session) are written in their own transaction (`own_transaction`)."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from anyio import to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import security
from services.accounts.errors import (
    AccountExists,
    AccountGone,
    AccountNotActivated,
    ActivationPasswordInvalid,
    CurrentPasswordWrong,
    FullNameEmpty,
    InvalidCode,
    InvalidCredentials,
    InvalidRefreshToken,
    OfficerAgencyRequired,
    RegistrationExpired,
    TooManySignIns,
)
from services.accounts.models import (
    EmailNotice,
    OutboxMessage,
    PendingRegistration,
    RefreshToken,
    SignInThrottle,
    SpentCaptcha,
    User,
    VerificationCode,
)
from services.accounts.repository import AccountsRepository
from services.accounts.schemas import (
    OfficerInviteIn,
    ProfileUpdate,
    RegisterIn,
    TokenOut,
)
from services.accounts.settings import AccountsSettings
from services.kernel.auth import Principal
from services.kernel.captcha import (
    CaptchaInvalid,
    load_captcha_secret,
    seal_challenge,
    verify_captcha,
)
from services.kernel.contracts import EmailTemplate, SendEmailV1, SessionsRevokedV1
from services.kernel.db import conflict_insert, new_id, own_transaction, utcnow
from services.kernel.errors import Text
from services.kernel.outbox import add_message

log = logging.getLogger("portal.accounts")

ACTIVATION, PASSWORD_RESET, INVITATION = "activation", "password_reset", "invitation"
LINKED_PAGES = {
    ACTIVATION: "/kich-hoat",
    PASSWORD_RESET: "/dat-lai-mat-khau",
    INVITATION: "/can-bo/dat-mat-khau",
    "forgotten_password": "/quen-mat-khau",
}
"""Where the e-mails' links open, under `PORTAL_PUBLIC_URL`: the web app's pages (web/pages),
which show the form filled in from the link (the address and the link's token) and change
nothing until the person sends it. The API's own small pages (`GET /activate`,
`GET /password-reset/confirm`) stay for clients that call them."""

REGISTER_ACCEPTED = Text(
    "Đăng ký thành công. Vui lòng kiểm tra e-mail để lấy mã kích hoạt tài khoản.",
    "Registration received. Please check your e-mail for the activation code.",
)
RESEND_ACCEPTED = Text(
    "Nếu tài khoản đang chờ kích hoạt, mã kích hoạt mới đã được gửi tới e-mail.",
    "If the account is waiting for activation, a new code has been e-mailed.",
)
RESET_ACCEPTED = Text(
    "Nếu e-mail đã đăng ký, mã đặt lại mật khẩu đã được gửi tới địa chỉ này.",
    "If the e-mail is registered, a password reset code has been sent to it.",
)


@dataclass(frozen=True)
class ThrottlePolicy:
    """After `threshold` failures within `window`, each further try waits
    min(base_lock × 2^(failures − threshold), max_lock)."""

    scope: str
    threshold: int
    window: dt.timedelta
    base_lock: dt.timedelta
    max_lock: dt.timedelta

    def lock_for(self, failures: int) -> dt.timedelta | None:
        if failures < self.threshold:
            return None
        factor: int = 2 ** min(failures - self.threshold, 20)
        return min(self.base_lock * factor, self.max_lock)


MINUTE = dt.timedelta(minutes=1)
# One account from one client address: slows a guesser hard.
PAIR = ThrottlePolicy("pair", 5, 15 * MINUTE, dt.timedelta(seconds=2), 15 * MINUTE)
# One account from anywhere: short locks only, and only for clients the account does not know.
ACCOUNT = ThrottlePolicy("account", 10, 15 * MINUTE, dt.timedelta(seconds=5), MINUTE)
# One client address, any account: stops spraying from one place.
CLIENT = ThrottlePolicy("client", 50, 15 * MINUTE, MINUTE, 15 * MINUTE)
# One browser that signed in to the account before (its device token): its own failures only.
DEVICE = ThrottlePolicy("device", 5, 15 * MINUTE, dt.timedelta(seconds=2), 15 * MINUTE)


@dataclass(frozen=True)
class SignInKeys:
    """The throttle rows a sign-in is held by (`checked`) and counts a failure against."""

    checked: list[str]
    counted: dict[ThrottlePolicy, str]
    cleared_on_success: list[str]


def sign_in_keys(email: str, client: str, device_id: str | None, known: bool) -> SignInKeys:
    """A valid device token: that device's failures only. An address the account signed in
    from before: that address's (per account and in all). Anyone else: the account-wide lock
    too, which failures from anywhere run up (so it must never hold the owner)."""
    if device_id is not None:
        key = f"device:{device_id}"
        return SignInKeys([key], {DEVICE: key}, [key])
    keys = {PAIR: f"pair:{email}|{client}", ACCOUNT: f"account:{email}", CLIENT: f"client:{client}"}
    checked = [keys[PAIR], keys[CLIENT]] + ([] if known else [keys[ACCOUNT]])
    return SignInKeys(checked, keys, [keys[PAIR]])


@dataclass(frozen=True)
class Redemption:
    """A code or link found good for an account: `row` is to be marked used; a short code's
    reserved try is given back once the request succeeds."""

    row: VerificationCode
    short_code: bool


class AccountService:
    def __init__(
        self,
        session: AsyncSession,
        settings: AccountsSettings,
        signer: security.Signer,
        secret: str,
        captcha_secret: str = "",
    ) -> None:
        self.session = session
        self.repo = AccountsRepository(session)
        self.settings = settings
        self.signer = signer
        self.secret = secret
        self._captcha_secret = captcha_secret

    # -- captcha -----------------------------------------------------------------------------

    @property
    def captcha_secret(self) -> str:
        if not self._captcha_secret:
            self._captcha_secret = load_captcha_secret(self.settings)
        return self._captcha_secret

    async def issue_captcha(self, *, audio: bool = False) -> tuple[str, str, str | None]:
        """A new image (and, asked for, its answer spoken) and its id: the answer sealed for
        whichever service verifies it."""
        made = security.make_audio_captcha if audio else security.make_captcha
        image = await to_thread.run_sync(made)
        captcha_id = seal_challenge(self.captcha_secret, image.answer, self.settings.captcha_ttl)
        sound = security.audio_data_url(image.wav) if image.wav else None
        return captcha_id, security.captcha_data_url(image.png), sound

    async def check_captcha(self, captcha_id: str, answer: str) -> None:
        """Single use across the portal: any answer, right or wrong, spends the challenge."""
        valid = await verify_captcha(
            self.session,
            SpentCaptcha,
            secret=self.captcha_secret,
            captcha_id=captcha_id,
            answer=answer,
            ttl=self.settings.captcha_ttl,
            test_mode=self.settings.captcha_mode == "test",
            redis_url=self.settings.redis_url,
        )
        if not valid:
            raise CaptchaInvalid()

    # -- clients: addresses and devices ------------------------------------------------------

    def device_of(self, token: str | None, user: User | None) -> str | None:
        """The device id of a valid device token naming `user`, else None."""
        if not token or user is None:
            return None
        opened = security.open_device_token(self.secret, token, self.settings.device_token_ttl)
        if opened is None or opened[0] != user.id:
            return None
        return opened[1]

    async def is_known(self, user: User, client: str, device_token: str | None) -> bool:
        """A device that signed in to the account, or an address it signed in or activated
        from within `known_client_days`."""
        if self.device_of(device_token, user) is not None:
            return True
        since = utcnow() - self.settings.known_client_period
        return await self.repo.is_known_client(user.id, client, since)

    # -- registration and activation ---------------------------------------------------------

    async def register(
        self, data: RegisterIn, client: str, device_token: str | None = None
    ) -> Text:
        await self.check_captcha(data.captcha_id, data.captcha_answer)
        existing = await self.repo.user_by_email(data.email)
        if existing is not None and (existing.is_active or existing.role != "citizen"):
            # An account (or an officer's invitation) has the address: nothing is stored, the
            # owner is told, and the time of a password hash is spent as for a registration.
            await to_thread.run_sync(security.burn_password_hash, data.password)
            known = await self.is_known(existing, client, device_token)
            if existing.is_active and await self._may_email(existing, client, known):
                self._email(
                    existing,
                    "account_exists",
                    {"reset_url": self._page_link("forgotten_password")},
                    client=client,
                )
            return REGISTER_ACCEPTED
        password_hash = await to_thread.run_sync(security.hash_password, data.password)
        user, fresh = await self._address_record(data.email, existing)
        if user.is_active:  # activated while this request hashed
            return REGISTER_ACCEPTED
        now = utcnow()
        await self.repo.keep_registration(
            PendingRegistration(
                id=new_id(),
                user_id=user.id,
                client=client,
                password_hash=password_hash,
                full_name=data.full_name,
                gender=data.gender,
                date_of_birth=data.date_of_birth,
                phone=data.phone,
                address=data.address,
                id_number=data.id_number,
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self.settings.registration_ttl),
            ),
            keep=None if fresh else self.settings.pending_registrations,
        )
        await self._send_activation(user, client, fresh=fresh)
        return REGISTER_ACCEPTED

    async def _address_record(self, email: str, existing: User | None) -> tuple[User, bool]:
        """The account row of the address, locked (one registration of an address at a time),
        and whether this request created it. A new address gets a row with no password, no
        profile (registrations hold those), not active; two registrations racing for it: the
        second finds the first's row. A new row has no registrations, codes or e-mails yet:
        the caller skips looking for them (which also keeps the answer's time closer to that
        for an existing account)."""
        if existing is None:
            user = User(id=new_id(), email=email, full_name="", role="citizen", is_active=False)
            try:
                async with self.session.begin_nested():
                    self.repo.add(user)
                    await self.session.flush()
                return user, True
            except IntegrityError:
                pass
        locked = await self.repo.user_by_email(email, for_update=True)
        assert locked is not None
        return locked, False

    async def _send_activation(self, user: User, client: str, *, fresh: bool = False) -> None:
        """`fresh`: the address's row was created by this request (nothing was sent to it)."""
        if not fresh and not await self._may_email(user, client, known=False):
            return
        code, token = await self._issue_code(
            user, ACTIVATION, self.settings.code_ttl, self.settings.link_ttl, fresh=fresh
        )
        self._email(
            user,
            "account_activation",
            {
                "code": code,
                "link": self._page_link(ACTIVATION, email=user.email, code=token),
                "valid_minutes": self.settings.code_ttl // 60,
                "link_valid_minutes": self.settings.link_ttl // 60,
            },
            client=client,
        )

    async def activation_form(self, email: str, code: str) -> bool | None:
        """What the activation page shows for an e-mailed link, changing nothing (a mail
        scanner may open it): None when the link is not (or no longer) good; else whether the
        password must be asked (the address was registered more than once). A 6-digit code is
        not checked here — that would be a guess without a try counted — and asks for it."""
        user = await self.repo.user_by_email(email)
        if security.is_short_code(code):
            return True
        if user is None or user.is_active or user.role != "citizen":
            return None
        if await self.repo.code_by_link(user.id, self._link_hashes(user, (ACTIVATION,), code)):
            return await self.repo.count_pending_registrations(user.id) > 1
        return None

    async def activate(
        self, email: str, code: str, client: str, password: str | None = None
    ) -> User:
        """Apply one pending registration of the address: the only one, or the one whose
        password is given (several registered it). A wrong or missing password counts as a
        wrong try of a short code."""
        user = await self.repo.user_by_email(email)
        if user is None or user.is_active or user.role != "citizen":
            raise InvalidCode()
        redemption = await self._redeem(user, (ACTIVATION,), code)
        await self._lock_and_use(user, redemption)
        if user.is_active:
            raise InvalidCode()
        registrations = await self.repo.pending_registrations(
            user.id, self.settings.pending_registrations
        )
        if not registrations:
            raise RegistrationExpired()
        chosen = await self._registration_matching(registrations, password)
        for name in ("full_name", "gender", "date_of_birth", "phone", "address", "id_number"):
            setattr(user, name, getattr(chosen, name))
        user.password_hash = chosen.password_hash
        user.is_active = True
        user.activated_at = utcnow()
        await self.repo.discard_registrations(user.id)
        await self.repo.retire_codes(user.id, (ACTIVATION,))
        await self._settle(user, redemption)
        for address in {client, chosen.client} - {"unknown"}:
            await self.repo.remember_client(user.id, address)
        await self.session.flush()
        return user

    async def _registration_matching(
        self, registrations: list[PendingRegistration], password: str | None
    ) -> PendingRegistration:
        if password is None:
            if len(registrations) == 1:
                return registrations[0]
            raise ActivationPasswordInvalid("password_required")
        for registration in registrations:
            if await to_thread.run_sync(
                security.verify_password, registration.password_hash, password
            ):
                return registration
        raise ActivationPasswordInvalid("password_mismatch")

    async def resend_activation(self, email: str, client: str) -> Text:
        user = await self.repo.user_by_email(email)
        if (
            user is not None
            and not user.is_active
            and user.role == "citizen"
            and await self.repo.count_pending_registrations(user.id)
        ):
            await self._send_activation(user, client)
        return RESEND_ACCEPTED

    # -- sign-in and tokens ------------------------------------------------------------------

    async def sign_in(
        self, email: str, password: str, client: str, device_token: str | None = None
    ) -> TokenOut:
        user = await self.repo.user_by_email(email)
        device_id = self.device_of(device_token, user)
        known = (
            device_id is None
            and user is not None
            and await self.is_known(user, client, device_token=None)
        )
        keys = sign_in_keys(email, client, device_id, known)
        await self._check_throttle(keys.checked)
        if user is not None and not user.is_active and user.password_hash is None:
            await self._refuse_pending_sign_in(user, password, keys)
        ok = await to_thread.run_sync(
            security.verify_password, user.password_hash if user else None, password
        )
        if not ok or user is None or not user.is_active:
            await self._record_failure(keys.counted)
            raise InvalidCredentials()
        await self.repo.clear_throttles(keys.cleared_on_success)
        await self.repo.remember_client(user.id, client)
        tokens = await self._issue_tokens(user, family_id=new_id())
        return tokens.model_copy(
            update={
                "device_token": security.device_token(self.secret, user.id, device_id or new_id())
            }
        )

    async def _refuse_pending_sign_in(self, user: User, password: str, keys: SignInKeys) -> None:
        """An address waiting for activation: "not activated yet" to someone who gave the
        password of one of its registrations, the usual refusal to anyone else."""
        for registration in await self.repo.pending_registrations(
            user.id, self.settings.pending_registrations
        ):
            if await to_thread.run_sync(
                security.verify_password, registration.password_hash, password
            ):
                raise AccountNotActivated()
        await self._record_failure(keys.counted)
        raise InvalidCredentials()

    async def _check_throttle(self, keys: list[str]) -> None:
        now = utcnow()
        waits = [
            (row.locked_until - now).total_seconds()
            for row in await self.repo.throttles(keys)
            if row.locked_until is not None and row.locked_until > now
        ]
        if waits:
            retry_after = max(1, int(max(waits) + 0.999))
            raise TooManySignIns(retry_after)

    async def _record_failure(self, keys: dict[ThrottlePolicy, str]) -> None:
        """Count a failed sign-in: in its own transaction, committed whatever the answer."""
        now = utcnow()
        async with own_transaction(self.session) as side:
            repo = AccountsRepository(side)
            for policy, key in keys.items():
                await side.execute(
                    conflict_insert(side, SignInThrottle)
                    .values(key=key, failures=0, window_started_at=now)
                    .on_conflict_do_nothing(index_elements=["key"])
                )
                row = await repo.throttle(key)
                assert row is not None
                if now - row.window_started_at > policy.window:
                    row.failures, row.window_started_at, row.locked_until = 0, now, None
                row.failures += 1
                lock = policy.lock_for(row.failures)
                if lock is not None:
                    row.locked_until = now + lock

    async def _issue_tokens(self, user: User, family_id: str) -> TokenOut:
        refresh = security.new_refresh_token()
        self.repo.add(
            RefreshToken(
                id=new_id(),
                user_id=user.id,
                family_id=family_id,
                token_hash=security.token_digest(refresh),
                expires_at=utcnow() + dt.timedelta(seconds=self.settings.refresh_token_ttl),
            )
        )
        access = self.signer.access_token(
            {
                "sub": user.id,
                "role": user.role,
                "agency_id": user.agency_id,
                "sid": family_id,
                "email": user.email,
            },
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl=self.settings.access_token_ttl,
        )
        await self.session.flush()
        return TokenOut(
            access_token=access,
            expires_in=self.settings.access_token_ttl,
            refresh_token=refresh,
        )

    async def refresh(self, refresh_token: str) -> TokenOut:
        row = await self.repo.refresh_token(security.token_digest(refresh_token))
        if row is None or row.expires_at <= utcnow():
            raise InvalidRefreshToken()
        if row.used_at is not None or row.revoked_at is not None:
            # A rotated token came back: someone holds a copy. End the whole session, for good
            # (the refusal rolls the request back; the revocation is written on its own).
            family_id = row.family_id
            await self._outlive_refusal(lambda repo: self._revoke_family(repo, family_id))
            raise InvalidRefreshToken()
        user = await self.repo.user(row.user_id)
        if user is None or not user.is_active:
            raise InvalidRefreshToken()
        row.used_at = utcnow()
        return await self._issue_tokens(user, family_id=row.family_id)

    async def logout(self, principal: Principal, refresh_token: str) -> None:
        row = await self.repo.refresh_token(security.token_digest(refresh_token))
        if row is not None and row.user_id == principal.user_id:
            await self._revoke_family(self.repo, row.family_id)

    async def _revoke_family(self, repo: AccountsRepository, family_id: str) -> None:
        await repo.revoke_family(family_id)
        self._announce_revoked(repo.session, [family_id])

    def _announce_revoked(self, session: AsyncSession, session_ids: list[str]) -> None:
        """Tell every service, through the outbox (committed with the revocation), to refuse
        these sessions' access tokens (services/kernel/revocation.py)."""
        if session_ids:
            add_message(
                session,
                OutboxMessage,
                SessionsRevokedV1(
                    message_id=new_id(),
                    session_ids=session_ids,
                    revoked_at=utcnow(),
                    token_ttl=self.settings.access_token_ttl,
                ),
            )

    async def _outlive_refusal(
        self, write: Callable[[AccountsRepository], Awaitable[None]]
    ) -> None:
        """Write what must stay although the request is refused: the request's transaction is
        rolled back first (nothing of it is kept anyway, and its row locks are released), then
        `write` runs in a transaction of its own."""
        await self.session.rollback()
        async with own_transaction(self.session) as side:
            await write(AccountsRepository(side))

    # -- profile and passwords ---------------------------------------------------------------

    async def profile(self, principal: Principal) -> User:
        user = await self.repo.user(principal.user_id)
        if user is None or not user.is_active:
            raise AccountGone()
        return user

    async def update_profile(self, principal: Principal, patch: ProfileUpdate) -> User:
        user = await self.profile(principal)
        changes = patch.model_dump(exclude_unset=True)
        if "full_name" in changes and changes["full_name"] is None:
            raise FullNameEmpty()
        for name, value in changes.items():
            setattr(user, name, value)
        await self.session.flush()
        return user

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        user = await self.profile(principal)
        if not await to_thread.run_sync(security.verify_password, user.password_hash, current):
            raise CurrentPasswordWrong()
        user.password_hash = await to_thread.run_sync(security.hash_password, new)
        ended = await self.repo.revoke_user_tokens(user.id, keep_family=principal.session_id)
        self._announce_revoked(self.session, ended)

    async def request_password_reset(
        self, email: str, client: str, device_token: str | None = None
    ) -> Text:
        """An active account, or an invited officer who has not set a password yet. (An
        address waiting for activation gets nothing: its registrant activates, or registers
        again.)"""
        user = await self.repo.user_by_email(email)
        if user is None or not (user.is_active or user.role != "citizen"):
            return RESET_ACCEPTED
        known = await self.is_known(user, client, device_token)
        if await self._may_email(user, client, known):
            code, token = await self._issue_code(
                user, PASSWORD_RESET, self.settings.code_ttl, self.settings.link_ttl
            )
            self._email(
                user,
                "password_reset",
                {
                    "code": code,
                    "link": self._page_link(PASSWORD_RESET, email=user.email, code=token),
                    "valid_minutes": self.settings.code_ttl // 60,
                    "link_valid_minutes": self.settings.link_ttl // 60,
                },
                client=client,
            )
        return RESET_ACCEPTED

    def _page_link(self, page: str, **query: str) -> str:
        """The link of an e-mail: the page (`LINKED_PAGES`) under the public URL."""
        url = self.settings.public_url.rstrip("/") + LINKED_PAGES[page]
        return f"{url}?{urlencode(query)}" if query else url

    async def reset_form(self, email: str, code: str) -> bool:
        """Whether the reset page may ask for a new password for this link (read only). A
        6-digit code is not checked here (that would be an uncounted guess)."""
        if security.is_short_code(code):
            return True
        user = await self.repo.user_by_email(email)
        if user is None:
            return False
        hashes = self._link_hashes(user, (PASSWORD_RESET, INVITATION), code)
        return await self.repo.code_by_link(user.id, hashes) is not None

    async def confirm_password_reset(
        self, email: str, code: str, new_password: str, client: str
    ) -> None:
        """Also how an invited officer sets a first password; either proves the address."""
        user = await self.repo.user_by_email(email)
        if user is None:
            raise InvalidCode()
        redemption = await self._redeem(user, (PASSWORD_RESET, INVITATION), code)
        await self._lock_and_use(user, redemption)
        user.password_hash = await to_thread.run_sync(security.hash_password, new_password)
        if not user.is_active:
            user.is_active = True
            user.activated_at = utcnow()
        await self.repo.retire_codes(user.id, (ACTIVATION, PASSWORD_RESET, INVITATION))
        await self._settle(user, redemption)
        await self.repo.remember_client(user.id, client)
        ended = await self.repo.revoke_user_tokens(user.id)
        self._announce_revoked(self.session, ended)

    # -- officers and admins -----------------------------------------------------------------

    async def invite_officer(self, data: OfficerInviteIn) -> User:
        if data.role == "officer" and not data.agency_id:
            raise OfficerAgencyRequired()
        if await self.repo.user_by_email(data.email) is not None:
            raise AccountExists()
        user = User(
            id=new_id(),
            email=data.email,
            password_hash=None,
            full_name=data.full_name,
            role=data.role,
            agency_id=data.agency_id if data.role == "officer" else None,
            is_active=False,
        )
        self.repo.add(user)
        await self.session.flush()
        ttl = self.settings.invitation_ttl
        code, token = await self._issue_code(user, INVITATION, ttl, ttl)
        self._email(
            user,
            "officer_invitation",
            {
                "code": code,
                "link": self._page_link(INVITATION, email=user.email, code=token),
                "role": data.role,
                "agency_id": user.agency_id,
                "confirm_url": self._page_link(INVITATION),
                "valid_hours": ttl // 3600,
            },
        )
        return user

    async def ensure_admin(self, email: str, password: str, full_name: str) -> User:
        """Create the admin account, or make an existing account an active admin."""
        user = await self.repo.user_by_email(email)
        password_hash = await to_thread.run_sync(security.hash_password, password)
        if user is None:
            user = User(id=new_id(), email=email, full_name=full_name)
            self.repo.add(user)
        user.password_hash = password_hash
        user.role = "admin"
        user.agency_id = None
        if not user.full_name:
            user.full_name = full_name
        if not user.is_active:
            user.is_active = True
            user.activated_at = utcnow()
        await self.session.flush()
        return user

    # -- codes, links and e-mail -------------------------------------------------------------

    async def _issue_code(
        self, user: User, purpose: str, code_ttl: int, link_ttl: int, *, fresh: bool = False
    ) -> tuple[str, str]:
        """A new code and link token for `purpose`; the older short codes of the purpose stop
        working, their links do not (`fresh`: the account has none)."""
        if not fresh:
            await self.repo.retire_short_codes(user.id, (purpose,))
        code, token = security.new_code(), security.new_link_token()
        now = utcnow()
        self.repo.add(
            VerificationCode(
                id=new_id(),
                user_id=user.id,
                purpose=purpose,
                code_hash=security.code_digest(self.secret, purpose, user.id, code),
                token_hash=security.code_digest(self.secret, purpose, user.id, token),
                created_at=now,
                expires_at=now + dt.timedelta(seconds=code_ttl),
                link_expires_at=now + dt.timedelta(seconds=link_ttl),
                failed_attempts=0,
            )
        )
        await self.session.flush()
        return code, token

    def _link_hashes(self, user: User, purposes: tuple[str, ...], token: str) -> list[str]:
        return [security.code_digest(self.secret, p, user.id, token) for p in purposes]

    async def _redeem(self, user: User, purposes: tuple[str, ...], code: str) -> Redemption:
        """The code row this short code or link token opens, or 400. A short code's try is
        counted (against the code and the account's budget) before it is compared, in its own
        transaction: it stays counted if the request is refused, and parallel guesses cannot
        exceed the limits. Nothing is locked by the request yet, so the two cannot wait on
        each other."""
        if not security.is_short_code(code):
            row = await self.repo.code_by_link(user.id, self._link_hashes(user, purposes, code))
            if row is None:
                raise InvalidCode()
            return Redemption(row, short_code=False)
        row = await self.repo.live_short_code(user.id, purposes)
        if row is None or not await self._reserve_try(user, row):
            raise InvalidCode()
        expected = security.code_digest(self.secret, row.purpose, user.id, code)
        if not hmac.compare_digest(row.code_hash, expected):
            raise InvalidCode()
        return Redemption(row, short_code=True)

    async def _reserve_try(self, user: User, row: VerificationCode) -> bool:
        settings = self.settings

        class Spent(Exception):
            pass

        try:
            async with own_transaction(self.session) as side:
                repo = AccountsRepository(side)
                if not await repo.reserve_code_guess(
                    user.id, utcnow(), settings.code_guess_period, settings.code_guess_budget
                ):
                    log.warning("wrong-code budget spent for account %s", user.id)
                    raise Spent
                if not await repo.reserve_code_try(row.id, settings.code_max_attempts):
                    raise Spent
        except Spent:
            return False
        return True

    async def _lock_and_use(self, user: User, redemption: Redemption) -> None:
        """Lock the account (one redemption at a time), re-read it, and use the code: two
        requests with one code cannot both succeed."""
        await self.repo.user_by_email(user.email, for_update=True)
        if not await self.repo.use_code(redemption.row.id):
            raise InvalidCode()

    async def _settle(self, user: User, redemption: Redemption) -> None:
        """The right short code: its reserved try was no wrong guess."""
        if redemption.short_code:
            await self.repo.refund_code_guess(user.id)

    async def _may_email(self, user: User, client: str, known: bool) -> bool:
        """Whether this request may cause one more e-mail to the account this hour: at most
        `emails_per_client_per_hour` from its client address, and — unless the account knows
        the client — `emails_per_hour` from everywhere. Checked before a new code is issued,
        so a dropped e-mail never retires what the person already has."""
        await self.repo.lock_user(user.id)
        since = utcnow() - dt.timedelta(hours=1)
        from_client = await self.repo.emails_since(user.id, since, client=client)
        if from_client >= self.settings.emails_per_client_per_hour:
            log.warning("e-mail cap of account %s from one client reached; dropped", user.id)
            return False
        if not known and await self.repo.emails_since(user.id, since) >= (
            self.settings.emails_per_hour
        ):
            log.warning("e-mail cap of account %s reached; dropped", user.id)
            return False
        return True

    def _email(
        self,
        user: User,
        template: EmailTemplate,
        context: dict[str, object],
        *,
        client: str | None = None,
    ) -> None:
        """Queue an e-mail to the account's address. It greets the person by name only when
        that name is no stranger's text: an active account's (the address was proven when it
        was activated), or an officer's (an admin gave it). An address waiting for activation
        is unproven: its e-mails carry nothing any registrant wrote."""
        greet = user.is_active or user.role != "citizen"
        self.repo.add(EmailNotice(id=new_id(), user_id=user.id, template=template, client=client))
        add_message(
            self.session,
            OutboxMessage,
            SendEmailV1(
                message_id=new_id(),
                to=user.email,
                template=template,
                context={
                    "full_name": user.full_name if greet else None,
                    "email": user.email,
                    **context,
                },
            ),
        )

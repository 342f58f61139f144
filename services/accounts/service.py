"""The accounts domain: registration with captcha, activation and reset codes, sign-in with
throttling, token rotation, profiles and officer invitations. Services flush; routes commit."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from anyio import to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import security
from services.accounts.models import (
    EmailNotice,
    OutboxMessage,
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
    captcha_invalid,
    load_captcha_secret,
    seal_challenge,
    verify_captcha,
)
from services.kernel.contracts import EmailTemplate, SendEmailV1
from services.kernel.db import conflict_insert, new_id, utcnow
from services.kernel.errors import ProblemError, Text, field_error
from services.kernel.outbox import add_message

log = logging.getLogger("portal.accounts")

ACTIVATION, PASSWORD_RESET, INVITATION = "activation", "password_reset", "invitation"

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
        return min(self.base_lock * 2 ** min(failures - self.threshold, 20), self.max_lock)


MINUTE = dt.timedelta(minutes=1)
# One account from one client address: slows a guesser hard.
PAIR = ThrottlePolicy("pair", 5, 15 * MINUTE, dt.timedelta(seconds=2), 15 * MINUTE)
# One account from anywhere: short locks only, so nobody can keep a citizen out for long.
ACCOUNT = ThrottlePolicy("account", 10, 15 * MINUTE, dt.timedelta(seconds=5), MINUTE)
# One client address, any account: stops spraying from one place.
CLIENT = ThrottlePolicy("client", 50, 15 * MINUTE, MINUTE, 15 * MINUTE)
POLICIES = (PAIR, ACCOUNT, CLIENT)


def _throttle_keys(email: str, client: str) -> dict[ThrottlePolicy, str]:
    return {PAIR: f"pair:{email}|{client}", ACCOUNT: f"account:{email}", CLIENT: f"client:{client}"}


def invalid_code() -> ProblemError:
    return ProblemError(
        "code-invalid",
        Text(
            "Mã không đúng, đã được sử dụng hoặc đã hết hạn.",
            "The code is wrong, already used or expired.",
        ),
        status=400,
    )


def invalid_credentials() -> ProblemError:
    return ProblemError(
        "invalid-credentials",
        Text("E-mail hoặc mật khẩu không đúng.", "Wrong e-mail or password."),
        status=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def invalid_refresh_token() -> ProblemError:
    return ProblemError(
        "refresh-token-invalid",
        Text(
            "Phiên đăng nhập không hợp lệ hoặc đã hết hạn. Vui lòng đăng nhập lại.",
            "The refresh token is invalid or expired. Please sign in again.",
        ),
        status=401,
    )


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

    async def issue_captcha(self) -> tuple[str, str]:
        """A new image and its id: the answer sealed for whichever service verifies it."""
        image = await to_thread.run_sync(security.make_captcha)
        captcha_id = seal_challenge(self.captcha_secret, image.answer, self.settings.captcha_ttl)
        return captcha_id, security.captcha_data_url(image.png)

    async def check_captcha(self, captcha_id: str, answer: str, lang: str = "vi") -> None:
        """Single use: any answer, right or wrong, spends the challenge."""
        valid = await verify_captcha(
            self.session,
            SpentCaptcha,
            secret=self.captcha_secret,
            captcha_id=captcha_id,
            answer=answer,
            ttl=self.settings.captcha_ttl,
            test_mode=self.settings.captcha_mode == "test",
        )
        if not valid:
            raise captcha_invalid(lang)

    # -- registration and activation ---------------------------------------------------------

    async def register(self, data: RegisterIn, lang: str = "vi") -> Text:
        await self.check_captcha(data.captcha_id, data.captcha_answer, lang)
        existing = await self.repo.user_by_email(data.email)
        if existing is None:
            password_hash = await to_thread.run_sync(security.hash_password, data.password)
            user = User(
                id=new_id(),
                email=data.email,
                password_hash=password_hash,
                full_name=data.full_name,
                gender=data.gender,
                date_of_birth=data.date_of_birth,
                phone=data.phone,
                address=data.address,
                id_number=data.id_number,
                role="citizen",
                is_active=False,
            )
            try:
                async with self.session.begin_nested():
                    self.repo.add(user)
                    await self.session.flush()
            except IntegrityError:
                existing = await self.repo.user_by_email(data.email)
            else:
                await self._send_activation(user)
                return REGISTER_ACCEPTED
        else:
            await to_thread.run_sync(security.burn_password_hash, data.password)
        assert existing is not None
        if existing.is_active:
            if not await self._may_email(existing):
                return REGISTER_ACCEPTED
            self._email(
                existing,
                "account_exists",
                {"reset_url": f"{self.settings.public_url}/api/v1/accounts/password-reset"},
            )
        else:
            await self._send_activation(existing)
        return REGISTER_ACCEPTED

    async def _send_activation(self, user: User) -> None:
        if not await self._may_email(user):
            return
        code = await self._issue_code(user, ACTIVATION, self.settings.code_ttl)
        query = urlencode({"email": user.email, "code": code})
        self._email(
            user,
            "account_activation",
            {
                "code": code,
                "link": f"{self.settings.public_url}/api/v1/accounts/activate?{query}",
                "valid_minutes": self.settings.code_ttl // 60,
            },
        )

    async def activate(self, email: str, code: str) -> User:
        user = await self._consume_code(email, (ACTIVATION,), code)
        user.is_active = True
        user.activated_at = utcnow()
        return user

    async def resend_activation(self, email: str) -> Text:
        user = await self.repo.user_by_email(email)
        if user is not None and not user.is_active and user.password_hash:
            await self._send_activation(user)
        return RESEND_ACCEPTED

    # -- sign-in and tokens ------------------------------------------------------------------

    async def sign_in(self, email: str, password: str, client: str) -> TokenOut:
        keys = _throttle_keys(email, client)
        await self._check_throttle(keys)
        user = await self.repo.user_by_email(email)
        ok = await to_thread.run_sync(
            security.verify_password, user.password_hash if user else None, password
        )
        if not ok or user is None:
            await self._record_failure(keys)
            raise invalid_credentials()
        if not user.is_active:
            raise ProblemError(
                "account-not-activated",
                Text(
                    "Tài khoản chưa được kích hoạt. Vui lòng nhập mã kích hoạt đã gửi qua e-mail.",
                    "The account is not activated yet. Enter the code sent by e-mail.",
                ),
                status=400,
            )
        await self.repo.clear_throttles([keys[PAIR], keys[ACCOUNT]])
        return await self._issue_tokens(user, family_id=new_id())

    async def _check_throttle(self, keys: dict[ThrottlePolicy, str]) -> None:
        now = utcnow()
        waits = [
            (row.locked_until - now).total_seconds()
            for row in await self.repo.throttles(list(keys.values()))
            if row.locked_until is not None and row.locked_until > now
        ]
        if waits:
            retry_after = max(1, int(max(waits) + 0.999))
            raise ProblemError(
                "too-many-requests",
                Text(
                    f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {retry_after} giây.",
                    f"Too many failed sign-ins. Try again in {retry_after} seconds.",
                ),
                headers={"Retry-After": str(retry_after)},
            )

    async def _record_failure(self, keys: dict[ThrottlePolicy, str]) -> None:
        now = utcnow()
        for policy, key in keys.items():
            await self._ensure_throttle_row(key)
            row = await self.repo.throttle(key)
            assert row is not None
            if now - row.window_started_at > policy.window:
                row.failures, row.window_started_at, row.locked_until = 0, now, None
            row.failures += 1
            lock = policy.lock_for(row.failures)
            if lock is not None:
                row.locked_until = now + lock

    async def _ensure_throttle_row(self, key: str) -> None:
        await self.session.execute(
            conflict_insert(self.session, SignInThrottle)
            .values(key=key, failures=0, window_started_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )

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
            raise invalid_refresh_token()
        if row.used_at is not None or row.revoked_at is not None:
            # A rotated token came back: someone holds a copy. End the whole session.
            await self.repo.revoke_family(row.family_id)
            raise invalid_refresh_token()
        user = await self.repo.user(row.user_id)
        if user is None or not user.is_active:
            raise invalid_refresh_token()
        row.used_at = utcnow()
        return await self._issue_tokens(user, family_id=row.family_id)

    async def logout(self, principal: Principal, refresh_token: str) -> None:
        row = await self.repo.refresh_token(security.token_digest(refresh_token))
        if row is not None and row.user_id == principal.user_id:
            await self.repo.revoke_family(row.family_id)

    # -- profile and passwords ---------------------------------------------------------------

    async def profile(self, principal: Principal) -> User:
        user = await self.repo.user(principal.user_id)
        if user is None or not user.is_active:
            raise ProblemError(
                "unauthorized", Text("Tài khoản không còn hiệu lực.", "The account is gone.")
            )
        return user

    async def update_profile(self, principal: Principal, patch: ProfileUpdate) -> User:
        user = await self.profile(principal)
        changes = patch.model_dump(exclude_unset=True)
        if "full_name" in changes and changes["full_name"] is None:
            raise ProblemError(
                "validation",
                Text("Họ tên không được để trống.", "The full name must not be empty."),
                errors=[
                    {"field": "full_name", "code": "missing", "message": "Họ tên là bắt buộc."}
                ],
            )
        for name, value in changes.items():
            setattr(user, name, value)
        await self.session.flush()
        return user

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        user = await self.profile(principal)
        if not await to_thread.run_sync(security.verify_password, user.password_hash, current):
            raise ProblemError(
                "current-password-wrong",
                Text("Mật khẩu hiện tại không đúng.", "The current password is wrong."),
                status=400,
                errors=[
                    {
                        "field": "current_password",
                        "code": "current_password_wrong",
                        "message": "Mật khẩu hiện tại không đúng.",
                    }
                ],
            )
        user.password_hash = await to_thread.run_sync(security.hash_password, new)
        await self.repo.revoke_user_tokens(user.id, keep_family=principal.session_id)

    async def request_password_reset(self, email: str) -> Text:
        user = await self.repo.user_by_email(email)
        if user is not None and await self._may_email(user):
            code = await self._issue_code(user, PASSWORD_RESET, self.settings.code_ttl)
            self._email(
                user,
                "password_reset",
                {"code": code, "valid_minutes": self.settings.code_ttl // 60},
            )
        return RESET_ACCEPTED

    async def confirm_password_reset(self, email: str, code: str, new_password: str) -> None:
        """Also how an invited officer sets a first password; either proves the address."""
        user = await self._consume_code(email, (PASSWORD_RESET, INVITATION), code)
        user.password_hash = await to_thread.run_sync(security.hash_password, new_password)
        if not user.is_active:
            user.is_active = True
            user.activated_at = utcnow()
        await self.repo.retire_codes(user.id, (ACTIVATION, PASSWORD_RESET, INVITATION))
        await self.repo.revoke_user_tokens(user.id)

    # -- officers and admins -----------------------------------------------------------------

    async def invite_officer(self, data: OfficerInviteIn, lang: str = "vi") -> User:
        if data.role == "officer" and not data.agency_id:
            message = Text(
                "Cán bộ phải thuộc một cơ quan (agency_id).", "An officer needs an agency_id."
            )
            raise ProblemError(
                "validation",
                message,
                errors=[field_error(["agency_id"], "agency_required", message, lang)],
            )
        if await self.repo.user_by_email(data.email) is not None:
            raise ProblemError(
                "account-exists",
                Text("E-mail này đã có tài khoản.", "An account with this e-mail exists."),
                status=409,
            )
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
        code = await self._issue_code(user, INVITATION, self.settings.invitation_ttl)
        self._email(
            user,
            "officer_invitation",
            {
                "code": code,
                "role": data.role,
                "agency_id": user.agency_id,
                "confirm_url": f"{self.settings.public_url}/api/v1/accounts/password-reset/confirm",
                "valid_hours": self.settings.invitation_ttl // 3600,
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
        if not user.is_active:
            user.is_active = True
            user.activated_at = utcnow()
        await self.session.flush()
        return user

    # -- codes and e-mail --------------------------------------------------------------------

    async def _issue_code(self, user: User, purpose: str, ttl: int) -> str:
        await self.repo.retire_codes(user.id, (purpose,))
        code = security.new_code()
        self.repo.add(
            VerificationCode(
                id=new_id(),
                user_id=user.id,
                purpose=purpose,
                code_hash=security.code_digest(self.secret, purpose, user.id, code),
                expires_at=utcnow() + dt.timedelta(seconds=ttl),
                failed_attempts=0,
            )
        )
        await self.session.flush()
        return code

    async def _consume_code(self, email: str, purposes: tuple[str, ...], code: str) -> User:
        user = await self.repo.user_by_email(email, for_update=True)
        if user is None:
            raise invalid_code()
        row = await self.repo.live_code(user.id, purposes)
        if row is None or row.failed_attempts >= self.settings.code_max_attempts:
            raise invalid_code()
        expected = security.code_digest(self.secret, row.purpose, user.id, code)
        if not hmac.compare_digest(row.code_hash, expected):
            row.failed_attempts += 1
            if row.failed_attempts >= self.settings.code_max_attempts:
                row.used_at = utcnow()
            raise invalid_code()
        row.used_at = utcnow()
        return user

    async def _may_email(self, user: User) -> bool:
        """Whether this account may be sent one more code or notice this hour. Checked before a
        new code is issued, so a dropped e-mail never retires the code the person already has."""
        await self.repo.lock_user(user.id)
        sent = await self.repo.emails_since(user.id, utcnow() - dt.timedelta(hours=1))
        if sent >= self.settings.emails_per_hour:
            log.warning("e-mail cap reached for account %s; notice dropped", user.id)
            return False
        return True

    def _email(self, user: User, template: EmailTemplate, context: dict[str, object]) -> None:
        self.repo.add(EmailNotice(id=new_id(), user_id=user.id, template=template))
        add_message(
            self.session,
            OutboxMessage,
            SendEmailV1(
                message_id=new_id(),
                to=user.email,
                template=template,
                context={"full_name": user.full_name, "email": user.email, **context},
            ),
        )

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.captcha import SpentCaptchaMixin
from services.kernel.db import UTCDateTime, new_id, utcnow
from services.kernel.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class User(Base):
    """An account. Before activation a citizen's row only holds the address (the codes and
    e-mails hang off it): what registrants gave waits in `PendingRegistration` rows, and the
    one activation applies becomes the profile and password."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200))
    gender: Mapped[str | None] = mapped_column(String(10))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(500))
    id_number: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20), default="citizen")
    agency_id: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PendingRegistration(Base):
    """One registration of an address that has no active account yet: the password (hash) and
    profile its registrant gave, kept apart so that nobody's registration overwrites another's.
    Activation applies one of them (the only one, or the one whose password the activating
    person knows) and discards the others."""

    __tablename__ = "pending_registrations"
    __table_args__ = (Index("ix_pending_registrations_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(64))
    """The address it came from: known to the account once this registration is applied."""
    password_hash: Mapped[str] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(200))
    gender: Mapped[str | None] = mapped_column(String(10))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(500))
    id_number: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class VerificationCode(Base):
    """What one e-mail gives to prove control of an address (activation, password reset,
    officer invitation): a 6-digit code to type and a long token in a link, both stored as
    keyed hashes. Only the newest code of a purpose is live (the older ones are retired when
    it is issued) and wrong tries burn it; every link stays valid until it expires or any code
    or link of its purpose is used (`used_at`), since a token cannot be guessed."""

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_verification_codes_user_purpose", "user_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    """When the short code expires."""
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    code_retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """A newer code of the purpose was sent: this short code no longer works (its link does)."""
    token_hash: Mapped[str | None] = mapped_column(String(64))
    link_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CodeGuesses(Base):
    """Wrong short codes tried against one account within its current window: past the
    budget, short codes are refused for the account until the window ends (links still work)."""

    __tablename__ = "code_guesses"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    wrong_tries: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KnownClient(Base):
    """An address the account signed in or activated from: requests from it are held by their
    own limits only, never by the account-wide ones a stranger elsewhere can run up."""

    __tablename__ = "known_clients"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EmailNotice(Base):
    """One e-mail sent to an account's address, and the client address whose request caused it:
    the hourly caps against mail bombing count these."""

    __tablename__ = "email_notices"
    __table_args__ = (Index("ix_email_notices_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    template: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    client: Mapped[str | None] = mapped_column(String(64))


class RefreshToken(Base):
    """Rotated on every use; a token of a family used twice revokes the whole family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class SpentCaptcha(SpentCaptchaMixin, Base):
    """Captcha ids already answered here: the second line behind the portal-wide record in
    Redis (services/kernel/captcha.py); kept until the captcha has expired."""

    __tablename__ = "spent_captchas"


class SignInThrottle(Base):
    """Failed sign-ins counted per key (client address, account, both, or a device)."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"

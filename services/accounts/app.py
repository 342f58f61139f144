"""The accounts FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from services.accounts.api import router
from services.accounts.security import Signer, ensure_secret, ensure_signing_key
from services.accounts.service import AccountService
from services.accounts.settings import AccountsSettings, get_settings
from services.kernel.captcha import load_captcha_secret
from services.kernel.db import database_for
from services.kernel.web import create_service_app


def load_keys(settings: AccountsSettings) -> tuple[Signer, str]:
    """The signing key and the code secret; created on first start, except in production."""
    if settings.production:
        if not settings.private_key_path.exists() or not settings.secret_key:
            raise RuntimeError("production needs ACCOUNTS_SIGNING_KEY_FILE and ACCOUNTS_SECRET_KEY")
    else:
        ensure_signing_key(settings.private_key_path, settings.public_key_path)
    secret = settings.secret_key or ensure_secret(settings.secret_path)
    return Signer.from_file(settings.private_key_path), secret


def create_app(settings: AccountsSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = database_for(settings.resolved_database_url())
    signer, secret = load_keys(settings)
    captcha_secret = load_captcha_secret(settings)

    async def ensure_configured_admin(app: FastAPI) -> None:
        """Several API processes start at once: the one that loses the race to create the
        admin finds it on its second try and updates it instead."""
        if not (settings.admin_email and settings.admin_password):
            return
        for attempt in (1, 2):
            async with db.sessionmaker() as session:
                service = AccountService(session, settings, signer, secret)
                try:
                    await service.ensure_admin(
                        settings.admin_email.strip().lower(),
                        settings.admin_password,
                        "Quản trị viên",
                    )
                    await session.commit()
                    return
                except IntegrityError:
                    await session.rollback()
                    if attempt == 2:
                        raise

    return create_service_app(
        title="Tài khoản — Accounts",
        description="Đăng ký, kích hoạt, đăng nhập và hồ sơ cá nhân của công dân và cán bộ.",
        settings=settings,
        db=db,
        routers=[router],
        on_startup=ensure_configured_admin,
        signer=signer,
        secret=secret,
        captcha_secret=captcha_secret,
    )

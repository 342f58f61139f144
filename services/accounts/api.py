"""HTTP routes of the accounts service: parse, call the service, commit, answer."""

from __future__ import annotations

import html
import time
from typing import Annotated, Any

import anyio
from fastapi import Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.accounts import schemas
from services.accounts.models import User
from services.accounts.service import AccountService
from services.kernel.auth import CurrentAdmin, CurrentPrincipal
from services.kernel.db import commit_through
from services.kernel.errors import ProblemError, request_language
from services.kernel.web import DbSession, service_router

router = service_router()


Session = DbSession


def _service(request: Request, session: Session) -> AccountService:
    state = request.app.state
    return AccountService(session, state.settings, state.signer, state.secret, state.captcha_secret)


Service = Annotated[AccountService, Depends(_service)]


def _profile(user: User) -> schemas.ProfileOut:
    return schemas.ProfileOut.model_validate(user, from_attributes=True)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _no_sooner_than(seconds: float, started: float) -> None:
    """Wait out the rest of `seconds` since `started` (a `time.perf_counter()` reading)."""
    await anyio.sleep(max(0.0, seconds - (time.perf_counter() - started)))


@router.get("/captcha", response_model=schemas.CaptchaOut, tags=["captcha"])
async def get_captcha(service: Service, response: Response) -> Any:
    """A captcha (mã xác nhận) to answer when registering or filing without an account. The id
    carries the answer sealed: the dossiers service verifies it too, once."""
    captcha_id, image = await service.issue_captcha()
    response.headers["Cache-Control"] = "no-store"
    return schemas.CaptchaOut(
        captcha_id=captcha_id, image=image, expires_in=service.settings.captcha_ttl
    )


@router.post("/register", status_code=202, response_model=schemas.Accepted, tags=["registration"])
async def register(
    body: schemas.RegisterIn, request: Request, service: Service, session: Session
) -> Any:
    """Đăng ký: the same answer, after the same time, whether or not the e-mail already has an
    account (a new account writes more rows than a notice to an existing one)."""
    started = time.perf_counter()
    lang = request_language(request)
    text = await commit_through(session, service.register(body, lang))
    await _no_sooner_than(service.settings.answer_floor_seconds, started)
    return schemas.Accepted(detail=text(lang))


@router.post("/activate", response_model=schemas.Accepted, tags=["registration"])
async def activate(
    body: schemas.ActivateIn, request: Request, service: Service, session: Session
) -> Any:
    await commit_through(session, service.activate(body.email, body.code))
    lang = request_language(request)
    return schemas.Accepted(
        detail="Account activated." if lang == "en" else "Tài khoản đã được kích hoạt."
    )


ACTIVATION_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto">
<h1>{title}</h1><p>{message}</p></body></html>"""


@router.get("/activate", response_class=HTMLResponse, tags=["registration"])
async def activate_link(
    service: Service,
    session: Session,
    email: Annotated[str, Query(max_length=320)],
    code: Annotated[str, Query(max_length=16)],
) -> HTMLResponse:
    """The link in the activation e-mail."""
    try:
        address = schemas.EmailIn(email=email).email
        await commit_through(session, service.activate(address, code))
    except (ProblemError, ValueError):
        page = ACTIVATION_PAGE.format(
            title="Kích hoạt không thành công",
            message="Mã kích hoạt không đúng, đã được sử dụng hoặc đã hết hạn. "
            "Vui lòng yêu cầu gửi lại mã kích hoạt.",
        )
        return HTMLResponse(page, status_code=400)
    page = ACTIVATION_PAGE.format(
        title="Kích hoạt tài khoản thành công",
        message=f"Tài khoản {html.escape(address)} đã được kích hoạt. Bạn có thể đăng nhập.",
    )
    return HTMLResponse(page)


@router.post(
    "/activate/resend", status_code=202, response_model=schemas.Accepted, tags=["registration"]
)
async def resend_activation(
    body: schemas.EmailIn, request: Request, service: Service, session: Session
) -> Any:
    started = time.perf_counter()
    text = await commit_through(session, service.resend_activation(body.email))
    await _no_sooner_than(service.settings.answer_floor_seconds, started)
    return schemas.Accepted(detail=text(request_language(request)))


@router.post("/token", response_model=schemas.TokenOut, tags=["sign-in"])
async def token(
    request: Request,
    service: Service,
    session: Session,
    username: Annotated[str, Form(max_length=320, description="the e-mail address")],
    password: Annotated[str, Form(max_length=128)],
) -> Any:
    """OAuth2 password flow: `username` is the e-mail address."""
    try:
        email = schemas.EmailIn(email=username).email
    except ValueError:
        email = username.strip().lower()
    return await commit_through(session, service.sign_in(email, password, _client(request)))


@router.post("/token/refresh", response_model=schemas.TokenOut, tags=["sign-in"])
async def refresh(body: schemas.RefreshIn, service: Service, session: Session) -> Any:
    return await commit_through(session, service.refresh(body.refresh_token))


@router.post("/logout", status_code=204, tags=["sign-in"])
async def logout(
    body: schemas.RefreshIn, principal: CurrentPrincipal, service: Service, session: Session
) -> Response:
    await commit_through(session, service.logout(principal, body.refresh_token))
    return Response(status_code=204)


@router.get("/me", response_model=schemas.ProfileOut, tags=["profile"])
async def me(principal: CurrentPrincipal, service: Service) -> Any:
    return _profile(await service.profile(principal))


@router.patch("/me", response_model=schemas.ProfileOut, tags=["profile"])
async def update_me(
    body: schemas.ProfileUpdate, principal: CurrentPrincipal, service: Service, session: Session
) -> Any:
    return _profile(await commit_through(session, service.update_profile(principal, body)))


@router.post("/me/password", status_code=204, tags=["profile"])
async def change_password(
    body: schemas.PasswordChangeIn,
    principal: CurrentPrincipal,
    service: Service,
    session: Session,
) -> Response:
    await commit_through(
        session, service.change_password(principal, body.current_password, body.new_password)
    )
    return Response(status_code=204)


@router.post("/password-reset", status_code=202, response_model=schemas.Accepted, tags=["password"])
async def password_reset(
    body: schemas.EmailIn, request: Request, service: Service, session: Session
) -> Any:
    """The same answer, after the same time, whether or not the address has an account."""
    started = time.perf_counter()
    text = await commit_through(session, service.request_password_reset(body.email))
    await _no_sooner_than(service.settings.answer_floor_seconds, started)
    return schemas.Accepted(detail=text(request_language(request)))


@router.post("/password-reset/confirm", status_code=204, tags=["password"])
async def password_reset_confirm(
    body: schemas.PasswordResetConfirmIn, service: Service, session: Session
) -> Response:
    await commit_through(
        session, service.confirm_password_reset(body.email, body.code, body.new_password)
    )
    return Response(status_code=204)


@router.post("/officers", status_code=201, response_model=schemas.OfficerOut, tags=["officers"])
async def invite_officer(
    body: schemas.OfficerInviteIn,
    request: Request,
    admin: CurrentAdmin,
    service: Service,
    session: Session,
) -> Any:
    """An admin invites an officer (bound to an agency) or another admin by e-mail."""
    user = await commit_through(session, service.invite_officer(body, request_language(request)))
    return schemas.OfficerOut.model_validate(user, from_attributes=True)


@router.get("/.well-known/jwks.json", tags=["keys"])
async def jwks(request: Request, response: Response) -> dict[str, Any]:
    """The public keys that verify access tokens."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return request.app.state.signer.jwks()  # type: ignore[no-any-return]

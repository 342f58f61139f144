"""HTTP routes of the accounts service: parse, call the service, commit, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from services.accounts import pages, schemas
from services.accounts.models import User
from services.accounts.security import is_short_code
from services.accounts.service import AccountService
from services.kernel.auth import CurrentAdmin, CurrentPrincipal
from services.kernel.db import commit_through
from services.kernel.errors import FIELD_MESSAGES, ProblemError, Text, request_language
from services.kernel.web import DbSession, answer_no_sooner_than, service_router

router = service_router()


Session = DbSession


async def _service(request: Request, session: Session) -> AccountService:
    state = request.app.state
    return AccountService(session, state.settings, state.signer, state.secret, state.captcha_secret)


Service = Annotated[AccountService, Depends(_service)]


def _profile(user: User) -> schemas.ProfileOut:
    return schemas.ProfileOut.model_validate(user, from_attributes=True)


def _client(request: Request) -> str:
    """The client's address: the connecting one, or what a trusted proxy (only one of
    PORTAL_TRUSTED_PROXIES) put in X-Forwarded-For; at most 64 characters, as stored."""
    return request.client.host[:64] if request.client else "unknown"


@router.get("/captcha", response_model=schemas.CaptchaOut, tags=["captcha"])
async def get_captcha(service: Service, response: Response, audio: bool = False) -> Any:
    """A captcha (mã xác nhận) to answer when registering or filing without an account. The id
    carries the answer sealed: the dossiers service verifies it too, once. `audio=true`: a
    captcha of digits, also spoken (the accessible alternative to the image)."""
    captcha_id, image, sound = await service.issue_captcha(audio=audio)
    response.headers["Cache-Control"] = "no-store"
    return schemas.CaptchaOut(
        captcha_id=captcha_id, image=image, audio=sound, expires_in=service.settings.captcha_ttl
    )


DEVICE_COOKIE = "portal_device"
"""The device token of a browser calling the API itself (HttpOnly, SameSite=Strict, only sent
to the accounts API's paths)."""
COOKIE_PATH = "/api/v1/accounts"


def _device_token(request: Request, given: str | None) -> str | None:
    """The device token sent in the body or form, else the browser's cookie."""
    return given or request.cookies.get(DEVICE_COOKIE)


@router.post("/register", status_code=202, response_model=schemas.Accepted, tags=["registration"])
async def register(
    body: schemas.RegisterIn, request: Request, service: Service, session: Session
) -> Any:
    """Đăng ký: the same answer, after the same time, whether or not the e-mail already has an
    account (a new account writes more rows than a notice to an existing one)."""
    answer_no_sooner_than(request, service.settings.answer_floor_seconds)
    lang = request_language(request)
    text = await commit_through(
        session,
        service.register(
            body, _client(request), device_token=_device_token(request, body.device_token)
        ),
    )
    return schemas.Accepted(detail=text(lang))


ACTIVATED = Text("Tài khoản đã được kích hoạt.", "Account activated.")


@router.post("/activate", response_model=schemas.Accepted, tags=["registration"])
async def activate(
    body: schemas.ActivateIn, request: Request, service: Service, session: Session
) -> Any:
    """The e-mailed 6-digit code, or the token of the e-mailed link. When several people
    registered the address, `password` (the one chosen when registering) says whose
    registration to activate; without it, or with one that matches none: 422 at `password`."""
    lang = request_language(request)
    await commit_through(
        session, service.activate(body.email, body.code, _client(request), body.password)
    )
    return schemas.Accepted(detail=ACTIVATED(lang))


@router.get("/activate", response_class=HTMLResponse, tags=["registration"])
async def activation_page(
    request: Request,
    service: Service,
    email: Annotated[str, Query(max_length=320)],
    code: Annotated[str, Query(max_length=schemas.CODE_MAX)],
) -> HTMLResponse:
    """The link in the activation e-mail: a page that asks for one click (and the password,
    when several registered the address). Opening it changes nothing."""
    lang = request_language(request)
    try:
        address = schemas.EmailIn(email=email).email
    except ValueError:
        return pages.message(lang, pages.ACTIVATION_FAILED, pages.ACTIVATION_LINK_BAD(lang), 400)
    ask = await service.activation_form(address, code)
    if ask is None:
        return pages.message(lang, pages.ACTIVATION_FAILED, pages.ACTIVATION_LINK_BAD(lang), 400)
    password = "optional" if is_short_code(code) else ("required" if ask else "none")
    return pages.activation_form(lang, "activate/confirm", address, code, password=password)


@router.post(
    "/activate/confirm", response_class=HTMLResponse, tags=["registration"], status_code=200
)
async def activation_page_confirm(
    request: Request,
    service: Service,
    session: Session,
    email: Annotated[str, Form(max_length=320)],
    code: Annotated[str, Form(max_length=schemas.CODE_MAX)],
    password: Annotated[str | None, Form(max_length=schemas.PASSWORD_MAX)] = None,
) -> HTMLResponse:
    """The activation page's button (a form POST): activates as `POST /activate` does and
    answers a page."""
    lang = request_language(request)
    try:
        body = schemas.ActivateIn(email=email, code=code, password=password or None)
        await commit_through(
            session,
            service.activate(body.email, body.code, _client(request), body.password),
        )
    except ProblemError as problem:
        if problem.status == 422:
            password_field = "optional" if is_short_code(code) else "required"
            return pages.activation_form(
                lang,
                "confirm",
                body.email,
                code,
                password=password_field,
                error=problem.detail(lang),
                status=422,
            )
        return pages.message(lang, pages.ACTIVATION_FAILED, pages.ACTIVATION_LINK_BAD(lang), 400)
    except ValueError:
        return pages.message(lang, pages.ACTIVATION_FAILED, pages.ACTIVATION_LINK_BAD(lang), 400)
    detail = pages.ACTIVATED_DETAIL(lang).format(email=body.email)
    return pages.message(lang, pages.ACTIVATED, detail, 200)


@router.post(
    "/activate/resend", status_code=202, response_model=schemas.Accepted, tags=["registration"]
)
async def resend_activation(
    body: schemas.CodeRequestIn, request: Request, service: Service, session: Session
) -> Any:
    answer_no_sooner_than(request, service.settings.answer_floor_seconds)
    text = await commit_through(session, service.resend_activation(body.email, _client(request)))
    return schemas.Accepted(detail=text(request_language(request)))


@router.post("/token", response_model=schemas.TokenOut, tags=["sign-in"])
async def token(
    request: Request,
    response: Response,
    service: Service,
    session: Session,
    username: Annotated[str, Form(max_length=320, description="the e-mail address")],
    password: Annotated[str, Form(max_length=128)],
    device_token: Annotated[
        str | None,
        Form(
            max_length=schemas.DEVICE_TOKEN_MAX,
            description="the `device_token` of an earlier sign-in from this device (browsers: "
            "the portal_device cookie does it)",
        ),
    ] = None,
) -> Any:
    """OAuth2 password flow: `username` is the e-mail address. The answer carries a device
    token (also set as the `portal_device` cookie): failures from elsewhere do not hold back
    a sign-in that gives it back."""
    try:
        email = schemas.EmailIn(email=username).email
    except ValueError:
        email = username.strip().lower()
    tokens: schemas.TokenOut = await commit_through(
        session,
        service.sign_in(email, password, _client(request), _device_token(request, device_token)),
    )
    if tokens.device_token:
        response.set_cookie(
            DEVICE_COOKIE,
            tokens.device_token,
            max_age=service.settings.device_token_ttl,
            path=COOKIE_PATH,
            secure=service.settings.production,
            httponly=True,
            samesite="strict",
        )
    return tokens


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
    body: schemas.CodeRequestIn, request: Request, service: Service, session: Session
) -> Any:
    """The same answer, after the same time, whether or not the address has an account."""
    answer_no_sooner_than(request, service.settings.answer_floor_seconds)
    text = await commit_through(
        session,
        service.request_password_reset(
            body.email, _client(request), _device_token(request, body.device_token)
        ),
    )
    return schemas.Accepted(detail=text(request_language(request)))


@router.post("/password-reset/confirm", status_code=204, tags=["password"])
async def password_reset_confirm(
    body: schemas.PasswordResetConfirmIn, request: Request, service: Service, session: Session
) -> Response:
    """`code`: the e-mailed 6-digit code, or the token of the e-mailed link."""
    await commit_through(
        session,
        service.confirm_password_reset(body.email, body.code, body.new_password, _client(request)),
    )
    return Response(status_code=204)


@router.get("/password-reset/confirm", response_class=HTMLResponse, tags=["password"])
async def password_reset_page(
    request: Request,
    service: Service,
    email: Annotated[str, Query(max_length=320)],
    code: Annotated[str, Query(max_length=schemas.CODE_MAX)],
) -> HTMLResponse:
    """The link in the reset and invitation e-mails: a form for the new password."""
    lang = request_language(request)
    try:
        address = schemas.EmailIn(email=email).email
    except ValueError:
        return pages.message(lang, pages.RESET_FAILED, pages.RESET_LINK_BAD(lang), 400)
    if not await service.reset_form(address, code):
        return pages.message(lang, pages.RESET_FAILED, pages.RESET_LINK_BAD(lang), 400)
    return pages.reset_form(lang, "confirm/form", address, code)


@router.post("/password-reset/confirm/form", response_class=HTMLResponse, tags=["password"])
async def password_reset_page_confirm(
    request: Request,
    service: Service,
    session: Session,
    email: Annotated[str, Form(max_length=320)],
    code: Annotated[str, Form(max_length=schemas.CODE_MAX)],
    new_password: Annotated[str, Form(max_length=schemas.PASSWORD_MAX)],
) -> HTMLResponse:
    """The reset page's form: sets the password as `POST /password-reset/confirm` does."""
    lang = request_language(request)
    try:
        body = schemas.PasswordResetConfirmIn(email=email, code=code, new_password=new_password)
    except ValidationError as exc:
        fields = {str(e["loc"][0]): e["type"] for e in exc.errors()}
        if "new_password" in fields and "email" not in fields and "code" not in fields:
            text = FIELD_MESSAGES.get(fields["new_password"], FIELD_MESSAGES["value_error"])
            return pages.reset_form(lang, "form", email, code, error=text(lang), status=422)
        return pages.message(lang, pages.RESET_FAILED, pages.RESET_LINK_BAD(lang), 400)
    try:
        await commit_through(
            session,
            service.confirm_password_reset(
                body.email, body.code, body.new_password, _client(request)
            ),
        )
    except ProblemError:
        return pages.message(lang, pages.RESET_FAILED, pages.RESET_LINK_BAD(lang), 400)
    detail = pages.RESET_DONE_DETAIL(lang).format(email=body.email)
    return pages.message(lang, pages.RESET_DONE, detail, 200)


@router.post("/officers", status_code=201, response_model=schemas.OfficerOut, tags=["officers"])
async def invite_officer(
    body: schemas.OfficerInviteIn,
    admin: CurrentAdmin,
    service: Service,
    session: Session,
) -> Any:
    """An admin invites an officer (bound to an agency) or another admin by e-mail."""
    user = await commit_through(session, service.invite_officer(body))
    return schemas.OfficerOut.model_validate(user, from_attributes=True)


@router.get("/.well-known/jwks.json", tags=["keys"])
async def jwks(request: Request, response: Response) -> dict[str, Any]:
    """The public keys that verify access tokens."""
    response.headers["Cache-Control"] = "public, max-age=300"
    # Starlette's app.state holds Any; create_app put the signer there
    return request.app.state.signer.jwks()  # type: ignore[no-any-return]

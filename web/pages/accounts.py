"""Accounts (the guide's section 1): register with a captcha, the success message, activation
with the e-mailed code, a new code, sign in and out, forgotten password → code → new password,
and the profile. The API's tokens stay on the server (`web.auth`); every form comes back
filled in when refused, passwords excepted."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web import auth, sessions
from web.clients.accounts import Registration
from web.clients.base import ApiProblem
from web.csrf import page_router
from web.forms import FormState, secret
from web.pages import Accounts
from web.templating import render

router = page_router()

SIGN_IN = {"email": "Địa chỉ email", "password": "Mật khẩu"}
REGISTER_REQUIRED = {
    "full_name": "Họ và tên",
    "email": "Địa chỉ email",
    "password": "Mật khẩu",
    "password_again": "Nhập lại mật khẩu",
    "captcha_answer": "Mã xác nhận",
}
REGISTER_OPTIONAL = {
    "phone": "Số điện thoại",
    "gender": "Giới tính",
    "date_of_birth": "Ngày sinh",
    "id_number": "Số định danh cá nhân (CCCD)",
    "address": "Địa chỉ",
}
GENDERS = {"male": "Nam", "female": "Nữ", "other": "Khác"}
ACTIVATE = {"email": "Địa chỉ email", "code": "Mã kích hoạt"}
ACTIVATE_PASSWORD = "Mật khẩu đã chọn khi đăng ký"
RESET = {
    "email": "Địa chỉ email",
    "code": "Mã xác nhận đặt lại mật khẩu",
    "password": "Mật khẩu mới",
    "password_again": "Nhập lại mật khẩu mới",
}
PASSWORD_HINT = "Từ 8 đến 128 ký tự; không dùng mật khẩu phổ biến, dễ đoán."
CODE_MAX = 128
"""The API takes the e-mail's 6-digit code or its link's token in the same field."""
MISMATCH = "Mật khẩu nhập lại không khớp."
NOT_KEPT = "Mật khẩu"


def _next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# -- sign in, sign out -----------------------------------------------------------------------


def _sign_in_page(
    request: Request, form: FormState, *, officer: bool, target: str, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "accounts/sign_in.html",
        {"form": form, "officer": officer, "labels": SIGN_IN, "target": target},
        status_code=status_code,
    )


@router.get("/dang-nhap", response_class=HTMLResponse)
async def sign_in_form(request: Request, tiep: str | None = None) -> HTMLResponse:
    form = FormState(values={"email": sessions.remembered_email(request)})
    return _sign_in_page(request, form, officer=False, target=_next(tiep))


@router.get("/can-bo/dang-nhap", response_class=HTMLResponse)
async def officer_sign_in_form(request: Request, tiep: str | None = None) -> HTMLResponse:
    """Officers land on their console (`/can-bo`; admins are sent on to theirs)."""
    form = FormState(values={"email": sessions.remembered_email(request)})
    return _sign_in_page(request, form, officer=True, target=_next(tiep or "/can-bo"))


@router.post("/dang-nhap", response_class=HTMLResponse)
async def sign_in(request: Request, accounts: Accounts) -> Response:
    return await _sign_in(request, accounts, officer=False)


@router.post("/can-bo/dang-nhap", response_class=HTMLResponse)
async def officer_sign_in(request: Request, accounts: Accounts) -> Response:
    return await _sign_in(request, accounts, officer=True)


async def _sign_in(request: Request, accounts: Accounts, *, officer: bool) -> Response:
    submitted = await request.form()
    form = FormState.from_form(submitted, secret=["password"])
    password = secret(submitted, "password")
    target = _next(form.value("tiep"))
    form.require(SIGN_IN, {"password": password})
    settings = request.app.state.settings
    if not form.invalid:
        try:
            device = request.cookies.get(settings.device_cookie)
            pair = await accounts.sign_in(form.value("email"), password, device_token=device)
            profile = await accounts.me(pair.access_token)
        except ApiProblem as problem:
            form.apply(problem, fields={"username": "email"})
        else:
            person = sessions.SignedIn(
                account_id=profile.id,
                email=profile.email,
                full_name=profile.full_name,
                role=profile.role,
                agency_id=profile.agency_id,
            )
            session_id = sessions.start_signed_in(request, person)
            await auth.keeper(request).write(session_id, auth.HeldTokens.of(pair))
            signed_in = RedirectResponse(target, status_code=303)
            if pair.device_token:
                signed_in.set_cookie(
                    settings.device_cookie,
                    pair.device_token,
                    max_age=settings.device_cookie_days * 24 * 3600,
                    path="/",
                    secure=settings.production,
                    httponly=True,
                    samesite="strict",
                )
            return signed_in
    if password:
        form.keep_out(NOT_KEPT)
    return _sign_in_page(request, form, officer=officer, target=target, status_code=422)


@router.post("/dang-xuat")
async def sign_out(request: Request, accounts: Accounts) -> RedirectResponse:
    """Revokes the refresh token at the API, then forgets the session and its tokens."""
    session_id = sessions.session_id(request)
    if session_id and sessions.signed_in(request):
        keeper = auth.keeper(request)
        held = await keeper.current(session_id, accounts)
        if held is not None:
            # already revoked or expired: the person is signed out either way
            with contextlib.suppress(ApiProblem):
                await accounts.sign_out(held.access, held.refresh)
        await keeper.forget(session_id)
    sessions.end(request)
    return RedirectResponse("/", status_code=303)


# -- register ----------------------------------------------------------------------------------

NEW_CAPTCHA = ("ma-moi", "ma-am-thanh", "ma-hinh")
"""The captcha's own buttons: a new image, a spoken one (digits), back to an image."""


def wants_audio(form: FormState) -> bool:
    """Whether the captcha to show is the spoken one: asked for now, or kept from before."""
    action = form.value("hanh_dong")
    if action in ("ma-am-thanh", "ma-hinh"):
        return action == "ma-am-thanh"
    return form.value("am_thanh") == "1"


async def _register_page(
    request: Request, accounts: Accounts, form: FormState, status_code: int = 200
) -> HTMLResponse:
    # a new one each time (an answered id is spent); spoken when the person asked for it
    captcha = await accounts.captcha(audio=wants_audio(form))
    return render(
        request,
        "accounts/register.html",
        {
            "form": form,
            "captcha": captcha,
            "required": REGISTER_REQUIRED,
            "optional": REGISTER_OPTIONAL,
            "genders": GENDERS,
            "password_hint": PASSWORD_HINT,
        },
        status_code=status_code,
    )


@router.get("/dang-ky", response_class=HTMLResponse)
async def register_form(request: Request, accounts: Accounts) -> HTMLResponse:
    return await _register_page(request, accounts, FormState())


@router.post("/dang-ky", response_class=HTMLResponse)
async def register(request: Request, accounts: Accounts) -> Response:
    submitted = await request.form()
    form = FormState.from_form(submitted, secret=["password", "password_again", "captcha_answer"])
    password, again = secret(submitted, "password"), secret(submitted, "password_again")
    answer = secret(submitted, "captcha_answer")
    if form.value("hanh_dong") in NEW_CAPTCHA:  # "Lấy mã khác" / "Nghe mã": the same form
        return await _register_page(request, accounts, form)
    form.require(
        REGISTER_REQUIRED,
        {"password": password, "password_again": again, "captcha_answer": answer},
    )
    if password and again and password != again:
        form.add("password_again", MISMATCH)
    if form.value("gender") and form.value("gender") not in GENDERS:
        form.add("gender", "Vui lòng chọn giới tính trong danh sách.")
    if not form.invalid:
        optional = {name: form.value(name) or None for name in REGISTER_OPTIONAL}
        try:
            await accounts.register(
                Registration(
                    email=form.value("email"),
                    password=password,
                    full_name=form.value("full_name"),
                    captcha_id=form.value("captcha_id"),
                    captcha_answer=answer,
                    **optional,
                )
            )
        except ApiProblem as problem:
            form.apply(problem, fields={"captcha_id": "captcha_answer"})
        else:
            sessions.remember_email(request, form.value("email"))
            return RedirectResponse("/dang-ky/thanh-cong", status_code=303)
    if password or again:
        form.keep_out(NOT_KEPT)
    return await _register_page(request, accounts, form, status_code=422)


@router.get("/dang-ky/thanh-cong", response_class=HTMLResponse)
async def registered(request: Request) -> HTMLResponse:
    return render(
        request, "accounts/registered.html", {"email": sessions.remembered_email(request)}
    )


# -- activation ----------------------------------------------------------------------------------


def _activate_page(request: Request, form: FormState, status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "accounts/activate.html",
        {"form": form, "labels": ACTIVATE, "password_label": ACTIVATE_PASSWORD},
        status_code=status_code,
    )


@router.get("/kich-hoat", response_class=HTMLResponse)
async def activate_form(
    request: Request,
    email: Annotated[str, Query(max_length=320)] = "",
    code: Annotated[str, Query(max_length=CODE_MAX)] = "",
) -> HTMLResponse:
    """The form, filled in from the e-mail's link when it carries the address and the code:
    activating takes one click on "Kích hoạt" (a GET never changes anything, so a mail
    scanner following the link activates nothing)."""
    values = {"email": email or sessions.remembered_email(request), "code": code}
    return _activate_page(request, FormState(values=values))


@router.post("/kich-hoat", response_class=HTMLResponse)
async def activate(request: Request, accounts: Accounts) -> Response:
    submitted = await request.form()
    form = FormState.from_form(submitted, secret=["password"])
    password = secret(submitted, "password")
    form.require(ACTIVATE)
    if not form.invalid:
        try:
            await accounts.activate(form.value("email"), form.value("code"), password or None)
        except ApiProblem as problem:
            form.apply(problem, at={"code-invalid": "code", 400: "code"})
            if password:
                form.keep_out(NOT_KEPT)
        else:
            sessions.remember_email(request, form.value("email"))
            sessions.flash(request, "Tài khoản đã được kích hoạt. Mời bạn đăng nhập.")
            return RedirectResponse("/dang-nhap", status_code=303)
    return _activate_page(request, form, status_code=422)


@router.get("/kich-hoat/gui-lai", response_class=HTMLResponse)
async def resend_form(request: Request) -> HTMLResponse:
    form = FormState(values={"email": sessions.remembered_email(request)})
    return render(request, "accounts/resend.html", {"form": form})


@router.post("/kich-hoat/gui-lai", response_class=HTMLResponse)
async def resend(request: Request, accounts: Accounts) -> Response:
    form = FormState.from_form(await request.form())
    form.require({"email": "Địa chỉ email"})
    if not form.invalid:
        try:
            await accounts.resend_activation(form.value("email"))
        except ApiProblem as problem:
            form.apply(problem)
        else:
            sessions.remember_email(request, form.value("email"))
            sessions.flash(
                request,
                "Nếu địa chỉ email này đã đăng ký và chưa kích hoạt, một mã kích hoạt mới vừa "
                "được gửi tới đó. Vui lòng kiểm tra hộp thư.",
            )
            return RedirectResponse("/kich-hoat", status_code=303)
    return render(request, "accounts/resend.html", {"form": form}, status_code=422)


# -- forgotten password --------------------------------------------------------------------------


@router.get("/quen-mat-khau", response_class=HTMLResponse)
async def forgot_form(request: Request) -> HTMLResponse:
    form = FormState(values={"email": sessions.remembered_email(request)})
    return render(request, "accounts/forgot.html", {"form": form})


@router.post("/quen-mat-khau", response_class=HTMLResponse)
async def forgot(request: Request, accounts: Accounts) -> Response:
    form = FormState.from_form(await request.form())
    form.require({"email": "Địa chỉ email"})
    if not form.invalid:
        try:
            await accounts.request_password_reset(form.value("email"))
        except ApiProblem as problem:
            form.apply(problem)
        else:
            sessions.remember_email(request, form.value("email"))
            sessions.flash(
                request,
                "Nếu địa chỉ email này có tài khoản, mã đặt lại mật khẩu vừa được gửi tới đó. "
                "Vui lòng nhập mã và mật khẩu mới.",
            )
            return RedirectResponse("/dat-lai-mat-khau", status_code=303)
    return render(request, "accounts/forgot.html", {"form": form}, status_code=422)


def _reset_page(request: Request, form: FormState, status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "accounts/reset.html",
        {"form": form, "labels": RESET, "password_hint": PASSWORD_HINT},
        status_code=status_code,
    )


@router.get("/dat-lai-mat-khau", response_class=HTMLResponse)
async def reset_form(
    request: Request,
    email: Annotated[str, Query(max_length=320)] = "",
    code: Annotated[str, Query(max_length=CODE_MAX)] = "",
) -> HTMLResponse:
    """Filled in from the e-mail's link when it carries the address and the code (or the
    link's token, which the API takes in the same field)."""
    values = {"email": email or sessions.remembered_email(request), "code": code}
    return _reset_page(request, FormState(values=values))


@router.post("/dat-lai-mat-khau", response_class=HTMLResponse)
async def reset(request: Request, accounts: Accounts) -> Response:
    submitted = await request.form()
    form = FormState.from_form(submitted, secret=["password", "password_again"])
    password, again = secret(submitted, "password"), secret(submitted, "password_again")
    form.require(RESET, {"password": password, "password_again": again})
    if password and again and password != again:
        form.add("password_again", MISMATCH)
    if not form.invalid:
        try:
            await accounts.reset_password(form.value("email"), form.value("code"), password)
        except ApiProblem as problem:
            form.apply(problem, fields={"new_password": "password"}, at={"code-invalid": "code"})
        else:
            sessions.remember_email(request, form.value("email"))
            sessions.flash(
                request, "Mật khẩu đã được đặt lại. Mời bạn đăng nhập bằng mật khẩu mới."
            )
            return RedirectResponse("/dang-nhap", status_code=303)
    if password or again:
        form.keep_out(NOT_KEPT)
    return _reset_page(request, form, status_code=422)


# -- the profile -----------------------------------------------------------------------------------


@router.get("/ho-so-ca-nhan", response_class=HTMLResponse)
async def profile(request: Request, accounts: Accounts, token: auth.AccessToken) -> HTMLResponse:
    """ "Hồ sơ cá nhân": the registered details (editing them, the password and the dossier
    folders come with the next slices)."""
    details = await accounts.me(token)
    return render(request, "accounts/profile.html", {"profile": details, "genders": GENDERS})

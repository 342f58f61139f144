"""Signing in and out. The API's tokens go into the server-side session only; the browser
holds the session's opaque id. (Registration, activation, password reset: the accounts
slice.)"""

from __future__ import annotations

import contextlib

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web import auth, sessions
from web.clients.base import ApiProblem
from web.csrf import page_router
from web.forms import FormState
from web.pages import Accounts
from web.templating import render

router = page_router()

SIGN_IN_LABELS = {"email": "Địa chỉ email", "password": "Mật khẩu"}
SIGN_IN_REFUSALS: dict[str | int, str] = {
    400: "Email hoặc mật khẩu không đúng, hoặc tài khoản chưa được kích hoạt.",
    401: "Email hoặc mật khẩu không đúng, hoặc tài khoản chưa được kích hoạt.",
}
OFFICER_ROLES = frozenset({"officer", "admin"})


def _sign_in_page(
    request: Request, form: FormState, *, officer: bool, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "sign_in.html",
        {"form": form, "officer": officer, "labels": SIGN_IN_LABELS},
        status_code=status_code,
    )


@router.get("/dang-nhap", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> HTMLResponse:
    return _sign_in_page(request, FormState(), officer=False)


@router.get("/can-bo/dang-nhap", response_class=HTMLResponse)
async def officer_sign_in_form(request: Request) -> HTMLResponse:
    return _sign_in_page(request, FormState(), officer=True)


@router.post("/dang-nhap", response_class=HTMLResponse)
async def sign_in(request: Request, accounts: Accounts) -> Response:
    return await _sign_in(request, accounts, officer=False)


@router.post("/can-bo/dang-nhap", response_class=HTMLResponse)
async def officer_sign_in(request: Request, accounts: Accounts) -> Response:
    return await _sign_in(request, accounts, officer=True)


async def _sign_in(request: Request, accounts: Accounts, *, officer: bool) -> Response:
    submitted = await request.form()
    form = FormState.from_form(submitted, secret=["password"])
    password = submitted.get("password")
    password = password if isinstance(password, str) else ""
    if not password:
        form.values["password"] = ""
    form.require(SIGN_IN_LABELS if not password else {"email": SIGN_IN_LABELS["email"]})
    if password and not form.invalid:
        try:
            pair = await accounts.sign_in(form.value("email"), password)
            profile = await accounts.me(pair.access_token)
        except ApiProblem as problem:
            form.apply(problem, fields={"username": "email"}, messages=SIGN_IN_REFUSALS)
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
            return RedirectResponse("/", status_code=303)
    if password:
        form.keep_out(SIGN_IN_LABELS["password"])
    return _sign_in_page(request, form, officer=officer, status_code=422)


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

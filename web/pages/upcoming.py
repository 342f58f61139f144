"""Pages the procedure page links to that a later slice of issue 12 builds (filing). Until
then each says so in plain words, so no link of the portal leads to a dead end."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from web.csrf import page_router
from web.templating import render

router = page_router()


def _upcoming(request: Request, title: str, what: str) -> HTMLResponse:
    return render(request, "upcoming.html", {"title": title, "what": what})


@router.get("/nop-ho-so/{code}", response_class=HTMLResponse)
async def file_with_account(request: Request, code: str) -> HTMLResponse:
    """ "Đăng ký trực tuyến": the filing slice's reception form, for a signed-in citizen."""
    return _upcoming(request, "Đăng ký trực tuyến", "nộp hồ sơ trực tuyến có tài khoản")


@router.get("/nop-ho-so/{code}/khong-tai-khoan", response_class=HTMLResponse)
async def file_without_account(request: Request, code: str) -> HTMLResponse:
    """ "Đăng ký hồ sơ không tài khoản": the same form with a captcha and an e-mail address."""
    return _upcoming(request, "Đăng ký hồ sơ không tài khoản", "nộp hồ sơ không cần tài khoản")

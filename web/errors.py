"""Error pages in Vietnamese — 400, 403, 404, 429, 500, 503 — never raw JSON, never a trace:
what the person can do next. API problems a page does not handle itself end here too. An
error nothing handled becomes the 500 page in `web.headers.PageHeaders`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from web import sessions
from web.auth import SignInRequired, sign_in_redirect
from web.clients.base import ApiProblem, ApiUnavailable
from web.csrf import CsrfRefused
from web.templating import render

log = logging.getLogger("web.errors")

PAGES: dict[int, tuple[str, str]] = {
    400: (
        "Yêu cầu không hợp lệ",
        "Địa chỉ hoặc dữ liệu gửi lên không hợp lệ. Vui lòng kiểm tra lại đường dẫn.",
    ),
    403: ("Không có quyền truy cập", "Bạn không có quyền xem trang này."),
    404: (
        "Không tìm thấy trang",
        "Trang bạn tìm không tồn tại hoặc đã được chuyển đi. Vui lòng kiểm tra lại địa chỉ, "
        "hoặc tìm thủ tục từ trang chủ.",
    ),
    405: ("Yêu cầu không hợp lệ", "Trang này không nhận yêu cầu theo cách đó."),
    413: (
        "Dữ liệu gửi lên quá lớn",
        "Biểu mẫu hoặc các tệp gửi kèm vượt quá dung lượng cho phép (10 MB mỗi tệp, 50 MB mỗi "
        "hồ sơ). Vui lòng quay lại, chọn tệp nhỏ hơn rồi gửi lại.",
    ),
    429: (
        "Quá nhiều yêu cầu",
        "Bạn đã gửi quá nhiều yêu cầu trong thời gian ngắn. Vui lòng chờ một lát rồi thử lại.",
    ),
    500: (
        "Đã có lỗi xảy ra",
        "Hệ thống gặp lỗi khi xử lý yêu cầu của bạn. Vui lòng thử lại sau ít phút.",
    ),
    503: (
        "Dịch vụ tạm thời gián đoạn",
        "Hệ thống đang tạm gián đoạn; yêu cầu của bạn có thể chưa được thực hiện. "
        "Vui lòng thử lại sau ít phút.",
    ),
}
CSRF_MESSAGE = (
    "Biểu mẫu đã hết hạn hoặc không được gửi từ trang của Cổng Dịch vụ công, nên chưa được "
    "thực hiện. Vui lòng quay lại trang trước, tải lại trang và gửi lại."
)


def error_page(
    request: Request, status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> HTMLResponse:
    title, text = PAGES.get(status, PAGES[500])
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "message": message or text},
        status_code=status,
        headers=headers,
    )


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        status = exc.status_code if exc.status_code in PAGES else 400
        return error_page(request, status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return error_page(request, 400)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> HTMLResponse:
        log.warning("CSRF refused on %s %s: %s", request.method, request.url.path, exc.reason)
        return error_page(request, 403, CSRF_MESSAGE)

    @app.exception_handler(ApiUnavailable)
    async def _unavailable(request: Request, exc: ApiUnavailable) -> HTMLResponse:
        log.warning("%s on %s %s", exc, request.method, request.url.path)
        return error_page(request, 503, headers={"Retry-After": "30"})

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(exc.target, exc.page)

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> Response:
        """A refusal no page handled: the page of the nearest status, the API's own words
        where they help (their detail is Vietnamese). A 401 means the API no longer takes the
        session's token: the person signs in again."""
        if exc.status == 401:
            sessions.end(request)
            sessions.flash(request, "Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.")
            return sign_in_redirect(request.url.path)
        if exc.status in (403, 404):
            return error_page(request, exc.status)
        if exc.status == 429:
            wait = str(exc.retry_after or 60)
            return error_page(request, 429, headers={"Retry-After": wait})
        if exc.status < 500:
            return error_page(request, 400, exc.detail or None)
        log.error("API problem on %s %s: %s", request.method, request.url.path, exc)
        return error_page(request, 500)

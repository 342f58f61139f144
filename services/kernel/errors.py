"""One error hierarchy, mapped once to RFC 9457 problem+json, Vietnamese by default and English
when the request asks for it with ``Accept-Language: en``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from services.kernel.transient import is_transient

if TYPE_CHECKING:  # the web framework is imported where an answer is made: workers raise
    # these errors too, and FastAPI is most of what importing this module would cost them
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.responses import JSONResponse

log = logging.getLogger("portal.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://dichvucong.hatinh.gov.vn/problems/"

# code -> (status, title vi, title en)
TITLES: dict[str, tuple[int, str, str]] = {
    "bad-request": (400, "Yêu cầu không hợp lệ", "Bad request"),
    "unauthorized": (401, "Chưa xác thực", "Not authenticated"),
    "forbidden": (403, "Không có quyền", "Forbidden"),
    "not-found": (404, "Không tìm thấy", "Not found"),
    "method-not-allowed": (405, "Phương thức không được hỗ trợ", "Method not allowed"),
    "conflict": (409, "Xung đột trạng thái", "Conflict"),
    "request-timeout": (408, "Hết thời gian chờ dữ liệu", "Request timeout"),
    "payload-too-large": (413, "Dữ liệu gửi lên quá lớn", "Payload too large"),
    "unsupported-media-type": (415, "Kiểu dữ liệu không được hỗ trợ", "Unsupported media type"),
    "validation": (422, "Dữ liệu không hợp lệ", "Validation failed"),
    "too-many-requests": (429, "Quá nhiều yêu cầu", "Too many requests"),
    "internal": (500, "Lỗi hệ thống", "Internal server error"),
    "unavailable": (503, "Dịch vụ tạm thời không sẵn sàng", "Service unavailable"),
}
STATUS_CODES = {status: code for code, (status, _, _) in TITLES.items()}


class Text:
    """A message a citizen or officer reads, in both languages."""

    __slots__ = ("vi", "en")

    def __init__(self, vi: str, en: str) -> None:
        self.vi = vi
        self.en = en

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi


INTERNAL = Text("Đã có lỗi xảy ra, vui lòng thử lại sau.", "Something went wrong.")


class FieldError:
    """One field's error: where (``"a.b"`` or a path of parts), a stable code, and its message
    in both languages; the error handler writes the message in the request's language."""

    __slots__ = ("field", "code", "message")

    def __init__(self, loc: str | Sequence[str | int], code: str, message: Text) -> None:
        self.field = loc if isinstance(loc, str) else ".".join(str(p) for p in loc)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"FieldError({self.field!r}, {self.code!r})"

    def render(self, lang: str) -> dict[str, Any]:
        return {"field": self.field, "code": self.code, "message": self.message(lang)}


class ProblemError(Exception):
    """Any error a client must see, carrying both languages; the handler picks one.

    A named error is a subclass with its ``code`` (a key of TITLES, or a more specific code),
    ``status`` and ``detail`` as class attributes, raised with no arguments (``raise
    DossierNotFound()``); the arguments override them where one class serves several cases."""

    code: str = "internal"
    status: int = 500
    detail: Text = INTERNAL

    def __init__(
        self,
        code: str | None = None,
        detail: Text | None = None,
        *,
        status: int | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
            self.status = status or TITLES[code][0]
        elif status is not None:
            self.status = status
        if detail is not None:
            self.detail = detail
        super().__init__(self.detail.en)
        self.errors = list(errors) if errors is not None else None
        self.headers = headers
        self.extra = extra or {}

    def rendered_errors(self, lang: str) -> list[dict[str, Any]] | None:
        return None if self.errors is None else [e.render(lang) for e in self.errors]


FIELDS_INVALID = Text(
    "Dữ liệu gửi lên có trường không hợp lệ.", "Some fields of the request are invalid."
)


class Invalid(ProblemError):
    """422: fields refused by a service's rules. With one field and no detail, the field's
    message is the detail too."""

    code = "validation"
    status = 422

    def __init__(self, *errors: FieldError, detail: Text | None = None) -> None:
        if detail is None:
            detail = errors[0].message if len(errors) == 1 else FIELDS_INVALID
        super().__init__(detail=detail, errors=errors)


class Unauthorized(ProblemError):
    code = "unauthorized"
    status = 401
    detail = Text(
        "Mã truy cập không hợp lệ hoặc đã hết hạn.",
        "The access token is missing, invalid or expired.",
    )

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ProblemError):
    code = "forbidden"
    status = 403
    detail = Text("Bạn không có quyền thực hiện thao tác này.", "You may not do this.")


def request_language(request: Request) -> str:
    """'en' when the client's first language preference is English, else 'vi'."""
    header = request.headers.get("accept-language", "")
    ranked: list[tuple[float, str]] = []
    for i, part in enumerate(header.split(",")):
        lang, _, q = part.strip().partition(";q=")
        if not lang:
            continue
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((weight - i * 1e-6, lang.lower()))
    if not ranked:
        return "vi"
    best = max(ranked)[1]
    return "en" if best.startswith("en") else "vi"


def problem_response(
    request: Request,
    code: str,
    detail: str,
    *,
    status: int | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    from starlette.responses import JSONResponse

    lang = request_language(request)
    base = TITLES.get(code) or TITLES[STATUS_CODES.get(status or 500, "internal")]
    status = status or base[0]
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": base[2] if lang == "en" else base[1],
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    for key, value in (extra or {}).items():
        body.setdefault(key, value)  # extensions never replace the members RFC 9457 defines
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={**(headers or {}), "Content-Language": lang},
    )


FIELD_MESSAGES: dict[str, Text] = {
    "missing": Text("Trường này là bắt buộc.", "This field is required."),
    "string_too_short": Text("Giá trị quá ngắn.", "The value is too short."),
    "string_too_long": Text("Giá trị quá dài.", "The value is too long."),
    "value_error": Text("Giá trị không hợp lệ.", "The value is invalid."),
    "string_type": Text("Phải là một chuỗi ký tự.", "Must be a string."),
    "date_from_datetime_parsing": Text("Ngày không hợp lệ.", "Invalid date."),
    "date_parsing": Text("Ngày không hợp lệ (YYYY-MM-DD).", "Invalid date (YYYY-MM-DD)."),
    "date_type": Text("Ngày không hợp lệ (YYYY-MM-DD).", "Invalid date (YYYY-MM-DD)."),
    "literal_error": Text("Giá trị không nằm trong danh sách cho phép.", "Value not allowed."),
    "enum": Text("Giá trị không nằm trong danh sách cho phép.", "Value not allowed."),
    "json_invalid": Text("JSON không hợp lệ.", "Invalid JSON."),
    "model_attributes_type": Text("Phải là một đối tượng JSON.", "Must be a JSON object."),
    "dict_type": Text("Phải là một đối tượng JSON.", "Must be a JSON object."),
    "int_parsing": Text("Phải là một số nguyên.", "Must be an integer."),
    "extra_forbidden": Text("Trường không được phép.", "Unknown field."),
}


def register_field_messages(messages: dict[str, Text]) -> None:
    """Services add the messages of their own validation error codes."""
    FIELD_MESSAGES.update(messages)


def _validation_errors(exc: RequestValidationError, lang: str) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in ("body", "query", "path", "form")]
        kind = str(err.get("type", "value_error"))
        text = FIELD_MESSAGES.get(kind)
        if text is None:
            text = Text("Giá trị không hợp lệ.", str(err.get("msg", "Invalid value.")))
        errors.append(FieldError(loc, kind, text).render(lang))
    return errors


_UNSTORABLE_TEXT = {"22021", "22P05"}
"""PostgreSQL's character_not_in_repertoire and untranslatable_character: text or JSON holding
the NUL character (\\u0000), which PostgreSQL cannot store or compare, wherever a client sent
it (a path, a query, a body)."""
NUL_TEXT = Text(
    "Dữ liệu gửi lên chứa ký tự không hợp lệ (NUL, \\u0000).",
    "The request holds a character that is not accepted (NUL, \\u0000).",
)


def _unstorable_text(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) is PostgreSQL refusing a NUL character."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code in _UNSTORABLE_TEXT:
            return True
        orig = getattr(error, "orig", None)
        pending += [error.__cause__, error.__context__]
        if isinstance(orig, BaseException):
            pending.append(orig)
    return False


UNAVAILABLE = Text(
    "Hệ thống đang tạm gián đoạn; yêu cầu có thể chưa được thực hiện. Vui lòng thử lại sau ít "
    "phút.",
    "The service is briefly unavailable; the request may not have been carried out. Please try "
    "again shortly.",
)


def install_problem_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        lang = request_language(request)
        return problem_response(
            request,
            exc.code,
            exc.detail(lang),
            status=exc.status,
            errors=exc.rendered_errors(lang),
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_language(request)
        return problem_response(
            request, "validation", FIELDS_INVALID(lang), errors=_validation_errors(exc, lang)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "bad-request")
        lang = request_language(request)
        texts = {
            401: Text("Cần đăng nhập hoặc mã truy cập không hợp lệ.", "A valid token is required."),
            404: Text("Không tìm thấy tài nguyên yêu cầu.", "The resource was not found."),
            405: Text("Phương thức không được hỗ trợ.", "Method not allowed."),
            408: Text(
                "Dữ liệu gửi lên không đến đủ trong thời gian cho phép; vui lòng gửi lại.",
                "The request body did not arrive in time; please send it again.",
            ),
            413: Text(
                "Dữ liệu gửi lên vượt quá dung lượng cho phép.",
                "The request body is larger than allowed.",
            ),
        }
        text = texts.get(exc.status_code)
        detail = text(lang) if text else str(exc.detail)
        return problem_response(
            request,
            code,
            detail,
            status=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        if _unstorable_text(exc):
            lang = request_language(request)
            return problem_response(request, "validation", NUL_TEXT(lang))
        if isinstance(exc, DBAPIError | ConnectionError | TimeoutError) and is_transient(exc):
            # the database restarting or unreachable: a passing fault, worth another try
            log.warning("unavailable on %s %s: %r", request.method, request.url.path, exc)
            return problem_response(
                request,
                "unavailable",
                UNAVAILABLE(request_language(request)),
                headers={"Retry-After": "5"},
            )
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, "internal", INTERNAL(request_language(request)))

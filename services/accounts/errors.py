"""The accounts service's errors, each named with its status, code and both texts (the error
handler picks the language). A new error: a class here, raised where the rule is."""

from __future__ import annotations

from services.kernel.errors import FIELD_MESSAGES, FieldError, Invalid, ProblemError, Text


class InvalidCode(ProblemError):
    code = "code-invalid"
    status = 400
    detail = Text(
        "Mã không đúng, đã được sử dụng hoặc đã hết hạn. Bạn cũng có thể mở đường dẫn trong "
        "e-mail mới nhất, hoặc yêu cầu gửi mã mới.",
        "The code is wrong, already used or expired. The link in the newest e-mail works "
        "too; or ask for a new code.",
    )


class RegistrationExpired(ProblemError):
    code = "registration-expired"
    status = 400
    detail = Text(
        "Yêu cầu đăng ký đã hết hạn. Vui lòng đăng ký lại.",
        "The registration has expired. Please register again.",
    )


class ActivationPasswordInvalid(Invalid):
    """422 with the error at `password`: `password_required` or `password_mismatch`."""

    def __init__(self, code: str) -> None:
        super().__init__(FieldError("password", code, FIELD_MESSAGES[code]))


class InvalidCredentials(ProblemError):
    code = "invalid-credentials"
    status = 401
    detail = Text("E-mail hoặc mật khẩu không đúng.", "Wrong e-mail or password.")

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": "Bearer"})


class InvalidRefreshToken(ProblemError):
    code = "refresh-token-invalid"
    status = 401
    detail = Text(
        "Phiên đăng nhập không hợp lệ hoặc đã hết hạn. Vui lòng đăng nhập lại.",
        "The refresh token is invalid or expired. Please sign in again.",
    )


class AccountNotActivated(ProblemError):
    code = "account-not-activated"
    status = 400
    detail = Text(
        "Tài khoản chưa được kích hoạt. Vui lòng nhập mã kích hoạt đã gửi qua e-mail.",
        "The account is not activated yet. Enter the code sent by e-mail.",
    )


class TooManySignIns(ProblemError):
    code = "too-many-requests"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            detail=Text(
                f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {retry_after} giây.",
                f"Too many failed sign-ins. Try again in {retry_after} seconds.",
            ),
            headers={"Retry-After": str(retry_after)},
        )


class AccountGone(ProblemError):
    code = "unauthorized"
    status = 401
    detail = Text("Tài khoản không còn hiệu lực.", "The account is gone.")


# The field's message was only ever Vietnamese; kept so the answers stay the same.
FULL_NAME_REQUIRED = Text("Họ tên là bắt buộc.", "Họ tên là bắt buộc.")


class FullNameEmpty(Invalid):
    def __init__(self) -> None:
        super().__init__(
            FieldError("full_name", "missing", FULL_NAME_REQUIRED),
            detail=Text("Họ tên không được để trống.", "The full name must not be empty."),
        )


CURRENT_PASSWORD_WRONG = Text("Mật khẩu hiện tại không đúng.", "The current password is wrong.")


class CurrentPasswordWrong(ProblemError):
    code = "current-password-wrong"
    status = 400
    detail = CURRENT_PASSWORD_WRONG

    def __init__(self) -> None:
        # the field's message was only ever Vietnamese; kept so the answers stay the same
        message = Text(CURRENT_PASSWORD_WRONG.vi, CURRENT_PASSWORD_WRONG.vi)
        super().__init__(errors=[FieldError("current_password", "current_password_wrong", message)])


class OfficerAgencyRequired(Invalid):
    def __init__(self) -> None:
        super().__init__(
            FieldError(
                "agency_id",
                "agency_required",
                Text(
                    "Cán bộ phải thuộc một cơ quan (agency_id).", "An officer needs an agency_id."
                ),
            )
        )


class AccountExists(ProblemError):
    code = "account-exists"
    status = 409
    detail = Text("E-mail này đã có tài khoản.", "An account with this e-mail exists.")

"""The dossiers service's errors, each named with its status, code and both texts (the error
handler picks the language). A new error: a class here, raised where the rule is."""

from __future__ import annotations

from services.kernel.errors import ProblemError, Text

NOT_FOUND = Text("Không tìm thấy hồ sơ.", "No such dossier.")
FILER_ONLY = Text(
    "Chỉ người nộp hồ sơ được làm việc này.", "Only the filer of the dossier may do this."
)
TOKEN_ONLY_FILES_AND_SUBMIT = Text(
    "Mã hồ sơ không tài khoản chỉ dùng để đính kèm tệp và gửi hồ sơ.",
    "The token of a dossier filed without an account only attaches files and sends it.",
)
ONLY_OFFICERS = Text(
    "Chỉ cán bộ của cơ quan giải quyết được làm việc này.",
    "Only an officer of the competent agency may do this.",
)

# field errors (raised as kernel.errors.Invalid)
PROCEDURE_UNKNOWN = Text(
    "Không có thủ tục này, hoặc thủ tục đã ngừng áp dụng.",
    "No such procedure, or it is no longer in use.",
)
AGENCY_REQUIRED = Text(
    "Hãy chọn xã, phường nơi nộp hồ sơ (agency_id) trong danh sách cơ quan.",
    "Choose the commune to file with (agency_id) from the agencies list.",
)
EMAIL_REQUIRED = Text(
    "Cần địa chỉ thư điện tử để nhận thông báo về hồ sơ.",
    "An e-mail address is needed to receive the dossier's notices.",
)
RESULT_REQUIRED = Text("Cần ít nhất một tệp kết quả.", "At least one result file is needed.")
INCOMPLETE = Text(
    "Hồ sơ chưa đầy đủ; hãy bổ sung những mục được nêu rồi gửi lại.",
    "The dossier is incomplete; complete the items listed and send again.",
)


class DossierNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = NOT_FOUND


class FilerOnly(ProblemError):
    code = "forbidden"
    status = 403
    detail = FILER_ONLY


class TokenLimits(ProblemError):
    """The accountless filer's token does only what the token may."""

    code = "forbidden"
    status = 403
    detail = TOKEN_ONLY_FILES_AND_SUBMIT


class OfficersOnly(ProblemError):
    code = "forbidden"
    status = 403
    detail = ONLY_OFFICERS


class CitizenOnly(ProblemError):
    code = "forbidden"
    status = 403
    detail = Text("Cần đăng nhập bằng tài khoản công dân.", "A citizen account is needed.")


class StatusConflict(ProblemError):
    """409: the action does not fit the dossier's status (named in `dossier_status`)."""

    code = "conflict"
    status = 409

    def __init__(self, detail: Text, dossier_status: str) -> None:
        super().__init__(detail=detail, extra={"dossier_status": dossier_status})


class ComponentNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = Text("Hồ sơ không có thành phần này.", "The dossier has no such component.")


class FileNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = Text("Không có tệp này.", "No such file.")


class DossierTooLarge(ProblemError):
    """413: the dossier's files together would exceed the limit."""

    code = "payload-too-large"
    status = 413

    def __init__(self, limit_bytes: int) -> None:
        mb = limit_bytes // 1024 // 1024
        super().__init__(
            detail=Text(
                f"Tổng dung lượng tệp của hồ sơ vượt quá {mb} MB.",
                f"The dossier's files would exceed {mb} MB.",
            )
        )


class TooManyResultFiles(ProblemError):
    code = "validation"
    status = 422

    def __init__(self, limit: int) -> None:
        super().__init__(
            detail=Text(f"Tối đa {limit} tệp kết quả.", f"At most {limit} result files.")
        )

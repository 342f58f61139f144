"""The catalogue service's errors, each named with its status, code and both texts (the error
handler picks the language). A new error: a class here, raised where the rule is."""

from __future__ import annotations

from services.catalogue.lexicon import MAX_PHRASE_WORDS
from services.kernel.errors import FieldError, Invalid, ProblemError, Text


class ProcedureNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = Text("Không tìm thấy thủ tục hành chính.", "No such procedure.")


class AgencyNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = Text("Không tìm thấy cơ quan.", "No such agency.")


class FieldNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = Text("Không tìm thấy lĩnh vực.", "No such field.")


class FormNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = Text("Không tìm thấy mẫu đơn, tờ khai.", "No such form.")


class FormFileMissing(ProblemError):
    code = "form-file-missing"
    status = 404

    def __init__(self, form_name: str) -> None:
        super().__init__(
            detail=Text(
                f"Mẫu “{form_name}” chưa có tệp để tải về.",
                f"The form “{form_name}” has no file to download yet.",
            )
        )


class LexiconEntryNotFound(ProblemError):
    code = "not-found"
    status = 404
    detail = Text(
        "Không có mục từ này trong từ điển (mục từ trong tệp chỉ sửa được trong tệp).",
        "No such lexicon entry (the file's entries are changed in the file).",
    )


class AgencyExists(ProblemError):
    code = "conflict"
    status = 409
    detail = Text("Mã cơ quan đã tồn tại.", "An agency with this id exists.")


class FieldExists(ProblemError):
    code = "conflict"
    status = 409
    detail = Text("Lĩnh vực này đã tồn tại.", "This field already exists.")


class ProcedureExists(ProblemError):
    code = "conflict"
    status = 409
    detail = Text("Mã thủ tục đã tồn tại.", "A procedure with this code exists.")


class AgencyHasUnits(ProblemError):
    code = "conflict"
    status = 409
    detail = Text(
        "Cơ quan còn đơn vị trực thuộc; hãy chuyển hoặc ngừng các đơn vị đó trước.",
        "The agency still has units under it; move or retire them first.",
    )


class AgencyHasProcedures(ProblemError):
    code = "conflict"
    status = 409

    def __init__(self, count: int) -> None:
        super().__init__(
            detail=Text(
                f"Cơ quan còn thực hiện {count} thủ tục; hãy chuyển chúng trước.",
                f"The agency still performs {count} procedures; move them first.",
            )
        )


class FieldInUse(ProblemError):
    code = "conflict"
    status = 409

    def __init__(self, count: int) -> None:
        super().__init__(
            detail=Text(
                f"Lĩnh vực còn {count} thủ tục; hãy chuyển chúng trước.",
                f"The field still has {count} procedures; move them first.",
            )
        )


# field errors (raised as kernel.errors.Invalid)
PARENT_REQUIRED = Text("Cơ quan phải thuộc một cơ quan cấp trên.", "A parent agency is required.")
PARENT_UNKNOWN = Text("Không có cơ quan cấp trên này.", "No such parent agency.")
PARENT_TIER = Text(
    "Cơ quan cấp trên không phù hợp: sở, ngành và huyện thuộc tỉnh; xã thuộc tỉnh hoặc huyện.",
    "Wrong parent: departments and districts belong to the province; communes to the province "
    "or a district.",
)
FIELD_UNKNOWN = Text("Không có lĩnh vực này.", "No such field.")
AGENCY_REQUIRED = Text(
    "Thủ tục cấp tỉnh phải có cơ quan thực hiện (agency_id).",
    "A province-tier procedure needs its performing agency (agency_id).",
)
AGENCY_UNKNOWN = Text(
    "Cơ quan thực hiện phải là một sở, ngành hoặc Ủy ban nhân dân tỉnh.",
    "The performing agency must be a department or the province.",
)
FORM_NAME_REQUIRED = Text(
    "Cần tên mẫu (name) hoặc mã mẫu đã có (form_id).", "Give a form name or an existing form_id."
)
MATCHES_NOTHING = Text(
    "Cụm từ này không khớp thủ tục nào trong danh mục.",
    "This wording matches no procedure of the catalogue.",
)
PHRASE_EMPTY = Text("Cụm từ phải có ít nhất một chữ hoặc số.", "A phrase needs a letter or digit.")
PHRASE_TOO_LONG = Text(
    f"Cụm từ dài quá {MAX_PHRASE_WORDS} từ.", f"A phrase has at most {MAX_PHRASE_WORDS} words."
)


class LexiconEntryInvalid(Invalid):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            *errors, detail=Text("Mục từ chưa hợp lệ.", "The lexicon entry is not valid.")
        )

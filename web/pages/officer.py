"""The officers' console (issue 12, "Officers"): the agency's inbox by status with the count of
each, the overdue filter, oldest first; the dossier page — applicant, declaration, components
and their files, results, history — with the actions of processing: "Tiếp nhận", "Yêu cầu bổ
sung", a processing step, "Trả kết quả" (several files and a note), "Trả lại". Each action is a
form (POST → redirect → GET); when another officer acted first (the API's 409) the page says so
and shows the dossier as it is now. Files pass through the web app with the officer's token:
the browser never holds one.

Also the page an invited officer or admin opens from the invitation e-mail's link to set a
password."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile

from web import auth, sessions
from web.clients.base import ApiProblem, ApiUnavailable
from web.clients.dossiers import (
    INBOX_STATUSES,
    CaseDossier,
    DossierStatus,
    ProcessingClient,
)
from web.csrf import UPLOAD_BODY_BYTES, page_router
from web.forms import FormState, secret
from web.labels import STATUSES
from web.pages import Accounts, Catalogue
from web.pages.accounts import CODE_MAX, MISMATCH, NOT_KEPT, PASSWORD_HINT
from web.templating import render

router = page_router()

PAGE_SIZE = 20
STATUS_SLUGS: dict[str, DossierStatus] = {
    "da-gui": "submitted",
    "dang-xu-ly": "processing",
    "yeu-cau-bo-sung": "supplement_requested",
    "da-tra-ket-qua": "result_returned",
    "bi-tra-lai": "rejected",
}
"""`/can-bo?trang-thai=…`: the inbox's tabs, in the order of processing."""
SLUG_OF_STATUS = {status: slug for slug, status in STATUS_SLUGS.items()}

ACTIONS = {
    "receive": "Tiếp nhận",
    "request_supplement": "Yêu cầu bổ sung",
    "step": "Cập nhật xử lý",
    "return_result": "Trả kết quả",
    "reject": "Trả lại",
}
"""The actions' names as the buttons say them."""
ALLOWED: dict[str, frozenset[str]] = {
    "receive": frozenset({"submitted"}),
    "request_supplement": frozenset({"submitted", "processing"}),
    "step": frozenset({"processing"}),
    "return_result": frozenset({"processing"}),
    "reject": frozenset({"submitted", "processing"}),
}
"""Which actions a status offers (the API's state machine decides; the page shows only the
forms that can succeed)."""
DONE = {
    "receive": "Đã tiếp nhận hồ sơ {code}; thời hạn giải quyết được tính từ lúc này.",
    "request_supplement": "Đã gửi yêu cầu bổ sung hồ sơ {code} tới người nộp hồ sơ.",
    "step": "Đã ghi bước xử lý vào quá trình xử lý hồ sơ {code}.",
    "return_result": "Đã trả kết quả hồ sơ {code}; người nộp hồ sơ được báo qua email.",
    "reject": "Đã trả lại hồ sơ {code}; người nộp hồ sơ được báo lý do qua email.",
}
TEXT_FIELDS = {
    "request_supplement": ("content", "Nội dung yêu cầu bổ sung"),
    "step": ("note", "Nội dung xử lý"),
    "return_result": ("result_note", "Ghi chú kết quả"),
    "reject": ("reason", "Lý do trả lại"),
}
"""The text each action sends, by the form's field name and its label."""
REQUIRED = "Vui lòng nhập {label}."
NOTE_MAX = 4000

RESULT_TYPES = "PDF, JPEG, PNG, DOC, DOCX"
RESULT_ACCEPT = ".pdf,.jpg,.jpeg,.png,.doc,.docx"
MAX_RESULT_FILES = 10
MAX_RESULT_TOTAL = 50 * 1024 * 1024
"""The dossiers API's limits of a result (README, "Limits"): more than these would be refused
as a whole body before the API could say which file; each file's type and size (10 MB) the API
checks by content, and says so at the field."""
RESULT_HINT = (
    f"Chọn một hoặc nhiều tệp ({RESULT_TYPES}); mỗi tệp tối đa 10 MB, "
    f"tối đa {MAX_RESULT_FILES} tệp, tổng cộng tối đa 50 MB."
)

APPLICANT_LABELS = {
    "full_name": "Họ và tên",
    "date_of_birth": "Ngày sinh",
    "gender": "Giới tính",
    "id_number": "Số định danh cá nhân",
    "phone": "Số điện thoại",
    "email": "Thư điện tử",
    "address": "Địa chỉ",
}
"""The applicant's common fields, when the catalogue cannot give the procedure's titles."""


async def _processing(request: Request) -> ProcessingClient:
    # Starlette's app.state holds Any; create_app put the API clients there
    return request.app.state.clients.processing  # type: ignore[no-any-return]


async def _officer(request: Request) -> auth.StaffMember:
    return await auth.staff_member(request, "officer")


Processing = Annotated[ProcessingClient, Depends(_processing)]
Officer = Annotated[auth.StaffMember, Depends(_officer)]


# -- what the pages show of a dossier -------------------------------------------------------------


@dataclass
class Shown:
    """One line of the applicant or the declaration as the page shows it: a label and the
    value in words, or the lines of a nested object or list."""

    label: str
    text: str | None = None
    children: list[Shown] = field(default_factory=list)


def _words(value: Any, schema: dict[str, Any]) -> str:
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if value is None or value == "":
        return "(không khai)"
    if schema.get("format") == "date" and isinstance(value, str) and len(value) == 10:
        year, month, day = value[:4], value[5:7], value[8:10]
        if f"{year}-{month}-{day}" == value and (year + month + day).isdigit():
            return f"{day}/{month}/{year}"
    return str(value)


def shown(values: dict[str, Any], schema: dict[str, Any] | None) -> list[Shown]:
    """The values in the schema's order with its titles; values the schema does not name
    (a later version's, or kept as sent) after them, under their own names."""
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    keys = [k for k in properties if k in values] + [k for k in values if k not in properties]
    lines = []
    for key in keys:
        sub = properties.get(key)
        sub = sub if isinstance(sub, dict) else {}
        label = str(sub.get("title") or key)
        lines.append(_shown_value(label, values[key], sub))
    return lines


def _shown_value(label: str, value: Any, schema: dict[str, Any]) -> Shown:
    if isinstance(value, dict):
        return Shown(label, children=shown(value, schema))
    if isinstance(value, list):
        items = schema.get("items")
        items = items if isinstance(items, dict) else {}
        if not value:
            return Shown(label, "(không khai)")
        return Shown(
            label,
            children=[_shown_value(f"{n}.", item, items) for n, item in enumerate(value, 1)],
        )
    return Shown(label, _words(value, schema))


async def _schemas(
    catalogue: Catalogue, procedure_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The declaration schema of the procedure and its applicant part, for the titles: the
    catalogue's current version (titles rarely change; a page without them still shows every
    value under its name)."""
    try:
        procedure = await catalogue.procedure(procedure_id)
    except (ApiProblem, ApiUnavailable):
        return {}, {"properties": {k: {"title": v} for k, v in APPLICANT_LABELS.items()}}
    declaration = procedure.declaration_schema or {}
    applicant = (declaration.get("$defs") or {}).get("applicant") or {}
    properties = {k: {"title": v} for k, v in APPLICANT_LABELS.items()}
    properties.update(applicant.get("properties") or {})
    return declaration, {**applicant, "properties": properties}


# -- the inbox ----------------------------------------------------------------------------------


async def _agency_name(catalogue: Catalogue, agency_id: str | None) -> str | None:
    """The officer's agency as the catalogue names it (the heading only: None if unknown)."""
    if not agency_id:
        return None
    try:
        return (await catalogue.agency(agency_id)).name
    except (ApiProblem, ApiUnavailable):
        return None


@router.get("/can-bo", response_class=HTMLResponse)
async def console(
    request: Request,
    processing: Processing,
    catalogue: Catalogue,
    trang_thai: Annotated[
        str | None, Query(alias="trang-thai", pattern="^(" + "|".join(STATUS_SLUGS) + ")$")
    ] = None,
    qua_han: Annotated[bool, Query(alias="qua-han")] = False,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """The agency's inbox: a tab per status with its count, oldest first, the overdue filter.
    Admins signing in through "Cán bộ đăng nhập" land here and are sent on to their pages."""
    person = sessions.signed_in(request)
    if person is not None and person.role == "admin":
        return RedirectResponse("/quan-tri", status_code=303)
    staff = await auth.staff_member(request, "officer")
    status = STATUS_SLUGS[trang_thai] if trang_thai else None
    counts, results, agency_name = await asyncio.gather(
        processing.inbox_counts(staff.token),
        processing.inbox(
            staff.token, status=status, overdue=qua_han or None, page=page, page_size=PAGE_SIZE
        ),
        _agency_name(catalogue, staff.person.agency_id),
    )
    tabs = [(None, "Tất cả hồ sơ", sum(counts[s] for s in INBOX_STATUSES))] + [
        (SLUG_OF_STATUS[s], STATUSES[s], counts[s]) for s in STATUS_SLUGS.values()
    ]
    params: dict[str, str] = {}
    if trang_thai:
        params["trang-thai"] = trang_thai
    if qua_han:
        params["qua-han"] = "1"
    return render(
        request,
        "officer/inbox.html",
        {
            "tabs": tabs,
            "agency_name": agency_name,
            "current": trang_thai,
            "status": status,
            "overdue_only": qua_han,
            "overdue_count": counts["overdue"],
            "results": results,
            "params": params,
            "status_params": {"trang-thai": trang_thai} if trang_thai else {},
        },
    )


# -- one dossier --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """Another officer acted first: the action that was not done, and what the officer
    typed for it (kept on the page, since the form may no longer be offered)."""

    action: str
    typed: str


def dossier_url(dossier_id: str) -> str:
    return "/can-bo/ho-so/" + quote(dossier_id, safe="")


async def _dossier_page(
    request: Request,
    processing: ProcessingClient,
    catalogue: Catalogue,
    staff: auth.StaffMember,
    dossier_id: str,
    form: FormState,
    *,
    status_code: int = 200,
    conflict: Conflict | None = None,
    files_not_kept: bool = False,
) -> HTMLResponse:
    dossier, history = await asyncio.gather(
        processing.dossier(staff.token, dossier_id), processing.history(staff.token, dossier_id)
    )
    declaration_schema, applicant_schema = await _schemas(catalogue, dossier.procedure.id)
    return render(
        request,
        "officer/dossier.html",
        {
            "dossier": dossier,
            "url": dossier_url(dossier.id),
            "history": history,
            "applicant": shown(dossier.applicant, applicant_schema),
            "declaration": shown(dossier.declaration, declaration_schema),
            "offered": {a for a, allowed in ALLOWED.items() if dossier.status in allowed},
            "actions": ACTIONS,
            "text_fields": TEXT_FIELDS,
            "form": form,
            "conflict": conflict,
            "files_not_kept": files_not_kept,
            "result_hint": RESULT_HINT,
            "result_accept": RESULT_ACCEPT,
            "note_max": NOTE_MAX,
        },
        status_code=status_code,
    )


@router.get("/can-bo/ho-so/{dossier_id}", response_class=HTMLResponse)
async def dossier_page(
    request: Request,
    processing: Processing,
    catalogue: Catalogue,
    staff: Officer,
    dossier_id: str,
) -> HTMLResponse:
    return await _dossier_page(request, processing, catalogue, staff, dossier_id, FormState())


async def _act(
    request: Request,
    processing: ProcessingClient,
    catalogue: Catalogue,
    staff: auth.StaffMember,
    dossier_id: str,
    form: FormState,
    action: str,
    call: Callable[[], Awaitable[CaseDossier]],
    *,
    fields: dict[str, str] | None = None,
    at: dict[str | int, str] | None = None,
    files_chosen: bool = False,
) -> Response:
    """Run one action: done → the dossier page with what was done said; refused → the page
    again with the form filled in and the API's words at its fields; 409 → the page as the
    dossier is now, saying that another officer acted first."""
    if not form.invalid:
        try:
            done = await call()
        except ApiProblem as problem:
            if problem.status == 409:
                typed = form.value(TEXT_FIELDS[action][0]) if action in TEXT_FIELDS else ""
                return await _dossier_page(
                    request,
                    processing,
                    catalogue,
                    staff,
                    dossier_id,
                    FormState(),
                    status_code=409,
                    conflict=Conflict(action, typed),
                )
            if problem.status not in (400, 413, 415, 422):
                raise
            form.apply(problem, fields=fields, at=at)
        else:
            sessions.flash(request, DONE[action].format(code=done.code or ""))
            return RedirectResponse(dossier_url(dossier_id), status_code=303)
    return await _dossier_page(
        request,
        processing,
        catalogue,
        staff,
        dossier_id,
        form,
        status_code=422,
        files_not_kept=files_chosen,
    )


def _text_form(submitted: FormData, action: str) -> tuple[FormState, str]:
    """The form of an action that sends one text, checked here first: required, bounded."""
    form = FormState.from_form(submitted)
    name, label = TEXT_FIELDS[action]
    text = form.value(name)
    if not text and action != "return_result":
        form.add(name, REQUIRED.format(label=label.lower()))
    elif len(text) > NOTE_MAX:
        form.add(name, f"{label} dài tối đa {NOTE_MAX:,} ký tự.".replace(",", "."))
    return form, text


@router.post("/can-bo/ho-so/{dossier_id}/tiep-nhan", response_class=HTMLResponse)
async def receive(
    request: Request,
    processing: Processing,
    catalogue: Catalogue,
    staff: Officer,
    dossier_id: str,
) -> Response:
    """ "Tiếp nhận": the dossier is being processed; its deadline starts."""
    form = FormState.from_form(await request.form())
    return await _act(
        request,
        processing,
        catalogue,
        staff,
        dossier_id,
        form,
        "receive",
        lambda: processing.receive(staff.token, dossier_id),
    )


@router.post("/can-bo/ho-so/{dossier_id}/yeu-cau-bo-sung", response_class=HTMLResponse)
async def request_supplement(
    request: Request,
    processing: Processing,
    catalogue: Catalogue,
    staff: Officer,
    dossier_id: str,
) -> Response:
    form, content = _text_form(await request.form(), "request_supplement")
    return await _act(
        request,
        processing,
        catalogue,
        staff,
        dossier_id,
        form,
        "request_supplement",
        lambda: processing.request_supplement(staff.token, dossier_id, content),
    )


@router.post("/can-bo/ho-so/{dossier_id}/xu-ly", response_class=HTMLResponse)
async def add_step(
    request: Request,
    processing: Processing,
    catalogue: Catalogue,
    staff: Officer,
    dossier_id: str,
) -> Response:
    """A processing step: a note in the dossier's history."""
    form, note = _text_form(await request.form(), "step")
    return await _act(
        request,
        processing,
        catalogue,
        staff,
        dossier_id,
        form,
        "step",
        lambda: processing.add_step(staff.token, dossier_id, note),
    )


@router.post("/can-bo/ho-so/{dossier_id}/tra-lai", response_class=HTMLResponse)
async def reject(
    request: Request,
    processing: Processing,
    catalogue: Catalogue,
    staff: Officer,
    dossier_id: str,
) -> Response:
    form, reason = _text_form(await request.form(), "reject")
    return await _act(
        request,
        processing,
        catalogue,
        staff,
        dossier_id,
        form,
        "reject",
        lambda: processing.reject(staff.token, dossier_id, reason),
    )


def chosen_files(submitted: FormData, name: str) -> list[UploadFile]:
    """The files of a `multiple` file input (an empty one sends a nameless, empty part)."""
    return [v for v in submitted.getlist(name) if isinstance(v, UploadFile) and v.filename]


@router.post(
    "/can-bo/ho-so/{dossier_id}/tra-ket-qua",
    response_class=HTMLResponse,
    max_body_size=UPLOAD_BODY_BYTES,
)
async def return_result(
    request: Request,
    processing: Processing,
    catalogue: Catalogue,
    staff: Officer,
    dossier_id: str,
) -> Response:
    """ "Trả kết quả": the result files (several) and a note, passed on as one multipart
    request. Files are never kept on a refused form: the page says so."""
    submitted = await request.form()
    form, note = _text_form(submitted, "return_result")
    uploads = chosen_files(submitted, "files")
    if not uploads:
        form.add("files", "Vui lòng chọn ít nhất một tệp kết quả.")
    elif len(uploads) > MAX_RESULT_FILES:
        form.add("files", f"Chọn tối đa {MAX_RESULT_FILES} tệp kết quả.")
    elif sum(u.size or 0 for u in uploads) > MAX_RESULT_TOTAL:
        form.add("files", "Tổng dung lượng các tệp kết quả vượt quá 50 MB.")
    parts = [(u.filename or "ket-qua", u.file, u.content_type or "") for u in uploads]
    return await _act(
        request,
        processing,
        catalogue,
        staff,
        dossier_id,
        form,
        "return_result",
        lambda: processing.return_result(staff.token, dossier_id, parts, note or None),
        fields={"note": "result_note", "files": "files"},
        at={413: "files", 415: "files", 422: "files"},
        files_chosen=bool(uploads),
    )


def _passed_on(upstream: httpx.Response) -> StreamingResponse:
    """A dossier's file as the API streams it: never cached, never sniffed."""
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}
    for name in ("content-disposition", "content-length"):
        if name in upstream.headers:
            headers[name] = upstream.headers[name]
    return StreamingResponse(
        upstream.aiter_raw(),
        media_type=upstream.headers.get("content-type", "application/octet-stream"),
        headers=headers,
        background=BackgroundTask(upstream.aclose),
    )


@router.get("/can-bo/ho-so/{dossier_id}/tep/{file_id}")
async def attachment(
    processing: Processing, staff: Officer, dossier_id: str, file_id: str
) -> StreamingResponse:
    """A file the filer attached, with the officer's token (the browser holds none)."""
    return _passed_on(await processing.attachment(staff.token, dossier_id, file_id))


@router.get("/can-bo/ho-so/{dossier_id}/ket-qua/{file_id}")
async def result_file(
    processing: Processing, staff: Officer, dossier_id: str, file_id: str
) -> StreamingResponse:
    return _passed_on(await processing.result_file(staff.token, dossier_id, file_id))


# -- the invitation: set a password ---------------------------------------------------------------

SET_PASSWORD = {
    "email": "Địa chỉ email",
    "code": "Mã xác nhận",
    "password": "Mật khẩu mới",
    "password_again": "Nhập lại mật khẩu mới",
}
NO_STORE = {"Cache-Control": "no-store"}
"""The page of an e-mailed link holds the link's token: no copy in any cache."""


def _set_password_page(request: Request, form: FormState, status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "officer/set_password.html",
        {"form": form, "labels": SET_PASSWORD, "password_hint": PASSWORD_HINT},
        status_code=status_code,
        headers=NO_STORE,
    )


@router.get("/can-bo/dat-mat-khau", response_class=HTMLResponse)
async def set_password_form(
    request: Request,
    email: Annotated[str, Query(max_length=320)] = "",
    code: Annotated[str, Query(max_length=CODE_MAX)] = "",
) -> HTMLResponse:
    """The invitation e-mail's link: the address and the link's token filled in; opening it
    changes nothing (a mail scanner may follow it)."""
    values = {"email": email or sessions.remembered_email(request), "code": code}
    return _set_password_page(request, FormState(values=values))


@router.post("/can-bo/dat-mat-khau", response_class=HTMLResponse)
async def set_password(request: Request, accounts: Accounts) -> Response:
    """The first password of an invited officer or admin (the API's password reset, which
    takes the invitation's code or link); then "Cán bộ đăng nhập"."""
    submitted = await request.form()
    form = FormState.from_form(submitted, secret=["password", "password_again"])
    password, again = secret(submitted, "password"), secret(submitted, "password_again")
    form.require(SET_PASSWORD, {"password": password, "password_again": again})
    if password and again and password != again:
        form.add("password_again", MISMATCH)
    if not form.invalid:
        try:
            await accounts.reset_password(form.value("email"), form.value("code"), password)
        except ApiProblem as problem:
            form.apply(problem, fields={"new_password": "password"}, at={"code-invalid": "code"})
        else:
            sessions.remember_email(request, form.value("email"))
            sessions.flash(request, "Mật khẩu đã được đặt. Mời bạn đăng nhập.")
            return RedirectResponse("/can-bo/dang-nhap", status_code=303)
    if password or again:
        form.keep_out(NOT_KEPT)
    return _set_password_page(request, form, status_code=422)

"""Filing (the guide's sections 0 and 2): the reception form — the applicant, the commune for
commune-tier procedures, a file upload per component, the declaration ("Tờ khai") drawn from
the procedure's JSON Schema (`web.declarations`) — then "Lưu lại" (a draft in "Hồ sơ chưa
gửi"), edit, discard, "Gửi hồ sơ"; the dossier page (status, code, due date, the supplement
request and "Gửi bổ sung", result files, the rejection reason) and its history; filing without
an account (captcha, e-mail, the same form; the dossier's capability token stays in the
server-side session) and the tracking page the e-mail links to.

Every refusal comes back as the form, filled in (files excepted, and the page says so), with
the API's messages at the fields its `errors[].field` names (`components.<id>`,
`declaration.<name>`, `applicant.<name>`): the inputs are named with those paths."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from web import auth, declarations, sessions
from web.clients.accounts import Captcha, Profile
from web.clients.base import ApiProblem
from web.clients.catalogue import ProcedureDetail
from web.clients.dossiers import Credential, Dossier, DossiersClient, Upload
from web.csrf import UPLOAD_BODY_BYTES, page_router
from web.errors import error_page
from web.forms import FormState, uploaded
from web.pages import Accounts, Catalogue, Dossiers
from web.templating import render

router = page_router()

MAX_FILE_BYTES = 10 * 1024 * 1024
"""The dossiers API's limit on one file, shown on the form and checked before a file is passed
on (the API checks it again, and the type by content)."""
ACCEPTED_TYPES = {
    ".pdf": "PDF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".doc": "DOC",
    ".docx": "DOCX",
}
ACCEPT_ATTRIBUTE = ",".join(ACCEPTED_TYPES)
FILE_RULES = "Tệp PDF, JPEG, PNG, DOC hoặc DOCX; tối đa 10 MB mỗi tệp, 50 MB cả hồ sơ."
FILES_NOT_KEPT = "Tệp đã chọn"
ACCOUNTLESS_KEY = "accountless"
"""Session key: {dossier id: capability token} of the accountless drafts this browser holds."""
ACCOUNTLESS_KEPT = 5
SENT_KEY = "accountless_sent"
NO_STORE = {"Cache-Control": "private, no-store"}
"""A person's dossier (its applicant, declaration, files, a tracking token in the address) is
not kept by the browser or a shared computer's cache."""
ACCOUNTLESS = "/nop-ho-so-khong-tai-khoan"
"""Pages of an accountless dossier once created: its files and sending, then the code."""

DEFAULT_APPLICANT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "full_name": {"type": "string", "title": "Họ và tên", "maxLength": 200},
        "date_of_birth": {"type": "string", "format": "date", "title": "Ngày sinh"},
        "gender": {"type": "string", "title": "Giới tính", "enum": ["Nam", "Nữ"]},
        "id_number": {"type": "string", "title": "Số định danh cá nhân", "maxLength": 20},
        "phone": {"type": "string", "title": "Số điện thoại", "maxLength": 20},
        "email": {"type": "string", "format": "email", "title": "Thư điện tử"},
        "address": {"type": "string", "title": "Địa chỉ", "maxLength": 500},
    },
}
"""The API's `ApplicantIn` fields, for a procedure whose schema has no `$defs.applicant` (then
the API requires none of them: neither does the form)."""
PROFILE_GENDERS = {"male": "Nam", "female": "Nữ"}
ACTIONS = {"luu", "gui", "bo-sung"}
COMMUNE_REQUIRED = "Vui lòng chọn xã, phường nơi nộp hồ sơ."
COMPONENT_REQUIRED = "Vui lòng đính kèm tệp cho thành phần này."
SAVED = "Đã lưu hồ sơ vào mục “Hồ sơ chưa gửi”. Bạn có thể sửa lại hoặc gửi hồ sơ."

# -- the schema's parts ----------------------------------------------------------------------------


def applicant_schema(procedure: ProcedureDetail, *, accountless: bool = False) -> dict[str, Any]:
    schema = dict((procedure.declaration_schema.get("$defs") or {}).get("applicant") or {})
    schema = schema or dict(DEFAULT_APPLICANT)
    if accountless:  # the address the tracking link and every notice go to
        properties = dict(schema.get("properties") or {})
        properties.setdefault("email", DEFAULT_APPLICANT["properties"]["email"])
        schema["properties"] = properties
        schema["required"] = [*(schema.get("required") or []), "email"]
    return schema


def declaration_schema(procedure: ProcedureDetail) -> dict[str, Any]:
    schema = {k: v for k, v in procedure.declaration_schema.items() if k != "$defs"}
    return schema or {"type": "object", "properties": {}}


def needs_commune(procedure: ProcedureDetail) -> bool:
    """Commune-tier procedures go to the commune the filer chooses."""
    return "commune" in procedure.tier and procedure.agency is None


def profile_values(profile: Profile) -> dict[str, str]:
    """The reception form filled in from the person's profile."""
    values = {
        "applicant.full_name": profile.full_name,
        "applicant.email": profile.email,
        "applicant.phone": profile.phone or "",
        "applicant.id_number": profile.id_number or "",
        "applicant.address": profile.address or "",
        "applicant.gender": PROFILE_GENDERS.get(profile.gender or "", ""),
        "applicant.date_of_birth": profile.date_of_birth.isoformat()
        if profile.date_of_birth
        else "",
    }
    return {k: v for k, v in values.items() if v}


def dossier_values(procedure: ProcedureDetail, dossier: Dossier) -> dict[str, str]:
    return declarations.flatten(
        applicant_schema(procedure), dossier.applicant, "applicant"
    ) | declarations.flatten(declaration_schema(procedure), dossier.declaration, "declaration")


# -- a submitted form ------------------------------------------------------------------------------


@dataclass
class Submitted:
    """A filing form as sent: the values the page shows again, the JSON for the API, the
    files by component, and what the page found wrong before asking the API."""

    form: FormState
    applicant: dict[str, Any]
    declaration: dict[str, Any]
    uploads: dict[str, UploadFile] = field(default_factory=dict)
    chosen: set[str] = field(default_factory=set)
    """Components a file was chosen for (accepted here or not)."""
    attached: set[str] = field(default_factory=set)
    """Components whose chosen file the API stored."""
    action: str = "luu"
    add_row: str | None = None
    remove_file: tuple[str, str] | None = None

    @property
    def rows(self) -> dict[str, int]:
        return declarations.shown_rows(self.form.values, self.add_row)


def read_submitted(
    procedure: ProcedureDetail, submitted: FormData, *, accountless: bool = False
) -> Submitted:
    raw = FormState.from_form(submitted, secret=["captcha_answer"])
    applicant = declarations.read(
        applicant_schema(procedure, accountless=accountless), raw.values, "applicant"
    )
    declaration = declarations.read(declaration_schema(procedure), raw.values, "declaration")
    others = {
        k: v for k, v in raw.values.items() if not k.startswith(("applicant.", "declaration."))
    }
    form = FormState(
        values=others | applicant.values | declaration.values, secret_fields=raw.secret_fields
    )
    for name, message in (applicant.errors | declaration.errors).items():
        form.add(name, message)
    found = Submitted(form, applicant.value, declaration.value)
    action = raw.value("hanh_dong")
    found.action = action if action in ACTIONS | {"ma-moi"} else "luu"
    found.add_row = raw.value("them_dong") or None
    target = raw.value("xoa_tep")
    if "/" in target:
        component_id, file_id = target.split("/", 1)
        found.remove_file = (component_id, file_id)
    for component in procedure.components:
        name = f"components.{component.id}"
        upload = uploaded(submitted, name)
        if upload is None:
            continue
        found.chosen.add(component.id)
        problem = file_problem(upload)
        if problem:
            form.add(name, problem)
        else:
            found.uploads[component.id] = upload
    return found


def file_problem(upload: UploadFile) -> str | None:
    """What the page can tell of a file before passing it on (the API reads its content)."""
    name = PurePath(upload.filename or "tep").name[:120]
    if PurePath(name).suffix.lower() not in ACCEPTED_TYPES:
        return f"Tệp «{name}» không được nhận: chỉ nhận tệp PDF, JPEG, PNG, DOC, DOCX."
    if upload.size is not None and upload.size > MAX_FILE_BYTES:
        return f"Tệp «{name}» vượt quá 10 MB, dung lượng tối đa của một tệp."
    if upload.size == 0:
        return f"Tệp «{name}» rỗng."
    return None


def known_fields(
    procedure: ProcedureDetail, form: FormState, *, accountless: bool = False
) -> dict[str, str]:
    """Every name the form shows, where an API error may land (`FormState.apply`'s `fields`)."""
    schema = applicant_schema(procedure, accountless=accountless)
    names = declarations.names(declarations.fields(schema, form.values, "applicant"))
    names |= declarations.names(
        declarations.fields(declaration_schema(procedure), form.values, "declaration")
    )
    names |= {f"components.{c.id}" for c in procedure.components}
    names |= {"agency_id", "captcha_answer"}
    return {name: name for name in names}


# -- the form page ---------------------------------------------------------------------------------


@dataclass
class FilingView:
    """What the form's template draws."""

    procedure: ProcedureDetail
    form: FormState
    action: str
    applicant: list[declarations.Field]
    declaration: list[declarations.Field]
    dossier: Dossier | None = None
    communes: dict[str, str] | None = None
    captcha: Captcha | None = None
    accountless: bool = False

    def files(self, component_id: str) -> list[Any]:
        if self.dossier is None:
            return []
        found = next((c for c in self.dossier.components if c.id == component_id), None)
        return found.files if found else []


async def filing_view(
    procedure: ProcedureDetail,
    form: FormState,
    catalogue: Catalogue,
    *,
    action: str,
    dossier: Dossier | None = None,
    rows: dict[str, int] | None = None,
    captcha: Captcha | None = None,
) -> FilingView:
    accountless = captcha is not None
    communes = None
    if dossier is None and needs_commune(procedure):
        found = await catalogue.agencies("commune")
        communes = {a.id: a.name for a in sorted(found, key=lambda a: a.name)}
    return FilingView(
        procedure=procedure,
        form=form,
        action=action,
        applicant=declarations.fields(
            applicant_schema(procedure, accountless=accountless), form.values, "applicant"
        ),
        declaration=declarations.fields(
            declaration_schema(procedure), form.values, "declaration", rows=rows
        ),
        dossier=dossier,
        communes=communes,
        captcha=captcha,
        accountless=accountless,
    )


def _labels(items: list[declarations.Field]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        found[item.name] = item.label
        found |= _labels(item.children)
    return found


def _short(text: str, limit: int = 90) -> str:
    """A long name (a component's can be a paragraph) cut at a word, for the summary."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def name_the_fields(view: FilingView) -> None:
    """A message at a field says which field, for the error summary at the top ("Giới tính:
    trường này là bắt buộc."), unless it already does."""
    labels = _labels(view.applicant) | _labels(view.declaration)
    labels |= {f"components.{c.id}": _short(c.name) for c in view.procedure.components}
    labels |= {"agency_id": "Xã, phường nơi nộp hồ sơ", "captcha_answer": "Mã xác nhận"}
    for name, message in view.form.errors.items():
        label = labels.get(name)
        if label and message and label.lower() not in message.lower():
            view.form.errors[name] = f"{label}: {message[0].lower()}{message[1:]}"


def show_form(request: Request, view: FilingView, status_code: int = 200) -> HTMLResponse:
    name_the_fields(view)
    return render(
        request,
        "dossiers/form.html",
        {
            "view": view,
            "form": view.form,
            "procedure": view.procedure,
            "dossier": view.dossier,
            "file_rules": FILE_RULES,
            "accept": ACCEPT_ATTRIBUTE,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


async def _procedure(catalogue: Catalogue, code: str) -> ProcedureDetail:
    procedure = await catalogue.procedure(code)
    if procedure.retired:
        raise HTTPException(404)
    return procedure


def _refused(form: FormState, submitted: Submitted) -> None:
    """A refused form: the page says which chosen files were not kept (a browser cannot be
    given a file back)."""
    if submitted.chosen - submitted.attached:
        form.keep_out(FILES_NOT_KEPT)


# -- with an account: a new dossier ----------------------------------------------------------------


@router.get("/nop-ho-so/{code}", response_class=HTMLResponse)
async def new_dossier(
    request: Request,
    code: str,
    catalogue: Catalogue,
    accounts: Accounts,
    token: auth.AccessToken,
) -> HTMLResponse:
    """ "Đăng ký trực tuyến": the reception form, filled in from the profile."""
    procedure, profile = await asyncio.gather(_procedure(catalogue, code), accounts.me(token))
    values = profile_values(profile) | declarations.defaults(
        declaration_schema(procedure), "declaration"
    )
    view = await filing_view(
        procedure, FormState(values=values), catalogue, action=f"/nop-ho-so/{code}"
    )
    return show_form(request, view)


@router.post("/nop-ho-so/{code}", response_class=HTMLResponse, max_body_size=UPLOAD_BODY_BYTES)
async def create_dossier(
    request: Request,
    code: str,
    catalogue: Catalogue,
    dossiers: Dossiers,
    token: auth.AccessToken,
) -> Response:
    procedure = await _procedure(catalogue, code)
    submitted = read_submitted(procedure, await request.form())
    form = submitted.form
    action = f"/nop-ho-so/{code}"
    if submitted.add_row:
        view = await filing_view(procedure, form, catalogue, action=action, rows=submitted.rows)
        return show_form(request, view)
    agency_id = form.value("agency_id") or None
    if needs_commune(procedure) and not agency_id:
        form.add("agency_id", COMMUNE_REQUIRED)
    if not form.invalid:
        who = Credential.bearer(token)
        try:
            dossier = await dossiers.create(
                who, procedure.id, submitted.applicant, submitted.declaration, agency_id
            )
        except ApiProblem as problem:
            form.apply(problem, fields=known_fields(procedure, form))
        else:
            return await _after_saving(
                request, dossiers, catalogue, who, procedure, dossier, submitted
            )
    _refused(form, submitted)
    view = await filing_view(procedure, form, catalogue, action=action, rows=submitted.rows)
    return show_form(request, view, status_code=422)


async def _after_saving(
    request: Request,
    dossiers: DossiersClient,
    catalogue: Catalogue,
    who: Credential,
    procedure: ProcedureDetail,
    dossier: Dossier,
    submitted: Submitted,
) -> Response:
    """The draft is saved: its new files, then "Gửi hồ sơ" / "Gửi bổ sung" when asked. A
    refusal from here on shows the form of the saved draft (a second "Lưu lại" updates it)."""
    form = submitted.form
    for component_id, upload in submitted.uploads.items():
        try:
            await dossiers.attach(who, dossier.id, component_id, _upload(upload))
        except ApiProblem as problem:
            form.add(f"components.{component_id}", _problem_text(problem))
        else:
            submitted.attached.add(component_id)
    if not form.invalid and submitted.action in ("gui", "bo-sung"):
        try:
            if submitted.action == "gui":
                dossier = await dossiers.submit(who, dossier.id)
            else:
                dossier = await dossiers.send_supplement(who, dossier.id)
        except ApiProblem as problem:
            if problem.status == 409:
                sessions.flash(request, problem.detail)
                return RedirectResponse(f"/ho-so/{dossier.id}", status_code=303)
            form.apply(problem, fields=known_fields(procedure, form))
        else:
            sent = "Đã gửi bổ sung hồ sơ" if submitted.action == "bo-sung" else "Đã gửi hồ sơ"
            sessions.flash(request, f"{sent}. Mã hồ sơ: {dossier.code}.")
            return RedirectResponse(f"/ho-so/{dossier.id}", status_code=303)
    if not form.invalid:
        sessions.flash(request, SAVED)
        return RedirectResponse("/ho-so-ca-nhan/ho-so/chua-gui", status_code=303)
    _refused(form, submitted)
    fresh = await dossiers.get(who, dossier.id)
    view = await filing_view(
        procedure, form, catalogue, action=f"/ho-so/{dossier.id}/sua", dossier=fresh
    )
    return show_form(request, view, status_code=422)


def _problem_text(problem: ApiProblem) -> str:
    return (
        problem.errors[0].message
        if problem.errors
        else problem.detail or problem.title or "Tệp không được nhận."
    )


def _upload(upload: UploadFile) -> Upload:
    return Upload(
        filename=PurePath(upload.filename or "tep").name,
        content=upload.file,
        content_type=upload.content_type or "application/octet-stream",
    )


# -- with an account: edit, discard ----------------------------------------------------------------


async def _own(dossiers: DossiersClient, token: str, dossier_id: str) -> Dossier:
    return await dossiers.get(Credential.bearer(token), dossier_id)


@router.get("/ho-so/{dossier_id}/sua", response_class=HTMLResponse)
async def edit_dossier(
    request: Request,
    dossier_id: str,
    catalogue: Catalogue,
    dossiers: Dossiers,
    token: auth.AccessToken,
) -> Response:
    """Edit a draft, or a dossier whose supplement is requested ("Bổ sung hồ sơ")."""
    dossier = await _own(dossiers, token, dossier_id)
    if not dossier.editable:
        return RedirectResponse(f"/ho-so/{dossier.id}", status_code=303)
    procedure = await catalogue.procedure(dossier.procedure.code or dossier.procedure.id)
    form = FormState(values=dossier_values(procedure, dossier))
    view = await filing_view(
        procedure, form, catalogue, action=f"/ho-so/{dossier.id}/sua", dossier=dossier
    )
    return show_form(request, view)


@router.post(
    "/ho-so/{dossier_id}/sua", response_class=HTMLResponse, max_body_size=UPLOAD_BODY_BYTES
)
async def save_dossier(
    request: Request,
    dossier_id: str,
    catalogue: Catalogue,
    dossiers: Dossiers,
    token: auth.AccessToken,
) -> Response:
    who = Credential.bearer(token)
    dossier = await dossiers.get(who, dossier_id)
    if not dossier.editable:
        sessions.flash(request, "Hồ sơ này đã được gửi nên không sửa được nữa.")
        return RedirectResponse(f"/ho-so/{dossier.id}", status_code=303)
    procedure = await catalogue.procedure(dossier.procedure.code or dossier.procedure.id)
    submitted = read_submitted(procedure, await request.form())
    form = submitted.form
    action = f"/ho-so/{dossier.id}/sua"
    if submitted.add_row:
        view = await filing_view(
            procedure, form, catalogue, action=action, dossier=dossier, rows=submitted.rows
        )
        return show_form(request, view)
    if not form.invalid:
        try:
            dossier = await dossiers.update(
                who, dossier.id, submitted.applicant, submitted.declaration
            )
            if submitted.remove_file:
                component_id, file_id = submitted.remove_file
                await dossiers.detach(who, dossier.id, component_id, file_id)
                sessions.flash(request, "Đã xóa tệp đính kèm; các thông tin khác đã được lưu.")
                return RedirectResponse(action, status_code=303)
        except ApiProblem as problem:
            if problem.status == 409:
                sessions.flash(request, problem.detail)
                return RedirectResponse(f"/ho-so/{dossier.id}", status_code=303)
            form.apply(problem, fields=known_fields(procedure, form))
        else:
            return await _after_saving(
                request, dossiers, catalogue, who, procedure, dossier, submitted
            )
    _refused(form, submitted)
    view = await filing_view(
        procedure, form, catalogue, action=action, dossier=dossier, rows=submitted.rows
    )
    return show_form(request, view, status_code=422)


@router.get("/ho-so/{dossier_id}/xoa", response_class=HTMLResponse)
async def discard_confirmation(
    request: Request, dossier_id: str, dossiers: Dossiers, token: auth.AccessToken
) -> Response:
    dossier = await _own(dossiers, token, dossier_id)
    if dossier.status != "draft":
        return RedirectResponse(f"/ho-so/{dossier.id}", status_code=303)
    return render(request, "dossiers/discard.html", {"dossier": dossier}, headers=NO_STORE)


@router.post("/ho-so/{dossier_id}/xoa")
async def discard(
    request: Request, dossier_id: str, dossiers: Dossiers, token: auth.AccessToken
) -> Response:
    try:
        await dossiers.discard(Credential.bearer(token), dossier_id)
    except ApiProblem as problem:
        if problem.status != 409:
            raise
        sessions.flash(request, problem.detail)
        return RedirectResponse(f"/ho-so/{dossier_id}", status_code=303)
    sessions.flash(request, "Đã xóa hồ sơ chưa gửi.")
    return RedirectResponse("/ho-so-ca-nhan/ho-so/chua-gui", status_code=303)


# -- the dossier page, its history, its files ------------------------------------------------------


@router.get("/ho-so/{dossier_id}", response_class=HTMLResponse)
async def dossier_page(
    request: Request,
    dossier_id: str,
    catalogue: Catalogue,
    dossiers: Dossiers,
    token: auth.AccessToken,
) -> HTMLResponse:
    dossier = await _own(dossiers, token, dossier_id)
    procedure = await catalogue.procedure(dossier.procedure.code or dossier.procedure.id)
    values = dossier_values(procedure, dossier)
    return render(
        request,
        "dossiers/dossier.html",
        {
            "dossier": dossier,
            "applicant": declarations.fields(applicant_schema(procedure), values, "applicant"),
            "declaration": declarations.fields(
                declaration_schema(procedure), values, "declaration"
            ),
            "values": values,
            "filled": declarations.filled,
            "result_href": lambda f: (
                f"/ho-so/{quote(dossier.id, safe='')}/ket-qua/" + quote(f.id, safe="")
            ),
        },
        headers=NO_STORE,
    )


@router.get("/ho-so/{dossier_id}/qua-trinh", response_class=HTMLResponse)
async def dossier_history(
    request: Request, dossier_id: str, dossiers: Dossiers, token: auth.AccessToken
) -> HTMLResponse:
    """ "Xem quá trình xử lý hồ sơ"."""
    who = Credential.bearer(token)
    dossier, history = await asyncio.gather(
        dossiers.get(who, dossier_id), dossiers.history(who, dossier_id)
    )
    return render(
        request,
        "dossiers/history.html",
        {"dossier": dossier, "history": history},
        headers=NO_STORE,
    )


def _pass_on(upstream: Any) -> StreamingResponse:
    """A file from the API, streamed on: never cached, never sniffed, always downloaded."""
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


@router.get("/ho-so/{dossier_id}/tep/{file_id}")
async def attachment(
    dossier_id: str, file_id: str, dossiers: Dossiers, token: auth.AccessToken
) -> StreamingResponse:
    """A file the citizen attached, through the web app with the citizen's token."""
    upstream = await dossiers.attachment(Credential.bearer(token), dossier_id, file_id)
    return _pass_on(upstream)


@router.get("/ho-so/{dossier_id}/ket-qua/{file_id}")
async def result(
    dossier_id: str, file_id: str, dossiers: Dossiers, token: auth.AccessToken
) -> StreamingResponse:
    """ "Đính kèm kết quả": a result file, through the web app with the citizen's token."""
    upstream = await dossiers.result(dossier_id, file_id, who=Credential.bearer(token))
    return _pass_on(upstream)


# -- without an account ----------------------------------------------------------------------------


def _held_tokens(request: Request) -> dict[str, str]:
    held = request.session.get(ACCOUNTLESS_KEY)
    return {k: v for k, v in held.items() if isinstance(v, str)} if isinstance(held, dict) else {}


def _hold(request: Request, dossier_id: str, token: str) -> None:
    """The capability token stays on the server, in this browser's session only."""
    held = _held_tokens(request)
    held[dossier_id] = token
    request.session[ACCOUNTLESS_KEY] = dict(list(held.items())[-ACCOUNTLESS_KEPT:])


def _release(request: Request, dossier_id: str) -> None:
    held = _held_tokens(request)
    held.pop(dossier_id, None)
    request.session[ACCOUNTLESS_KEY] = held


async def _accountless_form(
    request: Request,
    procedure: ProcedureDetail,
    form: FormState,
    catalogue: Catalogue,
    accounts: Accounts,
    rows: dict[str, int] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    captcha = await accounts.captcha()  # a new one each time: an answered id is spent
    view = await filing_view(
        procedure,
        form,
        catalogue,
        action=f"/nop-ho-so/{procedure.code}/khong-tai-khoan",
        rows=rows,
        captcha=captcha,
    )
    return show_form(request, view, status_code=status_code)


@router.get("/nop-ho-so/{code}/khong-tai-khoan", response_class=HTMLResponse)
async def new_accountless(
    request: Request, code: str, catalogue: Catalogue, accounts: Accounts
) -> HTMLResponse:
    """ "Đăng ký hồ sơ không tài khoản": the same form, with a captcha and an e-mail address."""
    procedure = await _procedure(catalogue, code)
    values = declarations.defaults(declaration_schema(procedure), "declaration")
    return await _accountless_form(
        request, procedure, FormState(values=values), catalogue, accounts
    )


@router.post(
    "/nop-ho-so/{code}/khong-tai-khoan",
    response_class=HTMLResponse,
    max_body_size=UPLOAD_BODY_BYTES,
)
async def file_accountless(
    request: Request,
    code: str,
    catalogue: Catalogue,
    accounts: Accounts,
    dossiers: Dossiers,
) -> Response:
    """Checked here in full before the dossier is created (its token cannot change the
    applicant or the declaration afterwards), then created, its files attached, and sent."""
    procedure = await _procedure(catalogue, code)
    raw = await request.form()
    submitted = read_submitted(procedure, raw, accountless=True)
    form = submitted.form
    if submitted.add_row or submitted.action == "ma-moi":
        return await _accountless_form(
            request, procedure, form, catalogue, accounts, rows=submitted.rows
        )
    answer = raw.get("captcha_answer")
    answer = answer.strip() if isinstance(answer, str) else ""
    agency_id = form.value("agency_id") or None
    if needs_commune(procedure) and not agency_id:
        form.add("agency_id", COMMUNE_REQUIRED)
    for name, message in (
        declarations.problems(
            applicant_schema(procedure, accountless=True), submitted.applicant, "applicant"
        )
        | declarations.problems(declaration_schema(procedure), submitted.declaration, "declaration")
    ).items():
        form.add(name, message)
    for component in procedure.components:
        if component.required and component.id not in submitted.uploads:
            form.add(f"components.{component.id}", COMPONENT_REQUIRED)
    if not answer:
        form.add("captcha_answer", "Vui lòng nhập mã xác nhận.")
    if not form.invalid:
        try:
            dossier = await dossiers.create_accountless(
                procedure.id,
                submitted.applicant,
                submitted.declaration,
                form.value("captcha_id"),
                answer,
                agency_id,
            )
        except ApiProblem as problem:
            known = known_fields(procedure, form, accountless=True)
            form.apply(problem, fields=known | {"captcha_id": "captcha_answer"})
        else:
            _hold(request, dossier.id, dossier.token)
            return await _send_accountless(
                request, dossiers, procedure, dossier, dossier.token, submitted
            )
    _refused(form, submitted)
    return await _accountless_form(
        request, procedure, form, catalogue, accounts, rows=submitted.rows, status_code=422
    )


async def _send_accountless(
    request: Request,
    dossiers: DossiersClient,
    procedure: ProcedureDetail,
    dossier: Dossier,
    token: str,
    submitted: Submitted,
) -> Response:
    who = Credential.dossier_token(token)
    form = submitted.form
    for component_id, upload in submitted.uploads.items():
        try:
            await dossiers.attach(who, dossier.id, component_id, _upload(upload))
        except ApiProblem as problem:
            form.add(f"components.{component_id}", _problem_text(problem))
        else:
            submitted.attached.add(component_id)
    if not form.invalid:
        try:
            sent = await dossiers.submit(who, dossier.id)
        except ApiProblem as problem:
            form.apply(problem, fields=known_fields(procedure, form, accountless=True))
        else:
            _release(request, dossier.id)
            email = str(dossier.applicant.get("email") or "")
            request.session[SENT_KEY] = {"code": sent.code or "", "email": email}
            return RedirectResponse(f"{ACCOUNTLESS}/da-gui", status_code=303)
    _refused(form, submitted)
    fresh = await dossiers.get(who, dossier.id)
    return _accountless_files(request, procedure, fresh, form, status_code=422)


def _accountless_files(
    request: Request,
    procedure: ProcedureDetail,
    dossier: Dossier,
    form: FormState,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "dossiers/accountless_files.html",
        {
            "procedure": procedure,
            "dossier": dossier,
            "form": form,
            "file_rules": FILE_RULES,
            "accept": ACCEPT_ATTRIBUTE,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


async def _held_dossier(
    request: Request, dossiers: DossiersClient, catalogue: Catalogue, dossier_id: str
) -> tuple[str, Dossier, ProcedureDetail]:
    token = _held_tokens(request).get(dossier_id)
    if token is None:
        raise HTTPException(404)
    dossier = await dossiers.get(Credential.dossier_token(token), dossier_id)
    procedure = await catalogue.procedure(dossier.procedure.code or dossier.procedure.id)
    return token, dossier, procedure


@router.get(f"{ACCOUNTLESS}/da-gui", response_class=HTMLResponse)
async def accountless_sent(request: Request) -> Response:
    sent = request.session.get(SENT_KEY)
    if not isinstance(sent, dict):
        return RedirectResponse("/thu-tuc", status_code=303)
    return render(request, "dossiers/accountless_sent.html", {"sent": sent}, headers=NO_STORE)


@router.get(ACCOUNTLESS + "/{dossier_id}", response_class=HTMLResponse)
async def accountless_files(
    request: Request, dossier_id: str, catalogue: Catalogue, dossiers: Dossiers
) -> HTMLResponse:
    """An accountless draft whose files or sending were refused: its files, then "Gửi hồ sơ"
    (the token this browser's session holds opens it; nothing else can)."""
    _, dossier, procedure = await _held_dossier(request, dossiers, catalogue, dossier_id)
    return _accountless_files(request, procedure, dossier, FormState())


@router.post(
    ACCOUNTLESS + "/{dossier_id}", response_class=HTMLResponse, max_body_size=UPLOAD_BODY_BYTES
)
async def send_accountless_files(
    request: Request, dossier_id: str, catalogue: Catalogue, dossiers: Dossiers
) -> Response:
    token, dossier, procedure = await _held_dossier(request, dossiers, catalogue, dossier_id)
    submitted = read_submitted(procedure, await request.form())
    submitted.form = FormState(errors=submitted.form.errors)  # only the files are sent here
    if submitted.form.invalid:
        _refused(submitted.form, submitted)
        return _accountless_files(request, procedure, dossier, submitted.form, status_code=422)
    return await _send_accountless(request, dossiers, procedure, dossier, token, submitted)


# -- the tracking page -----------------------------------------------------------------------------

TrackingCode = Annotated[str, Query(min_length=1, max_length=60)]
TrackingToken = Annotated[str, Query(min_length=1, max_length=100)]
TRACKING_NOT_FOUND = (
    "Không tìm thấy hồ sơ theo đường dẫn này. Vui lòng mở lại đường dẫn theo dõi trong thư "
    "điện tử đã nhận khi gửi hồ sơ."
)


@router.get("/theo-doi-ho-so", response_class=HTMLResponse)
async def tracking(
    request: Request, dossiers: Dossiers, code: TrackingCode, token: TrackingToken
) -> HTMLResponse:
    """The e-mailed tracking link: status and history, minimal personal data."""
    try:
        tracked = await dossiers.track(code, token)
    except ApiProblem as problem:
        if problem.status != 404:
            raise
        return error_page(request, 404, TRACKING_NOT_FOUND)
    query = urlencode({"code": code, "token": token})
    return render(
        request,
        "dossiers/tracking.html",
        {
            "tracked": tracked,
            "result_href": lambda f: f"/theo-doi-ho-so/ket-qua/{quote(f.id, safe='')}?{query}",
        },
        headers=NO_STORE,
    )


@router.get("/theo-doi-ho-so/ket-qua/{file_id}")
async def tracking_result(
    request: Request,
    file_id: str,
    dossiers: Dossiers,
    code: TrackingCode,
    token: TrackingToken,
) -> Response:
    """A result file for the tracking link's holder."""
    try:
        tracked = await dossiers.track(code, token)
    except ApiProblem as problem:
        if problem.status != 404:
            raise
        return error_page(request, 404, TRACKING_NOT_FOUND)
    upstream = await dossiers.result(tracked.id, file_id, tracking_token=token)
    return _pass_on(upstream)

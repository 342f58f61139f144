"""The admins' pages (issue 12, "Admins"): invite officers and admins — the agency chosen from
the catalogue's tree, tier then agency, without JavaScript — and edit a procedure: processing
days, fees, online level, components, the declaration's fields (a simple editor of the JSON
Schema's properties: name, title, type, required), and its form templates. The catalogue
publishes every change as a new version; the editor shows its number and sends only what
changed, and refuses to overwrite a version another admin published meanwhile."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from web import auth, sessions
from web.clients.base import ApiProblem
from web.clients.catalogue import Agency, ProcedureDetail
from web.csrf import UPLOAD_BODY_BYTES, page_router
from web.forms import FormState, uploaded
from web.labels import CHANNELS, ONLINE, TIERS
from web.pages import Accounts, Catalogue
from web.templating import render

router = page_router()

PAGE_SIZE = 20


async def _admin(request: Request) -> auth.StaffMember:
    return await auth.staff_member(request, "admin")


Admin = Annotated[auth.StaffMember, Depends(_admin)]


@router.get("/quan-tri", response_class=HTMLResponse)
async def home(request: Request, staff: Admin) -> HTMLResponse:
    return render(request, "admin/home.html", {})


# -- inviting officers and admins ----------------------------------------------------------------

INVITE = {"email": "Địa chỉ email", "full_name": "Họ và tên", "role": "Vai trò"}
ROLES = {"officer": "Cán bộ", "admin": "Quản trị viên"}
TIER_ORDER = ("province", "department", "district", "commune")
DEFAULT_TIER = "department"
CHOOSE_TIER = "chon-cap"
"""The value of the button that shows the chosen tier's agencies (the form kept as typed)."""


@dataclass(frozen=True)
class AgencyTree:
    """The catalogue's agencies by tier; a tier's agencies grouped by their parent when the
    parents are of another tier below the province (the 2023 layout's districts)."""

    agencies: list[Agency]

    @property
    def tiers(self) -> dict[str, str]:
        present = {a.tier for a in self.agencies}
        return {t: TIERS[t] for t in TIER_ORDER if t in present}

    def of(self, tier: str) -> list[tuple[str | None, list[Agency]]]:
        """`[(group name or None, agencies)]` of one tier, in the catalogue's order."""
        names = {a.id: a for a in self.agencies}
        groups: dict[str | None, list[Agency]] = {}
        for agency in self.agencies:
            if agency.tier != tier:
                continue
            parent = names.get(agency.parent_id or "")
            key = parent.name if parent is not None and parent.tier == "district" else None
            groups.setdefault(key, []).append(agency)
        return list(groups.items())

    def find(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)


def _invite_page(
    request: Request, form: FormState, tree: AgencyTree, status_code: int = 200
) -> HTMLResponse:
    tier = form.value("tier")
    if tier not in tree.tiers:
        agency = tree.find(form.value("agency_id"))
        tier = agency.tier if agency else DEFAULT_TIER
        form.values["tier"] = tier if tier in tree.tiers else next(iter(tree.tiers), "")
    return render(
        request,
        "admin/invite.html",
        {
            "form": form,
            "labels": INVITE,
            "roles": ROLES,
            "tiers": tree.tiers,
            "groups": tree.of(form.value("tier")),
            "choose_tier": CHOOSE_TIER,
        },
        status_code=status_code,
    )


@router.get("/quan-tri/moi-can-bo", response_class=HTMLResponse)
async def invite_form(request: Request, catalogue: Catalogue, staff: Admin) -> HTMLResponse:
    tree = AgencyTree(await catalogue.agencies())
    return _invite_page(request, FormState(values={"role": "officer"}), tree)


@router.post("/quan-tri/moi-can-bo", response_class=HTMLResponse)
async def invite(
    request: Request, accounts: Accounts, catalogue: Catalogue, staff: Admin
) -> Response:
    """The invitation: the API e-mails the invited person a link to set a password. An
    officer belongs to one agency of the catalogue (the accounts API does not know the
    catalogue: the page checks the agency is one of its)."""
    submitted = await request.form()
    form = FormState.from_form(submitted)
    tree = AgencyTree(await catalogue.agencies())
    if form.value("hanh_dong") == CHOOSE_TIER:
        form.values.pop("agency_id", None)
        return _invite_page(request, form, tree)
    form.require(INVITE)
    role = form.value("role")
    if role and role not in ROLES:
        form.add("role", "Vui lòng chọn vai trò trong danh sách.")
    agency = tree.find(form.value("agency_id"))
    if role == "officer" and agency is None:
        form.add("agency_id", "Vui lòng chọn cơ quan của cán bộ (chọn cấp, rồi chọn cơ quan).")
    if not form.invalid:
        try:
            await accounts.invite(
                staff.token,
                email=form.value("email"),
                full_name=form.value("full_name"),
                role=role,
                agency_id=agency.id if role == "officer" and agency else None,
            )
        except ApiProblem as problem:
            form.apply(problem, at={"account-exists": "email", 409: "email"})
        else:
            whom = "cán bộ" if role == "officer" else "quản trị viên"
            sessions.flash(
                request,
                f"Đã gửi thư mời {whom} tới {form.value('email')}. Người được mời mở đường dẫn "
                "trong thư để đặt mật khẩu, rồi đăng nhập tại “Cán bộ đăng nhập”.",
            )
            return RedirectResponse("/quan-tri/moi-can-bo", status_code=303)
    return _invite_page(request, form, tree, status_code=422)


# -- finding a procedure to edit -------------------------------------------------------------------


@router.get("/quan-tri/thu-tuc", response_class=HTMLResponse)
async def procedures(
    request: Request,
    catalogue: Catalogue,
    staff: Admin,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=500)] = 1,
) -> HTMLResponse:
    q = " ".join(q.split())
    results = await catalogue.procedures(q=q, page=page, page_size=PAGE_SIZE) if q else None
    return render(request, "admin/procedures.html", {"q": q, "results": results})


# -- the procedure editor ---------------------------------------------------------------------

FIELD_TYPES = {
    "string": "Văn bản",
    "date": "Ngày (ngày/tháng/năm)",
    "integer": "Số nguyên",
    "number": "Số",
    "boolean": "Có/Không (ô đánh dấu)",
}
"""The types a declaration field can be given here; a field with a list of choices (`enum`)
or another shape keeps it (the editor changes only its title and whether it is required)."""
KEPT_TYPES = {
    "enum": "Chọn trong danh sách (giữ các lựa chọn hiện có)",
    "other": "Giữ nguyên kiểu hiện có",
}
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
NEW_ROWS = 2
"""Empty rows offered for new components and new declaration fields (no script needed)."""
DAYS_MAX = 3650
COMPONENT_NAME = (2, 2000)
TITLE_MAX = 300
FEE_TEXT_MAX = 2000


def field_kind(schema: dict[str, Any]) -> str:
    """The editor's type of one property of the declaration schema."""
    if "enum" in schema:
        return "enum"
    kind = schema.get("type")
    if kind == "string":
        return "date" if schema.get("format") == "date" else "string"
    return kind if kind in FIELD_TYPES else "other"


def _property_of(kind: str, title: str) -> dict[str, Any]:
    if kind == "date":
        return {"type": "string", "format": "date", "title": title}
    return {"type": kind, "title": title}


def _checked(form: FormState, name: str) -> bool:
    return form.value(name) != ""


def editor_values(procedure: ProcedureDetail) -> FormState:
    """The editor's form filled in from the procedure as the catalogue has it."""
    values: dict[str, str] = {
        "version": str(procedure.version),
        "processing_days": ""
        if procedure.processing_days is None
        else str(procedure.processing_days),
        "online": procedure.online,
    }
    for i, channel in enumerate(procedure.fees):
        values[f"fees.{i}.fee_vnd"] = "" if channel.fee_vnd is None else str(channel.fee_vnd)
        values[f"fees.{i}.fee_text"] = channel.fee_text
    rows = [(c.id, c.name, c.required) for c in procedure.components] + [("", "", True)] * NEW_ROWS
    for i, (component_id, name, required) in enumerate(rows):
        values[f"components.{i}.id"] = component_id
        values[f"components.{i}.name"] = name
        if required:
            values[f"components.{i}.required"] = "1"
    schema = procedure.declaration_schema or {}
    properties = schema.get("properties") or {}
    required_names = set(schema.get("required") or [])
    fields = [(k, v if isinstance(v, dict) else {}) for k, v in properties.items()]
    for i, (name, prop) in enumerate(fields):
        values[f"fields.{i}.name"] = name
        values[f"fields.{i}.existing"] = "1"
        values[f"fields.{i}.title"] = str(prop.get("title") or "")
        values[f"fields.{i}.type"] = field_kind(prop)
        if name in required_names:
            values[f"fields.{i}.required"] = "1"
    for i in range(len(fields), len(fields) + NEW_ROWS):
        values[f"fields.{i}.type"] = "string"
    return FormState(values=values)


def _rows(form: FormState, prefix: str) -> list[int]:
    """The row numbers of a repeated group the form holds (`components.3.name` → 3)."""
    found = set()
    pattern = re.compile(rf"^{prefix}\.(\d+)\.")
    for key in form.values:
        match = pattern.match(key)
        if match:
            found.add(int(match.group(1)))
    return sorted(n for n in found if n < 1000)


@dataclass
class Edit:
    """What the editor's form asks to change, and where each item the API receives came
    from (the API names `components.2.name`; the form's row may be another)."""

    changes: dict[str, Any]
    component_rows: list[int]
    field_rows: list[int]

    def fields_of_api(self) -> dict[str, str]:
        mapping = {}
        for api_index, row in enumerate(self.component_rows):
            for part in ("name", "required", "id"):
                mapping[f"components.{api_index}.{part}"] = f"components.{row}.{part}"
        return mapping


def _whole_number(raw: str) -> int | None:
    """`1.500.000`, `1 500 000` or `1500000`; None when it is not one."""
    digits = raw.replace(".", "").replace(" ", "").replace(",", "")
    return int(digits) if digits.isdigit() and len(digits) <= 15 else None


def procedure_changes(procedure: ProcedureDetail, form: FormState) -> Edit:
    """The fields of `PUT /procedures/{id}` the form changes (only those: the API publishes a
    version for any change, and keeps what is not sent), checking each value on the way; the
    problems go on `form`, at their fields."""
    changes: dict[str, Any] = {}

    raw_days = form.value("processing_days")
    days = _whole_number(raw_days) if raw_days else None
    if raw_days and (days is None or days > DAYS_MAX):
        form.add(
            "processing_days",
            f"Thời hạn giải quyết là số ngày làm việc, từ 0 đến {DAYS_MAX:,}; để trống nếu "
            "thủ tục không quy định thời hạn.".replace(",", "."),
        )
    elif days != procedure.processing_days:
        changes["processing_days"] = days

    online = form.value("online")
    if online not in ONLINE:
        form.add("online", "Vui lòng chọn mức độ dịch vụ công trong danh sách.")
    elif online != procedure.online:
        changes["online"] = online

    fees = []
    for i, channel in enumerate(procedure.fees):
        raw = form.value(f"fees.{i}.fee_vnd")
        fee_vnd = _whole_number(raw) if raw else None
        if raw and fee_vnd is None:
            form.add(
                f"fees.{i}.fee_vnd",
                "Phí, lệ phí là số đồng, ví dụ 50.000; để trống nếu không quy định.",
            )
        text = form.value(f"fees.{i}.fee_text")
        if len(text) > FEE_TEXT_MAX:
            form.add(f"fees.{i}.fee_text", f"Tối đa {FEE_TEXT_MAX:,} ký tự.".replace(",", "."))
        fees.append({**channel.model_dump(), "fee_vnd": fee_vnd, "fee_text": text})
    if fees != [c.model_dump() for c in procedure.fees]:
        changes["fees"] = fees

    current = {c.id: c for c in procedure.components}
    components, component_rows = [], []
    for row in _rows(form, "components"):
        component_id = form.value(f"components.{row}.id")
        name = form.value(f"components.{row}.name")
        if _checked(form, f"components.{row}.remove") or (not component_id and not name):
            continue
        existing = current.get(component_id)
        if component_id and existing is None:
            form.add(f"components.{row}.name", "Thành phần này không còn trong thủ tục.")
            continue
        low, high = COMPONENT_NAME
        if not low <= len(name) <= high:
            form.add(
                f"components.{row}.name",
                "Vui lòng nhập tên thành phần hồ sơ (2 đến 2.000 ký tự), hoặc đánh dấu "
                "“Bỏ thành phần này”.",
            )
            continue
        item: dict[str, Any] = {
            "name": name,
            "required": _checked(form, f"components.{row}.required"),
        }
        if existing is not None:
            form_of = procedure.form(existing.form_id)
            item = {
                "id": existing.id,
                **item,
                "group": existing.group,
                "quantity": existing.quantity,
                "form_name": form_of.name if form_of else None,
            }
        components.append(item)
        component_rows.append(row)
    before = [(c.id, c.name, c.required) for c in procedure.components]
    after = [(c.get("id"), c["name"], c["required"]) for c in components]
    if after != before:
        changes["components"] = components

    schema = procedure.declaration_schema or {}
    properties = {k: v for k, v in (schema.get("properties") or {}).items() if isinstance(v, dict)}
    new_properties: dict[str, Any] = {}
    required: list[str] = []
    field_rows = []
    for row in _rows(form, "fields"):
        name = form.value(f"fields.{row}.name")
        title = form.value(f"fields.{row}.title")
        kind = form.value(f"fields.{row}.type")
        existing_row = _checked(form, f"fields.{row}.existing")
        if _checked(form, f"fields.{row}.remove") or (not existing_row and not name and not title):
            continue
        old = properties.get(name) if existing_row else None
        if existing_row and old is None:
            form.add(f"fields.{row}.title", "Trường này không còn trong tờ khai.")
            continue
        if not existing_row and not FIELD_NAME.match(name):
            form.add(
                f"fields.{row}.name",
                "Tên trường gồm chữ thường không dấu, chữ số và dấu gạch dưới, bắt đầu bằng "
                "một chữ, tối đa 40 ký tự (ví dụ: so_giay_phep).",
            )
            continue
        if name in new_properties or (not existing_row and name in properties):
            form.add(f"fields.{row}.name", f"Tờ khai đã có trường “{name}”.")
            continue
        if not title or len(title) > TITLE_MAX:
            form.add(f"fields.{row}.title", "Vui lòng nhập tiêu đề của trường (tối đa 300 ký tự).")
            continue
        kept = field_kind(old) if old is not None else None
        if kind not in FIELD_TYPES and kind != kept:
            form.add(f"fields.{row}.type", "Vui lòng chọn kiểu trong danh sách.")
            continue
        if old is not None and kind == kept:
            new_properties[name] = {**old, "title": title}
        else:
            new_properties[name] = _property_of(kind, title)
        if _checked(form, f"fields.{row}.required"):
            required.append(name)
        field_rows.append(row)
    if new_properties != properties or required != list(schema.get("required") or []):
        changes["declaration_schema"] = {
            **schema,
            "properties": new_properties,
            "required": required,
        }
    return Edit(changes, component_rows, field_rows)


def _editor_page(
    request: Request,
    procedure: ProcedureDetail,
    form: FormState,
    upload: FormState,
    *,
    status_code: int = 200,
    notice: str | None = None,
    files_not_kept: bool = False,
) -> HTMLResponse:
    properties = (procedure.declaration_schema or {}).get("properties") or {}
    kinds = {k: field_kind(v) for k, v in properties.items() if isinstance(v, dict)}
    field_rows = _rows(form, "fields")
    type_options = {}
    for row in field_rows:
        kind = (
            kinds.get(form.value(f"fields.{row}.name"))
            if _checked(form, f"fields.{row}.existing")
            else None
        )
        extra = {kind: KEPT_TYPES[kind]} if kind in KEPT_TYPES else {}
        type_options[row] = FIELD_TYPES | extra
    return render(
        request,
        "admin/procedure.html",
        {
            "procedure": procedure,
            "form": form,
            "upload": upload,
            "notice": notice,
            "online": ONLINE,
            "channels": CHANNELS,
            "component_rows": _rows(form, "components"),
            "field_rows": field_rows,
            "type_options": type_options,
            "form_choices": {f.id: f.name for f in procedure.forms},
            "files_not_kept": files_not_kept,
        },
        status_code=status_code,
    )


def editor_url(code: str) -> str:
    return "/quan-tri/thu-tuc/" + quote(code, safe="")


@router.get("/quan-tri/thu-tuc/{code}", response_class=HTMLResponse)
async def editor(request: Request, catalogue: Catalogue, staff: Admin, code: str) -> HTMLResponse:
    procedure = await catalogue.procedure(code)
    if procedure.retired:
        raise HTTPException(404)
    return _editor_page(request, procedure, editor_values(procedure), FormState())


@router.post("/quan-tri/thu-tuc/{code}", response_class=HTMLResponse)
async def save(request: Request, catalogue: Catalogue, staff: Admin, code: str) -> Response:
    """Publish the changes as a new version. The form carries the version it was filled in
    from: when another admin published one since, nothing is overwritten — the page shows the
    new version and says so."""
    form = FormState.from_form(await request.form())
    procedure = await catalogue.procedure(code)
    if procedure.retired:
        raise HTTPException(404)
    if form.value("version") != str(procedure.version):
        notice = (
            f"Thủ tục vừa được thay đổi trong khi bạn sửa: nay là phiên bản {procedure.version}. "
            "Thay đổi của bạn chưa được lưu. Các giá trị dưới đây là của phiên bản mới; vui "
            "lòng sửa lại rồi lưu."
        )
        return _editor_page(
            request,
            procedure,
            editor_values(procedure),
            FormState(),
            status_code=409,
            notice=notice,
        )
    edit = procedure_changes(procedure, form)
    if not form.invalid and not edit.changes:
        sessions.flash(
            request, f"Không có thay đổi nào: thủ tục vẫn là phiên bản {procedure.version}."
        )
        return RedirectResponse(editor_url(procedure.code), status_code=303)
    if not form.invalid:
        try:
            published = await catalogue.update_procedure(staff.token, procedure.id, edit.changes)
        except ApiProblem as problem:
            if problem.status not in (400, 409, 422):
                raise
            form.apply(problem, fields=edit.fields_of_api())
        else:
            sessions.flash(
                request,
                f"Đã lưu và công bố phiên bản {published.version} của thủ tục. Hồ sơ nộp từ "
                "nay theo phiên bản này; hồ sơ đã nộp giữ phiên bản cũ.",
            )
            return RedirectResponse(editor_url(published.code), status_code=303)
    return _editor_page(request, procedure, form, FormState(), status_code=422)


@router.post(
    "/quan-tri/thu-tuc/{code}/mau", response_class=HTMLResponse, max_body_size=UPLOAD_BODY_BYTES
)
async def upload_form(request: Request, catalogue: Catalogue, staff: Admin, code: str) -> Response:
    """A form template's file ("Tải về" on the procedure page), for a form the catalogue
    names or a new one; the catalogue checks the type by content and publishes a version."""
    submitted = await request.form()
    upload = FormState.from_form(submitted)
    procedure = await catalogue.procedure(code)
    if procedure.retired:
        raise HTTPException(404)
    form_id = upload.value("form_id")
    chosen = procedure.form(form_id) if form_id else None
    if form_id and chosen is None:
        upload.add("form_id", "Vui lòng chọn mẫu trong danh sách.")
    if not form_id and not upload.value("form_name"):
        upload.add(
            "form_name", "Vui lòng nhập tên mẫu đơn, tờ khai mới (hoặc chọn một mẫu có sẵn)."
        )
    file = uploaded(submitted, "form_file")
    if file is None:
        upload.add("form_file", "Vui lòng chọn tệp mẫu đơn, tờ khai.")
    if not upload.invalid and file is not None:
        try:
            stored = await catalogue.upload_form(
                staff.token,
                procedure.id,
                (file.filename or "mau", file.file, file.content_type or ""),
                form_id=form_id or None,
                name=upload.value("form_name") or None,
            )
        except ApiProblem as problem:
            if problem.status not in (400, 404, 413, 415, 422):
                raise
            upload.apply(
                problem,
                fields={"file": "form_file", "name": "form_name"},
                at={413: "form_file", 415: "form_file", 404: "form_id"},
            )
        else:
            sessions.flash(
                request,
                f"Đã tải lên tệp “{stored.filename}” cho mẫu “{stored.name}”; thủ tục được công "
                "bố phiên bản mới.",
            )
            return RedirectResponse(editor_url(procedure.code), status_code=303)
    return _editor_page(
        request,
        procedure,
        editor_values(procedure),
        upload,
        status_code=422,
        files_not_kept=file is not None,
    )

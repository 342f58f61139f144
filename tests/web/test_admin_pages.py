"""The admins' pages in a real browser (issue 12, "Admins"), through the whole portal: edit a
procedure (processing days, a new declaration field) → a new version, its number shown → upload
a form template → the public procedure page shows the new values and the "Tải về" link; refusals
at their fields (a processing time that is not a number, a field name that is not one, a form
file of the wrong type); a version another admin published meanwhile is not overwritten; every
e-mailed link opens a page of the portal; the pages refuse citizens and officers. The invitation
of an officer is the first step of the officers' journey (test_officer_pages.py). Then the pure
logic of the editor: the changes a form asks for, checked, and nothing else."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.accounts_flow import PASSWORD, register, registered_citizen
from tests.support import ACTIVATION_PAGE, RESET_PAGE, Stack, code_from, link_from
from tests.test_catalogue import _docx
from tests.web.browser import DESKTOP, PHONE, no_horizontal_scroll, screenshot
from tests.web.conftest import Browsing
from tests.web.test_account_pages import field
from tests.web.test_officer_pages import act, staff_sign_in
from tests.web.test_page_security import sign_in
from web.clients.catalogue import Agency, ProcedureDetail
from web.forms import FormState
from web.pages.admin import AgencyTree, editor_values, procedure_changes

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
EDITED = "2.002015"  # a procedure of Sở Tài chính no other test changes
FORM_FILE = _docx()


def api_procedure(stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{stack.base_url}/api/v1/catalogue/procedures/{EDITED}", timeout=30)
    assert response.status_code == 200
    return dict(response.json())


def new_field_row(page: Any) -> Any:
    return page.get_by_role("group", name="Trường mới").first


@JS
def test_an_admin_edits_a_procedure_and_uploads_a_form(
    stack: Stack, browsing: Browsing, admin_headers: dict[str, str], js: bool
) -> None:
    page = browsing.open(js=js)
    staff_sign_in(browsing, page, stack.admin_email, stack.admin_password)
    page.wait_for_url("**/quan-tri")
    browsing.look(page)
    page.get_by_role("link", name="Sửa thủ tục hành chính").click()
    page.wait_for_url("**/quan-tri/thu-tuc")
    browsing.look(page)
    page.get_by_label("Tìm thủ tục theo tên hoặc mã").fill(EDITED)
    page.get_by_role("button", name="Tìm kiếm").click()
    page.wait_for_url(re.compile(r"/quan-tri/thu-tuc\?q="))
    browsing.look(page)
    page.locator(f"a[href='/quan-tri/thu-tuc/{EDITED}']").click()
    page.wait_for_url(f"**/quan-tri/thu-tuc/{EDITED}")
    browsing.look(page)
    version = int(page.locator("#phien-ban").inner_text())
    assert version == api_procedure(stack)["version"]

    if js:  # another admin publishes a version while this one edits: nothing is overwritten
        changed = httpx.put(
            f"{stack.base_url}/api/v1/catalogue/procedures/{EDITED}",
            json={"online": "full"},
            headers=admin_headers,
            timeout=30,
        )
        assert changed.status_code == 200
        field(page, "Thời hạn giải quyết (số ngày làm việc)").fill("30")
        act(browsing, page, "Lưu và công bố phiên bản mới")
        notice = page.get_by_role("alert").first.inner_text()
        assert f"nay là phiên bản {version + 1}" in notice and "chưa được lưu" in notice
        assert int(page.locator("#phien-ban").inner_text()) == version + 1
        assert api_procedure(stack)["processing_days"] != 30
        version += 1

    days = 9 if js else 11
    name = "so_giay_phep" if js else "so_quyet_dinh"
    title = "Số giấy phép" if js else "Số quyết định"
    field(page, "Thời hạn giải quyết (số ngày làm việc)").fill("chín")
    row = new_field_row(page)
    row.get_by_label("Tên trường").fill("Số Giấy")
    row.get_by_label("Tiêu đề").fill(title)
    row.get_by_label("Bắt buộc").check()
    act(browsing, page, "Lưu và công bố phiên bản mới")
    assert (
        page.locator("#f-processing_days-loi")
        .inner_text()
        .endswith("để trống nếu thủ tục không quy định thời hạn.")
    )
    row = new_field_row(page)
    assert "chữ thường không dấu" in row.locator(".field-error").inner_text()
    assert row.get_by_label("Tiêu đề").input_value() == title  # the rest kept
    assert row.get_by_label("Bắt buộc").is_checked()
    assert int(page.locator("#phien-ban").inner_text()) == version  # nothing published

    field(page, "Thời hạn giải quyết (số ngày làm việc)").fill(str(days))
    row.get_by_label("Tên trường").fill(name)
    act(browsing, page, "Lưu và công bố phiên bản mới")
    assert f"Đã lưu và công bố phiên bản {version + 1}" in page.get_by_role("status").inner_text()
    assert int(page.locator("#phien-ban").inner_text()) == version + 1
    published = api_procedure(stack)
    assert published["processing_days"] == days and published["version"] == version + 1
    schema = published["declaration_schema"]
    assert schema["properties"][name] == {"type": "string", "title": title}
    assert name in schema["required"] and "request" in schema["required"]  # the rest as it was
    if js:
        page.set_viewport_size(PHONE)
        assert no_horizontal_scroll(page)
        screenshot(page, "quan-tri-sua-thu-tuc")
        page.set_viewport_size(DESKTOP)
        screenshot(page, "quan-tri-sua-thu-tuc")

    form_name = f"Mẫu đơn đề nghị ({'có' if js else 'không'} JavaScript)"
    field(page, "Tên mẫu mới").fill(form_name)
    field(page, "Tệp mẫu").set_input_files(
        [{"name": "mau.pdf", "mimeType": "application/pdf", "buffer": b"not a pdf at all"}]
    )
    act(browsing, page, "Tải lên")
    assert "mau.pdf" in page.locator("#f-form_file-loi").inner_text()  # checked by content
    assert field(page, "Tên mẫu mới").input_value() == form_name
    assert "không được giữ lại" in page.locator(".files-not-kept").inner_text()
    field(page, "Tệp mẫu").set_input_files(
        [
            {
                "name": "mau-don-de-nghi.docx",
                "mimeType": "application/octet-stream",
                "buffer": FORM_FILE,
            }
        ]
    )
    act(browsing, page, "Tải lên")
    assert "Đã tải lên tệp “mau-don-de-nghi.docx”" in page.get_by_role("status").inner_text()
    assert int(page.locator("#phien-ban").inner_text()) == version + 2

    page.get_by_role("link", name="Xem trang thủ tục").click()
    page.wait_for_url(f"**/thu-tuc/{EDITED}")
    browsing.look(page)
    facts = page.locator("#thong-tin-chung ~ dl").inner_text()
    assert f"{days} ngày làm việc" in facts
    with page.expect_download() as download:
        page.get_by_role("link", name=f"Tải về {form_name}").click()
    assert download.value.path().read_bytes() == FORM_FILE


def test_every_emailed_link_opens_a_page_of_the_portal(stack: Stack) -> None:
    """Activation, password reset and "the address has an account" open the web app's pages
    under the public URL (the invitation's: the officers' journey follows it)."""
    email = f"duong.dan.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        registered_citizen(accounts, stack.smtp, email)
        assert accounts.post("/password-reset", json={"email": email}).status_code == 202
        assert register(accounts, email).status_code == 202  # the address has an account
    activation, reset, exists = stack.smtp.wait_for(email, 3)
    for mail, path in ((activation, ACTIVATION_PAGE), (reset, RESET_PAGE)):
        link = link_from(mail, path)
        assert link.startswith(f"{stack.base_url}{path}?")
        page = httpx.get(link, timeout=30)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert f'value="{email}"' in page.text
        token = re.search(r"code=([^&\s]+)", link)
        assert token and f'value="{token.group(1)}"' in page.text  # filled in from the link
        assert code_from(mail) not in link
    forgotten = link_from(exists, "/quen-mat-khau")
    assert httpx.get(forgotten, timeout=30).status_code == 200


def test_admin_pages_refuse_citizens_and_officer_pages_too(
    stack: Stack, browsing: Browsing
) -> None:
    email = f"khong.quyen.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        registered_citizen(accounts, stack.smtp, email)
    page = sign_in(browsing, {"email": email, "password": PASSWORD})
    for path in ("/quan-tri", "/quan-tri/moi-can-bo", f"/quan-tri/thu-tuc/{EDITED}", "/can-bo"):
        browsing.goto(page, path, status=403)
        assert page.get_by_role("heading", level=1).inner_text() == "Không có quyền truy cập"
    # a citizen's own valid form token does not make an invitation either
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "phien"]
    invited = f"moi.trai.phep.{uuid.uuid4().hex[:8]}@example.vn"
    refused = httpx.post(
        f"{stack.base_url}/quan-tri/moi-can-bo",
        data={
            "csrf_token": token,
            "email": invited,
            "full_name": "Kẻ Mạo Danh",
            "role": "admin",
        },
        cookies={"phien": cookie["value"]},
        timeout=30,
    )
    assert refused.status_code == 403
    assert stack.smtp.to(invited) == []


# -- the editor's logic, without a portal -------------------------------------------------------

PROCEDURE = ProcedureDetail.model_validate(
    {
        "id": "p1",
        "code": "1.000001",
        "name": "Thủ tục thử",
        "tier": ["province"],
        "field": {"id": "f", "name": "Lĩnh vực"},
        "online": "partial",
        "processing_days": 10,
        "version": 4,
        "fees": [{"channel": "direct", "fee_vnd": 50000, "fee_text": ""}],
        "components": [
            {"id": "c1", "name": "Đơn đề nghị", "required": True, "form_id": "m1"},
            {"id": "c2", "name": "Bản sao", "required": False, "quantity": "01 bản"},
        ],
        "declaration_schema": {
            "type": "object",
            "properties": {
                "request": {"type": "string", "title": "Nội dung", "maxLength": 4000},
                "delivery": {"type": "string", "title": "Nhận kết quả", "enum": ["a", "b"]},
            },
            "required": ["request"],
            "$defs": {"applicant": {"type": "object"}},
        },
        "forms": [{"id": "m1", "name": "Mẫu đơn"}],
    }
)


def edited(values: dict[str, str | None]) -> FormState:
    """The editor's form as the procedure fills it in, with `values` typed over it (None:
    a box unticked)."""
    form = editor_values(PROCEDURE)
    for key, value in values.items():
        if value is None:
            form.values.pop(key, None)
        else:
            form.values[key] = value
    return form


@pytest.mark.parametrize(
    ("values", "changes", "errors"),
    [
        ({}, {}, {}),  # the form as it was filled in: nothing to publish
        ({"processing_days": "12"}, {"processing_days": 12}, {}),
        ({"processing_days": ""}, {"processing_days": None}, {}),  # no time published
        ({"processing_days": "-1"}, {}, {"processing_days"}),
        ({"processing_days": "3651"}, {}, {"processing_days"}),
        ({"online": "full"}, {"online": "full"}, {}),
        ({"online": "level4"}, {}, {"online"}),
        ({"fees.0.fee_vnd": "1.500.000"}, {"fees": "fee 1500000"}, {}),
        ({"fees.0.fee_vnd": "năm mươi"}, {}, {"fees.0.fee_vnd"}),
        ({"components.1.remove": "1"}, {"components": ["c1"]}, {}),
        ({"components.2.name": "Giấy ủy quyền"}, {"components": ["c1", "c2", None]}, {}),
        ({"components.0.name": ""}, {}, {"components.0.name"}),
        ({"fields.2.name": "so_giay", "fields.2.title": "Số giấy"}, {"schema": "added"}, {}),
        ({"fields.2.name": "Số Giấy", "fields.2.title": "Số giấy"}, {}, {"fields.2.name"}),
        ({"fields.2.name": "request", "fields.2.title": "Trùng"}, {}, {"fields.2.name"}),
        ({"fields.0.title": "Nội dung đề nghị"}, {"schema": "retitled"}, {}),
        ({"fields.1.type": "string"}, {"schema": "retyped"}, {}),
        ({"fields.0.required": None}, {"schema": "optional"}, {}),
        ({"fields.1.remove": "1"}, {"schema": "removed"}, {}),
        ({"fields.0.type": "list"}, {}, {"fields.0.type"}),
    ],
)
def test_the_editor_sends_only_what_changed(
    values: dict[str, str | None], changes: dict[str, Any], errors: set[str]
) -> None:
    form = edited(values)
    edit = procedure_changes(PROCEDURE, form)
    assert set(form.errors) == set(errors)
    if errors:
        return
    assert set(edit.changes) == {"declaration_schema" if k == "schema" else k for k in changes}
    if "processing_days" in changes:
        assert edit.changes["processing_days"] == changes["processing_days"]
    if "fees" in changes:
        [fee] = edit.changes["fees"]
        assert fee["fee_vnd"] == 1_500_000 and fee["channel"] == "direct"
    if "components" in changes:
        sent = edit.changes["components"]
        assert [c.get("id") for c in sent] == changes["components"]
        # an existing component keeps what the editor does not show: its form, its quantity
        assert sent[0]["form_name"] == "Mẫu đơn" and sent[0]["required"] is True
        if len(sent) > 1 and sent[1].get("id") == "c2":
            assert sent[1]["quantity"] == "01 bản" and sent[1]["required"] is False
    schema = edit.changes.get("declaration_schema")
    kept = {"type": "object", "$defs": {"applicant": {"type": "object"}}}
    if schema is not None:
        assert {k: schema[k] for k in kept} == kept
        properties = schema["properties"]
        change = changes["schema"]
        if change == "added":
            assert properties["so_giay"] == {"type": "string", "title": "Số giấy"}
            assert list(properties) == ["request", "delivery", "so_giay"]
        elif change == "retitled":
            assert properties["request"] == {
                "type": "string",
                "title": "Nội dung đề nghị",
                "maxLength": 4000,
            }
        elif change == "retyped":
            assert properties["delivery"] == {"type": "string", "title": "Nhận kết quả"}
        elif change == "optional":
            assert schema["required"] == []
        elif change == "removed":
            assert list(properties) == ["request"]


def test_api_errors_land_on_the_form_rows_they_came_from() -> None:
    """The API numbers the components it received; the form's rows may be others (a removed
    row is not sent)."""
    form = edited({"components.0.remove": "1", "components.2.name": "Giấy tờ mới"})
    edit = procedure_changes(PROCEDURE, form)
    assert [c.get("id") for c in edit.changes["components"]] == ["c2", None]
    assert edit.fields_of_api()["components.1.name"] == "components.2.name"


def test_the_agency_tree_groups_communes_by_district_in_the_former_layout() -> None:
    tree = AgencyTree(
        [
            Agency(id="HT", name="Ủy ban nhân dân tỉnh", tier="province"),
            Agency(id="HT-STP", name="Sở Tư pháp", tier="department", parent_id="HT"),
            Agency(id="H1", name="Huyện Kỳ Anh", tier="district", parent_id="HT"),
            Agency(id="X1", name="Xã Kỳ Bắc", tier="commune", parent_id="H1"),
            Agency(id="X2", name="Phường Thành Sen", tier="commune", parent_id="HT"),
        ]
    )
    assert list(tree.tiers) == ["province", "department", "district", "commune"]
    groups = {group: [a.id for a in agencies] for group, agencies in tree.of("commune")}
    assert groups == {"Huyện Kỳ Anh": ["X1"], None: ["X2"]}
    assert tree.find("HT-STP") is not None and tree.find("HT-XX") is None

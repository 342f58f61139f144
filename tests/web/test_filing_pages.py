"""Filing through the pages in a real browser (issue 12: "Filing", "The dossier page", "Without
an account", "Hồ sơ cá nhân"), against the whole portal: an accent-free search → "Đăng ký trực
tuyến" (sign in, back to the form) → the declaration, the commune, the uploads → "Lưu lại" →
the drafts folder → "Gửi hồ sơ" → an officer (through the API) asks a supplement → "Bổ sung
hồ sơ" → "Gửi bổ sung" → the officer returns a result → the citizen downloads it; without an
account: the captcha, the e-mail, the form → the code → the e-mailed tracking link opens a page
→ the officer rejects → the page shows the reason. The key steps again with JavaScript off,
with a procedure whose declaration has a nested object and a list ("Thêm dòng" re-renders the
form); bad input at the fields with the rest of the form kept."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.accounts_flow import PASSWORD, registered_citizen
from tests.dossiers_flow import officer_of, pdf
from tests.support import Stack, wait_until
from tests.web.browser import DESKTOP, PHONE, screenshot
from tests.web.conftest import Browsing

BIRTH = "1.001193"  # Thủ tục đăng ký khai sinh (commune tier)
COMMUNE = "X18073"  # Phường Thành Sen
COMMUNE_NAME = "Phường Thành Sen"
SUPPLEMENT = "Đề nghị bổ sung bản sao giấy chứng nhận kết hôn của cha mẹ."
REASON = "Giấy chứng sinh không rõ, đề nghị nộp lại hồ sơ mới."

DECLARATION = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Tờ khai",
    "type": "object",
    "properties": {
        "request": {"type": "string", "title": "Nội dung đề nghị", "minLength": 1},
        "copies": {"type": "integer", "title": "Số bản sao", "minimum": 1, "maximum": 10},
        "permit_number": {
            "type": "string",
            "title": "Số giấy phép cũ",
            "pattern": "^GP-[0-9]{4}$",
        },
        "delivery": {
            "type": "string",
            "title": "Hình thức nhận kết quả",
            "enum": ["Trực tiếp", "Dịch vụ bưu chính", "Trực tuyến", "Ủy quyền", "Khác"],
        },
        "pledge": {"type": "boolean", "title": "Tôi cam đoan lời khai trên là đúng sự thật"},
        "representative": {
            "type": "object",
            "title": "Người đại diện",
            "properties": {
                "full_name": {"type": "string", "title": "Họ và tên người đại diện"},
                "position": {"type": "string", "title": "Chức vụ"},
            },
            "required": ["full_name"],
        },
        "members": {
            "type": "array",
            "title": "Thành viên",
            "items": {
                "type": "object",
                "properties": {
                    "full_name": {"type": "string", "title": "Họ và tên thành viên"},
                    "share": {"type": "number", "title": "Tỷ lệ góp vốn (%)", "maximum": 100},
                },
                "required": ["full_name"],
            },
        },
    },
    "required": ["request", "copies", "delivery", "members"],
    "additionalProperties": False,
}
"""The declaration of the test's own procedure: every kind of input the form draws."""


def field_error(page: Any, name: str) -> str:
    """The message shown at the input named `name` (its id is `f-` + the API's path)."""
    element_id = "f-" + "".join(c if c.isalnum() or c == "_" else "-" for c in name)
    return str(page.locator(f"#{element_id}-loi").inner_text())


def value_of(page: Any, name: str) -> str:
    return str(page.locator(f"[name='{name}']").input_value())


def big_pdf(size: int) -> bytes:
    head = pdf("lon")
    return head + b"\n%" + b"0" * (size - len(head) - 2)


@pytest.fixture(scope="module")
def filing_ready(stack: Stack, admin_headers: dict[str, str]) -> dict[str, Any]:
    """The birth registration in the dossiers service's copy of the catalogue, and a
    procedure of the test's own (province tier, Sở Tư pháp) with `DECLARATION`."""
    catalogue = f"{stack.base_url}/api/v1/catalogue"
    field = httpx.post(
        f"{catalogue}/fields",
        json={"name": f"Thử trang {uuid.uuid4().hex[:6]}"},
        headers=admin_headers,
    )
    assert field.status_code == 201, field.text
    code = f"9.{uuid.uuid4().int % 1_000_000:06d}"
    created = httpx.post(
        f"{catalogue}/procedures",
        json={
            "code": code,
            "name": "Cấp giấy xác nhận thử nghiệm trang nộp hồ sơ",
            "field_id": field.json()["id"],
            "tier": ["province"],
            "agency_id": "HT-STP",
            "online": "full",
            "processing_days": 5,
            "components": [
                {"name": "Đơn đề nghị", "required": True},
                {"name": "Bản sao giấy tờ tùy thân", "required": False},
            ],
            "declaration_schema": DECLARATION,
        },
        headers=admin_headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text

    # The dossiers service files against its copy of the catalogue, fed by messages queued
    # behind the seed's (thousands when the portal has just started). Playwright keeps an
    # event loop running in this thread: the database check (asyncio.run) runs in another.
    def copied() -> bool:
        rows = stack.query(
            "dossiers",
            "SELECT count(DISTINCT code) AS n FROM procedure_copies WHERE code = ANY($1::text[])",
            [BIRTH, code],
        )
        return bool(rows[0]["n"] == 2)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(wait_until, copied, 300, 0.5, "the dossiers service's copy").result()
    components = [c["id"] for c in created.json()["components"]]
    return {"code": code, "components": components}


@pytest.fixture(scope="module")
def citizen(stack: Stack) -> dict[str, str]:
    email = f"nop.ho.so.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
        registered_citizen(client, stack.smtp, email)
    return {"email": email, "password": PASSWORD}


@pytest.fixture(scope="module")
def commune_officer(stack: Stack) -> dict[str, str]:
    return officer_of(stack, stack.smtp, COMMUNE)


@pytest.fixture(scope="module")
def dossiers_api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/dossiers", timeout=30) as client:
        yield client


def sign_in_here(browsing: Browsing, page: Any, citizen: dict[str, str]) -> None:
    """On the sign-in page the portal sent the person to: sign in, and be brought back."""
    assert "/dang-nhap?tiep=" in page.url, page.url
    browsing.look(page)
    page.get_by_label("Địa chỉ email").fill(citizen["email"])
    page.get_by_label("Mật khẩu").fill(citizen["password"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()


def attach(page: Any, name: str, filename: str, content: bytes, mime: str) -> None:
    page.locator(f"input[type=file][name='{name}']").set_input_files(
        {"name": filename, "mimeType": mime, "buffer": content}
    )


def attach_required_files(page: Any) -> int:
    """A PDF for every component the form marks required; how many."""
    uploads = page.locator(".component-upload")
    count = 0
    for index in range(uploads.count()):
        upload = uploads.nth(index)
        if "(*)" in upload.locator("label").first.inner_text():
            upload.locator("input[type=file]").set_input_files(
                {"name": f"giay-to-{index}.pdf", "mimeType": "application/pdf", "buffer": pdf()}
            )
            count += 1
    return count


def fill_birth_declaration(page: Any) -> None:
    page.locator("#f-declaration-request").fill("Đăng ký khai sinh cho con")
    page.locator("#f-declaration-child_full_name").fill("Lê Thị Bé")
    page.locator("#f-declaration-child_date_of_birth").fill("2026-01-15")
    page.get_by_role("radio", name="Nữ").last.check()  # the child's (the applicant's is first)
    page.locator("#f-declaration-place_of_birth").fill("Bệnh viện Đa khoa tỉnh Hà Tĩnh")
    page.get_by_label(re.compile("^Xã, phường nơi nộp hồ sơ")).select_option(label=COMMUNE_NAME)


def arrive(page: Any, pattern: str) -> None:
    """Wait for the page at `pattern`; if a refusal came instead, say what it said."""
    try:
        page.wait_for_url(re.compile(pattern), timeout=20_000)
    except Exception:
        alert = page.locator(".error-summary")
        said = alert.inner_text() if alert.count() else page.locator("main").inner_text()[:800]
        raise AssertionError(f"not at {pattern} but {page.url}:\n{said}") from None


def folder(page: Any, label: str, count: int) -> Any:
    """A folder's link by its words and count: "Hồ sơ chưa gửi (1 hồ sơ)"."""
    nav = page.get_by_role("navigation", name="Thư mục hồ sơ")
    name = re.compile("^" + re.escape(label) + rf"\s*\({count}\s*hồ sơ\s*\)$")
    return nav.get_by_role("link", name=name)


def dossier_id_of(page: Any) -> str:
    match = re.search(r"/ho-so/([0-9a-f]+)$", page.url)
    assert match, page.url
    return match.group(1)


def test_file_with_an_account_supplement_and_download_the_result(
    stack: Stack,
    browsing: Browsing,
    filing_ready: dict[str, Any],
    citizen: dict[str, str],
    commune_officer: dict[str, str],
    dossiers_api: httpx.Client,
) -> None:
    page = browsing.open()
    browsing.goto(page, "/")
    page.get_by_label("Tìm thủ tục hành chính theo từ khóa").fill("dang ky khai sinh")
    page.get_by_role("button", name="Tìm kiếm").click()
    page.wait_for_url(re.compile(r"/thu-tuc\?q="))
    browsing.look(page)
    page.locator(f".procedure-list__name[href^='/thu-tuc/{BIRTH}?q=']").click()
    page.wait_for_url(re.compile(rf"/thu-tuc/{BIRTH}\?q=dang"))
    browsing.look(page)
    page.get_by_role("link", name="Đăng ký trực tuyến").click()
    page.wait_for_url(re.compile("/dang-nhap"))
    sign_in_here(browsing, page, citizen)
    page.wait_for_url(f"**/nop-ho-so/{BIRTH}")
    browsing.look(page)

    # the reception form: the applicant from the profile, the limits, required marks
    assert page.get_by_role("heading", level=1).inner_text() == "Đăng ký trực tuyến"
    assert value_of(page, "applicant.email") == citizen["email"]
    assert value_of(page, "applicant.full_name")  # the registered name
    assert "tối đa 10 MB mỗi tệp, 50 MB cả hồ sơ" in page.locator("#quy-dinh-tep").inner_text()
    assert "(*)" in page.locator("label[for='f-declaration-child_full_name']").inner_text()
    assert page.locator("input[type=file]").first.get_attribute("accept") == (
        ".pdf,.jpg,.jpeg,.png,.doc,.docx"
    )
    screenshot(page, "filing-form")
    page.set_viewport_size(PHONE)
    screenshot(page, "filing-form")
    page.set_viewport_size(DESKTOP)
    fill_birth_declaration(page)
    assert attach_required_files(page) >= 1
    page.get_by_role("button", name="Lưu lại", exact=True).click()
    page.wait_for_url("**/ho-so-ca-nhan/ho-so/chua-gui")
    browsing.look(page)
    assert "Đã lưu hồ sơ" in page.get_by_role("status").inner_text()
    assert folder(page, "Hồ sơ chưa gửi", 1).get_attribute("aria-current") == "page"
    row = page.locator("table.dossier-table tbody tr")
    assert row.count() == 1 and "Thủ tục đăng ký khai sinh" in row.inner_text()
    screenshot(page, "folders")
    page.set_viewport_size(PHONE)
    screenshot(page, "folders")
    page.set_viewport_size(DESKTOP)

    # edit the draft (the declaration came back as saved), then "Gửi hồ sơ"
    row.get_by_role("link", name=re.compile("^Sửa")).click()
    page.wait_for_url(re.compile(r"/ho-so/[0-9a-f]+/sua$"))
    browsing.look(page)
    assert value_of(page, "declaration.child_full_name") == "Lê Thị Bé"
    assert value_of(page, "declaration.child_date_of_birth") == "2026-01-15"
    assert page.locator(".attached-files").count() >= 1  # the files saved with the draft
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    # the profile has no address, which the procedure requires: the API's refusal, at the field
    page.wait_for_load_state()
    browsing.look(page)
    assert "Địa chỉ: trường này là bắt buộc." in field_error(page, "applicant.address")
    assert value_of(page, "declaration.child_full_name") == "Lê Thị Bé"
    page.locator("[name='applicant.address']").fill("Phường Thành Sen, Hà Tĩnh")
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    arrive(page, r"/ho-so/[0-9a-f]+$")
    browsing.look(page)
    dossier_id = dossier_id_of(page)
    status = page.get_by_role("status").inner_text()
    code = re.search(r"Mã hồ sơ: (\S+)\.", status)
    assert code and code.group(1).startswith(f"{COMMUNE}-"), status
    facts = page.locator("dl.facts").first.inner_text()
    assert "Hồ sơ đã gửi" in facts and code.group(1) in facts and COMMUNE_NAME in facts
    # the e-mail's link opens this page (after signing in), not the API's JSON
    [sent_mail] = stack.smtp.wait_for(citizen["email"], 2)[1:]
    assert f"{stack.base_url}/ho-so/{dossier_id}" in sent_mail.text

    # the officer receives and asks a supplement (through the API)
    assert dossiers_api.post(f"/{dossier_id}/receive", headers=commune_officer).status_code == 200
    asked = dossiers_api.post(
        f"/{dossier_id}/request-supplement", json={"content": SUPPLEMENT}, headers=commune_officer
    )
    assert asked.status_code == 200, asked.text
    browsing.goto(page, "/ho-so-ca-nhan/ho-so/yeu-cau-bo-sung")
    assert folder(page, "Hồ sơ yêu cầu bổ sung", 1).get_attribute("aria-current") == "page"
    assert folder(page, "Hồ sơ đã gửi", 0).is_visible()
    page.get_by_role("link", name=re.compile("^Bổ sung hồ sơ")).click()
    page.wait_for_url(f"**/ho-so/{dossier_id}/sua")
    browsing.look(page)
    assert SUPPLEMENT in page.locator("#yeu-cau-bo-sung ~ p").inner_text()
    optional = page.locator(".component-upload").filter(has_not_text="(*)").first
    optional.locator("input[type=file]").set_input_files(
        {"name": "giay-ket-hon.png", "mimeType": "image/png", "buffer": png()}
    )
    page.get_by_role("button", name="Gửi bổ sung").click()
    arrive(page, f"/ho-so/{dossier_id}$")
    browsing.look(page)
    assert "Đã gửi bổ sung hồ sơ" in page.get_by_role("status").inner_text()
    assert "Hồ sơ đã gửi" in page.locator("dl.facts").first.inner_text()
    assert "giay-ket-hon.png" in page.locator("#thanh-phan ~ ul").inner_text()

    # the officer receives again and returns a result; the citizen downloads it
    assert dossiers_api.post(f"/{dossier_id}/receive", headers=commune_officer).status_code == 200
    result_pdf = pdf("Giay khai sinh ban chinh")
    returned = dossiers_api.post(
        f"/{dossier_id}/result",
        files=[("files", ("giay-khai-sinh.pdf", result_pdf, "application/pdf"))],
        data={"note": "Trả giấy khai sinh."},
        headers=commune_officer,
    )
    assert returned.status_code == 200, returned.text
    browsing.goto(page, "/ho-so-ca-nhan/ho-so/da-tra-ket-qua")
    page.get_by_role("link", name=re.compile("^Xem hồ sơ")).first.click()
    page.wait_for_url(f"**/ho-so/{dossier_id}")
    browsing.look(page)
    assert "Hồ sơ đã trả kết quả" in page.locator("dl.facts").first.inner_text()
    screenshot(page, "dossier")
    page.set_viewport_size(PHONE)
    screenshot(page, "dossier")
    page.set_viewport_size(DESKTOP)
    results = page.get_by_role("heading", name="Đính kèm kết quả")
    assert results.is_visible()
    link = page.get_by_role("link", name="giay-khai-sinh.pdf")
    assert link.get_attribute("href").startswith(f"/ho-so/{dossier_id}/ket-qua/")  # the pages'
    with page.expect_download() as download:
        link.click()
    assert download.value.path().read_bytes() == result_pdf

    page.get_by_role("link", name="Xem quá trình xử lý hồ sơ").click()
    page.wait_for_url(f"**/ho-so/{dossier_id}/qua-trinh")
    browsing.look(page)
    steps = [c.inner_text() for c in page.locator("tbody tr td:nth-child(2)").all()]
    assert steps == [
        "Tạo hồ sơ",
        "Gửi hồ sơ",
        "Tiếp nhận hồ sơ",
        "Yêu cầu bổ sung",
        "Gửi bổ sung",
        "Tiếp nhận hồ sơ",
        "Trả kết quả",
    ]
    # another citizen's dossier is not found, through the pages too
    stranger = browsing.open()
    browsing.goto(stranger, f"/ho-so/{dossier_id}")
    sign_in_here(browsing, stranger, _another_citizen(stack))
    assert stranger.get_by_role("heading", level=1).inner_text() == "Không tìm thấy trang"
    browsing.look(stranger)


def _another_citizen(stack: Stack) -> dict[str, str]:
    email = f"nguoi.khac.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
        registered_citizen(client, stack.smtp, email)
    return {"email": email, "password": PASSWORD}


def png() -> bytes:
    from tests.dossiers_flow import png as make_png

    return make_png()


def test_without_javascript_rows_nested_fields_save_send_and_discard(
    browsing: Browsing, filing_ready: dict[str, Any], citizen: dict[str, str]
) -> None:
    code = filing_ready["code"]
    required, optional = (f"components.{c}" for c in filing_ready["components"])
    page = browsing.open(js=False)
    page.goto(f"/nop-ho-so/{code}")
    sign_in_here(browsing, page, citizen)
    page.wait_for_url(f"**/nop-ho-so/{code}")
    # every kind of input the schema asks for
    assert page.locator("fieldset#f-declaration-representative legend").inner_text() == (
        "Người đại diện"
    )
    assert page.locator("select[name='declaration.delivery']").count() == 1  # 5 options
    assert page.locator("input[type=checkbox][name='declaration.pledge']").count() == 1
    assert page.locator("[name='declaration.members.0.full_name']").count() == 1
    assert page.locator("[name='declaration.members.1.full_name']").count() == 0
    page.locator("[name='declaration.request']").fill("Xác nhận thử nghiệm")
    page.locator("[name='declaration.members.0.full_name']").fill("Phan Văn Một")
    page.locator("[name='declaration.members.0.share']").fill("60.5")
    # "Thêm dòng": the same form again, one more row, what was typed kept
    page.get_by_role("button", name=re.compile(r"^Thêm dòng\W+Thành viên$")).click()
    page.wait_for_url(f"**/nop-ho-so/{code}")
    assert value_of(page, "declaration.members.0.full_name") == "Phan Văn Một"
    assert value_of(page, "declaration.members.0.share") == "60.5"
    page.locator("[name='declaration.members.1.full_name']").fill("Phan Thị Hai")
    page.locator("[name='declaration.copies']").fill("2")
    page.locator("select[name='declaration.delivery']").select_option("Ủy quyền")
    page.locator("[name='declaration.pledge']").check()
    page.locator("[name='declaration.representative.full_name']").fill("Phan Văn Đại")
    attach(page, required, "don-de-nghi.pdf", pdf("don"), "application/pdf")
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    arrive(page, r"/ho-so/[0-9a-f]+$")
    status = page.get_by_role("status").inner_text()
    assert re.search(r"Mã hồ sơ: HT-STP-\d{6}-\d{4}\.", status), status
    shown = page.locator("#to-khai ~ dl").inner_text()
    for expected in ("Phan Văn Một", "60.5", "Phan Thị Hai", "Ủy quyền", "Phan Văn Đại", "Có"):
        assert expected in shown, expected

    # a draft saved and discarded, with the confirmation page between
    page.goto(f"/nop-ho-so/{code}")
    page.locator("[name='declaration.request']").fill("Hồ sơ sẽ xóa")
    page.get_by_role("button", name="Lưu lại", exact=True).click()
    page.wait_for_url("**/ho-so-ca-nhan/ho-so/chua-gui")
    drafts = page.locator("table.dossier-table tbody tr")
    before = drafts.count()
    drafts.first.get_by_role("link", name=re.compile("^Xóa")).click()
    page.wait_for_url(re.compile(r"/ho-so/[0-9a-f]+/xoa$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Xóa hồ sơ chưa gửi?"
    page.get_by_role("button", name="Xóa hồ sơ").click()
    page.wait_for_url("**/ho-so-ca-nhan/ho-so/chua-gui")
    assert "Đã xóa hồ sơ chưa gửi." in page.get_by_role("status").inner_text()
    assert page.locator("table.dossier-table tbody tr").count() == before - 1
    del optional


def test_bad_input_is_said_at_each_field_and_the_rest_is_kept(
    browsing: Browsing, filing_ready: dict[str, Any], citizen: dict[str, str]
) -> None:
    code = filing_ready["code"]
    required, optional = (f"components.{c}" for c in filing_ready["components"])
    page = browsing.open()
    page.goto(f"/nop-ho-so/{code}")
    sign_in_here(browsing, page, citizen)
    page.wait_for_url(f"**/nop-ho-so/{code}")
    browsing.look(page)
    # checked by the page before anything is sent: a file too large, a type not taken, a
    # number that is not one
    page.locator("[name='declaration.request']").fill("Giữ lại nội dung này")
    page.locator("[name='declaration.copies']").fill("ba")
    attach(page, required, "qua-lon.pdf", big_pdf(10 * 1024 * 1024 + 1), "application/pdf")
    attach(page, optional, "ghi-chu.txt", b"khong phai PDF", "text/plain")
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    page.wait_for_url(f"**/nop-ho-so/{code}")
    browsing.look(page)
    assert "vượt quá 10 MB" in field_error(page, required)
    assert "chỉ nhận tệp PDF, JPEG, PNG, DOC, DOCX" in field_error(page, optional)
    assert "Số bản sao: vui lòng nhập một số nguyên." in field_error(page, "declaration.copies")
    assert value_of(page, "declaration.request") == "Giữ lại nội dung này"
    assert value_of(page, "declaration.copies") == "ba"
    summary = page.get_by_role("alert")
    assert "Số bản sao: vui lòng nhập một số nguyên." in summary.inner_text()
    assert "tệp đã chọn không được giữ lại" in summary.inner_text()
    summary.get_by_role("link", name=re.compile("^Số bản sao")).click()
    assert page.evaluate("document.activeElement.name") == "declaration.copies"

    # refused by the API: a file whose content is not its type, then "Gửi hồ sơ" with empty
    # required fields and a declaration that fails its schema
    page.locator("[name='declaration.copies']").fill("11")
    page.locator("[name='declaration.permit_number']").fill("GP-12")
    attach(page, required, "gia-mao.pdf", b"day khong phai la PDF", "application/pdf")
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    page.wait_for_url(f"**/nop-ho-so/{code}")
    browsing.look(page)
    assert "gia-mao.pdf" in field_error(page, required)
    assert value_of(page, "declaration.permit_number") == "GP-12"
    # the draft was saved: the form now edits it, and sending lists what is missing
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    page.wait_for_url(re.compile(r"/ho-so/[0-9a-f]+/sua$"))
    browsing.look(page)
    assert "Đơn đề nghị" in field_error(page, required)
    assert "Số bản sao" in field_error(page, "declaration.copies")  # above its maximum
    assert "Số giấy phép cũ" in field_error(page, "declaration.permit_number")  # its pattern
    assert "bắt buộc" in field_error(page, "declaration.delivery")
    assert value_of(page, "declaration.request") == "Giữ lại nội dung này"
    assert value_of(page, "declaration.copies") == "11"


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_file_without_an_account_then_the_tracking_link(
    stack: Stack,
    browsing: Browsing,
    filing_ready: dict[str, Any],
    commune_officer: dict[str, str],
    dossiers_api: httpx.Client,
    js: bool,
) -> None:
    email = f"khong.tk.{uuid.uuid4().hex[:10]}@example.vn"
    page = browsing.open(js=js)
    page.goto(f"/thu-tuc/{BIRTH}")
    browsing.look(page)
    page.get_by_role("link", name="Đăng ký hồ sơ không tài khoản").click()
    page.wait_for_url(f"**/nop-ho-so/{BIRTH}/khong-tai-khoan")
    browsing.look(page)
    assert page.get_by_role("img", name=re.compile("^Mã xác nhận")).is_visible()
    # a refusal first: the captcha and the e-mail missing, the rest kept
    page.locator("[name='applicant.full_name']").fill("Hoàng Văn Khách")
    page.locator("[name='applicant.address']").fill("Phường Thành Sen, Hà Tĩnh")
    fill_birth_declaration(page)
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    page.wait_for_url(f"**/nop-ho-so/{BIRTH}/khong-tai-khoan")
    browsing.look(page)
    assert "Vui lòng nhập thư điện tử." in field_error(page, "applicant.email")
    assert "Vui lòng nhập mã xác nhận." in field_error(page, "captcha_answer")
    assert "vui lòng đính kèm tệp cho thành phần này." in page.get_by_role("alert").inner_text()
    assert value_of(page, "declaration.child_full_name") == "Lê Thị Bé"
    # "Lấy mã khác": a new image, the form kept
    first_image = page.get_by_role("img", name=re.compile("^Mã xác nhận")).get_attribute("src")
    page.get_by_role("button", name="Lấy mã khác").click()
    page.wait_for_url(f"**/nop-ho-so/{BIRTH}/khong-tai-khoan")
    browsing.look(page)
    assert page.get_by_role("img", name=re.compile("^Mã xác nhận")).get_attribute("src") != (
        first_image
    )
    assert value_of(page, "applicant.full_name") == "Hoàng Văn Khách"
    page.locator("[name='applicant.email']").fill(email)
    page.get_by_label(re.compile("^Nhập mã xác nhận")).fill("test")
    attach_required_files(page)
    page.get_by_role("button", name="Gửi hồ sơ", exact=True).click()
    arrive(page, "/nop-ho-so-khong-tai-khoan/da-gui$")
    browsing.look(page)
    code = page.locator(".dossier-code").inner_text()
    assert code.startswith(f"{COMMUNE}-")
    assert email in page.locator("main").inner_text()
    assert "Đường dẫn theo dõi hồ sơ đã được gửi tới" in page.locator("main").inner_text()
    session_cookie = [c for c in page.context.cookies() if c["name"] == "phien"]
    assert session_cookie and "token" not in session_cookie[0]["value"]

    [mail] = stack.smtp.wait_for(email, 1)
    link = re.search(r"https?://\S+/theo-doi-ho-so\?\S+", mail.text)
    assert link and code in mail.text, mail.text
    tracking_url = link.group(0).rstrip(".,)")
    assert tracking_url.startswith(f"{stack.base_url}/theo-doi-ho-so?")
    tracker = browsing.open(js=js, viewport=PHONE)  # the e-mail read on a phone, another browser
    response = tracker.goto(tracking_url)
    assert response is not None and response.status == 200
    assert "text/html" in response.headers["content-type"]
    browsing.look(tracker)
    facts = tracker.locator("dl.facts").inner_text()
    assert "Hồ sơ đã gửi" in facts and code in facts
    assert "Hoàng Văn Khách" not in tracker.locator("main").inner_text()  # minimal personal data

    dossier_id = dossiers_api.get(
        "/track", params=dict(re.findall(r"(code|token)=([^&\s]+)", tracking_url))
    ).json()["id"]
    if js:  # the officer rejects
        rejected = dossiers_api.post(
            f"/{dossier_id}/reject", json={"reason": REASON}, headers=commune_officer
        )
        assert rejected.status_code == 200, rejected.text
        tracker.reload()
        browsing.look(tracker)
        assert "Hồ sơ bị trả lại" in tracker.locator("dl.facts").inner_text()
        assert REASON in tracker.locator("#ly-do ~ p").inner_text()
        screenshot(tracker, "tracking")
        tracker.set_viewport_size(DESKTOP)
        screenshot(tracker, "tracking")
    else:  # the officer returns a result; the tracking page gives it
        assert dossiers_api.post(f"/{dossier_id}/receive", headers=commune_officer).is_success
        result_pdf = pdf("Ket qua khong tai khoan")
        returned = dossiers_api.post(
            f"/{dossier_id}/result",
            files=[("files", ("ket-qua.pdf", result_pdf, "application/pdf"))],
            headers=commune_officer,
        )
        assert returned.status_code == 200, returned.text
        tracker.reload()
        assert "Hồ sơ đã trả kết quả" in tracker.locator("dl.facts").inner_text()
        with tracker.expect_download() as download:
            tracker.get_by_role("link", name="ket-qua.pdf").click()
        assert download.value.path().read_bytes() == result_pdf
    steps = [c.inner_text() for c in tracker.locator("tbody tr td:nth-child(2)").all()]
    assert steps[:2] == ["Tạo hồ sơ", "Gửi hồ sơ"]
    # a wrong token opens nothing
    wrong = tracker.goto(re.sub(r"token=[^&]+", "token=sai", tracking_url))
    assert wrong is not None and wrong.status == 404
    browsing.look(tracker)

"""The officers' console in a real browser (issue 12, "Officers"), through the whole portal:
an admin invites an officer → the officer sets a password from the e-mail's link and signs in
→ (a citizen files through the API) → the inbox shows the dossier and its count → "Tiếp nhận"
→ "Yêu cầu bổ sung" → (the citizen supplements through the API) → a processing step → overdue
marking and filter → "Trả kết quả" with two files → another officer acts first: the plain 409
message with the dossier as it is now → "Trả lại" with a reason. With JavaScript on (axe-core on
every page) and again with it off. Then refusals at their fields (an empty reason, a wrong result
file type, an oversized file), and the pure logic of what the dossier page shows."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.accounts_flow import bearer, registered_citizen
from tests.dossiers_flow import OFFICER_PASSWORD, officer_of, pdf, png, wait_for_catalogue_copy
from tests.support import INVITATION_PAGE, Stack, link_from
from tests.web.browser import DESKTOP, PHONE, no_horizontal_scroll, screenshot
from tests.web.conftest import Browsing
from tests.web.test_account_pages import field
from tests.web.test_page_security import signed_in_as
from web.app import create_app
from web.pages.officer import shown
from web.settings import WebSettings

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
AGENCY = "HT-STC"  # Sở Tài chính: no other test files dossiers there
AGENCY_NAME = "Sở Tài chính"
MAIN = "2.002239"  # a procedure of that agency with a processing time (1 working day)
NO_TIME = "2.002034"  # one whose catalogue entry states no processing time
NO_TIME_NOTE = "Thời hạn giải quyết: chưa được công bố"
OTHER_AGENCY_PROCEDURE = "1.002181"  # Sở Tư pháp's (HT-STP)
NEW_PASSWORD = "Can-bo-Tai-chinh-2026"
ATTACHMENT = pdf("Don de nghi")


def aside(work: Callable[..., Any], *args: Any) -> Any:
    """`work` in another thread: the stack's database helpers use `asyncio.run`, which cannot
    run in the thread where Playwright's synchronous API keeps its event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work, *args).result()


@dataclass
class Citizen:
    """A citizen filing through the API, as the filing pages would."""

    stack: Stack
    headers: dict[str, str]

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.stack.base_url}/api/v1/dossiers", timeout=30)

    def file(self, code: str, name: str = "Lê Thị Mai") -> dict[str, Any]:
        """A sent dossier: the declaration's required fields, a file on every component."""
        catalogue = f"{self.stack.base_url}/api/v1/catalogue/procedures/{code}"
        schema = httpx.get(catalogue, timeout=30).json()["declaration_schema"]
        declaration = {
            key: "Đề nghị giải quyết theo quy định. Xin cảm ơn."
            for key in schema.get("required", [])
        }
        applicant = {"full_name": name, "address": "Phường Thành Sen, Hà Tĩnh"}
        with self.api() as api:
            draft = api.post(
                "/",
                json={"procedure_id": code, "applicant": applicant, "declaration": declaration},
                headers=self.headers,
            )
            assert draft.status_code == 201, draft.text
            dossier = draft.json()
            for component in dossier["components"]:
                attached = api.post(
                    f"/{dossier['id']}/components/{component['id']}/files",
                    files={"file": ("don-de-nghi.pdf", ATTACHMENT, "application/pdf")},
                    headers=self.headers,
                )
                assert attached.status_code == 201, attached.text
            sent = api.post(f"/{dossier['id']}/submit", headers=self.headers)
            assert sent.status_code == 200, sent.text
            return dict(sent.json())

    def supplement(self, dossier_id: str) -> None:
        with self.api() as api:
            sent = api.post(f"/{dossier_id}/supplement", headers=self.headers)
            assert sent.status_code == 200, sent.text


@pytest.fixture(scope="module")
def citizen(stack: Stack) -> Iterator[Citizen]:
    aside(wait_for_catalogue_copy, stack, [MAIN, NO_TIME, OTHER_AGENCY_PROCEDURE])
    email = f"cong.dan.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        yield Citizen(stack, bearer(registered_citizen(accounts, stack.smtp, email)))


def staff_sign_in(browsing: Browsing, page: Any, email: str, password: str) -> None:
    """ "Cán bộ đăng nhập" from the header, as an officer or admin does."""
    browsing.goto(page, "/")
    page.get_by_role("navigation", name="Tài khoản").get_by_role(
        "link", name="Cán bộ đăng nhập"
    ).click()
    page.wait_for_url("**/can-bo/dang-nhap")
    browsing.look(page)
    field(page, "Địa chỉ email").fill(email)
    field(page, "Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def count_of(page: Any, tab: str) -> int:
    """The count a tab of the inbox shows: "Hồ sơ đã gửi (3)"."""
    text = page.get_by_role("navigation", name="Trạng thái hồ sơ").get_by_role(
        "link", name=re.compile("^" + re.escape(tab))
    )
    match = re.search(r"\((\d+)\)", text.inner_text())
    assert match, text.inner_text()
    return int(match.group(1))


def status_of(page: Any) -> str:
    return str(page.locator(".case-status strong").first.inner_text())


def act(browsing: Browsing, page: Any, button: str) -> Any:
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    return browsing.look(page)


def both_widths(page: Any, name: str) -> None:
    """Screenshots at 360 and 1280 px, and no sideways scrolling on a phone."""
    page.set_viewport_size(PHONE)
    assert no_horizontal_scroll(page), page.url
    screenshot(page, name)
    page.set_viewport_size(DESKTOP)
    screenshot(page, name)


@JS
def test_an_invited_officer_processes_dossiers_to_a_result_and_a_rejection(
    stack: Stack, browsing: Browsing, citizen: Citizen, js: bool
) -> None:
    # The admin invites an officer of Sở Tài chính: tier, then agency (no script needed).
    admin = browsing.open(js=js)
    staff_sign_in(browsing, admin, stack.admin_email, stack.admin_password)
    admin.wait_for_url("**/quan-tri")  # the console sends admins on to their pages
    browsing.look(admin)
    admin.get_by_role("link", name="Mời cán bộ, quản trị viên").click()
    admin.wait_for_url("**/quan-tri/moi-can-bo")
    browsing.look(admin)
    officer_email = f"can.bo.{uuid.uuid4().hex[:8]}@hatinh.gov.vn"
    field(admin, "Địa chỉ email").fill(officer_email)
    field(admin, "Họ và tên").fill("Phan Văn Tài")
    field(admin, "Cấp").select_option(label="Cấp Sở")
    admin.get_by_role("button", name="Hiện cơ quan của cấp này").click()
    admin.wait_for_load_state()
    browsing.look(admin)
    assert field(admin, "Họ và tên").input_value() == "Phan Văn Tài"  # kept
    field(admin, "Cơ quan cấp sở").select_option(label=AGENCY_NAME)
    if js:
        both_widths(admin, "quan-tri-moi-can-bo")
    admin.get_by_role("button", name="Gửi thư mời").click()
    admin.wait_for_url("**/quan-tri/moi-can-bo")
    browsing.look(admin)
    assert officer_email in admin.get_by_role("status").inner_text()

    # The officer opens the invitation's link, sets a password, signs in: the console.
    [invitation] = stack.smtp.wait_for(officer_email)
    link = link_from(invitation, INVITATION_PAGE)
    page = browsing.open(js=js)
    browsing.goto(page, link)
    assert field(page, "Địa chỉ email").input_value() == officer_email
    assert field(page, "Mã xác nhận").input_value()  # the link's token, filled in
    field(page, "Mật khẩu mới").fill(NEW_PASSWORD)
    field(page, "Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đặt mật khẩu").click()
    page.wait_for_url("**/can-bo/dang-nhap")
    browsing.look(page)
    assert "Mật khẩu đã được đặt" in page.get_by_role("status").inner_text()
    assert field(page, "Địa chỉ email").input_value() == officer_email
    field(page, "Mật khẩu").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r"/can-bo$"))
    browsing.look(page)
    assert signed_in_as(page) == "Phan Văn Tài"
    assert AGENCY_NAME in page.locator(".lead").inner_text()
    waiting = count_of(page, "Hồ sơ đã gửi")

    # A citizen files: the inbox counts it and lists it, oldest first.
    dossier = citizen.file(MAIN)
    browsing.goto(page, "/can-bo")
    assert count_of(page, "Hồ sơ đã gửi") == waiting + 1
    page.get_by_role("link", name=re.compile(r"^Hồ sơ đã gửi")).click()
    page.wait_for_url("**/can-bo?trang-thai=da-gui")
    browsing.look(page)
    codes = page.locator(".inbox-list__code").all_inner_texts()
    assert codes[-1] == dossier["code"] or dossier["code"] in codes
    if js:
        both_widths(page, "can-bo-ho-so")
    page.get_by_role("link", name=dossier["code"]).click()
    page.wait_for_url(f"**/can-bo/ho-so/{dossier['id']}")
    browsing.look(page)
    assert status_of(page) == "Hồ sơ đã gửi"
    assert "Lê Thị Mai" in page.locator("#nguoi-nop ~ dl").inner_text()
    assert "Đề nghị giải quyết" in page.locator("#to-khai ~ dl").inner_text()
    with page.expect_download() as attachment:
        page.get_by_role("link", name="don-de-nghi.pdf").first.click()
    assert attachment.value.path().read_bytes() == ATTACHMENT  # through the web app

    page = act(browsing, page, "Tiếp nhận")
    assert "Đã tiếp nhận hồ sơ" in page.get_by_role("status").inner_text()
    assert status_of(page) == "Hồ sơ đang xử lý"
    assert "ngày" in page.locator("#thong-tin-chung ~ dl").inner_text()  # the due date

    field(page, "Nội dung yêu cầu bổ sung").fill("Bổ sung bản sao quyết định thành lập.")
    page = act(browsing, page, "Yêu cầu bổ sung")
    assert status_of(page) == "Hồ sơ yêu cầu bổ sung"
    assert (
        "Bổ sung bản sao quyết định"
        in page.locator("section[aria-labelledby='thong-tin-chung']").inner_text()
    )
    citizen.supplement(dossier["id"])
    browsing.goto(page, f"/can-bo/ho-so/{dossier['id']}")
    assert status_of(page) == "Hồ sơ đã gửi"
    page = act(browsing, page, "Tiếp nhận")
    field(page, "Nội dung xử lý").fill("Đã thẩm định hồ sơ, trình lãnh đạo ký.")
    page = act(browsing, page, "Cập nhật xử lý")
    assert "Đã thẩm định hồ sơ" in page.locator(".history-list").inner_text()

    # Late: marked in words in the list and on the page, and found by the overdue filter.
    aside(
        stack.query,
        "dossiers",
        "UPDATE dossiers SET due_at = now() - interval '2 days' WHERE id = $1",
        dossier["id"],
    )
    browsing.goto(page, "/can-bo?trang-thai=dang-xu-ly")
    page.get_by_role("link", name="Chỉ xem hồ sơ quá hạn").click()
    page.wait_for_url("**/can-bo?trang-thai=dang-xu-ly&qua-han=1")
    browsing.look(page)
    late = page.locator(".inbox-list__item", has_text=dossier["code"])
    assert "Quá hạn" in late.inner_text()
    late.get_by_role("link", name=dossier["code"]).click()
    page.wait_for_url(f"**/can-bo/ho-so/{dossier['id']}")
    browsing.look(page)
    assert "Quá hạn" in page.locator(".case-status").inner_text()
    if js:
        both_widths(page, "can-bo-xu-ly-ho-so")

    # "Trả kết quả" with two files and a note; the result files read back through the pages.
    result_pdf, result_png = pdf("Giay phep"), png()
    field(page, "Tệp kết quả").set_input_files(
        [
            {"name": "giay-phep.pdf", "mimeType": "application/pdf", "buffer": result_pdf},
            {"name": "ban-do.png", "mimeType": "image/png", "buffer": result_png},
        ]
    )
    field(page, "Ghi chú kết quả").fill("Đã cấp giấy phép.")
    page = act(browsing, page, "Trả kết quả")
    assert status_of(page) == "Hồ sơ đã trả kết quả"
    results = page.locator("section[aria-labelledby='ket-qua']")
    assert {"giay-phep.pdf", "ban-do.png"} <= set(results.get_by_role("link").all_inner_texts())
    with page.expect_download() as result:
        results.get_by_role("link", name="giay-phep.pdf").click()
    assert result.value.path().read_bytes() == result_pdf
    assert "không còn thao tác" in page.locator("#xu-ly ~ p").first.inner_text()

    # Another officer receives the next dossier first: said plainly, the dossier as it is now.
    other = citizen.file(NO_TIME, name="Hồ Văn Nam")
    browsing.goto(page, "/can-bo?trang-thai=da-gui")
    item = page.locator(".inbox-list__item", has_text=other["code"])
    assert NO_TIME_NOTE in item.inner_text()
    item.get_by_role("link", name=other["code"]).click()
    page.wait_for_url(f"**/can-bo/ho-so/{other['id']}")
    browsing.look(page)
    assert NO_TIME_NOTE in page.locator("#thong-tin-chung ~ dl").inner_text()
    colleague = officer_of(stack, stack.smtp, AGENCY)
    with citizen.api() as api:
        assert api.post(f"/{other['id']}/receive", headers=colleague).status_code == 200
    with page.expect_response(lambda r: r.url.endswith("/tiep-nhan")) as answer:
        page.get_by_role("button", name="Tiếp nhận", exact=True).click()
    assert answer.value.status == 409
    page.wait_for_load_state()
    browsing.look(page)
    notice = page.get_by_role("alert").inner_text()
    assert "“Tiếp nhận” chưa được thực hiện" in notice
    assert "Một cán bộ khác đã xử lý hồ sơ này trước bạn" in notice
    assert "Hồ sơ đang xử lý" in notice and status_of(page) == "Hồ sơ đang xử lý"

    field(page, "Lý do trả lại").fill("Hồ sơ không thuộc thẩm quyền của Sở Tài chính.")
    page = act(browsing, page, "Trả lại")
    assert status_of(page) == "Hồ sơ bị trả lại"
    assert (
        "không thuộc thẩm quyền"
        in page.locator("section[aria-labelledby='thong-tin-chung']").inner_text()
    )
    history = page.locator(".history-list").inner_text()
    assert "Trả lại hồ sơ" in history and "Tiếp nhận hồ sơ" in history


@pytest.fixture(scope="module")
def officer(stack: Stack, citizen: Citizen) -> dict[str, str]:
    """An officer of the agency (invited through the API: the journey does it in pages)."""
    headers = officer_of(stack, stack.smtp, AGENCY)
    response = httpx.get(f"{stack.base_url}/api/v1/accounts/me", headers=headers, timeout=30)
    return {**headers, "email": response.json()["email"]}


def test_refusals_are_said_at_their_fields_and_keep_the_rest(
    stack: Stack, browsing: Browsing, citizen: Citizen, officer: dict[str, str]
) -> None:
    dossier = citizen.file(MAIN)
    page = browsing.open()
    staff_sign_in(browsing, page, officer["email"], OFFICER_PASSWORD)
    page.wait_for_url(re.compile(r"/can-bo$"))
    browsing.look(page)
    browsing.goto(page, f"/can-bo/ho-so/{dossier['id']}")
    page = act(browsing, page, "Tiếp nhận")

    act(browsing, page, "Trả lại")  # no reason
    assert page.locator("#f-reason-loi").inner_text().endswith("Vui lòng nhập lý do trả lại.")
    assert page.get_by_role("alert").get_by_role("link").first.get_attribute("href") == (
        "#f-reason"
    )
    assert status_of(page) == "Hồ sơ đang xử lý"

    field(page, "Tệp kết quả").set_input_files(
        [{"name": "ket-qua.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00 not a pdf"}]
    )
    field(page, "Ghi chú kết quả").fill("Ghi chú giữ lại khi bị từ chối.")
    act(browsing, page, "Trả kết quả")
    error = page.locator("#f-files-loi").inner_text()
    assert "ket-qua.pdf" in error and "không được chấp nhận" in error, error  # the API's words
    assert field(page, "Ghi chú kết quả").input_value() == "Ghi chú giữ lại khi bị từ chối."
    assert "không được giữ lại" in page.locator(".files-not-kept").inner_text()

    oversized = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)
    field(page, "Tệp kết quả").set_input_files(
        [{"name": "qua-lon.pdf", "mimeType": "application/pdf", "buffer": oversized}]
    )
    act(browsing, page, "Trả kết quả")
    error = page.locator("#f-files-loi").inner_text()
    assert "qua-lon.pdf" in error and "vượt quá dung lượng" in error, error
    assert field(page, "Ghi chú kết quả").input_value() == "Ghi chú giữ lại khi bị từ chối."
    assert status_of(page) == "Hồ sơ đang xử lý"  # nothing was done

    # A form sent without its CSRF token is refused and changes nothing.
    [cookie] = [c for c in page.context.cookies() if c["name"] == "phien"]
    forged = httpx.post(
        f"{stack.base_url}/can-bo/ho-so/{dossier['id']}/tra-lai",
        data={"reason": "Giả mạo"},
        cookies={"phien": cookie["value"]},
        timeout=30,
    )
    assert forged.status_code == 403
    browsing.goto(page, f"/can-bo/ho-so/{dossier['id']}")
    assert status_of(page) == "Hồ sơ đang xử lý"


def test_officer_pages_need_an_officer_of_the_dossiers_agency(
    stack: Stack, browsing: Browsing, citizen: Citizen, officer: dict[str, str]
) -> None:
    dossier = citizen.file(OTHER_AGENCY_PROCEDURE)  # sent to Sở Tư pháp
    anonymous = browsing.open(js=False)
    anonymous.goto(f"/can-bo/ho-so/{dossier['id']}")
    assert re.search(r"/can-bo/dang-nhap\?tiep=%2Fcan-bo%2Fho-so%2F", anonymous.url)
    assert anonymous.get_by_role("heading", level=1).inner_text() == "Cán bộ đăng nhập"

    page = browsing.open()
    staff_sign_in(browsing, page, officer["email"], OFFICER_PASSWORD)
    page.wait_for_url(re.compile(r"/can-bo$"))
    browsing.look(page)
    browsing.goto(page, f"/can-bo/ho-so/{dossier['id']}", status=404)  # another agency's
    attachment = dossier["components"][0]["files"][0]["id"]
    browsing.goto(page, f"/can-bo/ho-so/{dossier['id']}/tep/{attachment}", status=404)
    browsing.goto(page, "/quan-tri", status=403)  # officers are not admins
    assert page.get_by_role("heading", level=1).inner_text() == "Không có quyền truy cập"


# -- what the dossier page shows, without a portal -------------------------------------------


def test_values_are_shown_with_the_schemas_titles_in_its_order() -> None:
    schema = {
        "properties": {
            "request": {"type": "string", "title": "Nội dung yêu cầu"},
            "born": {"type": "string", "format": "date", "title": "Ngày sinh"},
            "owner": {
                "type": "object",
                "title": "Chủ sở hữu",
                "properties": {"name": {"type": "string", "title": "Họ và tên"}},
            },
            "rows": {
                "type": "array",
                "title": "Thành viên",
                "items": {"type": "object", "properties": {"n": {"title": "Tên"}}},
            },
        }
    }
    values = {
        "later": True,
        "rows": [{"n": "An"}, {"n": "Bình"}],
        "born": "2025-01-02",
        "owner": {"name": "Hà"},
        "request": "",
    }
    lines = shown(values, schema)
    assert [line.label for line in lines] == [
        "Nội dung yêu cầu",
        "Ngày sinh",
        "Chủ sở hữu",
        "Thành viên",
        "later",  # not in the schema: under its own name, after the others
    ]
    assert lines[0].text == "(không khai)" and lines[1].text == "02/01/2025"
    assert lines[2].children[0].label == "Họ và tên" and lines[2].children[0].text == "Hà"
    assert [(c.label, c.children[0].text) for c in lines[3].children] == [
        ("1.", "An"),
        ("2.", "Bình"),
    ]
    assert lines[4].text == "Có"
    assert shown({"x": "2025-13"}, {"properties": {"x": {"format": "date"}}})[0].text == "2025-13"
    assert shown({"a": 1}, None)[0].text == "1"  # no schema (the catalogue did not answer)


def test_the_inbox_pages_keep_the_chosen_status_and_filter(redis_url: str) -> None:
    """In process, against an inbox of 45 late dossiers (more than two pages): the tabs' counts,
    the page links keep the status and the overdue filter, each late dossier says so in words,
    a procedure without a processing time says that instead of a date."""
    asked: list[httpx.URL] = []

    def api(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/accounts/token"):
            tokens = {"access_token": "a", "refresh_token": "r", "expires_in": 900}
            return httpx.Response(200, json=tokens)
        if path.endswith("/accounts/me"):
            me = {"id": "u", "email": "cb@hatinh.gov.vn", "full_name": "Cán Bộ", "role": "officer"}
            return httpx.Response(200, json={**me, "agency_id": AGENCY})
        if path.endswith(f"/agencies/{AGENCY}"):
            return httpx.Response(
                200, json={"id": AGENCY, "name": AGENCY_NAME, "tier": "department"}
            )
        if path.endswith("/dossiers/inbox/summary"):
            statuses = ("submitted", "supplement_requested", "processing", "result_returned")
            statuses += ("rejected", "overdue")
            return httpx.Response(200, json=dict.fromkeys(statuses, 45))
        if path.endswith("/dossiers/inbox"):
            asked.append(request.url)
            size = int(request.url.params["page_size"])
            page = int(request.url.params.get("page", 1))
            items = [
                {
                    "id": f"d{n}",
                    "code": f"HT-STC-261201-{n:04d}",
                    "status": "processing",
                    "status_label": "Hồ sơ đang xử lý",
                    "procedure": {"id": "p", "code": MAIN, "name": "Thủ tục", "version": 1}
                    | ({"processing_days": 5} if n % 2 else {}),
                    "agency": {"id": AGENCY, "name": AGENCY_NAME},
                    "submitted_at": "2026-11-02T01:00:00+00:00",
                    "due_at": "2026-11-09T01:00:00+00:00" if n % 2 else None,
                    "deadline_note": None if n % 2 else NO_TIME_NOTE + "; vui lòng liên hệ",
                    "overdue": bool(n % 2),
                    "updated_at": "2026-11-02T01:00:00+00:00",
                }
                for n in range((page - 1) * size + 1, min(45, page * size) + 1)
            ]
            return httpx.Response(
                200, json={"items": items, "total": 45, "page": page, "page_size": size}
            )
        return httpx.Response(404, json={"type": "x/not-found", "status": 404, "detail": "Không."})

    settings = WebSettings(api_url="http://api.test/api/v1", redis_url=redis_url)
    app = create_app(settings, transport=httpx.MockTransport(api))
    with TestClient(app, follow_redirects=False) as client:
        form = client.get("/can-bo/dang-nhap").text
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
        signed = client.post(
            "/can-bo/dang-nhap",
            data={**hidden, "email": "cb@hatinh.gov.vn", "password": "x"},
        )
        assert signed.headers["location"] == "/can-bo"  # officers land on their console
        asked.clear()
        page = client.get("/can-bo?trang-thai=dang-xu-ly&qua-han=1&page=2").text
    assert [dict(u.params) for u in asked] == [
        {"status": "processing", "overdue": "true", "page": "2", "page_size": "20"}
    ]
    assert 'Hồ sơ đang xử lý <span class="status-tabs__count">(45)</span>' in page
    assert 'Tất cả hồ sơ <span class="status-tabs__count">(225)</span>' in page
    assert 'href="/can-bo?trang-thai=dang-xu-ly&amp;qua-han=1&amp;page=3" rel="next"' in page
    assert page.count('class="overdue-mark">Quá hạn</strong>') == 10  # 21, 23, …, 39
    assert page.count(NO_TIME_NOTE) == 10
    assert "HT-STC-261201-0021" in page and "HT-STC-261201-0041" not in page

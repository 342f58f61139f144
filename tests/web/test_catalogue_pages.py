"""Finding a procedure in a real browser (issue 12, slice 1), through the whole portal
(`portal run`: gateway, the pages, the APIs, workers): search accent-free → the procedure →
a form's download; tier → agency → procedure; by field. Each with JavaScript on (axe-core
audits every page) and again with it off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.search_cases import BIRTH_REGISTRATION
from tests.support import Stack
from tests.test_catalogue import _docx
from tests.web.browser import DESKTOP, PHONE
from tests.web.conftest import Browsing

FORM_NAME = "Tờ khai đăng ký khai sinh (mẫu thử của trang web)"
NO_PROCESSING_TIME = "1.003220"  # the national catalogue states no time (no test edits it)
FORM_FILE = "To khai dang ky khai sinh.docx"
JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


@pytest.fixture(scope="module")
def birth_form(stack: Stack, admin_headers: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The birth registration has no form file in the national catalogue: an admin uploads
    one, as the portal's admins do, and removes it afterwards."""
    api = f"{stack.base_url}/api/v1/catalogue/procedures/{BIRTH_REGISTRATION}/forms"
    content = _docx()
    response = httpx.post(
        api,
        data={"name": FORM_NAME},
        files={"file": (FORM_FILE, content, "application/octet-stream")},
        headers=admin_headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    form = {**response.json(), "content": content}
    yield form
    httpx.delete(f"{api}/{form['id']}", headers=admin_headers, timeout=30)


@JS
def test_search_without_accents_then_the_procedure_and_its_form(
    browsing: Browsing, birth_form: dict[str, Any], js: bool
) -> None:
    page = browsing.open(js=js, viewport=PHONE if js else DESKTOP)
    browsing.goto(page, "/")
    assert page.title().startswith("Trang chủ")
    page.get_by_label("Tìm thủ tục hành chính theo từ khóa").fill("dang ky khai sinh")
    page.get_by_role("button", name="Tìm kiếm").click()
    page.wait_for_url(re.compile(r"/thu-tuc\?q=dang\+ky\+khai\+sinh"))
    browsing.look(page)
    count = page.locator("#so-ket-qua").inner_text()
    match = re.search(r"Tìm thấy ([\d.]+) thủ tục cho từ khóa “dang ky khai sinh”", count)
    assert match and int(match.group(1).replace(".", "")) > 1, count
    results = page.locator(".procedure-list__name")
    assert results.first.inner_text() == "Thủ tục đăng ký khai sinh"

    results.first.click()
    page.wait_for_url(re.compile(rf"/thu-tuc/{BIRTH_REGISTRATION}\?q=dang"))  # the log counts it
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Thủ tục đăng ký khai sinh"
    facts = page.locator("#thong-tin-chung ~ dl").inner_text()
    assert "Hộ tịch" in facts and "Cấp xã/phường" in facts and BIRTH_REGISTRATION in facts
    ways = page.locator("section[aria-labelledby='cach-thuc']").inner_text()
    assert "Nộp trực tuyến" in ways and "Miễn phí" in ways
    # the catalogue gives this procedure's times without a unit: said, not hidden
    assert "danh mục không ghi đơn vị thời gian" in ways
    assert "1 ngày làm việc (danh mục thủ tục không ghi rõ đơn vị thời gian" in facts
    for heading in ("Trình tự thực hiện", "Thành phần hồ sơ", "Căn cứ pháp lý", "Kết quả"):
        assert page.get_by_role("heading", name=heading, level=2).is_visible(), heading
    assert "123/2015/NĐ-CP" in page.locator("section[aria-labelledby='can-cu']").inner_text()
    assert page.locator("section[aria-labelledby='ket-qua']").inner_text().count("Giấy khai sinh")
    assert "Bắt buộc" in page.locator(".component-list").inner_text()  # in words, not colour

    online = page.get_by_role("link", name="Đăng ký trực tuyến")
    accountless = page.get_by_role("link", name="Đăng ký hồ sơ không tài khoản")
    assert online.get_attribute("href") == f"/nop-ho-so/{BIRTH_REGISTRATION}"
    assert accountless.get_attribute("href") == f"{online.get_attribute('href')}/khong-tai-khoan"
    explanation = page.locator(".filing").inner_text()
    assert "tạo một hồ sơ mới" in explanation and "bổ sung hồ sơ đã gửi" in explanation

    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"Tải về {FORM_NAME}").click()
    download = download_info.value
    assert download.suggested_filename == FORM_FILE
    assert download.path().read_bytes() == birth_form["content"]


@JS
def test_browse_tier_then_agency_then_procedure(browsing: Browsing, js: bool) -> None:
    page = browsing.open(js=js)
    browsing.goto(page, "/")
    page.get_by_role("link", name=re.compile(r"^Cấp Sở")).click()
    page.wait_for_url("**/co-quan?cap=so")
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Cơ quan cấp sở"
    page.get_by_role("link", name="Sở Tư pháp", exact=True).click()
    page.wait_for_url("**/co-quan/HT-STP")
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Sở Tư pháp"
    first_page = page.locator(".procedure-list__name").all_inner_texts()
    assert len(first_page) == 20

    page.get_by_role("link", name="Trang sau").click()
    page.wait_for_url("**/co-quan/HT-STP?page=2")
    browsing.look(page)
    second_page = page.locator(".procedure-list__name").all_inner_texts()
    assert second_page and not set(first_page) & set(second_page)
    assert page.get_by_role("link", name="Trang 2", exact=True).get_attribute("aria-current")

    name = second_page[0]
    page.get_by_role("link", name=name, exact=True).first.click()
    page.wait_for_url(re.compile(r"/thu-tuc/[^/]+$"))
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert "Sở Tư pháp" in page.locator("#thong-tin-chung ~ dl").inner_text()

    browsing.goto(page, "/")
    page.get_by_role("link", name=re.compile(r"^Cấp xã\/phường")).click()
    page.wait_for_url("**/co-quan?cap=xa")
    browsing.look(page)
    assert page.locator(".agency-list li").count() == 69
    page.get_by_role("link", name="Phường Thành Sen", exact=True).click()
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Phường Thành Sen"
    assert page.locator(".procedure-list__name").count() == 20


@JS
def test_browse_by_field_without_choosing_an_agency(browsing: Browsing, js: bool) -> None:
    page = browsing.open(js=js, viewport=PHONE)
    browsing.goto(page, "/")
    page.get_by_role("link", name="cấp xã/phường", exact=True).click()
    page.wait_for_url("**/linh-vuc?cap=xa")
    browsing.look(page)
    page.get_by_role("link", name="Hộ tịch", exact=True).click()
    page.wait_for_url(re.compile(r"/linh-vuc/[^?]+\?cap=xa$"))
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Lĩnh vực: Hộ tịch"
    assert page.get_by_role("link", name="Cấp xã/phường").get_attribute("aria-current") == "page"
    names = page.locator(".procedure-list__name")
    assert names.count() > 0
    name = names.first.inner_text()
    names.first.click()
    page.wait_for_url(re.compile(r"/thu-tuc/[^/]+$"))
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert "Hộ tịch" in page.locator("#thong-tin-chung ~ dl").inner_text()


def test_a_procedure_without_a_processing_time_says_so(browsing: Browsing) -> None:
    page = browsing.open(viewport=PHONE)
    browsing.goto(page, f"/thu-tuc/{NO_PROCESSING_TIME}")
    facts = page.locator("#thong-tin-chung ~ dl").inner_text()
    assert "Thời hạn giải quyết: chưa được công bố" in facts  # the catalogue's own words
    assert "ngày làm việc" not in facts.split("Thời hạn giải quyết\n", 1)[1].split("\n", 1)[0]

"""Search in citizens' words through the pages (issue 13), in a real browser: a citizen finds a
procedure with the words people say; the result's link carries the query, so the catalogue
counts which result was opened; an admin reads "Tìm kiếm của người dân", takes a query that
found nothing to "Từ điển tìm kiếm", adds an entry (refusals at their fields, the form kept),
the citizen's next search finds the procedure, and the admin removes the entry."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.support import Stack, wait_until
from tests.web.browser import DESKTOP, PHONE, no_horizontal_scroll, screenshot
from tests.web.conftest import Browsing
from tests.web.test_account_pages import field
from tests.web.test_officer_pages import act, staff_sign_in

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
BIRTH = "1.001193"


def search(browsing: Browsing, page: Any, words: str) -> Any:
    browsing.goto(page, "/thu-tuc")
    page.get_by_label("Tìm thủ tục hành chính theo từ khóa").fill(words)
    page.get_by_role("button", name="Tìm kiếm").click()
    page.wait_for_url(re.compile(r"/thu-tuc\?q="))
    return browsing.look(page)


def first_result(page: Any) -> Any:
    return page.locator(".procedure-list__name").first


def test_a_citizen_finds_a_procedure_by_its_everyday_name(browsing: Browsing) -> None:
    page = browsing.open()
    search(browsing, page, "xin giấy độc thân")
    link = first_result(page)
    assert "tình trạng hôn nhân" in link.inner_text()
    assert "q=xin" in (link.get_attribute("href") or "")
    link.click()
    page.wait_for_url(re.compile(r"/thu-tuc/1\.004873\?q=xin"))
    browsing.look(page)
    assert "tình trạng hôn nhân" in page.get_by_role("heading", level=1).inner_text()


@JS
def test_an_admin_grows_the_lexicon_from_what_citizens_did_not_find(
    stack: Stack, browsing: Browsing, js: bool
) -> None:
    word = "gkx" + uuid.uuid4().hex[:5]  # a made-up abbreviation: nothing matches it
    citizen = browsing.open(js=js)
    for _ in range(3):  # the report lists queries searched twice or more
        search(browsing, citizen, word)
        assert "Không tìm thấy" in citizen.locator("main").inner_text()

    admin = browsing.open(js=js)
    staff_sign_in(browsing, admin, stack.admin_email, stack.admin_password)
    admin.wait_for_url("**/quan-tri")
    browsing.look(admin)
    admin.get_by_role("link", name="Tìm kiếm của người dân").click()
    admin.wait_for_url("**/quan-tri/tim-kiem")

    def reported() -> bool:
        admin.reload()
        return admin.get_by_role("link", name=f"Thêm vào từ điển cho từ khóa “{word}”").count() > 0

    wait_until(reported, 15, interval=0.5, what="the query in the search report")
    browsing.look(admin)
    admin.get_by_role("link", name=f"Thêm vào từ điển cho từ khóa “{word}”").click()
    admin.wait_for_url(re.compile(r"/quan-tri/tu-dien\?noi="))
    browsing.look(admin)
    assert field(admin, "Người dân gõ").input_value() == word

    # a wording that matches no procedure is refused at its line; the form is kept
    field(admin, "Danh mục gọi là").fill("đăng ký khai sinh\nqqq zzz không có")
    field(admin, "Ghi chú").fill("thử nghiệm")
    act(browsing, admin, "Thêm mục từ")
    assert "Dòng 2:" in admin.locator("#f-means-loi").inner_text()
    assert field(admin, "Người dân gõ").input_value() == word
    assert field(admin, "Ghi chú").input_value() == "thử nghiệm"

    field(admin, "Danh mục gọi là").fill("đăng ký khai sinh")
    act(browsing, admin, "Thêm mục từ")
    assert f"Đã thêm mục từ “{word}”" in admin.get_by_role("status").inner_text()
    if js:
        admin.set_viewport_size(PHONE)
        assert no_horizontal_scroll(admin)
        screenshot(admin, "quan-tri-tu-dien")
        admin.set_viewport_size(DESKTOP)
        screenshot(admin, "quan-tri-tu-dien")

    search(browsing, citizen, word)
    assert first_result(citizen).get_attribute("href", timeout=5000).startswith(f"/thu-tuc/{BIRTH}")

    act(browsing, admin, f"Xóa mục từ {word}")
    assert "Đã xóa mục từ" in admin.get_by_role("status").inner_text()
    search(browsing, citizen, word)
    assert "Không tìm thấy" in citizen.locator("main").inner_text()

"""Accounts through the pages in a real browser (issue 12, slice 2): register with the captcha
→ the success message → the activation code from the e-mail the SMTP sink received → sign in →
the profile → sign out; refusals at the fields with the form kept; a new activation code; the
forgotten password; and two tabs refreshing the API's tokens at once without signing out."""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Any

import httpx
import pytest
import redis

from tests.accounts_flow import PASSWORD, register, registered_citizen
from tests.support import Stack, code_from
from tests.web.browser import DESKTOP, PHONE
from tests.web.conftest import Browsing
from tests.web.test_page_security import TOKENS_PREFIX, signed_in_as

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
NEW_PASSWORD = "Ha-Tinh-moi-2026-an-toan"
TABS = 6


def new_email(tag: str) -> str:
    return f"{tag}.{uuid.uuid4().hex[:10]}@example.vn"


def field(page: Any, label: str) -> Any:
    """The input whose label is `label`, whatever marks follow it ("(*) bắt buộc")."""
    return page.get_by_label(re.compile("^" + re.escape(label) + r"( \(\*\).*)?$"))


def fill_registration(page: Any, email: str, *, captcha: str = "test") -> None:
    field(page, "Họ và tên").fill("Trần Thị Lan")
    field(page, "Địa chỉ email").fill(email)
    field(page, "Mật khẩu").fill(PASSWORD)
    field(page, "Nhập lại mật khẩu").fill(PASSWORD)
    field(page, "Số điện thoại").fill("0912345678")
    field(page, "Giới tính").select_option(label="Nữ")
    field(page, "Ngày sinh").fill("1990-02-03")
    field(page, "Nhập mã xác nhận").fill(captcha)


@JS
def test_register_activate_sign_in_see_the_profile_sign_out(
    stack: Stack, browsing: Browsing, js: bool
) -> None:
    email = new_email("dang.ky")
    page = browsing.open(js=js, viewport=PHONE)
    browsing.goto(page, "/")
    page.get_by_role("contentinfo").get_by_role("link", name="Đăng ký").click()  # the footer's
    page.wait_for_url("**/dang-ky")
    browsing.look(page)
    assert "(*)" in page.locator("label[for=f-full_name]").inner_text()
    captcha = page.get_by_role("img", name=re.compile("^Mã xác nhận"))
    assert captcha.get_attribute("src").startswith("data:image/png;base64,")
    fill_registration(page, email)
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    page.wait_for_url("**/dang-ky/thanh-cong")
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Đăng ký tài khoản thành công"
    assert email in page.get_by_role("status").inner_text()

    code = code_from(stack.smtp.wait_for(email)[0])
    page.get_by_role("link", name="Kích hoạt tài khoản").click()
    page.wait_for_url("**/kich-hoat")
    browsing.look(page)
    assert field(page, "Địa chỉ email").input_value() == email  # remembered, not in a URL
    field(page, "Mã kích hoạt").fill(code)
    page.get_by_role("button", name="Kích hoạt").click()
    page.wait_for_url("**/dang-nhap")
    browsing.look(page)
    assert "Tài khoản đã được kích hoạt" in page.get_by_role("status").inner_text()

    field(page, "Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r"/$"))
    browsing.look(page)
    assert signed_in_as(page) == "Trần Thị Lan"
    page.get_by_role("link", name="Hồ sơ cá nhân").click()
    page.wait_for_url("**/ho-so-ca-nhan")
    browsing.look(page)
    details = page.locator("dl.facts").inner_text()
    for shown in (email, "Nữ", "03/02/1990", "0912345678"):
        assert shown in details, shown
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(re.compile(r"/$"))
    assert signed_in_as(page) is None
    # the profile is for signed-in people: the sign-in page, then back to it
    browsing.goto(page, "/ho-so-ca-nhan")
    assert re.search(r"/dang-nhap\?tiep=%2Fho-so-ca-nhan$", page.url), page.url
    field(page, "Địa chỉ email").fill(email)
    field(page, "Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/ho-so-ca-nhan")
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Hồ sơ cá nhân"


def test_a_refused_registration_says_why_at_each_field_and_keeps_the_rest(
    stack: Stack, browsing: Browsing
) -> None:
    page = browsing.open()
    browsing.goto(page, "/dang-ky")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    browsing.look(page)
    summary = page.get_by_role("alert")
    for message in (
        "Vui lòng nhập họ và tên.",
        "Vui lòng nhập mật khẩu.",
        "Vui lòng nhập mã xác nhận.",
    ):
        assert message in summary.inner_text(), message
    assert page.locator("#f-full_name-loi").inner_text().endswith("Vui lòng nhập họ và tên.")

    email = new_email("tu.choi")
    fill_registration(page, email)
    field(page, "Mật khẩu").fill("12345678")  # among the most common
    field(page, "Nhập lại mật khẩu").fill("12345678")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    browsing.look(page)
    password_error = page.locator("#f-password-loi")
    assert (
        password_error.is_visible()
        and field(page, "Mật khẩu").get_attribute("aria-invalid") == "true"
    )
    assert "không được giữ lại" in page.get_by_role("alert").inner_text()
    assert field(page, "Họ và tên").input_value() == "Trần Thị Lan"
    assert field(page, "Số điện thoại").input_value() == "0912345678"
    assert field(page, "Giới tính").input_value() == "female"
    assert field(page, "Mật khẩu").input_value() == ""

    first_image = page.get_by_role("img", name=re.compile("^Mã xác nhận")).get_attribute("src")
    page.get_by_role("button", name="Lấy mã khác").click()
    page.wait_for_load_state()
    browsing.look(page)
    assert page.get_by_role("img", name=re.compile("^Mã xác nhận")).get_attribute("src") != (
        first_image
    )
    assert field(page, "Họ và tên").input_value() == "Trần Thị Lan"  # kept
    assert not page.get_by_role("alert").count()  # a new image is not a refusal

    field(page, "Mật khẩu").fill(PASSWORD)
    field(page, "Nhập lại mật khẩu").fill(PASSWORD + "x")
    field(page, "Nhập mã xác nhận").fill("sai")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    browsing.look(page)
    assert page.locator("#f-password_again-loi").inner_text().endswith("không khớp.")
    field(page, "Mật khẩu").fill(PASSWORD)
    field(page, "Nhập lại mật khẩu").fill(PASSWORD)
    field(page, "Nhập mã xác nhận").fill("sai")
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    browsing.look(page)
    assert page.locator("#f-captcha_answer-loi").is_visible()  # the API's refusal, at the field
    assert stack.smtp.to(email) == []  # nothing was registered


def test_a_new_activation_code(stack: Stack, browsing: Browsing) -> None:
    email = new_email("gui.lai")
    page = browsing.open()
    browsing.goto(page, "/dang-ky")
    fill_registration(page, email)
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    page.wait_for_url("**/dang-ky/thanh-cong")
    browsing.look(page)
    stack.smtp.wait_for(email)
    page.get_by_role("link", name="gửi lại mã kích hoạt").click()
    page.wait_for_url("**/kich-hoat/gui-lai")
    browsing.look(page)
    page.get_by_role("button", name="Gửi lại mã").click()
    page.wait_for_url("**/kich-hoat")
    browsing.look(page)
    assert "mã kích hoạt mới" in page.get_by_role("status").inner_text()
    codes = [code_from(m) for m in stack.smtp.wait_for(email, 2)]
    field(page, "Mã kích hoạt").fill("000000" if codes[-1] != "000000" else "111111")
    page.get_by_role("button", name="Kích hoạt").click()
    browsing.look(page)
    assert page.locator("#f-code-loi").is_visible()  # a wrong code: said at the field
    assert field(page, "Địa chỉ email").input_value() == email
    field(page, "Mã kích hoạt").fill(codes[-1])
    page.get_by_role("button", name="Kích hoạt").click()
    page.wait_for_url("**/dang-nhap")
    browsing.look(page)
    assert "đã được kích hoạt" in page.get_by_role("status").inner_text()


@JS
def test_forgotten_password_code_then_a_new_one(stack: Stack, browsing: Browsing, js: bool) -> None:
    email = new_email("quen.mat.khau")
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
        registered_citizen(client, stack.smtp, email)
    page = browsing.open(js=js, viewport=DESKTOP)
    browsing.goto(page, "/dang-nhap")
    page.get_by_role("link", name="Quên mật khẩu?").click()
    page.wait_for_url("**/quen-mat-khau")
    browsing.look(page)
    field(page, "Địa chỉ email").fill(email)
    page.get_by_role("button", name="Gửi mã").click()
    page.wait_for_url("**/dat-lai-mat-khau")
    browsing.look(page)
    assert "mã đặt lại mật khẩu" in page.get_by_role("status").inner_text()
    code = code_from(stack.smtp.wait_for(email, 2)[1])  # after the activation e-mail
    assert field(page, "Địa chỉ email").input_value() == email
    field(page, "Mã xác nhận đặt lại mật khẩu").fill(code)
    field(page, "Mật khẩu mới").fill(NEW_PASSWORD)
    field(page, "Nhập lại mật khẩu mới").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đặt lại mật khẩu").click()
    page.wait_for_url("**/dang-nhap")
    browsing.look(page)
    assert "Mật khẩu đã được đặt lại" in page.get_by_role("status").inner_text()
    field(page, "Mật khẩu").fill(PASSWORD)  # the old one no longer works
    page.get_by_role("button", name="Đăng nhập").click()
    browsing.look(page)
    assert "không đúng" in page.get_by_role("alert").inner_text()
    field(page, "Mật khẩu").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r"/$"))
    browsing.look(page)
    assert signed_in_as(page) == "Nguyễn Thị Hà"


def test_two_tabs_refreshing_at_once_stay_signed_in(stack: Stack, browsing: Browsing) -> None:
    """The access token expired while requests of one session arrive together: one refresh
    at the API (a second use of the refresh token would end the session there), every page
    served, and the session still good afterwards."""
    email = new_email("hai.tab")
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
        registered_citizen(client, stack.smtp, email)
    page = browsing.open()
    browsing.goto(page, "/dang-nhap")
    field(page, "Địa chỉ email").fill(email)
    field(page, "Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r"/$"))
    browsing.look(page)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "phien"]
    store = redis.Redis.from_url(stack.redis_url)
    key = TOKENS_PREFIX + cookie["value"]
    held = json.loads(store.get(key))
    store.set(key, json.dumps({**held, "expires_at": 0}), keepttl=True)  # as if 15 min passed

    statuses: list[int] = []
    together = threading.Barrier(TABS)

    def open_profile() -> None:
        with httpx.Client(cookies={"phien": cookie["value"]}, timeout=60) as http:
            http.get(f"{stack.base_url}/static/favicon.svg")  # connected: no set-up to wait for
            together.wait()
            response = http.get(f"{stack.base_url}/ho-so-ca-nhan")
            statuses.append(response.status_code if email in response.text else -1)

    tabs = [threading.Thread(target=open_profile) for _ in range(TABS)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    assert statuses == [200] * TABS
    refreshed = json.loads(store.get(key))
    assert refreshed["refresh"] != held["refresh"] and refreshed["expires_at"] > 0
    browsing.goto(page, "/ho-so-ca-nhan")  # and the browser's own next page: still signed in
    assert signed_in_as(page) == "Nguyễn Thị Hà"
    assert email in page.locator("dl.facts").inner_text()


def test_an_address_registered_twice_is_activated_with_the_password_chosen(
    stack: Stack, browsing: Browsing
) -> None:
    """Two registrations of one address before activation (the owner's and maybe a
    stranger's): the activation page asks, at its password field, which one is the person's."""
    email = new_email("hai.lan")
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
        assert register(client, email, password="Nguoi-la-dang-ky-2025").status_code == 202
        assert register(client, email).status_code == 202
    code = code_from(stack.smtp.wait_for(email, 2)[-1])
    page = browsing.open()
    browsing.goto(page, f"/kich-hoat?email={email}&code={code}")  # as the e-mail's link fills it
    page.get_by_role("button", name="Kích hoạt").click()
    browsing.look(page)
    assert page.locator("#f-password-loi").is_visible()  # the API's question, at the field
    assert field(page, "Mã kích hoạt").input_value() == code  # the rest kept
    field(page, "Mật khẩu đã chọn khi đăng ký").fill(PASSWORD)
    page.get_by_role("button", name="Kích hoạt").click()
    page.wait_for_url("**/dang-nhap")
    browsing.look(page)
    assert "đã được kích hoạt" in page.get_by_role("status").inner_text()
    field(page, "Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r"/$"))
    browsing.look(page)
    assert signed_in_as(page) == "Nguyễn Thị Hà"


def test_the_captcha_can_be_heard_instead_of_read(stack: Stack, browsing: Browsing) -> None:
    """WCAG 1.1.1: "Nghe mã xác nhận" swaps the image for a spoken captcha of digits, keeping
    what was typed; the registration goes through with it (without JavaScript)."""
    email = new_email("nghe.ma")
    page = browsing.open(js=False, viewport=PHONE)
    browsing.goto(page, "/dang-ky")
    field(page, "Họ và tên").fill("Lê Văn Nghe")
    page.get_by_role("button", name="Nghe mã xác nhận (âm thanh)").click()
    browsing.look(page)
    audio = page.locator("audio")
    assert audio.get_attribute("src").startswith("data:audio/wav;base64,")
    assert field(page, "Họ và tên").input_value() == "Lê Văn Nghe"
    fill_registration(page, email)
    page.get_by_role("button", name="Đăng ký", exact=True).click()
    page.wait_for_url("**/dang-ky/thanh-cong")
    assert stack.smtp.wait_for(email)

"""The pages' protections through the real portal: sessions on the server (the browser holds
an opaque id), CSRF refused cross-site and without the token — urlencoded and multipart — with
nothing changed, the security headers, Vietnamese error pages (404, 400, 500, 503), and
`portal serve web`, the deployment's process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.accounts_flow import PASSWORD, registered_citizen
from tests.support import ROOT, Stack, free_port, wait_until
from tests.web.browser import DESKTOP
from tests.web.conftest import Browsing

SESSION_PREFIX = "web:session:"
TOKENS_PREFIX = "web:tokens:"


@pytest.fixture
def citizen(stack: Stack) -> dict[str, str]:
    email = f"trang.web.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as client:
        registered_citizen(client, stack.smtp, email)
    return {"email": email, "password": PASSWORD, "full_name": "Nguyễn Thị Hà"}


def sign_in(browsing: Browsing, citizen: dict[str, str], *, js: bool = True) -> Any:
    page = browsing.open(js=js)
    browsing.goto(page, "/dang-nhap")
    page.get_by_label("Địa chỉ email").fill(citizen["email"])
    page.get_by_label("Mật khẩu").fill(citizen["password"])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(re.compile(r"/$"))
    browsing.look(page)
    return page


def signed_in_as(page: Any) -> str | None:
    header = page.get_by_role("navigation", name="Tài khoản")
    if header.get_by_role("button", name="Đăng xuất").count() == 0:
        return None
    return str(header.locator(".account-links__name").inner_text())


def session_of(stack: Stack, page: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The session id (the cookie), what the session holds, and the API tokens beside it."""
    [cookie] = [c for c in page.context.cookies() if c["name"] == "phien"]
    client = redis.Redis.from_url(stack.redis_url)
    raw = client.get(SESSION_PREFIX + cookie["value"])
    tokens = client.get(TOKENS_PREFIX + cookie["value"])
    session = json.loads(raw) if raw else {}
    session.pop("__metadata__", None)  # starsessions' times of creation and last use
    return cookie["value"], session, json.loads(tokens) if tokens else {}


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_sign_in_keeps_the_tokens_on_the_server_and_sign_out_revokes_them(
    stack: Stack, browsing: Browsing, citizen: dict[str, str], js: bool
) -> None:
    page = sign_in(browsing, citizen, js=js)
    assert signed_in_as(page) == citizen["full_name"]

    # two cookies: the session's opaque id, and the accounts API's device token
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert set(cookies) == {"phien", "thiet-bi"}
    cookie = cookies["phien"]
    assert re.fullmatch(r"[0-9a-f]{32}", cookie["value"])
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    device = cookies["thiet-bi"]
    assert device["httpOnly"] and device["sameSite"] == "Strict"
    session_id, session, tokens = session_of(stack, page)
    assert session["person"]["email"] == citizen["email"]
    refresh = tokens["refresh"]
    assert tokens["access"].count(".") == 2  # the JWT is on the server, not in the browser
    assert refresh not in json.dumps(page.context.cookies())
    for key in (SESSION_PREFIX + session_id, TOKENS_PREFIX + session_id):
        ttl = redis.Redis.from_url(stack.redis_url).ttl(key)
        assert 30 * 60 - 60 < ttl <= 30 * 60, (key, ttl)  # idle expiry, pushed back by use

    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url(re.compile(r"/$"))
    browsing.look(page)
    assert signed_in_as(page) is None
    assert page.get_by_role("link", name="Đăng nhập", exact=True).is_visible()
    assert not redis.Redis.from_url(stack.redis_url).exists(
        SESSION_PREFIX + session_id, TOKENS_PREFIX + session_id
    )
    reused = httpx.post(
        f"{stack.base_url}/api/v1/accounts/token/refresh",
        json={"refresh_token": refresh},
        timeout=30,
    )
    assert reused.status_code in (400, 401), reused.text  # revoked at the API


def test_a_refused_sign_in_says_why_at_the_fields_and_keeps_the_email(
    browsing: Browsing, citizen: dict[str, str]
) -> None:
    page = browsing.open()
    browsing.goto(page, "/dang-nhap")
    page.get_by_role("button", name="Đăng nhập").click()
    browsing.look(page)
    summary = page.get_by_role("alert")
    assert "Vui lòng nhập địa chỉ email." in summary.inner_text()
    assert summary.get_by_role("link", name="Vui lòng nhập mật khẩu.").get_attribute("href") == (
        "#f-password"
    )
    email = page.get_by_label("Địa chỉ email")
    assert email.get_attribute("aria-invalid") == "true"
    assert "Vui lòng nhập địa chỉ email." in page.locator("#f-email-loi").inner_text()

    email.fill(citizen["email"])
    page.get_by_label("Mật khẩu").fill("Sai-mat-khau-2025")
    page.get_by_role("button", name="Đăng nhập").click()
    browsing.look(page)
    text = page.get_by_role("alert").inner_text()
    assert "E-mail hoặc mật khẩu không đúng" in text  # the API's words
    assert "mật khẩu không được giữ lại" in text  # the page says what it did not keep
    assert page.get_by_label("Địa chỉ email").input_value() == citizen["email"]
    assert page.get_by_label("Mật khẩu").input_value() == ""
    assert signed_in_as(page) is None


class AttackerSite:
    """Another site (another origin) serving forms that post to the portal."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = free_port()
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = site.pages.get(self.path, "").encode()
                self.send_response(200 if body else 204)  # 204: its favicon
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def form(self, path: str, action: str, fields: dict[str, str], enctype: str = "") -> str:
        inputs = "".join(
            f'<input type="hidden" name="{name}" value="{value}">' for name, value in fields.items()
        )
        enc = f' enctype="{enctype}"' if enctype else ""
        self.pages[path] = (
            '<!doctype html><html lang="en"><head><title>Win a prize</title></head><body>'
            f'<form method="post" action="{action}"{enc}>{inputs}'
            '<button type="submit">Claim</button></form></body></html>'
        )
        return self.url(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker() -> Iterator[AttackerSite]:
    # 127.0.0.1 on another port: another origin but the same site, so the browser sends the
    # SameSite=Lax cookie along — only the portal's own checks stand in the way.
    site = AttackerSite("127.0.0.1")
    yield site
    site.close()


def test_forms_posted_from_another_site_are_refused_and_change_nothing(
    stack: Stack, browsing: Browsing, citizen: dict[str, str], attacker: AttackerSite
) -> None:
    browsing.not_ours(attacker.url("/"))
    page = sign_in(browsing, citizen)
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    before = session_of(stack, page)
    portal = stack.base_url
    for name, fields, enctype in [
        ("no-token", {}, ""),
        ("stolen-token", {"csrf_token": token}, ""),  # even the right token, from elsewhere
        ("stolen-token-multipart", {"csrf_token": token}, "multipart/form-data"),
        ("login", {"email": "ke.gian@example.vn", "password": "x" * 12}, ""),
    ]:
        action = f"{portal}/dang-nhap" if name == "login" else f"{portal}/dang-xuat"
        page.goto(attacker.form(f"/{name}", action, fields, enctype))
        with page.expect_navigation():
            page.get_by_role("button", name="Claim").click()
        assert page.url.startswith(portal), name
        browsing.look(page)
        assert page.get_by_role("heading", level=1).inner_text() == "Không có quyền truy cập"
        assert "không được gửi từ trang của Cổng Dịch vụ công" in page.inner_text("main"), name
    browsing.goto(page, "/")
    assert signed_in_as(page) == citizen["full_name"]
    assert session_of(stack, page) == before  # same session, same tokens


def test_posts_without_the_token_are_refused_urlencoded_and_multipart(
    stack: Stack, browsing: Browsing, citizen: dict[str, str]
) -> None:
    page = sign_in(browsing, citizen)
    # the browser's own form with its hidden field removed
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_load_state()
    browsing.look(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Không có quyền truy cập"
    browsing.goto(page, "/")
    assert signed_in_as(page) == citizen["full_name"]

    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    same_origin = {"Origin": stack.base_url, "Sec-Fetch-Site": "same-origin"}
    with httpx.Client(base_url=stack.base_url, cookies=cookies, timeout=30) as http:
        refused = [
            http.post("/dang-xuat", headers=same_origin, files={"note": (None, "x")}),
            http.post("/dang-xuat", headers=same_origin, data={"csrf_token": "bad" + token}),
            http.post("/dang-xuat", headers=same_origin, files={"csrf_token": (None, "A" * 88)}),
            http.post(
                "/dang-xuat",
                headers={"Origin": "https://ke-gian.example", "Sec-Fetch-Site": "cross-site"},
                files={"csrf_token": (None, token)},
            ),
        ]
        for response in refused:
            assert response.status_code == 403
            assert response.headers["content-type"].startswith("text/html")
            assert "Không có quyền truy cập" in response.text
        browsing.goto(page, "/")
        assert signed_in_as(page) == citizen["full_name"]
        # the same multipart post with the session's token goes through
        accepted = http.post("/dang-xuat", headers=same_origin, files={"csrf_token": (None, token)})
        assert accepted.status_code == 303
    browsing.goto(page, "/")
    assert signed_in_as(page) is None


def test_pages_send_the_security_headers_and_compress(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        home = http.get("/", headers={"Accept-Encoding": "gzip"})
        assert home.status_code == 200 and home.headers["content-encoding"] == "gzip"
        csp = home.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert home.headers["x-content-type-options"] == "nosniff"
        assert home.headers["referrer-policy"] == "same-origin"
        assert home.headers["x-frame-options"] == "DENY"
        assert "<script" not in home.text and " style=" not in home.text
        assert 'lang="vi"' in home.text
        css = re.search(r'href="(/static/css/portal\.css\?v=\w+)"', home.text)
        assert css
        static = http.get(css.group(1), headers={"Accept-Encoding": "gzip"})
        assert static.status_code == 200 and static.headers["content-encoding"] == "gzip"
        assert "immutable" in static.headers["cache-control"]
        assert static.headers["x-content-type-options"] == "nosniff"
        # the APIs stay where they were
        assert http.get("/api/v1/catalogue/agencies/HT").json()["tier"] == "province"
        assert "swagger" in http.get("/docs").text.lower()


def test_error_pages_are_vietnamese_pages(browsing: Browsing) -> None:
    page = browsing.open()
    for path, status, heading in [
        ("/khong-co-trang-nay", 404, "Không tìm thấy trang"),
        ("/thu-tuc/9.999999", 404, "Không tìm thấy trang"),  # the API's 404
        ("/co-quan/KHONG-CO", 404, "Không tìm thấy trang"),
        ("/thu-tuc?q=khai+sinh&page=0", 400, "Yêu cầu không hợp lệ"),
        ("/co-quan?cap=lang", 400, "Yêu cầu không hợp lệ"),
    ]:
        browsing.goto(page, path, status=status)
        assert page.get_by_role("heading", level=1).inner_text() == heading, path
        body = page.content()
        assert '"status"' not in body and "Traceback" not in body, path
        assert page.get_by_role("link", name="Về trang chủ").is_visible()


@contextmanager
def web_process(stack: Stack, workdir: Path, **env: str) -> Iterator[str]:
    """`portal serve web`, as the deployment starts it, with the given WEB_* settings."""
    port = free_port()
    log = workdir / f"web-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", "web", "--host", "127.0.0.1"]
        + ["--port", str(port)],
        env={**stack.env(), "WEB_API_URL": f"{stack.base_url}/api/v1", **env},
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError("portal serve web exited:\n" + log.read_text())
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 30, what="portal serve web")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_portal_serve_web_and_the_503_and_500_pages(
    stack: Stack, browsing: Browsing, tmp_path: Path
) -> None:
    with web_process(stack, tmp_path) as base:
        home = httpx.get(f"{base}/", timeout=30)
        assert home.status_code == 200 and "Cấp xã/phường" in home.text
    # The catalogue API cannot be reached: the 503 page, with Retry-After, in Vietnamese.
    with web_process(stack, tmp_path, WEB_CATALOGUE_URL=f"http://127.0.0.1:{free_port()}") as base:
        page = browsing.open(viewport=DESKTOP)
        response = page.goto(f"{base}/thu-tuc?q=khai+sinh")
        assert response is not None and response.status == 503
        assert response.headers["retry-after"] == "30"
        browsing.look(page)
        assert page.get_by_role("heading", level=1).inner_text() == "Dịch vụ tạm thời gián đoạn"
    # An API answering what the contract does not say: the 500 page, not a trace.
    with web_process(stack, tmp_path, WEB_CATALOGUE_URL=f"{stack.base_url}/healthz?") as base:
        page = browsing.open(viewport=DESKTOP)
        response = page.goto(f"{base}/thu-tuc/1.001193")
        assert response is not None and response.status == 500
        browsing.look(page)
        assert page.get_by_role("heading", level=1).inner_text() == "Đã có lỗi xảy ra"
        assert "Traceback" not in page.content()


def test_a_large_body_is_refused_before_the_form_is_read(stack: Stack) -> None:
    """A page form takes 1 MB; only the pages that carry files take more. The 413 page comes
    before the form is parsed (nothing is spooled to disk) and before the CSRF check."""
    big = {"ho_ten": "x" * (2 * 1024 * 1024)}
    for path in ("/dang-ky", "/dang-nhap", "/ho-so/abc/xoa"):
        refused = httpx.post(f"{stack.base_url}{path}", data=big, timeout=30)
        assert refused.status_code == 413, path
        assert refused.headers["content-type"].startswith("text/html")
        assert "Dữ liệu gửi lên quá lớn" in refused.text
    a_file = {"tep": ("a.pdf", b"%PDF-" + b"0" * (2 * 1024 * 1024), "application/pdf")}
    taken = httpx.post(f"{stack.base_url}/nop-ho-so/1.002181", files=a_file, timeout=30)
    assert taken.status_code == 403  # within the file pages' bound: on to the CSRF check

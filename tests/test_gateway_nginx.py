"""The deployment gateway: deploy/nginx's template rendered the way the nginx image renders it,
run by a real nginx on a free port, in front of each service's own API and the web pages started
the way every container starts them (`portal serve <service>`, `portal serve web`, which calls
the APIs directly), with the session stack's PostgreSQL databases, Redis, Celery workers, relay
and SMTP server behind them."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.kernel.registry import PUBLIC_APIS
from tests.accounts_flow import PASSWORD, activation_code, bearer, register, sign_in
from tests.support import ROOT, Stack, free_port, wait_until

TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "default.conf.template"
PUBLIC = PUBLIC_APIS


def _nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


NGINX = _nginx_binary()
pytestmark = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (Debian: apt-get install nginx-light; `make test` installs "
    "it when run as root)",
)


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst does with the template: replace the ${VARS} it is given.
    Every ${...} in the template must be one of them (nginx's own $variables have no braces)."""
    names = set(re.findall(r"\$\{(\w+)\}", template))
    assert names == set(values), f"template variables {sorted(names)} != {sorted(values)}"
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    return template


MAIN_CONF = """\
{user}
worker_processes 1;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/temp/body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    include {dir}/conf.d/*.conf;
}}
"""


@contextmanager
def nginx_gateway(workdir: Path, upstreams: dict[str, str]) -> Iterator[str]:
    """A real nginx (its own prefix, pid, logs and temp dirs) with the gateway template; yields
    its base URL and stops it (SIGQUIT: graceful) afterwards."""
    assert NGINX is not None
    (workdir / "conf.d").mkdir(parents=True)
    (workdir / "temp").mkdir()
    port = free_port()
    values = {"GATEWAY_PORT": f"127.0.0.1:{port}"}
    values.update({f"GATEWAY_{name.upper()}": address for name, address in upstreams.items()})
    (workdir / "conf.d" / "default.conf").write_text(render(TEMPLATE.read_text(), values))
    # Workers of a root master switch to `nobody`, who could not write the temp dirs here.
    user = "user root;" if os.geteuid() == 0 else ""
    (workdir / "nginx.conf").write_text(MAIN_CONF.format(user=user, dir=workdir))
    conf = ["-p", str(workdir), "-c", str(workdir / "nginx.conf")]
    check = subprocess.run([NGINX, *conf, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    out = open(workdir / "nginx.out", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [NGINX, *conf, "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError("nginx exited:\n" + (workdir / "nginx.out").read_text())
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 10, interval=0.05, what="nginx to answer")
        yield base
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()


@pytest.fixture(scope="module")
def apis(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """accounts, catalogue and dossiers APIs and the web pages, one process each as in the
    containers."""
    logs = tmp_path_factory.mktemp("apis")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    addresses = {name: f"127.0.0.1:{free_port()}" for name in (*PUBLIC, "web")}
    web_env = {f"WEB_{name.upper()}_URL": f"http://{addresses[name]}" for name in PUBLIC}
    try:
        for name, address in addresses.items():
            port = address.rsplit(":", 1)[1]
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "portal", "serve", name, "--host", "127.0.0.1"]
                + ["--port", port],
                # nginx (and the web app) connect from 127.0.0.1: their X-Forwarded-For names
                # the client
                env={**stack.env(), **web_env, "PORTAL_TRUSTED_PROXIES": "127.0.0.1"},
                cwd=ROOT,
                stdout=open(logs / f"{name}.log", "wb"),  # noqa: SIM115
                stderr=subprocess.STDOUT,
            )
        for name, address in addresses.items():

            def ready(name: str = name, address: str = address) -> bool:
                if procs[name].poll() is not None:
                    log = (logs / f"{name}.log").read_text(errors="replace")
                    raise AssertionError(f"{name} API exited:\n{log}")
                try:
                    return httpx.get(f"http://{address}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(ready, 60, interval=0.1, what=f"the {name} API to be ready")
        yield addresses
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(25)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def gateway(apis: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A fresh nginx per test: its rate-limit zones start empty."""
    with nginx_gateway(tmp_path / "nginx", apis) as base:
        yield base


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://dichvucong.hatinh.gov.vn/problems/")
    return dict(body)


def test_registration_through_nginx(gateway: str, stack: Stack) -> None:
    email = f"qua.nginx.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"{gateway}/api/v1/accounts", timeout=30) as client:
        response = register(client, email)  # GET /captcha, then POST /register
        assert response.status_code == 202, response.text
        code = activation_code(stack.smtp, email)  # the notifier worker sent it over SMTP
        response = client.post("/activate", json={"email": email, "code": code})
        assert response.status_code == 200, response.text
        response = sign_in(client, email)
        assert response.status_code == 200, response.text
        tokens = response.json()
        me = client.get("/me", headers=bearer(tokens))
        assert me.status_code == 200, me.text
        assert me.json()["email"] == email
        assert client.get("/me").status_code == 401
    # the other two services behind their prefixes, each answering its own /readyz
    for name in ("catalogue", "dossiers"):
        response = httpx.get(f"{gateway}/api/v1/{name}/readyz", timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def _from(address: str, base_url: str) -> httpx.Client:
    """A client connecting from `address` (any of 127.0.0.0/8 is this machine)."""
    return httpx.Client(
        base_url=base_url,
        transport=httpx.HTTPTransport(local_address=address),
        timeout=30,
    )


def test_the_apis_see_the_citizens_address_through_nginx_only(
    gateway: str, apis: dict[str, str], stack: Stack
) -> None:
    """Behind nginx each citizen is throttled apart (nginx's X-Forwarded-For is trusted, from
    PORTAL_TRUSTED_PROXIES); a client reaching an API directly cannot choose its address."""

    def account() -> str:
        email = f"dia.chi.{uuid.uuid4().hex[:10]}@example.vn"
        with httpx.Client(base_url=f"{gateway}/api/v1/accounts", timeout=30) as client:
            assert register(client, email).status_code == 202
            code = activation_code(stack.smtp, email)
            assert client.post("/activate", json={"email": email, "code": code}).status_code == 200
        return email

    email, other = account(), account()
    with _from("127.0.0.5", f"{gateway}/api/v1/accounts") as guesser:
        for n in range(5):
            assert sign_in(guesser, email, f"doan-sai-{n}").status_code == 401
        assert sign_in(guesser, email).status_code == 429  # this address is slowed
    with _from("127.0.0.6", f"{gateway}/api/v1/accounts") as owner:
        assert sign_in(owner, email).status_code == 200  # another citizen's address is not
    with _from("127.0.0.7", f"http://{apis['accounts']}") as forger:
        for n in range(5):
            wrong = forger.post(
                "/token",
                data={"username": other, "password": f"doan-sai-{n}"},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            assert wrong.status_code == 401
        forged = sign_in(forger, other)
        assert forged.status_code == 429  # the five were all 127.0.0.7's, whatever it said


def test_request_id_is_passed_on_or_made(gateway: str, tmp_path: Path) -> None:
    sent = f"kiem-thu-{uuid.uuid4().hex}"
    # The API echoes the id it received (nginx adds none to proxied answers): it got ours.
    response = httpx.get(f"{gateway}/api/v1/accounts/healthz", headers={"X-Request-ID": sent})
    assert response.status_code == 200
    assert response.headers.get_list("x-request-id") == [sent]
    # None sent: the API received the one nginx made ($request_id: 32 hex digits).
    response = httpx.get(f"{gateway}/api/v1/catalogue/healthz")
    made = response.headers.get_list("x-request-id")
    assert len(made) == 1 and re.fullmatch(r"[0-9a-f]{32}", made[0]), made
    # A malformed one is replaced, not passed on.
    response = httpx.get(f"{gateway}/api/v1/dossiers/healthz", headers={"X-Request-ID": "a b/c"})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    # nginx's own answers carry one too, and the access log has the id.
    response = httpx.get(f"{gateway}/khong-co", headers={"X-Request-ID": sent + "-2"})
    assert response.headers["x-request-id"] == sent + "-2"
    log = (tmp_path / "nginx" / "nginx.out").read_text()
    assert re.search(rf"/api/v1/accounts/healthz .* rid={re.escape(sent)}$", log, re.M), log


def _post_with_declared_length(base: str, path: str, length: int) -> tuple[int, bytes, str]:
    """Declare a body size without sending the body: nginx must refuse on the header alone."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Content-Type", "")
    finally:
        conn.close()


def test_body_size_limits(gateway: str) -> None:
    mb = 1024 * 1024
    status, body, content_type = _post_with_declared_length(
        gateway, "/api/v1/accounts/register", 2 * mb
    )
    assert status == 413 and content_type.startswith("application/problem+json")
    assert "quá lớn" in body.decode()
    status, _, _ = _post_with_declared_length(gateway, "/api/v1/dossiers/x/files", 56 * mb)
    assert status == 413
    # A 20 MB upload fits the dossiers limit: it reaches the dossiers API (which answers it).
    response = httpx.post(
        f"{gateway}/api/v1/dossiers/khong-co/files",
        content=b"0" * (20 * mb),
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    assert response.status_code in (404, 405), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    # and the same upload anywhere else is refused
    response = httpx.post(
        f"{gateway}/api/v1/catalogue/procedures", content=b"0" * (2 * mb), timeout=30
    )
    _problem(response, 413)
    # a form template (up to 10 MB) reaches the catalogue API, which asks who is sending it
    response = httpx.post(
        f"{gateway}/api/v1/catalogue/procedures/1.002181/forms",
        files={"file": ("mau.pdf", b"%PDF-" + b"0" * (5 * mb), "application/pdf")},
        timeout=30,
    )
    _problem(response, 401)


def test_page_forms_are_bounded_except_where_they_take_files(gateway: str) -> None:
    """Every page form is held to 1 MB before the web app parses it; the pages that take a
    dossier's files (and a result's, a form template's) to 55 MB."""
    mb = 1024 * 1024
    for path in ("/dang-ky", "/dang-nhap", "/ho-so/abc/xoa", "/can-bo/ho-so/abc/tra-lai"):
        status, body, content_type = _post_with_declared_length(gateway, path, 2 * mb)
        assert status == 413 and content_type.startswith("text/html"), path
        assert "quá lớn" in body.decode(), path
    # a file page takes 20 MB past nginx; the web app then wants the form's token (403 page)
    response = httpx.post(
        f"{gateway}/nop-ho-so/1.002181",
        files={"tep": ("a.pdf", b"%PDF-" + b"0" * (20 * mb), "application/pdf")},
        timeout=60,
    )
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "burst"),
    [
        ("POST", "/api/v1/accounts/token", 20),
        ("POST", "/api/v1/accounts/register", 10),
        ("GET", "/api/v1/accounts/captcha", 30),
        ("POST", "/api/v1/dossiers/accountless", 10),
    ],
)
def test_hammering_is_answered_429(gateway: str, method: str, path: str, burst: int) -> None:
    def gateway_refused(response: httpx.Response) -> bool:
        """The gateway's 429 (the accounts API has its own, per account and address)."""
        return response.status_code == 429 and response.json()["detail"].startswith(
            "Bạn đã gửi quá nhiều yêu cầu trong thời gian ngắn."
        )

    answers: list[httpx.Response] = []
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for _ in range(burst + 8):
            if path.endswith("/token"):  # a new unknown account each time: no per-account wait
                data = {"username": f"{uuid.uuid4().hex[:12]}@example.vn", "password": "sai-123"}
                answers.append(client.post(path, data=data))
            elif method == "POST":
                answers.append(client.post(path, json={}))
            else:
                answers.append(client.get(path))
        refused = [gateway_refused(r) for r in answers]
        # the burst passes (a few more as the rate refills), the rest is refused at the gateway
        assert not any(refused[:burst]), [r.status_code for r in answers]
        assert sum(refused) >= 3, [r.status_code for r in answers]
        response = answers[-1]
        assert gateway_refused(response)
        assert _problem(response, 429)["title"] == "Quá nhiều yêu cầu"
        assert response.headers["retry-after"] == "60"
        english = client.request(method, path, headers={"Accept-Language": "en"})
        assert _problem(english, 429)["title"] == "Too many requests"
        if method == "POST":  # only POSTs count there: a GET still reaches the API
            assert client.get(path).status_code != 429


def test_unknown_paths_and_the_gateway_health(gateway: str) -> None:
    for path in ("/api/v1/notifier/healthz", "/api/v2/accounts/captcha", "/api/"):
        body = _problem(httpx.get(gateway + path), 404)
        assert body["title"] == "Không tìm thấy"
    # every other path is a page: the web app's own 404 page
    page = httpx.get(f"{gateway}/khong-co")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy trang" in page.text
    # an unknown path inside a service is that service's own 404
    response = httpx.get(f"{gateway}/api/v1/accounts/khong-co")
    assert _problem(response, 404)["instance"] == "/khong-co"  # the prefix was stripped
    response = httpx.get(f"{gateway}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_an_upstream_down_is_503_problem(tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    upstreams = {name: closed for name in (*PUBLIC, "web")}
    with nginx_gateway(tmp_path / "nginx", upstreams) as base:
        response = httpx.get(f"{base}/api/v1/catalogue/procedures")
        body = _problem(response, 503)
        assert body["title"] == "Dịch vụ tạm thời không sẵn sàng"
        assert response.headers["retry-after"] == "10"
        assert httpx.get(f"{base}/healthz").status_code == 200
        # the pages down: a page that says so, in Vietnamese, not JSON
        page = httpx.get(f"{base}/thu-tuc")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert "Dịch vụ tạm thời gián đoạn" in page.text and page.headers["retry-after"] == "10"


def test_pages_through_nginx(gateway: str) -> None:
    """`/` is the web app, which reaches the APIs directly (WEB_*_URL), not through nginx."""
    with httpx.Client(base_url=gateway, timeout=30) as client:
        home = client.get("/", headers={"Accept-Encoding": "gzip"})
        assert home.status_code == 200 and home.headers["content-encoding"] == "gzip"
        assert "Cổng Dịch vụ công trực tuyến" in home.text and "Cấp xã/phường" in home.text
        assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
        found = client.get("/thu-tuc", params={"q": "dang ky khai sinh"})
        assert found.status_code == 200 and "Thủ tục đăng ký khai sinh" in found.text
        css = re.search(r'href="(/static/vendor/bootstrap\.min\.css\?v=\w+)"', home.text)
        assert css and "immutable" in client.get(css.group(1)).headers["cache-control"]
        # a page's request id is nginx's, passed on to the web app and back
        sent = f"trang-{uuid.uuid4().hex}"
        assert client.get("/", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


@pytest.mark.parametrize(
    ("path", "burst"),
    [
        ("/dang-nhap", 20),
        ("/can-bo/dang-nhap", 20),
        ("/dang-ky", 10),
        ("/quen-mat-khau", 10),
        ("/nop-ho-so/1.001193/khong-tai-khoan", 10),  # filing without an account
    ],
)
def test_hammering_the_pages_forms_is_slowed_per_address(
    gateway: str, path: str, burst: int
) -> None:
    """The web app calls the accounts API for every citizen; nginx, which sees each citizen's
    address, counts the POSTs of the pages' sign-in, registration and code forms like those
    of the API's /token and /register (the per-account limits stay the API's)."""
    with httpx.Client(base_url=gateway, timeout=30) as client:
        answers = [
            client.post(path, data={"email": "a@example.vn", "password": "x"})
            for _ in range(burst + 8)
        ]
        statuses = [r.status_code for r in answers]
        assert 429 not in statuses[:burst], statuses  # the burst passes (refused by CSRF: 403)
        assert statuses.count(429) >= 3, statuses
        refused = answers[-1]
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        assert refused.headers["content-type"].startswith("text/html")
        assert "Quá nhiều yêu cầu" in refused.text
        if path != "/dang-ky":  # reading the form is not counted (a registration form is:
            assert client.get(path).status_code == 200  # each carries a new captcha)


def _page_form(http: httpx.Client, path: str, address: str) -> str:
    """The form's CSRF token, the page read as nginx passes on a request from `address`."""
    page = http.get(path, headers={"X-Forwarded-For": address})
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return token.group(1)


def test_the_pages_pass_each_citizens_address_on_to_the_apis(
    apis: dict[str, str], stack: Stack
) -> None:
    """nginx → the web app → the accounts API. The test plays nginx (it sets X-Forwarded-For
    to the citizen's address, the web app trusts it from the gateway only): one address
    hammering a person's account with wrong passwords through the sign-in page is slowed by
    the API's per-address limit, while the person, from their own address, still signs in.
    Were the web app one client to the API, both would share its address and its wait."""
    email = f"hai.dia.chi.{uuid.uuid4().hex[:10]}@example.vn"
    with httpx.Client(base_url=f"http://{apis['accounts']}", timeout=30) as client:
        assert register(client, email).status_code == 202
        code = activation_code(stack.smtp, email)
        assert client.post("/activate", json={"email": email, "code": code}).status_code == 200
    web = f"http://{apis['web']}"
    guesser, owner = "203.0.113.10", "198.51.100.20"
    with httpx.Client(base_url=web, timeout=30) as http:
        answers = []
        for _ in range(6):
            token = _page_form(http, "/dang-nhap", guesser)
            answers.append(
                http.post(
                    "/dang-nhap",
                    headers={"X-Forwarded-For": guesser},
                    data={"csrf_token": token, "email": email, "password": "Sai-mat-khau-9"},
                )
            )
        assert [a.status_code for a in answers] == [422] * 6
        assert "E-mail hoặc mật khẩu không đúng" in answers[0].text
        assert "Đăng nhập sai quá nhiều lần" in answers[-1].text  # the API's wait, on the page
    with httpx.Client(base_url=web, timeout=30) as http:
        token = _page_form(http, "/dang-nhap", owner)
        signed_in = http.post(
            "/dang-nhap",
            headers={"X-Forwarded-For": owner},
            data={"csrf_token": token, "email": email, "password": PASSWORD},
        )
        assert signed_in.status_code == 303, signed_in.text
        home = http.get("/", headers={"X-Forwarded-For": owner})
        assert "Đăng xuất" in home.text

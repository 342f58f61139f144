"""The web app's shape, checked without a portal: it never imports a service, every
state-changing route carries the CSRF check, the vendored Bootstrap is the locked package's
file; and the pure logic of forms, CSRF tokens and labels."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.requests import Request

from tests.support import ROOT
from web import csrf
from web.clients.base import ApiProblem, FieldProblem
from web.forms import FormState, field_id
from web.labels import duration, fee, file_size, number

WEB = ROOT / "web"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_web_app_never_imports_a_service_or_the_runner() -> None:
    sources = sorted(WEB.rglob("*.py"))
    assert len(sources) > 10
    offending = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imports(path) if name.split(".")[0] in {"services", "portal"}
        )
        for path in sources
        if "node_modules" not in path.parts
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_import_scan_does_catch_a_service_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from services.catalogue import models\n")
    assert "services.catalogue" in _imports(sneaky)


def _routes(routes: list[Any]) -> list[Any]:
    """Every route of the app, through included routers (FastAPI includes them lazily)."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):
            found += _routes(route.original_router.routes)
        else:
            found.append(route)
    return found


def test_every_state_changing_route_checks_the_csrf_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")  # never contacted here
    from web.app import create_app

    routes = _routes(create_app().router.routes)
    unsafe = [r for r in routes if isinstance(r, APIRoute) and r.methods - csrf.SAFE_METHODS]
    assert {r.path for r in unsafe} >= {"/dang-nhap", "/dang-xuat"}
    unprotected = [r.path for r in unsafe if not isinstance(r, csrf.ProtectedRoute)]
    assert unprotected == []


def test_vendored_bootstrap_is_the_locked_package() -> None:
    lock = json.loads((WEB / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/bootstrap"]["version"]
    vendored = WEB / "static" / "vendor" / "bootstrap.min.css"
    banner = f" * Bootstrap  v{version} (https://getbootstrap.com/)"
    assert banner in vendored.read_bytes()[:200].decode()
    assert f"Bootstrap {version}" in (WEB / "static" / "VENDOR.md").read_text()
    installed = WEB / "node_modules" / "bootstrap" / "dist" / "css" / "bootstrap.min.css"
    if installed.exists():  # after `npm ci` (make test runs it): byte for byte the same
        assert vendored.read_bytes() == installed.read_bytes()
    assert not list((WEB / "static").rglob("*.js")), "no script is needed: none is served"


def _request(session: dict[str, Any], headers: dict[str, str] | None = None) -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "session": session,
    }
    return Request(scope)


def test_csrf_tokens_are_masked_anew_and_unmask_to_the_session_token() -> None:
    session: dict[str, Any] = {}
    request = _request(session)
    first, second = csrf.form_token(request), csrf.form_token(request)
    assert first != second  # a new mask on every page: nothing for BREACH to compare
    assert csrf._unmask(first) == csrf._unmask(second) == session[csrf.SESSION_KEY].encode()
    assert csrf._unmask("not base64!") is None and csrf._unmask("") is None


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({}, False),  # an old browser, a script: the token alone decides
        ({"Sec-Fetch-Site": "same-origin", "Origin": "https://dichvucong.example"}, False),
        ({"Sec-Fetch-Site": "none"}, False),
        ({"Sec-Fetch-Site": "same-site"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, True),
        ({"Origin": "https://ke-gian.example"}, True),
        ({"Origin": "null"}, True),
    ],
)
def test_origin_check(headers: dict[str, str], refused: bool) -> None:
    request = _request({}, headers)
    allowed = {"https://dichvucong.example"}
    if refused:
        with pytest.raises(csrf.CsrfRefused):
            csrf.check_origin(request, allowed)
    else:
        csrf.check_origin(request, allowed)


def test_api_problems_land_at_the_fields_or_in_the_summary() -> None:
    form = FormState(values={"email": "an@example.vn", "applicant.full_name": ""})
    problem = ApiProblem(
        status=422,
        code="validation",
        title="Dữ liệu không hợp lệ",
        detail="Dữ liệu gửi lên có trường không hợp lệ.",
        errors=[
            FieldProblem("username", "value_error", "Email không hợp lệ."),
            FieldProblem("applicant.full_name", "missing", "Trường này là bắt buộc."),
            FieldProblem("declaration.unknown", "missing", "Thiếu thông tin tờ khai."),
        ],
    )
    form.apply(problem, fields={"username": "email"})
    assert form.error("email") == "Email không hợp lệ."
    assert form.error("applicant.full_name") == "Trường này là bắt buộc."
    assert [(i.message, i.anchor) for i in form.summary] == [
        ("Thiếu thông tin tờ khai.", None),  # a field the form does not show: summary only
        ("Email không hợp lệ.", "#f-email"),
        ("Trường này là bắt buộc.", "#f-applicant-full_name"),
    ]
    secret = FormState(values={"email": "an@example.vn"}, secret_fields={"password"})
    weak = ApiProblem(422, "validation", "", "", [FieldProblem("password", "weak", "Dễ đoán.")])
    assert secret.apply(weak).error("password") == "Dễ đoán."  # at the field, though not kept
    refusal = ApiProblem(status=401, code="unauthorized", title="", detail="Sai.")
    assert FormState().apply(refusal, messages={401: "Sai mật khẩu."}).general == ["Sai mật khẩu."]
    assert FormState().apply(refusal).general == ["Sai."]
    assert field_id("a.b c") == "f-a-b-c"


def test_vietnamese_formats() -> None:
    assert number(1500000) == "1.500.000" and number(0.5) == "0,5"
    assert duration(3, "working_day") == "3 ngày làm việc" and duration(None, None) is None
    assert duration(1, None) == "1 (danh mục không ghi đơn vị thời gian)"
    assert fee(0, "") == "Miễn phí" and fee(None, "") == "Không quy định"
    assert fee(50000, "") == "50.000 đồng" and fee(0, "Miễn lệ phí") == "Miễn lệ phí"
    assert file_size(2048) == "2 KB" and file_size(3 * 1024 * 1024) == "3 MB"

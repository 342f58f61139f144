"""Issue 11's integrity defects, each reproduced through HTTP against the whole portal:

- a refused request leaves nothing behind: no row, no file in storage, no e-mail;
- what could not be rendered is never committed (JSON nested too deep);
- text that is not valid Unicode, or holds NUL, is refused in every JSON field of every
  service, and one row stored before that rule cannot take a list or a page down;
- every string and body is bounded, the gateway's too; lists read only what they show;
- an accountless filer's e-mail address is checked when the dossier is created;
- the reference lists are pages; answers carry security headers and are problem+json."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.kernel.inputs import readable
from tests.accounts_flow import bearer, registered_citizen
from tests.dossiers_flow import (
    admin_tokens,
    attach_required,
    officer_of,
    pdf,
    wait_for_catalogue_copy,
)
from tests.support import SmtpSink, Stack, wait_until

PROBLEM = "application/problem+json"
LAWYERS_BRANCH = "1.002181"  # Sở Tư pháp
BIRTH = "1.001193"  # commune tier
COMMUNE = "X18073"
APPLICANT = {"full_name": "Lê Văn Toàn", "address": "Phường Thành Sen, Hà Tĩnh"}
REQUEST = {"request": "Đề nghị đăng ký hoạt động chi nhánh."}


@pytest.fixture(scope="module")
def dossiers(stack: Stack) -> Iterator[httpx.Client]:
    wait_for_catalogue_copy(stack, [LAWYERS_BRANCH, BIRTH])
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/dossiers", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def officer(stack: Stack, smtp: SmtpSink) -> dict[str, str]:
    return officer_of(stack, smtp, "HT-STP")


@pytest.fixture
def citizen(stack: Stack, smtp: SmtpSink, email_address: str) -> dict[str, str]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        return bearer(registered_citizen(accounts, smtp, email_address))


def stored_files(stack: Stack, service: str) -> set[str]:
    root = stack.workdir / "var" / "files" / service
    return {str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()}


def sent_dossier(dossiers: httpx.Client, citizen: dict[str, str]) -> dict[str, Any]:
    body = {"procedure_id": LAWYERS_BRANCH, "applicant": APPLICANT, "declaration": REQUEST}
    created = dossiers.post("/", json=body, headers=citizen)
    assert created.status_code == 201, created.text
    dossier = created.json()
    attach_required(dossiers, dossier, citizen)
    sent = dossiers.post(f"/{dossier['id']}/submit", headers=citizen)
    assert sent.status_code == 200, sent.text
    return dict(sent.json())


def own_count(dossiers: httpx.Client, citizen: dict[str, str]) -> int:
    return int(dossiers.get("/", headers=citizen).json()["total"])


# -- 1. a refusal leaves nothing behind ---------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "status"),
    [
        (("ghi-chu.txt", b"not a document, just text", "text/plain"), 415),
        (("qua-lon.pdf", pdf("x") + b"0" * (10 * 1024 * 1024), "application/pdf"), 413),
    ],
    ids=["wrong-type", "oversize"],
)
def test_a_refused_result_attaches_and_stores_nothing(
    stack: Stack,
    smtp: SmtpSink,
    dossiers: httpx.Client,
    citizen: dict[str, str],
    officer: dict[str, str],
    email_address: str,
    second: tuple[str, bytes, str],
    status: int,
) -> None:
    dossier = sent_dossier(dossiers, citizen)
    assert dossiers.post(f"/{dossier['id']}/receive", headers=officer).status_code == 200
    smtp.wait_for(email_address, 3)  # activation, submitted, processing
    before = stored_files(stack, "dossiers")

    refused = dossiers.post(
        f"/{dossier['id']}/result",
        data={"note": "Kết quả"},
        files=[("files", ("ket-qua.pdf", pdf("Ket qua"), "application/pdf")), ("files", second)],
        headers=officer,
    )
    assert refused.status_code == status and refused.headers["content-type"] == PROBLEM
    view = dossiers.get(f"/{dossier['id']}", headers=citizen).json()
    assert view["status"] == "processing" and view["results"] == []
    assert stored_files(stack, "dossiers") == before
    history = dossiers.get(f"/{dossier['id']}/history", headers=officer).json()
    assert [h["action"] for h in history][-1] == "receive"

    retried = dossiers.post(
        f"/{dossier['id']}/result",
        data={"note": "Kết quả"},
        files=[("files", ("ket-qua.pdf", pdf("Ket qua"), "application/pdf"))],
        headers=officer,
    )
    assert retried.status_code == 200, retried.text
    assert [f["filename"] for f in retried.json()["results"]] == ["ket-qua.pdf"]
    returned = smtp.wait_for(email_address, 4)[3]
    assert returned.text.count("ket-qua.pdf") == 1
    assert len(stored_files(stack, "dossiers") - before) == 1


def test_a_refused_form_upload_stores_nothing(stack: Stack) -> None:
    catalogue = f"{stack.base_url}/api/v1/catalogue"
    admin = bearer(admin_tokens(stack))
    before = stored_files(stack, "catalogue")
    refused = httpx.post(
        f"{catalogue}/procedures/{LAWYERS_BRANCH}/forms",
        data={"form_id": "khong-co-mau-nay"},
        files={"file": ("mau.pdf", pdf("Mau don"), "application/pdf")},
        headers=admin,
    )
    assert refused.status_code == 404 and refused.headers["content-type"] == PROBLEM
    assert stored_files(stack, "catalogue") == before


# -- 2. and 3. nothing committed that cannot be rendered; text that cannot be stored ------------


def nested(depth: int) -> str:
    """A JSON text nested `depth` objects deep (as text: the encoder itself would give up)."""
    return '{"a":' * depth + '"đáy"' + "}" * depth


def raw_post(url: str, text: str, headers: dict[str, str]) -> httpx.Response:
    """A JSON body as raw text: `\\ud800` is a valid JSON escape that decodes to a lone
    surrogate (httpx's own encoder would refuse to write it)."""
    return httpx.post(
        url, content=text.encode(), headers={**headers, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize("where", ["applicant", "declaration"])
def test_json_nested_too_deep_is_refused_and_nothing_is_created(
    dossiers: httpx.Client, citizen: dict[str, str], where: str
) -> None:
    before = own_count(dossiers, citizen)
    parts = {"applicant": json.dumps(APPLICANT), "declaration": json.dumps(REQUEST)}
    for depth in (16, 256, 5000):
        body = {**parts, where: '{"x":' + nested(depth) + "}"}
        text = f'{{"procedure_id":"{LAWYERS_BRANCH}","applicant":{body["applicant"]},'
        text += f'"declaration":{body["declaration"]}}}'
        refused = raw_post(f"{dossiers.base_url}", text, citizen)
        assert refused.status_code == 422, (depth, refused.text)
        assert refused.headers["content-type"] == PROBLEM
    assert own_count(dossiers, citizen) == before


@pytest.mark.parametrize(
    ("escape", "code"), [("\\ud800", "unicode_invalid"), ("\\u0000", "nul_character")]
)
def test_text_that_cannot_be_stored_is_refused_by_every_service(
    stack: Stack, dossiers: httpx.Client, citizen: dict[str, str], escape: str, code: str
) -> None:
    api = f"{stack.base_url}/api/v1"
    admin = bearer(admin_tokens(stack))
    applicant = json.dumps(APPLICANT)[:-1] + f', "phone": "0912{escape}"}}'
    cases = [
        (
            f"{api}/dossiers/",
            f'{{"procedure_id": "{LAWYERS_BRANCH}", "applicant": {{"full_name": "Lê{escape}"}}}}',
            citizen,
            "applicant.full_name",
        ),
        (
            f"{api}/dossiers/",
            f'{{"procedure_id": "{LAWYERS_BRANCH}", "applicant": {applicant}}}',
            citizen,
            "applicant.phone",
        ),
        (
            f"{api}/dossiers/",
            f'{{"procedure_id": "{LAWYERS_BRANCH}", "declaration": {{"k{escape}": 1}}}}',
            citizen,
            readable("declaration.k" + json.loads('"' + escape + '"')),
        ),
        (
            f"{api}/accounts/register",
            f'{{"email": "a{uuid.uuid4().hex[:6]}@example.vn", '
            f'"password": "Mat-khau-dai-2025", "full_name": "An{escape}", "captcha_id": "x", '
            f'"captcha_answer": "x"}}',
            {},
            "full_name",
        ),
        (f"{api}/catalogue/fields", f'{{"name": "Lĩnh vực{escape}"}}', admin, "name"),
    ]
    before = own_count(dossiers, citizen)
    for url, text, headers, field in cases:
        refused = raw_post(url, text, headers)
        assert refused.status_code == 422, (url, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        [error] = refused.json()["errors"]
        assert error["code"] == code and error["field"] == field
    not_utf8 = dossiers.post(
        "/",
        content=b'{"procedure_id": "\xff\xfe"}',
        headers={**citizen, "Content-Type": "application/json"},
    )
    assert not_utf8.status_code == 422 and not_utf8.json()["errors"][0]["code"] == "unicode_invalid"
    assert own_count(dossiers, citizen) == before
    names = {
        f["name"]
        for f in httpx.get(f"{api}/catalogue/fields", params={"page_size": 500}).json()["items"]
    }
    assert not any(n.startswith("Lĩnh vực") and len(n) > 8 for n in names)


def test_one_broken_stored_row_does_not_take_the_lists_down(
    stack: Stack, dossiers: httpx.Client, citizen: dict[str, str], officer: dict[str, str]
) -> None:
    """Rows stored before the edge refused broken text (here written straight into the
    database, as an old version of the portal could) still list, open and process."""
    broken = sent_dossier(dossiers, citizen)
    healthy = sent_dossier(dossiers, citizen)
    stack.query(
        "dossiers",
        "UPDATE dossiers SET applicant = $1::json, declaration = $2::json WHERE id = $3",
        '{"full_name": "L\\ud800ê", "address": "x"}',
        '{"request": "\\udc00 yêu cầu"}',
        broken["id"],
    )
    for params in ({}, {"status": "submitted"}, {"overdue": "false"}):
        inbox = dossiers.get("/inbox", params=params, headers=officer)
        assert inbox.status_code == 200, (params, inbox.text)
        codes = {item["code"] for item in inbox.json()["items"]}
        assert {broken["code"], healthy["code"]} <= codes or inbox.json()["total"] > 20
    mine = dossiers.get("/", headers=citizen)
    assert mine.status_code == 200
    assert {i["id"] for i in mine.json()["items"]} >= {broken["id"], healthy["id"]}
    shown = dossiers.get(f"/{broken['id']}", headers=officer)
    assert shown.status_code == 200 and shown.json()["applicant"]["full_name"] == "L?ê"
    received = dossiers.post(f"/{broken['id']}/receive", headers=officer)
    assert received.status_code == 200 and received.json()["status"] == "processing"


# -- 4. bounds -----------------------------------------------------------------------------------


def test_free_form_values_are_bounded(dossiers: httpx.Client, citizen: dict[str, str]) -> None:
    before = own_count(dossiers, citizen)
    too_big = [
        {"applicant": {**APPLICANT, "note": "x" * 2001}},
        {"applicant": {**APPLICANT, "full_name": "A" * 201}},
        {"applicant": {**APPLICANT, "full_name": "Lê Văn Toàn\nhttps://lua-dao.example/"}},
        {"declaration": {"request": "y" * 4001}},
        {"declaration": {f"k{i}": "z" * 4000 for i in range(20)}},  # 80 KB > 64 KB
        {"declaration": {f"k{i}": i for i in range(201)}},
    ]
    for extra in too_big:
        body = {"procedure_id": LAWYERS_BRANCH, "applicant": APPLICANT, **extra}
        refused = dossiers.post("/", json=body, headers=citizen)
        assert refused.status_code == 422, refused.text[:300]
    huge = dossiers.post(
        "/",
        content=b'{"procedure_id": "1.002181", "declaration": {"request": "'
        + b"x" * (1024 * 1024)
        + b'"}}',
        headers={**citizen, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413 and huge.headers["content-type"] == PROBLEM
    # a route with its own, larger bound answers past it the same way (a file over 10 MB)
    draft = dossiers.post(
        "/", json={"procedure_id": LAWYERS_BRANCH, "applicant": APPLICANT}, headers=citizen
    ).json()
    component = draft["components"][0]["id"]
    oversize = dossiers.post(
        f"/{draft['id']}/components/{component}/files",
        files={"file": ("lon.pdf", pdf("x") + b"0" * (11 * 1024 * 1024), "application/pdf")},
        headers=citizen,
    )
    assert oversize.status_code == 413 and oversize.headers["content-type"] == PROBLEM
    assert dossiers.delete(f"/{draft['id']}", headers=citizen).status_code == 204
    assert own_count(dossiers, citizen) == before


def test_the_gateway_bounds_bodies_and_unfinished_bodies(stack: Stack) -> None:
    # announced larger than any route takes: refused before it is sent
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/v1/dossiers/accountless HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 900000000\r\n\r\n{"
        )
        answer = conn.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]

    # a body that stops halfway: answered 408 once the body timeout (3 s in tests) passes
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as conn:
        conn.sendall(
            b"POST /api/v1/accounts/activate HTTP/1.1\r\nHost: x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":'
        )
        answer = conn.recv(65536).decode("utf-8", "replace")
    assert answer.startswith("HTTP/1.1 408"), answer[:300]
    assert "application/problem+json" in answer
    assert time.monotonic() - started < 15


# -- 11. an accountless filer's address ----------------------------------------------------------


def test_an_accountless_address_is_checked_when_the_dossier_is_created(
    stack: Stack, dossiers: httpx.Client
) -> None:
    def attempt(email: Any, where: str = "applicant") -> httpx.Response:
        captcha = httpx.get(f"{stack.base_url}/api/v1/accounts/captcha").json()
        body: dict[str, Any] = {
            "procedure_id": BIRTH,
            "agency_id": COMMUNE,
            "applicant": dict(APPLICANT),
            "declaration": {},
            "captcha_id": captcha["captcha_id"],
            "captcha_answer": "test",
        }
        if where == "applicant":
            body["applicant"]["email"] = email
        else:
            body["email"] = email
        return dossiers.post("/accountless", json=body)

    before = stack.query("dossiers", "SELECT count(*) AS n FROM dossiers")[0]["n"]
    for bad in (["a@example.vn"], 12345, "a@b", "an@example.vn\r\nBcc: x@example.vn", ""):
        for where in ("applicant", "email"):
            refused = attempt(bad, where)
            assert refused.status_code == 422, (bad, where, refused.text)
            assert refused.headers["content-type"] == PROBLEM
    assert stack.query("dossiers", "SELECT count(*) AS n FROM dossiers")[0]["n"] == before
    created = attempt(f"nguoi.nop.{uuid.uuid4().hex[:6]}@example.vn")
    assert created.status_code == 201, created.text
    holder = {"X-Dossier-Token": created.json()["token"]}
    attach_required(dossiers, created.json(), holder)
    declaration = {
        "request": "Đăng ký khai sinh.",
        "child_full_name": "Lê Minh",
        "child_date_of_birth": "2026-10-02",
        "child_gender": "Nam",
        "place_of_birth": "Hà Tĩnh",
    }
    stack.query(
        "dossiers",
        "UPDATE dossiers SET declaration = $1::json WHERE id = $2",
        json.dumps(declaration),
        created.json()["id"],
    )
    sent = dossiers.post(f"/{created.json()['id']}/submit", headers=holder)
    assert sent.status_code == 200, sent.text


# -- 12. 16. 17. the contract's shapes, headers and problems ------------------------------------


def test_reference_lists_are_pages(stack: Stack) -> None:
    catalogue = f"{stack.base_url}/api/v1/catalogue"
    for path, params in (("/agencies", {"tier": "commune"}), ("/fields", {})):
        first = httpx.get(catalogue + path, params={**params, "page_size": 5}).json()
        assert set(first) == {"items", "total", "page", "page_size"}
        assert first["page"] == 1 and first["page_size"] == 5 and len(first["items"]) == 5
        second = httpx.get(catalogue + path, params={**params, "page": 2, "page_size": 5}).json()
        assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])
        assert second["total"] == first["total"] > 10
        bad = httpx.get(catalogue + path, params={"page_size": 0})
        assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


def test_answers_carry_security_headers(stack: Stack) -> None:
    api = f"{stack.base_url}/api/v1"
    for url in (f"{api}/catalogue/fields", f"{api}/dossiers/inbox", f"{api}/accounts/me"):
        response = httpx.get(url)
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # not in production


def test_every_refusal_is_problem_json(stack: Stack) -> None:
    metrics = httpx.get(f"{stack.base_url}/api/v1/dossiers/metrics")
    assert metrics.status_code == 404 and metrics.headers["content-type"] == PROBLEM
    assert metrics.json()["status"] == 404

    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as conn:
        conn.sendall(
            b"GET /api/v1/accounts/me HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer abc\x01def\r\n\r\n"
        )
        answer = wait_until(lambda: conn.recv(65536), 10).decode("utf-8")
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and "application/problem+json" in head
    assert json.loads(body)["status"] == 400

"""The edge: errors carry both languages; the handler writes the request's one (problem+json)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.kernel.captcha import CaptchaInvalid
from services.kernel.errors import (
    FieldError,
    Forbidden,
    Invalid,
    ProblemError,
    Text,
    Unauthorized,
    install_problem_handlers,
)
from services.kernel.uploads import FileRefused, FileTooLarge, download_name, safe_display_name

AGE = Text("Tuổi không hợp lệ.", "The age is invalid.")
NAME = Text("Tên là bắt buộc.", "The name is required.")


class Teapot(ProblemError):
    code = "teapot"
    status = 418
    detail = Text("Ấm trà.", "A teapot.")


ERRORS: dict[str, ProblemError] = {
    "one-field": Invalid(FieldError("person.age", "age_invalid", AGE)),
    "fields": Invalid(
        FieldError(["person", 0, "name"], "missing", NAME),
        FieldError("person.age", "age_invalid", AGE),
        detail=Text("Sai.", "Wrong."),
    ),
    "unauthorized": Unauthorized(),
    "forbidden": Forbidden(),
    "captcha": CaptchaInvalid(),
    "teapot": Teapot(),
    "inline": ProblemError("conflict", Text("Xung đột.", "Clash."), extra={"x": 1}),
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/{name}")
    async def fail(name: str) -> None:
        raise ERRORS[name]

    return TestClient(app)


def test_a_field_error_is_written_in_the_request_language(client: TestClient) -> None:
    vi = client.get("/one-field")
    en = client.get("/one-field", headers={"Accept-Language": "en-GB,vi;q=0.5"})
    assert vi.status_code == en.status_code == 422
    assert vi.headers["content-type"] == "application/problem+json"
    assert (vi.headers["content-language"], en.headers["content-language"]) == ("vi", "en")
    assert vi.json() == {
        "type": "https://dichvucong.hatinh.gov.vn/problems/validation",
        "title": "Dữ liệu không hợp lệ",
        "status": 422,
        "detail": AGE.vi,
        "instance": "/one-field",
        "errors": [{"field": "person.age", "code": "age_invalid", "message": AGE.vi}],
    }
    assert en.json()["detail"] == AGE.en
    assert en.json()["errors"][0]["message"] == AGE.en


def test_several_fields_keep_their_order_and_a_path_is_dotted(client: TestClient) -> None:
    body = client.get("/fields", headers={"Accept-Language": "en"}).json()
    assert body["detail"] == "Wrong."
    assert [(e["field"], e["message"]) for e in body["errors"]] == [
        ("person.0.name", NAME.en),
        ("person.age", AGE.en),
    ]


@pytest.mark.parametrize(
    ("name", "status", "code", "header"),
    [
        ("unauthorized", 401, "unauthorized", ("www-authenticate", "Bearer")),
        ("forbidden", 403, "forbidden", None),
        ("captcha", 400, "captcha-invalid", None),
        ("teapot", 418, "teapot", None),
        ("inline", 409, "conflict", None),
    ],
)
def test_a_named_error_carries_its_status_code_and_texts(
    client: TestClient, name: str, status: int, code: str, header: tuple[str, str] | None
) -> None:
    error = ERRORS[name]
    for lang in ("vi", "en"):
        response = client.get(f"/{name}", headers={"Accept-Language": lang})
        body = response.json()
        assert (response.status_code, body["status"]) == (status, status)
        assert body["type"].endswith(f"/{code}")
        assert body["detail"] == error.detail(lang)
        if header:
            assert response.headers[header[0]] == header[1]
    assert client.get("/inline").json()["x"] == 1
    assert client.get("/captcha").json()["errors"][0]["field"] == "captcha_answer"


def test_a_named_error_raised_twice_is_the_same_answer() -> None:
    assert Unauthorized().headers == {"WWW-Authenticate": "Bearer"}
    assert Teapot().status == 418 and Teapot("not-found").status == 404
    assert str(Teapot()) == "A teapot."


def test_upload_refusals_are_413_or_415() -> None:
    assert (FileTooLarge().status, FileRefused().status) == (413, 415)


@pytest.mark.parametrize(
    ("given", "extension", "stored"),
    [
        ("../../etc/đơn xin.PDF", "pdf", "đơn xin.pdf"),
        ("C:\\Users\\a\\ảnh.jpeg", "jpg", "ảnh.jpg"),
        (".pdf", "pdf", "tệp.pdf"),
        ("", "png", "tệp.png"),
        ("a<b>|c?.docx", "docx", "abc.docx"),
    ],
)
def test_one_rule_names_a_stored_upload(given: str, extension: str, stored: str) -> None:
    assert download_name(given, extension) == stored
    assert "/" not in safe_display_name(given)

"""The citizen's steps through the accounts API, as the tests drive them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import SmtpSink, code_from

PASSWORD = "Ha-Tinh-2025-an-toan"


def captcha(client: httpx.Client) -> str:
    response = client.get("/captcha")
    assert response.status_code == 200
    body = response.json()
    assert body["image"].startswith("data:image/png;base64,")
    return str(body["captcha_id"])


def register(
    client: httpx.Client, email: str, password: str = PASSWORD, **fields: Any
) -> httpx.Response:
    body = {
        "email": email,
        "password": password,
        "full_name": "Nguyễn Thị Hà",
        "captcha_id": captcha(client),
        "captcha_answer": "test",
        **fields,
    }
    return client.post("/register", json=body)


def activation_code(smtp: SmtpSink, email: str, count: int = 1) -> str:
    mails = smtp.wait_for(email, count)
    return code_from(mails[count - 1])


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/token", data={"username": email, "password": password})


def registered_citizen(client: httpx.Client, smtp: SmtpSink, email: str) -> dict[str, Any]:
    """Register, activate with the e-mailed code, sign in; returns the token pair."""
    assert register(client, email).status_code == 202
    code = activation_code(smtp, email)
    assert client.post("/activate", json={"email": email, "code": code}).status_code == 200
    response = sign_in(client, email)
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}

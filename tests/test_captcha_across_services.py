"""A captcha is answered once across the portal (issue 11, item 9): the id accounts issued is
verified by accounts (registration) and by dossiers (accountless filing); a use at one spends it
for the other too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.accounts_flow import PASSWORD, captcha
from tests.dossiers_flow import wait_for_catalogue_copy
from tests.support import Stack

BIRTH, COMMUNE = "1.001193", "X18073"  # Thủ tục đăng ký khai sinh, Phường Thành Sen


@pytest.fixture(scope="module")
def dossiers(stack: Stack) -> Iterator[httpx.Client]:
    wait_for_catalogue_copy(stack, [BIRTH])
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/dossiers", timeout=30) as client:
        yield client


def registration(email: str, captcha_id: str) -> dict[str, Any]:
    return {
        "email": email,
        "password": PASSWORD,
        "full_name": "Trương Văn Giang",
        "captcha_id": captcha_id,
        "captcha_answer": "test",
    }


def filing(email: str, captcha_id: str) -> dict[str, Any]:
    return {
        "procedure_id": BIRTH,
        "agency_id": COMMUNE,
        "applicant": {"full_name": "Trương Văn Giang", "address": "Hà Tĩnh", "email": email},
        "declaration": {"request": "Đăng ký khai sinh."},
        "captcha_id": captcha_id,
        "captcha_answer": "test",
    }


def spent(response: httpx.Response) -> bool:
    return response.status_code == 400 and response.json()["errors"][0]["code"] == (
        "captcha_invalid"
    )


def test_a_captcha_used_to_register_cannot_file_a_dossier(
    client: httpx.Client, dossiers: httpx.Client, email_address: str
) -> None:
    captcha_id = captcha(client)
    assert client.post("/register", json=registration(email_address, captcha_id)).status_code == 202
    assert spent(dossiers.post("/accountless", json=filing(email_address, captcha_id)))


def test_a_captcha_used_to_file_a_dossier_cannot_register(
    client: httpx.Client, dossiers: httpx.Client, email_address: str
) -> None:
    captcha_id = captcha(client)
    filed = dossiers.post("/accountless", json=filing(email_address, captcha_id))
    assert filed.status_code == 201, filed.text
    assert spent(client.post("/register", json=registration(email_address, captcha_id)))


def test_a_wrong_answer_at_one_service_spends_it_at_the_other(
    client: httpx.Client, dossiers: httpx.Client, email_address: str
) -> None:
    captcha_id = captcha(client)
    wrong = {**filing(email_address, captcha_id), "captcha_answer": "SAI"}
    assert spent(dossiers.post("/accountless", json=wrong))
    assert spent(client.post("/register", json=registration(email_address, captcha_id)))

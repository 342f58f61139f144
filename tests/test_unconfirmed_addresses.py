"""The portal relays no stranger's text (issue 11, item 10): whoever registers an address or
files without an account names an address nobody has confirmed yet, so the official e-mails to
it carry none of the text they wrote (the name field included). Names are one line, trimmed and
bounded everywhere."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.accounts_flow import bearer, register, registered_citizen
from tests.dossiers_flow import attach_required, wait_for_catalogue_copy
from tests.support import SmtpSink, Stack

BIRTH, COMMUNE = "1.001193", "X18073"
LURE = "Trúng thưởng 500 triệu tại lua-dao.example"
"""One line, under 100 characters: a valid name, and still a stranger's text."""
LURE_WORDS = ("Trúng thưởng", "lua-dao")


def carries_no_lure(text: str) -> bool:
    return not any(word in text for word in LURE_WORDS)


def test_registration_emails_carry_none_of_the_registrants_text(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    assert register(client, email_address, full_name=LURE).status_code == 202
    [activation] = smtp.wait_for(email_address)
    assert carries_no_lure(activation.subject + activation.text + activation.html)
    assert "Kính gửi Ông/Bà" in activation.text

    # An active account: the "already registered" notice greets the owner by the owner's name
    owner = "cong.dan.chu.that." + email_address
    registered_citizen(client, smtp, owner)
    assert register(client, owner, full_name=LURE).status_code == 202
    notice = smtp.wait_for(owner, 2)[-1]
    assert "đã có tài khoản" in notice.subject
    assert carries_no_lure(notice.subject + notice.text + notice.html)
    assert "Nguyễn Thị Hà" in notice.text


NOT_ONE_LINE = [
    "Nguyễn Văn An\nXem https://lua-dao.example",
    "Nguyễn Văn An\r\nBcc: ai-do@example.vn",
    "Nguyễn\tVăn An",
    "Nguyễn Văn An\u2028Dòng hai",
    "\u202eNguyễn Văn An",  # a right-to-left override
    "Nguyễn Văn An\x00",
    "A" * 101,
    "   ",
]


def test_names_are_one_line_and_bounded(
    client: httpx.Client, smtp: SmtpSink, stack: Stack, email_address: str
) -> None:
    for name in NOT_ONE_LINE:
        refused = register(client, f"ten.{email_address}", full_name=name)
        assert refused.status_code == 422, name
        assert [e["field"] for e in refused.json()["errors"]] == ["full_name"], name
    tokens = registered_citizen(client, smtp, email_address)
    for name in NOT_ONE_LINE:
        patched = client.patch("/me", json={"full_name": name}, headers=bearer(tokens))
        assert patched.status_code == 422, name
    trimmed = client.patch("/me", json={"full_name": "  Lê   Thị  Hoa "}, headers=bearer(tokens))
    assert trimmed.status_code == 200 and trimmed.json()["full_name"] == "Lê Thị Hoa"
    admin = client.post(
        "/token", data={"username": stack.admin_email, "password": stack.admin_password}
    ).json()
    invite = {"email": f"can.bo.{email_address}", "agency_id": COMMUNE}
    for name in NOT_ONE_LINE:
        invited = client.post(
            "/officers", json={**invite, "full_name": name}, headers=bearer(admin)
        )
        assert invited.status_code == 422, name


@pytest.fixture(scope="module")
def dossiers(stack: Stack) -> Iterator[httpx.Client]:
    wait_for_catalogue_copy(stack, [BIRTH])
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/dossiers", timeout=30) as client:
        yield client


def test_accountless_filing_emails_carry_none_of_the_filers_text(
    client: httpx.Client, dossiers: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    body = {
        "procedure_id": BIRTH,
        "agency_id": COMMUNE,
        "applicant": {"full_name": LURE, "address": "Hà Tĩnh", "email": email_address},
        "declaration": {
            "request": "Đăng ký khai sinh cho con.",
            "child_full_name": "Nguyễn Minh An",
            "child_date_of_birth": "2026-10-02",
            "child_gender": "Nam",
            "place_of_birth": "Bệnh viện Đa khoa tỉnh Hà Tĩnh",
        },
        "captcha_id": client.get("/captcha").json()["captcha_id"],
        "captcha_answer": "test",
    }
    created = dossiers.post("/accountless", json=body)
    assert created.status_code == 201, created.text
    holder = {"X-Dossier-Token": created.json()["token"]}
    attach_required(dossiers, created.json(), holder)
    assert dossiers.post(f"/{created.json()['id']}/submit", headers=holder).status_code == 200
    [submitted] = smtp.wait_for(email_address)
    assert carries_no_lure(submitted.subject + submitted.text + submitted.html)
    assert "Kính gửi Ông/Bà" in submitted.text

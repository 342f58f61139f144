"""Limits must stop an attacker, not the owner (issue 11, items 6 and 7). The attacker works
from many addresses (through the test stack's trusted proxy, `via_proxy`); the owner from the
address they usually use, or with the device token a browser keeps after signing in.

- Sign-in: failures from rotating addresses lock the account for unknown clients only; the
  owner's usual address and device token still sign in, and a guesser stays slowed.
- Codes: reset requests and wrong codes from elsewhere cannot keep the owner from receiving,
  within minutes, a code or link that works; once too many wrong codes were tried, short codes
  are refused for the account and only the e-mailed links (unguessable) work."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.accounts_flow import PASSWORD, captcha, registered_citizen, sign_in
from tests.support import (
    ACTIVATION_PAGE,
    RESET_PAGE,
    SmtpSink,
    Stack,
    api_page,
    code_from,
    form_of,
    link_from,
    via_proxy,
)

USUAL = "198.51.100.20"
NEW_PASSWORD = "Mat-khau-cua-chu-2025"


def attacker(stack: Stack, n: int) -> httpx.Client:
    return via_proxy(stack, f"203.0.113.{n % 250 + 1}")


def owner_account(stack: Stack, smtp: SmtpSink, email: str) -> dict[str, Any]:
    with via_proxy(stack, USUAL) as owner:
        return registered_citizen(owner, smtp, email)


# -- sign-in (item 7) ------------------------------------------------------------------------------


def test_rotating_address_failures_do_not_lock_out_the_owner(
    stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    tokens = owner_account(stack, smtp, email_address)
    assert len(tokens["device_token"]) > 40
    answers = []
    with via_proxy(stack, USUAL) as owner:
        for n in range(15):
            with attacker(stack, n) as guesser:
                answers.append(sign_in(guesser, email_address, f"doan-mat-khau-{n}").status_code)
            assert sign_in(owner, email_address).status_code == 200  # the usual address
    assert answers[:10] == [401] * 10
    assert answers[10:] == [429] * 5  # the account-wide lock holds the guesser
    with attacker(stack, 99) as guesser:
        slowed = sign_in(guesser, email_address)  # even the right password, from elsewhere
        assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
    with via_proxy(stack, "192.0.2.44") as travelling:  # a new address, the browser's token
        with_device = travelling.post(
            "/token",
            data={
                "username": email_address,
                "password": PASSWORD,
                "device_token": tokens["device_token"],
            },
        )
        assert with_device.status_code == 200, with_device.text
        # the same, as a browser calling the API sends it: the cookie /token set
        travelling.cookies.set("portal_device", tokens["device_token"])
        assert sign_in(travelling, email_address).status_code == 200


def test_the_device_cookie_is_set_for_browsers(
    stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    with via_proxy(stack, USUAL) as browser:
        registered_citizen(browser, smtp, email_address)
        response = sign_in(browser, email_address)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"portal_device={response.json()['device_token']};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/api/v1/accounts"} <= attributes
    assert "secure" not in attributes  # not in production; Secure there


def test_a_device_token_is_held_by_its_own_failures_only(
    stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    tokens = owner_account(stack, smtp, email_address)
    with via_proxy(stack, "192.0.2.45") as stolen_laptop:
        form = {"username": email_address, "device_token": tokens["device_token"]}
        for n in range(5):
            wrong = stolen_laptop.post("/token", data={**form, "password": f"doan-{n}-sai"})
            assert wrong.status_code == 401
        assert stolen_laptop.post("/token", data={**form, "password": PASSWORD}).status_code == 429
    with via_proxy(stack, USUAL) as owner:  # the account and the usual address are not held
        assert sign_in(owner, email_address).status_code == 200


def test_a_clients_own_x_forwarded_for_is_not_trusted(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    """127.0.0.1 is no configured proxy: what it says in X-Forwarded-For is ignored, so five
    failures "from five addresses" are five failures of one address and it is slowed."""
    registered_citizen(client, smtp, email_address)
    for n in range(5):
        wrong = client.post(
            "/token",
            data={"username": email_address, "password": f"doan-{n}-sai"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
        )
        assert wrong.status_code == 401
    held = client.post(
        "/token",
        data={"username": email_address, "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.77"},
    )
    assert held.status_code == 429


# -- codes and e-mails (item 6) --------------------------------------------------------------------


def reset_attack(stack: Stack, email: str, rounds: int) -> None:
    """From a new address each time: ask for a reset code, then try a wrong one."""
    for n in range(rounds):
        with attacker(stack, 100 + n) as client:
            assert client.post("/password-reset", json={"email": email}).status_code == 202
            wrong = client.post(
                "/password-reset/confirm",
                json={"email": email, "code": f"{n:06d}", "new_password": "Ke-gian-2025-doi"},
            )
            assert wrong.status_code == 400


def test_five_resets_and_five_wrong_codes_do_not_stop_the_owner(
    stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    owner_account(stack, smtp, email_address)
    reset_attack(stack, email_address, 5)
    smtp.wait_for(email_address, 6)  # the activation, then the attacker's five
    with via_proxy(stack, USUAL) as owner:
        assert owner.post("/password-reset", json={"email": email_address}).status_code == 202
        newest = smtp.wait_for(email_address, 7)[-1]
        confirmed = owner.post(
            "/password-reset/confirm",
            json={"email": email_address, "code": code_from(newest), "new_password": NEW_PASSWORD},
        )
        assert confirmed.status_code == 204, confirmed.text
        assert sign_in(owner, email_address, NEW_PASSWORD).status_code == 200


def test_a_long_attack_leaves_the_owner_a_working_link(
    stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    """Twelve resets (more than the account's hourly e-mails) and twelve wrong codes (more than
    its wrong-code budget): the owner, on a new address with the browser's device token, still
    gets an e-mail; its short code is refused, its link works."""
    tokens = owner_account(stack, smtp, email_address)
    reset_attack(stack, email_address, 12)
    received = len(smtp.wait_for(email_address, 10))
    with via_proxy(stack, "192.0.2.46") as owner:
        owner.cookies.set("portal_device", tokens["device_token"])
        assert owner.post("/password-reset", json={"email": email_address}).status_code == 202
        newest = smtp.wait_for(email_address, received + 1)[-1]
        typed = owner.post(
            "/password-reset/confirm",
            json={"email": email_address, "code": code_from(newest), "new_password": NEW_PASSWORD},
        )
        assert typed.status_code == 400  # short codes are off for this account for now
        page = owner.get(api_page(newest, RESET_PAGE))
        assert page.status_code == 200
        form = form_of(page)
        assert "new_password" in form["fields"]
        done = owner.post(form["action"], data={**form["fields"], "new_password": NEW_PASSWORD})
        assert done.status_code == 200, done.text
        assert sign_in(owner, email_address, NEW_PASSWORD).status_code == 200


def test_an_attacker_cannot_keep_a_new_citizen_from_activating(
    stack: Stack, client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    with via_proxy(stack, USUAL) as citizen:
        body = {
            "email": email_address,
            "password": PASSWORD,
            "full_name": "Võ Thị Em",
            "captcha_id": captcha(citizen),
            "captcha_answer": "test",
        }
        assert citizen.post("/register", json=body).status_code == 202
    for n in range(15):
        with attacker(stack, 150 + n) as other:
            assert other.post("/activate/resend", json={"email": email_address}).status_code == 202
            wrong = other.post("/activate", json={"email": email_address, "code": f"{n:06d}"})
            assert wrong.status_code == 400
    mails = smtp.wait_for(email_address, 10)
    # the newest link the citizen holds (caused by the attacker, or not) activates
    link = link_from(mails[-1], ACTIVATION_PAGE)
    code = parse_qs(urlsplit(link).query)["code"][0]
    activated = client.post("/activate", json={"email": email_address, "code": code})
    assert activated.status_code == 200, activated.text
    assert sign_in(client, email_address).status_code == 200

"""Accounts end to end: through the gateway, with real workers, relays, PostgreSQL, Redis and
an SMTP server; codes are read from the e-mails the server received."""

from __future__ import annotations

import base64
import html
import statistics
import time

import httpx

from services.kernel.captcha import seal_challenge
from tests.accounts_flow import (
    PASSWORD,
    activation_code,
    bearer,
    captcha,
    register,
    registered_citizen,
    sign_in,
)
from tests.support import (
    ACTIVATION_PAGE,
    SmtpSink,
    Stack,
    api_page,
    code_from,
    form_of,
    link_from,
    via_proxy,
)

PROBLEM = "application/problem+json"


def test_register_activate_sign_in_and_edit_profile(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    response = register(client, email_address, phone="0912 345 678", gender="female")
    assert response.status_code == 202
    assert "kích hoạt" in response.json()["detail"]

    [mail] = smtp.wait_for(email_address)
    assert mail.subject.startswith("Mã kích hoạt tài khoản")
    # the address is not proven yet: nothing the registrant wrote is in the e-mail
    assert "Nguyễn Thị Hà" not in mail.text and "Nguyễn Thị Hà" not in mail.html
    assert "Kính gửi Ông/Bà" in mail.text
    assert mail.html.lstrip().startswith("<!doctype html>")
    assert b'charset="utf-8"' in mail.raw
    code = code_from(mail)
    link = link_from(mail, ACTIVATION_PAGE)
    assert code in mail.subject and code not in link and html.escape(link) in mail.html

    assert sign_in(client, email_address).status_code == 400  # not activated yet
    activated = client.post("/activate", json={"email": email_address, "code": code})
    assert activated.status_code == 200

    tokens = sign_in(client, email_address).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0
    me = client.get("/me", headers=bearer(tokens))
    assert me.status_code == 200
    profile = me.json()
    assert profile["email"] == email_address
    assert profile["role"] == "citizen" and profile["agency_id"] is None
    assert profile["phone"] == "0912345678" and profile["gender"] == "female"

    patch = {
        "full_name": "Trần Thị Hà",
        "date_of_birth": "1990-02-03",
        "address": "Phường Thành Sen, tỉnh Hà Tĩnh",
        "id_number": "042190000123",
    }
    updated = client.patch("/me", json=patch, headers=bearer(tokens))
    assert updated.status_code == 200, updated.text
    again = client.get("/me", headers=bearer(tokens)).json()
    for key, value in patch.items():
        assert again[key] == value


def test_activation_link_opens_a_page_that_activates_once(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    register(client, email_address)
    [mail] = smtp.wait_for(email_address)
    page = client.get(api_page(mail, ACTIVATION_PAGE))
    assert page.status_code == 200 and "Kích hoạt tài khoản" in page.text
    assert sign_in(client, email_address).status_code == 400  # opening it changed nothing
    form = form_of(page)
    done = client.post(form["action"], data=form["fields"])
    assert done.status_code == 200 and "đã được kích hoạt" in done.text
    assert client.post(form["action"], data=form["fields"]).status_code == 400
    assert sign_in(client, email_address).status_code == 200
    english = client.get(api_page(mail, ACTIVATION_PAGE), headers={"Accept-Language": "en"})
    assert english.status_code == 400 and "already used" in english.text


def test_wrong_codes_burn_the_code_after_five_tries(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    register(client, email_address)
    code = activation_code(smtp, email_address)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = client.post("/activate", json={"email": email_address, "code": wrong})
        assert response.status_code == 400
        assert response.headers["content-type"] == PROBLEM
    burned = client.post("/activate", json={"email": email_address, "code": code})
    assert burned.status_code == 400

    assert client.post("/activate/resend", json={"email": email_address}).status_code == 202
    fresh = activation_code(smtp, email_address, count=2)
    assert client.post("/activate", json={"email": email_address, "code": fresh}).status_code == 200


def test_expired_and_reused_codes_are_refused(
    client: httpx.Client, smtp: SmtpSink, stack: Stack, email_address: str
) -> None:
    register(client, email_address)
    code = activation_code(smtp, email_address)
    stack.query(
        "accounts",
        "UPDATE verification_codes SET expires_at = now() - interval '1 second' "
        "WHERE user_id = (SELECT id FROM users WHERE email = $1)",
        email_address,
    )
    assert client.post("/activate", json={"email": email_address, "code": code}).status_code == 400

    client.post("/activate/resend", json={"email": email_address})
    fresh = activation_code(smtp, email_address, count=2)
    assert client.post("/activate", json={"email": email_address, "code": fresh}).status_code == 200
    reused = client.post("/activate", json={"email": email_address, "code": fresh})
    assert reused.status_code == 400


def test_duplicate_registration_is_indistinguishable(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    first = register(client, email_address)
    code = activation_code(smtp, email_address)
    # Still pending: registering again keeps both registrations and sends a fresh code; only
    # the newest short code works, and the password says which registration to activate.
    pending = register(client, email_address, password="Another-pass-2025")
    assert (first.status_code, first.json()) == (pending.status_code, pending.json())
    fresh = activation_code(smtp, email_address, count=2)
    assert client.post("/activate", json={"email": email_address, "code": code}).status_code == 400
    activated = client.post(
        "/activate", json={"email": email_address, "code": fresh, "password": PASSWORD}
    )
    assert activated.status_code == 200

    # Active: the owner gets a notice instead, and nothing changes.
    second = register(client, email_address, password="Another-pass-2025")
    assert (first.status_code, first.json()) == (second.status_code, second.json())
    notices = smtp.wait_for(email_address, 3)
    assert "đã có tài khoản" in notices[2].subject
    assert sign_in(client, email_address).status_code == 200
    assert sign_in(client, email_address, "Another-pass-2025").status_code == 401

    def timed(address: str) -> float:
        start = time.perf_counter()
        assert register(client, address).status_code == 202
        return time.perf_counter() - start

    new = [timed(f"moi.{i}.{email_address}") for i in range(5)]
    existing = [timed(email_address) for _ in range(5)]
    ratio = statistics.median(existing) / statistics.median(new)
    assert 0.5 < ratio < 2.0, (new, existing)


def test_bad_captcha_is_refused_and_each_captcha_is_single_use(
    client: httpx.Client, email_address: str
) -> None:
    body = {
        "email": email_address,
        "password": PASSWORD,
        "full_name": "Lê Văn Bình",
        "captcha_id": captcha(client),
        "captcha_answer": "wrong",
    }
    response = client.post("/register", json=body)
    assert response.status_code == 400
    problem = response.json()
    assert response.headers["content-type"] == PROBLEM
    assert problem["errors"][0]["field"] == "captcha_answer"
    assert "Mã xác nhận" in problem["detail"]

    # The same challenge cannot be tried again, even with the right answer.
    retry = client.post("/register", json={**body, "captcha_answer": "test"})
    assert retry.status_code == 400
    unknown = client.post(
        "/register",
        json={**body, "captcha_id": "nope", "captcha_answer": "test"},
        headers={"Accept-Language": "en"},
    )
    assert unknown.status_code == 400
    assert unknown.json()["title"] == "Bad request" and "captcha" in unknown.json()["detail"]


def test_sealed_captcha_ids_refused_when_foreign_tampered_expired_or_spent(
    client: httpx.Client, stack: Stack, smtp: SmtpSink, email_address: str
) -> None:
    """The captcha id is the answer sealed with the shared secret (services/kernel/captcha.py):
    the tests seal their own with the secret `portal run` made, or with another."""
    secret = (stack.keys_dir() / "captcha-secret").read_text().strip()
    ttl = client.get("/captcha").json()["expires_in"]

    def attempt(captcha_id: str, answer: str, email: str = email_address) -> httpx.Response:
        body = {
            "email": email,
            "password": PASSWORD,
            "full_name": "Trần Thị Cúc",
            "captcha_id": captcha_id,
            "captcha_answer": answer,
        }
        return client.post("/register", json=body)

    def refused(response: httpx.Response) -> bool:
        return response.status_code == 400 and response.json()["errors"][0]["code"] == (
            "captcha_invalid"
        )

    assert refused(attempt(seal_challenge("another-secret", "K7MPX", ttl), "K7MPX"))
    genuine = captcha(client)
    assert 64 < len(genuine) <= 300
    raw = bytearray(base64.urlsafe_b64decode(genuine))
    raw[40] ^= 1
    assert refused(attempt(base64.urlsafe_b64encode(raw).decode(), "test"))
    assert refused(attempt(genuine[:-10], "test"))
    expired = seal_challenge(secret, "K7MPX", ttl, now=time.time() - ttl - 5)
    assert refused(attempt(expired, "K7MPX"))
    assert attempt("x" * 301, "test").status_code == 422  # longer than any sealed id

    # the real answer, not only `test`, is what a sealed id holds
    sealed = seal_challenge(secret, "K7MPX", ttl)
    assert attempt(sealed, " k7mpx ").status_code == 202
    smtp.wait_for(email_address)
    # spent: refused even with the right answer
    assert refused(attempt(sealed, "K7MPX", f"khac.{email_address}"))
    guessed = seal_challenge(secret, "K7MPX", ttl)
    assert refused(attempt(guessed, "WRONG", f"khac.{email_address}"))
    assert refused(attempt(guessed, "K7MPX", f"khac.{email_address}"))
    spent = stack.query("accounts", "SELECT count(*) AS n FROM spent_captchas")[0]["n"]
    assert spent >= 2


def test_weak_or_malformed_registration_is_refused_field_by_field(client: httpx.Client) -> None:
    cases = {
        "password123": "password_too_common",
        "short1!": "password_too_short",
        "x" * 129: "password_too_long",
    }
    for password, code in cases.items():
        response = register(client, "yeu@example.vn", password=password)
        assert response.status_code == 422
        errors = response.json()["errors"]
        assert (errors[0]["field"], errors[0]["code"]) == ("password", code), errors
    response = client.post("/register", json={"email": "not-an-email"})
    assert response.status_code == 422
    fields = {e["field"]: e["code"] for e in response.json()["errors"]}
    assert fields["email"] == "email_invalid"
    assert fields["password"] == "missing" and fields["captcha_id"] == "missing"
    english = client.post("/register", json={}, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.json()["title"] == "Validation failed"
    assert english.json()["errors"][0]["message"] == "This field is required."


def test_sign_in_failures_are_slowed_then_allowed_again(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    registered_citizen(client, smtp, email_address)
    for _ in range(5):
        assert sign_in(client, email_address, "sai-mat-khau-123").status_code == 401
    locked = sign_in(client, email_address)
    assert locked.status_code == 429
    wait = int(locked.headers["Retry-After"])
    assert 1 <= wait <= 5
    time.sleep(wait + 0.5)
    assert sign_in(client, email_address).status_code == 200


def test_unknown_account_and_wrong_password_look_the_same(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    registered_citizen(client, smtp, email_address)
    wrong = sign_in(client, email_address, "khong-dung-mat-khau")
    unknown = sign_in(client, f"khong.co.{email_address}", "khong-dung-mat-khau")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_refresh_tokens_rotate_and_logout_revokes(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    tokens = registered_citizen(client, smtp, email_address)
    rotated = client.post("/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert client.get("/me", headers=bearer(new)).status_code == 200

    # The old token again: refused, and the whole session it belonged to ends.
    replay = client.post("/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401
    assert (
        client.post("/token/refresh", json={"refresh_token": new["refresh_token"]}).status_code
        == 401
    )

    session = sign_in(client, email_address).json()
    out = client.post(
        "/logout", json={"refresh_token": session["refresh_token"]}, headers=bearer(session)
    )
    assert out.status_code == 204
    after = client.post("/token/refresh", json={"refresh_token": session["refresh_token"]})
    assert after.status_code == 401
    assert client.post("/logout", json={"refresh_token": "x"}).status_code == 401


def test_password_change_needs_the_current_one_and_ends_other_sessions(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    here = registered_citizen(client, smtp, email_address)
    elsewhere = sign_in(client, email_address).json()
    wrong = client.post(
        "/me/password",
        json={"current_password": "khong-phai", "new_password": "Mat-khau-moi-2025"},
        headers=bearer(here),
    )
    assert wrong.status_code == 400
    changed = client.post(
        "/me/password",
        json={"current_password": PASSWORD, "new_password": "Mat-khau-moi-2025"},
        headers=bearer(here),
    )
    assert changed.status_code == 204
    assert sign_in(client, email_address).status_code == 401
    assert sign_in(client, email_address, "Mat-khau-moi-2025").status_code == 200
    gone = client.post("/token/refresh", json={"refresh_token": elsewhere["refresh_token"]})
    assert gone.status_code == 401
    kept = client.post("/token/refresh", json={"refresh_token": here["refresh_token"]})
    assert kept.status_code == 200


def test_password_reset_by_emailed_code(
    client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    registered_citizen(client, smtp, email_address)
    known = client.post("/password-reset", json={"email": email_address})
    unknown = client.post("/password-reset", json={"email": f"khong.co.{email_address}"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()

    mail = smtp.wait_for(email_address, 2)[1]
    assert mail.subject.startswith("Mã đặt lại mật khẩu")
    code = code_from(mail)
    new_password = "Dat-lai-mat-khau-2025"
    bad = client.post(
        "/password-reset/confirm",
        json={
            "email": email_address,
            "code": "000000" if code != "000000" else "111111",
            "new_password": new_password,
        },
    )
    assert bad.status_code == 400
    weak = client.post(
        "/password-reset/confirm",
        json={"email": email_address, "code": code, "new_password": "12345678"},
    )
    assert weak.status_code == 422
    ok = client.post(
        "/password-reset/confirm",
        json={"email": email_address, "code": code, "new_password": new_password},
    )
    assert ok.status_code == 204
    assert sign_in(client, email_address, new_password).status_code == 200
    assert sign_in(client, email_address).status_code == 401
    again = client.post(
        "/password-reset/confirm",
        json={"email": email_address, "code": code, "new_password": "Lan-nua-2025-xyz"},
    )
    assert again.status_code == 400


def test_admin_invites_an_officer_who_sets_a_password(
    client: httpx.Client, smtp: SmtpSink, stack: Stack, email_address: str
) -> None:
    admin = sign_in(client, stack.admin_email, stack.admin_password)
    assert admin.status_code == 200, admin.text
    officer_email = f"can.bo.{email_address}"
    invite = {"email": officer_email, "full_name": "Phạm Văn Cán", "agency_id": "so-tu-phap"}

    assert client.post("/officers", json=invite).status_code == 401
    citizen = registered_citizen(client, smtp, email_address)
    assert client.post("/officers", json=invite, headers=bearer(citizen)).status_code == 403
    missing_agency = {**invite, "agency_id": None}
    refused = client.post("/officers", json=missing_agency, headers=bearer(admin.json()))
    assert refused.status_code == 422

    created = client.post("/officers", json=invite, headers=bearer(admin.json()))
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "officer" and created.json()["agency_id"] == "so-tu-phap"
    duplicate = client.post("/officers", json=invite, headers=bearer(admin.json()))
    assert duplicate.status_code == 409

    [mail] = smtp.wait_for(officer_email)
    assert "cán bộ" in mail.subject
    assert sign_in(client, officer_email, "Can-bo-mat-khau-2025").status_code == 401
    confirm = client.post(
        "/password-reset/confirm",
        json={
            "email": officer_email,
            "code": code_from(mail),
            "new_password": "Can-bo-mat-khau-2025",
        },
    )
    assert confirm.status_code == 204
    officer = sign_in(client, officer_email, "Can-bo-mat-khau-2025").json()
    me = client.get("/me", headers=bearer(officer)).json()
    assert (me["role"], me["agency_id"]) == ("officer", "so-tu-phap")


def test_errors_are_problem_json_in_vietnamese_or_english(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url) as http:
        missing = http.get("/api/v1/accounts/khong-co")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == PROBLEM
        assert missing.json()["title"] == "Không tìm thấy"
        english = http.get("/api/v1/accounts/nope", headers={"Accept-Language": "en"})
        assert english.json()["title"] == "Not found"
        wrong_method = http.delete("/api/v1/accounts/register")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["status"] == 405
        no_token = http.get("/api/v1/accounts/me")
        assert no_token.status_code == 401
        assert no_token.headers["www-authenticate"] == "Bearer"
        assert "x-request-id" in no_token.headers


def test_gateway_serves_health_docs_and_keys(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url) as http:
        health = http.get("/healthz")
        assert health.status_code == 200
        assert set(health.json()["checks"].values()) == {"ok"}
        assert "swagger" in http.get("/docs").text.lower()
        spec = http.get("/api/v1/accounts/openapi.json").json()
        assert "/register" in spec["paths"] and "/token" in spec["paths"]
        jwks = http.get("/api/v1/accounts/.well-known/jwks.json").json()
        [key] = jwks["keys"]
        assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
        for service in ("catalogue", "dossiers"):
            assert http.get(f"/api/v1/{service}/readyz").status_code == 200


def test_codes_and_notices_to_one_address_are_capped_per_hour(
    client: httpx.Client, smtp: SmtpSink, stack: Stack, email_address: str
) -> None:
    """Mail bombing through register/resend/reset: at most 3 e-mails an hour caused from one
    address and 10 from everywhere; the answers stay the same, nothing more is sent, and what
    was sent stays valid (the newest short code, every link)."""
    register(client, email_address)
    answers = [client.post("/activate/resend", json={"email": email_address}) for _ in range(4)]
    for n in range(10):
        with via_proxy(stack, f"203.0.113.{n + 1}") as elsewhere:
            answers.append(elsewhere.post("/activate/resend", json={"email": email_address}))
    assert {(r.status_code, r.json()["detail"]) for r in answers} == {
        (answers[0].status_code, answers[0].json()["detail"])
    }
    reset = client.post("/password-reset", json={"email": email_address})
    assert reset.status_code == 202

    mails = smtp.wait_for(email_address, count=10)
    queued = stack.query(
        "accounts", "SELECT count(*) AS n FROM outbox WHERE payload->>'to' = $1", email_address
    )
    assert queued[0]["n"] == 10  # 3 caused from here, 7 more from elsewhere
    time.sleep(1)
    assert len(smtp.to(email_address)) == 10
    assert all(m.subject.startswith("Mã kích hoạt") for m in mails)
    assert client.get(api_page(mails[0], ACTIVATION_PAGE)).status_code == 200  # still valid
    codes = [code_from(m) for m in reversed(mails)]  # e-mails to one address keep their order
    activated = [
        client.post("/activate", json={"email": email_address, "code": c}).status_code
        for c in codes
    ]
    assert activated == [200] + [400] * 9


def test_the_captcha_has_a_spoken_alternative(client: httpx.Client, email_address: str) -> None:
    plain = client.get("/captcha").json()
    assert plain["audio"] is None
    spoken = client.get("/captcha", params={"audio": "true"}).json()
    assert spoken["audio"].startswith("data:audio/wav;base64,")
    assert spoken["image"].startswith("data:image/png;base64,")
    body = {
        "email": email_address,
        "password": "Mat-khau-Thu-2025",
        "full_name": "Người Nghe",
        "captcha_id": spoken["captcha_id"],
        "captcha_answer": "test",
    }
    assert client.post("/register", json=body).status_code == 202

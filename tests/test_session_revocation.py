"""Access tokens end with their session (issue 11, item 8): after a logout, a refresh token's
reuse, a password change (the other sessions) or a password reset (all sessions), every service
refuses the access tokens of the revoked sessions within 60 s — each service verifies tokens
itself and learns revocations from a store shared through Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.accounts_flow import bearer
from tests.dossiers_flow import admin_tokens
from tests.support import SmtpSink, Stack, code_from, wait_until

PASSWORD = "Quan-tri-thu-hai-2025"
REVOKED_WITHIN = 60.0


@pytest.fixture
def portal(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1", timeout=30) as client:
        yield client


@pytest.fixture
def admin_email(portal: httpx.Client, stack: Stack, smtp: SmtpSink) -> str:
    """A second admin of its own (the test changes its password), invited by the first."""
    email = f"quan.tri.{uuid.uuid4().hex[:8]}@hatinh.gov.vn"
    invite = {"email": email, "full_name": "Đặng Văn Quản", "role": "admin"}
    created = portal.post("/accounts/officers", json=invite, headers=bearer(admin_tokens(stack)))
    assert created.status_code == 201, created.text
    [mail] = smtp.wait_for(email)
    confirm = {"email": email, "code": code_from(mail), "new_password": PASSWORD}
    assert portal.post("/accounts/password-reset/confirm", json=confirm).status_code == 204
    return email


def sign_in(portal: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = portal.post("/accounts/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return dict(response.json())


def answers(portal: httpx.Client, tokens: dict[str, Any]) -> tuple[int, int, int]:
    """What each service answers this access token: accounts' profile, a catalogue admin
    route (deleting an agency that does not exist) and the dossiers' own list."""
    headers = bearer(tokens)
    return (
        portal.get("/accounts/me", headers=headers).status_code,
        portal.delete("/catalogue/agencies/khong-ton-tai", headers=headers).status_code,
        portal.get("/dossiers/", headers=headers).status_code,
    )


ACCEPTED = (200, 404, 403)  # an admin: its profile; no such agency; not a citizen's list
REFUSED = (401, 401, 401)


def refused_everywhere_soon(portal: httpx.Client, tokens: dict[str, Any]) -> float:
    started = time.monotonic()
    wait_until(
        lambda: answers(portal, tokens) == REFUSED,
        REVOKED_WITHIN,
        interval=0.5,
        what="every service to refuse the revoked session's access token",
    )
    return time.monotonic() - started


def test_logout_ends_the_access_token_everywhere(portal: httpx.Client, admin_email: str) -> None:
    session = sign_in(portal, admin_email)
    assert answers(portal, session) == ACCEPTED
    out = portal.post(
        "/accounts/logout",
        json={"refresh_token": session["refresh_token"]},
        headers=bearer(session),
    )
    assert out.status_code == 204
    print(f"\nrefused {refused_everywhere_soon(portal, session):.1f} s after logout")


def test_a_reused_refresh_token_ends_the_session_everywhere(
    portal: httpx.Client, admin_email: str
) -> None:
    first = sign_in(portal, admin_email)
    rotated = portal.post("/accounts/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert answers(portal, second) == ACCEPTED
    stolen = portal.post("/accounts/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401
    print(f"\nrefused {refused_everywhere_soon(portal, second):.1f} s after the reuse")
    assert answers(portal, first) == REFUSED


def test_a_password_change_ends_the_other_sessions_everywhere(
    portal: httpx.Client, admin_email: str
) -> None:
    here, elsewhere = sign_in(portal, admin_email), sign_in(portal, admin_email)
    changed = portal.post(
        "/accounts/me/password",
        json={"current_password": PASSWORD, "new_password": "Mat-khau-moi-cua-quan-tri"},
        headers=bearer(here),
    )
    assert changed.status_code == 204
    print(f"\nrefused {refused_everywhere_soon(portal, elsewhere):.1f} s after the change")
    assert answers(portal, here) == ACCEPTED  # the session that changed it stays


def test_a_password_reset_ends_every_session_everywhere(
    portal: httpx.Client, admin_email: str, smtp: SmtpSink
) -> None:
    session = sign_in(portal, admin_email)
    assert answers(portal, session) == ACCEPTED
    assert portal.post("/accounts/password-reset", json={"email": admin_email}).status_code == 202
    mail = smtp.wait_for(admin_email, 2)[-1]
    confirm = {"email": admin_email, "code": code_from(mail), "new_password": "Dat-lai-2025-qt"}
    assert portal.post("/accounts/password-reset/confirm", json=confirm).status_code == 204
    print(f"\nrefused {refused_everywhere_soon(portal, session):.1f} s after the reset")
    fresh = sign_in(portal, admin_email, "Dat-lai-2025-qt")
    assert answers(portal, fresh) == ACCEPTED

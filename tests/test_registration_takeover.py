"""Pre-registration takeover (issue 11, item 5): someone registers a victim's address with their
own password before (or after) the victim does. Whatever e-mail the victim activates from, the
victim's password must work afterwards and nobody else's. And a plain GET on the e-mailed link
(a mail scanner following links) must not activate: it opens a page that asks for one click."""

from __future__ import annotations

import httpx

from tests.accounts_flow import PASSWORD, bearer, captcha, sign_in
from tests.support import (
    ACTIVATION_PAGE,
    SmtpSink,
    Stack,
    api_page,
    code_from,
    form_of,
    via_proxy,
)

ATTACKER_PASSWORD = "Ke-gian-chiem-2025"


def register_from(
    stack: Stack, address: str, email: str, password: str, full_name: str
) -> httpx.Response:
    with via_proxy(stack, address) as client:
        body = {
            "email": email,
            "password": password,
            "full_name": full_name,
            "captcha_id": captcha(client),
            "captcha_answer": "test",
        }
        return client.post("/register", json=body)


def test_attacker_first_victim_activates_with_the_newest_code(
    stack: Stack, client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    attacker = register_from(stack, "203.0.113.66", email_address, ATTACKER_PASSWORD, "Kẻ Gian")
    assert attacker.status_code == 202
    victim = register_from(stack, "198.51.100.7", email_address, PASSWORD, "Nguyễn Thị Hà")
    assert victim.status_code == 202
    [_, newest] = smtp.wait_for(email_address, 2)

    # Two registrations claim the address: the code alone does not say whose to apply.
    alone = client.post("/activate", json={"email": email_address, "code": code_from(newest)})
    assert alone.status_code == 422, alone.text
    assert [e["field"] for e in alone.json()["errors"]] == ["password"]
    for password in (ATTACKER_PASSWORD, PASSWORD):  # both registered: nobody is active yet
        assert sign_in(client, email_address, password).status_code == 400

    activated = client.post(
        "/activate",
        json={"email": email_address, "code": code_from(newest), "password": PASSWORD},
    )
    assert activated.status_code == 200, activated.text
    assert sign_in(client, email_address, ATTACKER_PASSWORD).status_code == 401
    tokens = sign_in(client, email_address, PASSWORD)
    assert tokens.status_code == 200
    me = client.get("/me", headers=bearer(tokens.json())).json()
    assert me["full_name"] == "Nguyễn Thị Hà"  # the profile of the registration applied


def test_victim_first_then_attacker_victim_clicks_the_attackers_email(
    stack: Stack, client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    """The victim registers; the attacker registers the same address afterwards; the victim
    opens the link of whichever e-mail came last (the one the attacker's registration caused)."""
    assert register_from(stack, "198.51.100.7", email_address, PASSWORD, "Lê Văn Bình").is_success
    assert register_from(
        stack, "203.0.113.66", email_address, ATTACKER_PASSWORD, "Kẻ Gian"
    ).is_success
    [_, attackers_mail] = smtp.wait_for(email_address, 2)

    page = client.get(api_page(attackers_mail, ACTIVATION_PAGE))
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    form = form_of(page)
    assert form["method"] == "post" and "password" in form["fields"]
    assert sign_in(client, email_address, PASSWORD).status_code == 400  # the GET changed nothing

    wrong = client.post(form["action"], data={**form["fields"], "password": ATTACKER_PASSWORD[:-1]})
    assert wrong.status_code == 422 and "password" in form_of(wrong)["fields"]
    done = client.post(form["action"], data={**form["fields"], "password": PASSWORD})
    assert done.status_code == 200, done.text
    assert "đã được kích hoạt" in done.text
    assert sign_in(client, email_address, PASSWORD).status_code == 200
    assert sign_in(client, email_address, ATTACKER_PASSWORD).status_code == 401
    # the other registration is gone: its password cannot activate anything later either
    again = client.post(form["action"], data={**form["fields"], "password": ATTACKER_PASSWORD})
    assert again.status_code == 400


def test_the_attackers_password_never_activates_with_the_victims_code(
    stack: Stack, client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    for address, password, name in (
        ("203.0.113.66", ATTACKER_PASSWORD, "Kẻ Gian"),
        ("198.51.100.7", PASSWORD, "Phạm Thị Cúc"),
    ):
        assert register_from(stack, address, email_address, password, name).status_code == 202
    [first, second] = smtp.wait_for(email_address, 2)
    # Someone who knows the attacker's password (the attacker) would need a code or link too:
    # only the mailbox has them. The victim, holding both e-mails, activates their own.
    link = api_page(first, ACTIVATION_PAGE)
    form = form_of(client.get(link))
    done = client.post(form["action"], data={**form["fields"], "password": PASSWORD})
    assert done.status_code == 200
    assert sign_in(client, email_address, PASSWORD).status_code == 200
    assert sign_in(client, email_address, ATTACKER_PASSWORD).status_code == 401
    # every code and link of the address is spent now
    late = client.post("/activate", json={"email": email_address, "code": code_from(second)})
    assert late.status_code == 400


def test_a_plain_get_on_the_link_does_not_activate(
    stack: Stack, client: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    registered = register_from(stack, "198.51.100.7", email_address, PASSWORD, "Hồ Văn Dũng")
    assert registered.status_code == 202
    [mail] = smtp.wait_for(email_address)
    link = api_page(mail, ACTIVATION_PAGE)
    assert "code=" in link and code_from(mail) not in link  # the link carries a long token
    for _ in range(3):  # a scanner following the link, then a second one
        page = client.get(link)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
    assert sign_in(client, email_address, PASSWORD).status_code == 400
    form = form_of(page)
    assert "password" not in form["fields"]  # one registration: one click, as before
    done = client.post(form["action"], data=form["fields"])
    assert done.status_code == 200 and "đã được kích hoạt" in done.text
    assert sign_in(client, email_address, PASSWORD).status_code == 200
    assert client.post(form["action"], data=form["fields"]).status_code == 400

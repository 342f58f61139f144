"""Pages rendered in process against answers an API could give that the test portal does not
have (the former three-tier layout, a procedure without times), with the API replaced by an
`httpx.MockTransport`: the pages' own logic, fast. The real APIs are in the browser tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from web.app import create_app
from web.pages.accounts import _next
from web.settings import WebSettings

AGENCIES = {
    "department": [{"id": "HT-STP", "name": "Sở Tư pháp", "tier": "department"}],
    "district": [
        {"id": f"H{n}", "name": f"Huyện số {n}", "tier": "district", "parent_id": "HT"}
        for n in range(13)
    ],
    "commune": [
        {"id": f"X{n}", "name": f"Xã số {n}", "tier": "commune", "parent_id": "H0"}
        for n in range(216)
    ],
}


def paged(items: list[dict[str, Any]], request: httpx.Request) -> dict[str, Any]:
    page = int(request.url.params.get("page", 1))
    size = int(request.url.params.get("page_size", 20))
    return {
        "items": items[(page - 1) * size : page * size],
        "total": len(items),
        "page": page,
        "page_size": size,
    }


def catalogue_2023(request: httpx.Request) -> httpx.Response:
    path = request.url.path.removeprefix("/api/v1/catalogue")
    if path == "/agencies":  # as the API: one tier, or every agency without `tier`
        tier = request.url.params.get("tier")
        agencies = AGENCIES[tier] if tier else [a for tier in AGENCIES for a in AGENCIES[tier]]
        return httpx.Response(200, json=paged(agencies, request))
    if path == "/fields":
        field = {"id": "ho-tich", "name": "Hộ tịch", "procedures": 40}
        return httpx.Response(200, json=paged([field], request))
    return httpx.Response(404, json={"type": "x/not-found", "status": 404, "detail": "Không."})


def client(handler: Callable[[httpx.Request], httpx.Response]) -> TestClient:
    settings = WebSettings(api_url="http://api.test/api/v1", redis_url="redis://127.0.0.1:1/0")
    return TestClient(create_app(settings, transport=httpx.MockTransport(handler)))


def test_the_former_layout_shows_districts_and_every_commune() -> None:
    """CATALOGUE_LAYOUT=2023: three tiers, 216 communes (more than one page of the API)."""
    with client(catalogue_2023) as http:
        home = http.get("/")
        assert home.status_code == 200
        assert "Cấp huyện" in home.text and "13 cơ quan" in home.text
        assert "216 cơ quan" in home.text
        communes = http.get("/co-quan", params={"cap": "xa"})
        assert communes.text.count('href="/co-quan/X') == 216


def test_an_api_that_cannot_be_reached_is_the_503_page() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with client(down) as http:
        page = http.get("/thu-tuc", params={"q": "khai sinh"})
        assert page.status_code == 503 and page.headers["retry-after"] == "30"
        assert "Dịch vụ tạm thời gián đoạn" in page.text and "ConnectError" not in page.text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ho-so-ca-nhan", "/ho-so-ca-nhan"),
        ("/thu-tuc?q=a", "/thu-tuc?q=a"),
        ("//ke-gian.example/", "/"),  # another host, written as a path
        ("https://ke-gian.example/", "/"),
        ("/\\ke-gian.example", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_a_path_of_this_site(target: str | None, expected: str) -> None:
    assert _next(target) == expected


@pytest.mark.parametrize(
    ("page", "reaching"),
    [
        ("/thu-tuc/%2E%2E", "/api/v1/catalogue/procedures/%2E%2E"),
        ("/thu-tuc/a%3Fb%23c", "/api/v1/catalogue/procedures/a%3Fb%23c"),
        ("/co-quan/%2E", "/api/v1/catalogue/agencies/%2E"),
        ("/thu-tuc/1.001193/mau/%2E%2E", "/api/v1/catalogue/procedures/1.001193/forms/%2E%2E"),
    ],
)
def test_an_id_in_a_page_address_reaches_only_its_own_api_route(page: str, reaching: str) -> None:
    """`..`, `/` or `?` in an id would otherwise take the page's API call elsewhere (httpx
    resolves dot segments): the listing of every procedure, another agency."""
    asked: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode().split("?")[0])
        return httpx.Response(404, json={"type": "x/not-found", "status": 404, "detail": "Không."})

    with client(api) as http:
        assert http.get(page).status_code == 404
    assert asked and asked[0] == reaching, asked


def test_the_browser_keeps_its_device_token_and_gives_it_back(redis_url: str) -> None:
    """OWASP's device cookie: the accounts API's `device_token` of a sign-in through the pages
    is kept in an HttpOnly, SameSite=Strict cookie and sent back at the next sign-in, so an
    attacker locking the account from elsewhere does not lock out this browser's owner."""
    import re
    from urllib.parse import parse_qs

    sent: list[dict[str, list[str]]] = []

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/accounts/token"):
            sent.append(parse_qs(request.content.decode()))
            tokens = {"access_token": "a", "refresh_token": "r", "expires_in": 900}
            return httpx.Response(200, json={**tokens, "device_token": "thiet-bi-cua-toi"})
        if request.url.path.endswith("/accounts/me"):
            me = {"id": "u", "email": "an@example.vn", "full_name": "An", "role": "citizen"}
            return httpx.Response(200, json=me)
        if request.url.path.endswith("/accounts/logout"):
            return httpx.Response(204)
        return httpx.Response(404, json={"type": "x/not-found", "status": 404, "detail": "Không."})

    settings = WebSettings(api_url="http://api.test/api/v1", redis_url=redis_url)
    with TestClient(create_app(settings, transport=httpx.MockTransport(api))) as browser:
        for _ in range(2):
            form = browser.get("/dang-nhap").text
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
            answer = browser.post(
                "/dang-nhap",
                data={**hidden, "email": "an@example.vn", "password": "Mat-khau-2025"},
                follow_redirects=False,
            )
            assert answer.status_code == 303
            cookie = answer.headers["set-cookie"]
            assert "thiet-bi=thiet-bi-cua-toi" in cookie and "HttpOnly" in cookie
            assert "samesite=strict" in cookie.lower()
    assert "device_token" not in sent[0]
    assert sent[1]["device_token"] == ["thiet-bi-cua-toi"]

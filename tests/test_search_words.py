"""Search in citizens' own words (issue 13), end to end on PostgreSQL through the gateway: the
everyday development set, the lexicon admins grow without a restart, and the search log that
shows them what citizens typed and did not find — with no personal data."""

# ruff: noqa: F811 — the catalogue tests' fixtures are imported by name, as pytest finds them

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.search_everyday import EVERYDAY
from tests.support import Stack, wait_until
from tests.test_catalogue import SOURCE, admin, catalogue, top_codes  # noqa: F401

PROBLEM = "application/problem+json"
BIRTH = "1.001193"
SEARCH_QUALITY: dict[str, Any] = {}
LETTERS = str.maketrans("0123456789", "ghijklmnop")

pytestmark = pytest.mark.skipif(not SOURCE.exists(), reason=f"no national catalogue at {SOURCE}")


@pytest.fixture(scope="module")
def lexicon(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/catalogue", timeout=30) as c:
        yield c


def test_everyday_queries_find_their_procedure(catalogue: httpx.Client) -> None:
    first = top5 = 0
    misses = []
    for query, codes in EVERYDAY:
        found = top_codes(catalogue, query)
        first += bool(found) and found[0] in codes
        hit = any(code in codes for code in found)
        top5 += hit
        if not hit:
            misses.append((query, sorted(codes), found))
    SEARCH_QUALITY.update(queries=len(EVERYDAY), first=first / len(EVERYDAY))
    assert len(EVERYDAY) >= 60
    assert top5 / len(EVERYDAY) >= 0.9, misses


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("làm sổ đỏ", {"1.013978", "1.012753"}),
        ("xin giấy độc thân", {"1.004873"}),
        ("nhap ho khau", {"1.004222"}),
        ("xin giay chung tu", {"1.000656"}),
        ("cưới vợ cần làm giấy tờ gì", {"1.000894"}),
        ("cap lai gplx", {"3.000348"}),
        ("mat the bhyt", {"1.001294"}),
    ],
)
def test_the_issues_examples_come_first(
    catalogue: httpx.Client, query: str, expected: set[str]
) -> None:
    assert top_codes(catalogue, query, 1)[0] in expected


def test_a_phrase_typed_with_other_accents_is_not_read_as_the_lexicons(
    catalogue: httpx.Client,
) -> None:
    """ "sơ đồ" (a diagram) is not "sổ đỏ" (the land certificate); without accents either may be
    meant, and the lexicon's reading is taken."""
    land = {"1.013978", "1.012753"}
    assert not land & set(top_codes(catalogue, "sơ đồ", 5))
    assert land & set(top_codes(catalogue, "so do", 5))


def test_words_without_meaning_alone_are_still_searched(catalogue: httpx.Client) -> None:
    response = catalogue.get("/procedures", params={"q": "thủ tục", "page_size": 5})
    assert response.status_code == 200
    assert response.json()["total"] > 0


def test_an_admins_entry_applies_on_the_next_search_and_goes_with_its_removal(
    catalogue: httpx.Client, admin: dict[str, str]
) -> None:
    word = "zz" + uuid.uuid4().hex[:6]
    assert BIRTH not in top_codes(catalogue, f"{word} con", 1)
    created = catalogue.post(
        "/lexicon",
        json={
            "says": [f"{word} con"],
            "means": ["đăng ký khai sinh"],
            "note": "test entry",
            "source": "a test",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["origin"] == "admin" and entry["id"]
    assert top_codes(catalogue, f"{word} con", 1) == [BIRTH]
    listed = catalogue.get("/lexicon", headers=admin).json()
    assert any(item["id"] == entry["id"] for item in listed["items"])
    assert any(item["origin"] == "file" for item in listed["items"])
    removed = catalogue.delete(f"/lexicon/{entry['id']}", headers=admin)
    assert removed.status_code == 204
    assert BIRTH not in top_codes(catalogue, f"{word} con", 1)
    again = catalogue.delete(f"/lexicon/{entry['id']}", headers=admin)
    assert again.status_code == 404 and again.headers["content-type"] == PROBLEM


def test_an_entry_that_matches_nothing_is_refused_at_its_field_and_not_kept(
    catalogue: httpx.Client, admin: dict[str, str]
) -> None:
    before = catalogue.get("/lexicon", headers=admin).json()["total"]
    refused = catalogue.post(
        "/lexicon",
        json={"says": ["giấy xyz"], "means": ["khai sinh", "qqqq wwww"], "note": ""},
        headers=admin,
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    assert [e["field"] for e in refused.json()["errors"]] == ["means.1"]
    empty = catalogue.post(
        "/lexicon", json={"says": ["!!!"], "means": ["khai sinh"]}, headers=admin
    )
    assert empty.status_code == 422
    assert [e["field"] for e in empty.json()["errors"]] == ["says.0"]
    assert catalogue.get("/lexicon", headers=admin).json()["total"] == before


def test_the_lexicon_is_for_admins(catalogue: httpx.Client, stack: Stack) -> None:
    from tests.accounts_flow import registered_citizen

    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        citizen = registered_citizen(accounts, stack.smtp, f"lex.{uuid.uuid4().hex[:6]}@example.vn")
    headers = {"Authorization": f"Bearer {citizen['access_token']}"}
    for method, path in [("GET", "/lexicon"), ("GET", "/search-report"), ("POST", "/lexicon")]:
        assert catalogue.request(method, path).status_code == 401
        answer = catalogue.request(
            method, path, headers=headers, json={"says": ["a"], "means": ["khai sinh"]}
        )
        assert answer.status_code == 403, (method, path)


def test_the_search_log_shows_what_found_nothing_and_what_nobody_opened(
    catalogue: httpx.Client, admin: dict[str, str]
) -> None:
    tag = uuid.uuid4().hex[:6].translate(LETTERS)  # no digits: a run of five would be masked
    nothing = f"qqz{tag} xyzzy"
    unopened = f"khai sinh {tag}x"  # the unknown word is left out: results, none opened
    for _ in range(2):
        assert catalogue.get("/procedures", params={"q": nothing}).json()["total"] == 0
        assert catalogue.get("/procedures", params={"q": unopened}).json()["total"] > 0
        catalogue.get("/procedures", params={"q": "khai sinh 0912345678", "page_size": 5})
    opened = catalogue.get(f"/procedures/{BIRTH}", params={"q": "khai sinh 0912345678"})
    assert opened.status_code == 200
    # a second page is not a second search
    catalogue.get("/procedures", params={"q": nothing, "page": 2})

    def report() -> dict[str, Any] | None:
        body = catalogue.get(
            "/search-report", params={"days": 1, "limit": 500}, headers=admin
        ).json()
        queries = {item["query"] for item in body["frequent"]}
        return body if {nothing, unopened} <= queries else None

    body = wait_until(report, 15, what="the search log to reach the database")
    assert {"query": nothing, "searches": 2, "found": 0, "opens": 0} in body["no_results"]
    assert any(item["query"] == unopened for item in body["not_opened"])
    phone = [item for item in body["frequent"] if item["query"].startswith("khai sinh #")]
    assert phone and phone[0]["opens"] >= 1  # the number is masked; the opening counted
    assert not any("0912345678" in item["query"] for item in body["frequent"])

"""The catalogue's cached reads across API processes: a second catalogue process (`portal serve
catalogue`, as deployed beside others) answers a procedure and a search from its own cache; an
admin's change made through the gateway is what that process answers on the very next request,
with a new ETag, and the old ETag no longer gets a 304."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.accounts_flow import bearer
from tests.support import Stack, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def second_catalogue(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("second-catalogue") / "catalogue.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "portal", "serve", "catalogue", "--host", "127.0.0.1"]
        + ["--port", str(port)],
        env=stack.env(),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, 120, interval=0.5, what="a second catalogue process")
        yield base
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_a_change_through_another_process_is_read_on_the_next_request(
    stack: Stack, second_catalogue: str
) -> None:
    token = httpx.post(
        f"{stack.base_url}/api/v1/accounts/token",
        data={"username": stack.admin_email, "password": stack.admin_password},
    )
    assert token.status_code == 200, token.text
    admin = bearer(token.json())
    with (
        httpx.Client(base_url=f"{stack.base_url}/api/v1/catalogue", timeout=30) as gateway,
        httpx.Client(base_url=second_catalogue, timeout=30) as other,
    ):
        field = gateway.post(
            "/fields", json={"name": f"Đọc lại {uuid.uuid4().hex[:6]}"}, headers=admin
        )
        assert field.status_code == 201, field.text
        code = f"9.{uuid.uuid4().int % 1_000_000:06d}"
        created = gateway.post(
            "/procedures",
            json={
                "code": code,
                "name": "Cấp giấy xác nhận đọc lại bộ nhớ đệm",
                "field_id": field.json()["id"],
                "tier": ["province"],
                "agency_id": "HT-STP",
                "online": "full",
                "processing_days": 5,
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        before = other.get(f"/procedures/{code}")
        assert before.status_code == 200 and before.json()["processing_days"] == 5
        again = other.get(f"/procedures/{code}", params={"q": "doc lai"})
        assert again.content == before.content and again.headers["etag"] == before.headers["etag"]
        listed = other.get("/procedures", params={"field_id": field.json()["id"]})
        assert [p["processing_days"] for p in listed.json()["items"]] == [5]

        edited = gateway.put(f"/procedures/{code}", json={"processing_days": 3}, headers=admin)
        assert edited.status_code == 200, edited.text

        after = other.get(f"/procedures/{code}")
        assert after.status_code == 200 and after.json()["processing_days"] == 3
        assert after.json()["version"] == before.json()["version"] + 1
        assert after.headers["etag"] != before.headers["etag"]
        relisted = other.get("/procedures", params={"field_id": field.json()["id"]})
        assert [p["processing_days"] for p in relisted.json()["items"]] == [3]
        stale = other.get(f"/procedures/{code}", headers={"If-None-Match": before.headers["etag"]})
        assert stale.status_code == 200 and stale.content == after.content
        fresh = other.get(f"/procedures/{code}", headers={"If-None-Match": after.headers["etag"]})
        assert fresh.status_code == 304 and fresh.content == b""
        # the gateway's own catalogue answers the same bytes
        assert gateway.get(f"/procedures/{code}").content == after.content

"""Steps of filing and processing, as the dossier tests drive them."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx

from tests.accounts_flow import bearer
from tests.support import SmtpSink, Stack, code_from, wait_until

OFFICER_PASSWORD = "Can-bo-Ha-Tinh-2025"


def pdf(text: str = "Ban sao") -> bytes:
    """A small, well-formed PDF."""
    body = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
        + f"% {text}\n".encode()
        + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return body


def png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def admin_tokens(stack: Stack) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.base_url}/api/v1/accounts/token",
        data={"username": stack.admin_email, "password": stack.admin_password},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def officer_of(stack: Stack, smtp: SmtpSink, agency_id: str) -> dict[str, str]:
    """Invite an officer of `agency_id`, set the password from the e-mail, sign in."""
    email = f"can.bo.{uuid.uuid4().hex[:8]}@hatinh.gov.vn"
    accounts = f"{stack.base_url}/api/v1/accounts"
    invited = httpx.post(
        f"{accounts}/officers",
        json={"email": email, "full_name": "Trần Văn Cán", "agency_id": agency_id},
        headers=bearer(admin_tokens(stack)),
    )
    assert invited.status_code == 201, invited.text
    [mail] = smtp.wait_for(email)
    confirm = httpx.post(
        f"{accounts}/password-reset/confirm",
        json={"email": email, "code": code_from(mail), "new_password": OFFICER_PASSWORD},
    )
    assert confirm.status_code == 204, confirm.text
    signed = httpx.post(f"{accounts}/token", data={"username": email, "password": OFFICER_PASSWORD})
    assert signed.status_code == 200, signed.text
    return bearer(signed.json())


def wait_for_catalogue_copy(stack: Stack, codes: list[str], timeout: float = 60) -> None:
    """The dossiers service files against its copy of the catalogue, fed by messages (1,601
    procedures: seconds on a quiet machine, a minute or more on a loaded one)."""

    def ready() -> bool:
        rows = stack.query(
            "dossiers",
            "SELECT count(DISTINCT code) AS n FROM procedure_copies WHERE code = ANY($1::text[])",
            codes,
        )
        agencies = stack.query("dossiers", "SELECT count(*) AS n FROM agency_copies")
        return rows[0]["n"] == len(codes) and agencies[0]["n"] > 0

    wait_until(
        ready, timeout, interval=0.3, what="the catalogue's messages in the dossiers service"
    )


def attach_required(
    client: httpx.Client, dossier: dict[str, Any], headers: dict[str, str]
) -> list[dict[str, Any]]:
    stored = []
    for component in dossier["components"]:
        if component["required"]:
            response = client.post(
                f"/{dossier['id']}/components/{component['id']}/files",
                files={
                    "file": (
                        f"{component['id']}.pdf",
                        pdf(component["name"][:40]),
                        "application/pdf",
                    )
                },
                headers=headers,
            )
            assert response.status_code == 201, response.text
            stored.append(response.json())
    return stored


def mail_about(smtp: SmtpSink, address: str, count: int) -> list[Any]:
    return smtp.wait_for(address, count, timeout=30)

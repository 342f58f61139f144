"""Hostile uploads through the dossiers API (a citizen's attachments) and the catalogue's form
upload (admins): polyglots, wrong magic bytes, oversize files and dossiers, zip bombs dressed as
DOCX, zip path tricks, and file names that try to leave the storage folder. Each is refused with
413 or 415 problem+json, or accepted under a harmless name; a refused upload leaves nothing in
storage (`var/files` of the stack's data folder)."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accounts_flow import bearer, registered_citizen
from tests.dossiers_flow import admin_tokens, pdf, png, wait_for_catalogue_copy
from tests.support import SmtpSink, Stack

PROBLEM = "application/problem+json"
LAWYERS_BRANCH = "1.002181"
MB = 1024 * 1024
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal DOCX (the parts the content check looks for), plus `extra` entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", "<w:document/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_of(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def big_pdf(size: int) -> bytes:
    """A well-formed PDF of exactly `size` bytes (padded with a comment)."""
    head, tail = pdf()[:-6], b"%%EOF\n"
    filler = size - len(head) - len(tail) - 2
    return head + b"%" + b"x" * filler + b"\n" + tail


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"PE\x00\x00" * 16
ZIP_BOMB = docx({"word/media/image1.png": b"\0" * (60 * MB)})  # 60 MB of zeros: ~60 KB packed
HOSTILE: list[tuple[str, str, bytes, int]] = [
    # (case, file name, content, status)
    ("polyglot PDF+ZIP", "ho-so.pdf", pdf() + zip_of("payload.js", b"alert(1)" * 20), 415),
    ("PNG with a zip appended", "anh.png", png() + zip_of("x.html", b"<script>" * 20), 415),
    ("EXE named .pdf", "giay-to.pdf", EXE, 415),
    ("HTML named .pdf", "giay-to.pdf", b"<html><script>alert(1)</script></html>", 415),
    ("zip bomb named .docx", "don.docx", ZIP_BOMB, 415),
    ("zip with ../ entries as DOCX", "don.docx", docx({"../../evil.sh": b"rm -rf /"}), 415),
    ("plain zip named .docx", "don.docx", zip_of("a.txt", b"hello"), 415),
    ("PDF with no end", "cut.pdf", pdf()[:-8], 415),
    ("empty file", "rong.pdf", b"", 415),
    ("10 MB + 1", "lon.pdf", big_pdf(10 * MB + 1), 413),
]
NAMES: list[tuple[str, str]] = [
    # (client's file name, what the stored name must not contain)
    ("../../x.pdf", "/"),
    ("..\\..\\windows\\x.pdf", "\\"),
    ("C:\\x.pdf", ":"),
    ("/etc/passwd.pdf", "/"),
    ("a\x00b.pdf", "\x00"),
    ("tờ\r\nkhai\x1b[31m.pdf", "\n"),
    ("\u202egpj.pdf", "\u202e"),  # right-to-left override: "fdp.jpg" on screen
    ("x" * 400 + ".pdf", "x" * 151),
    ("...", ".."),
]


def stored_files(stack: Stack) -> set[Path]:
    root = stack.workdir / "var" / "files"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == PROBLEM
    body = dict(response.json())
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    return body


@pytest.fixture(scope="module")
def citizen(stack: Stack, smtp: SmtpSink) -> dict[str, str]:
    wait_for_catalogue_copy(stack, [LAWYERS_BRANCH])
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        email = f"tep.{uuid.uuid4().hex[:10]}@example.vn"
        return bearer(registered_citizen(accounts, smtp, email))


@pytest.fixture(scope="module")
def dossiers(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/dossiers", timeout=120) as client:
        yield client


def new_draft(dossiers: httpx.Client, citizen: dict[str, str]) -> tuple[str, str]:
    body = {"procedure_id": LAWYERS_BRANCH, "applicant": {"full_name": "Lê Thị Tệp"}}
    response = dossiers.post("/", json=body, headers=citizen)
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), str(response.json()["components"][0]["id"])


@pytest.mark.parametrize(
    ("case", "filename", "content", "status"), HOSTILE, ids=[c[0] for c in HOSTILE]
)
def test_a_hostile_attachment_is_refused_and_leaves_nothing(
    stack: Stack,
    dossiers: httpx.Client,
    citizen: dict[str, str],
    case: str,
    filename: str,
    content: bytes,
    status: int,
) -> None:
    dossier_id, component = new_draft(dossiers, citizen)
    before = stored_files(stack)
    response = dossiers.post(
        f"/{dossier_id}/components/{component}/files",
        files={"file": (filename, content, "application/pdf")},
        headers={**citizen, "Accept-Language": "en"},
    )
    assert_problem(response, status)
    assert stored_files(stack) == before, case
    view = dossiers.get(f"/{dossier_id}", headers=citizen).json()
    assert all(not c["files"] for c in view["components"]), case


@pytest.mark.parametrize(
    ("case", "filename", "content", "status"), HOSTILE, ids=[c[0] for c in HOSTILE]
)
def test_a_hostile_form_template_is_refused_and_leaves_nothing(
    stack: Stack, case: str, filename: str, content: bytes, status: int
) -> None:
    before = stored_files(stack)
    response = httpx.post(
        f"{stack.base_url}/api/v1/catalogue/procedures/{LAWYERS_BRANCH}/forms",
        data={"name": "Mẫu đơn thử"},
        files={"file": (filename, content, "application/pdf")},
        headers=bearer(admin_tokens(stack)),
        timeout=120,
    )
    assert_problem(response, status)
    assert stored_files(stack) == before, case
    detail = httpx.get(f"{stack.base_url}/api/v1/catalogue/procedures/{LAWYERS_BRANCH}").json()
    assert "Mẫu đơn thử" not in {f["name"] for f in detail["forms"]}, case


@pytest.mark.parametrize(("filename", "banned"), NAMES, ids=[repr(n[0])[:40] for n in NAMES])
def test_path_tricks_in_names_get_a_harmless_stored_name(
    stack: Stack, dossiers: httpx.Client, citizen: dict[str, str], filename: str, banned: str
) -> None:
    dossier_id, component = new_draft(dossiers, citizen)
    before = stored_files(stack)
    response = dossiers.post(
        f"/{dossier_id}/components/{component}/files",
        files={"file": (filename, pdf(), "application/pdf")},
        headers=citizen,
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    name = stored["filename"]
    assert banned not in name and "/" not in name and "\\" not in name, name
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name), name
    assert 0 < len(name) <= 150 and not name.startswith("."), name
    # the file is under the storage folder, under a name the server made
    [added] = stored_files(stack) - before
    assert added.parent.name == dossier_id and added.suffix == ".pdf"
    assert added.name != Path(filename).name and added.read_bytes() == pdf()
    download = dossiers.get(f"/{dossier_id}/files/{stored['id']}", headers=citizen)
    assert download.status_code == 200 and download.content == pdf()
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment; filename*=UTF-8''") and "/" not in disposition


def test_a_dossier_holds_at_most_50_mb(
    stack: Stack, dossiers: httpx.Client, citizen: dict[str, str]
) -> None:
    dossier_id, component = new_draft(dossiers, citizen)
    ten = big_pdf(10 * MB)
    for i in range(5):  # 5 x 10 MB: exactly the limit
        response = dossiers.post(
            f"/{dossier_id}/components/{component}/files",
            files={"file": (f"phan-{i}.pdf", ten, "application/pdf")},
            headers=citizen,
        )
        assert response.status_code == 201, response.text
    before = stored_files(stack)
    one_more = dossiers.post(
        f"/{dossier_id}/components/{component}/files",
        files={"file": ("them.pdf", pdf(), "application/pdf")},
        headers=citizen,
    )
    assert_problem(one_more, 413)
    assert stored_files(stack) == before
    assert len([p for p in before if p.parent.name == dossier_id]) == 5
    deleted = dossiers.delete(f"/{dossier_id}", headers=citizen)
    assert deleted.status_code == 204
    assert not [p for p in stored_files(stack) if p.parent.name == dossier_id]


def test_a_form_template_with_a_path_trick_gets_a_harmless_name(stack: Stack) -> None:
    before = stored_files(stack)
    response = httpx.post(
        f"{stack.base_url}/api/v1/catalogue/procedures/{LAWYERS_BRANCH}/forms",
        data={"name": "Mẫu có tên lạ"},
        files={"file": ("..\\..\\C:\\to\x00khai\n.pdf", pdf(), "application/pdf")},
        headers=bearer(admin_tokens(stack)),
    )
    assert response.status_code == 201, response.text
    name = response.json()["filename"]
    assert not set(name) & set("/\\:\x00\n"), name
    [added] = stored_files(stack) - before
    assert (stack.workdir / "var" / "files") in added.parents

"""The journeys of the user guide, end to end through HTTP with real workers, relays and the
SMTP server: account filer from draft to result; accountless filer from captcha to the tracking
link to a rejection; supplement requested → supplemented → result. Asserts on the e-mails."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.accounts_flow import bearer, registered_citizen
from tests.dossiers_flow import (
    admin_tokens,
    attach_required,
    mail_about,
    officer_of,
    pdf,
    png,
    wait_for_catalogue_copy,
)
from tests.support import SmtpSink, Stack

PROBLEM = "application/problem+json"
LAWYERS_BRANCH = "1.002181"  # Đăng ký hoạt động của chi nhánh, công ty luật nước ngoài (Sở Tư pháp)
LAW_FIRM_CHANGE = "1.002032"  # Thay đổi nội dung đăng ký hoạt động của tổ chức hành nghề luật sư
BIRTH = "1.001193"  # Thủ tục đăng ký khai sinh (commune)
COMMUNE = "X18073"  # Phường Thành Sen
APPLICANT = {"full_name": "Nguyễn Thị Hà", "address": "Phường Thành Sen, Hà Tĩnh"}


@pytest.fixture(scope="module")
def dossiers(stack: Stack) -> Iterator[httpx.Client]:
    wait_for_catalogue_copy(stack, [LAWYERS_BRANCH, LAW_FIRM_CHANGE, BIRTH])
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/dossiers", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def justice_officer(stack: Stack, smtp: SmtpSink) -> dict[str, str]:
    return officer_of(stack, smtp, "HT-STP")


@pytest.fixture
def citizen(stack: Stack, smtp: SmtpSink, email_address: str) -> dict[str, str]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        return bearer(registered_citizen(accounts, smtp, email_address))


def draft(
    dossiers: httpx.Client, headers: dict[str, str], code: str, **extra: Any
) -> dict[str, Any]:
    body = {"procedure_id": code, "applicant": APPLICANT, "declaration": {}, **extra}
    response = dossiers.post("/", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_account_filer_from_draft_to_result(
    dossiers: httpx.Client,
    citizen: dict[str, str],
    justice_officer: dict[str, str],
    smtp: SmtpSink,
    email_address: str,
) -> None:
    dossier = draft(dossiers, citizen, LAWYERS_BRANCH)
    assert dossier["status"] == "draft" and dossier["code"] is None
    assert dossier["procedure"]["code"] == LAWYERS_BRANCH and dossier["agency"]["id"] == "HT-STP"
    assert dossiers.get("/summary", headers=citizen).json()["draft"] == 1

    incomplete = dossiers.post(f"/{dossier['id']}/submit", headers=citizen)
    assert incomplete.status_code == 422
    assert incomplete.headers["content-type"] == PROBLEM
    fields = {e["field"] for e in incomplete.json()["errors"]}
    required = [c for c in dossier["components"] if c["required"]]
    assert {f"components.{c['id']}" for c in required} <= fields
    assert "declaration.request" in fields

    edited = dossiers.patch(
        f"/{dossier['id']}",
        json={"declaration": {"request": "Đề nghị đăng ký hoạt động chi nhánh tại Hà Tĩnh."}},
        headers=citizen,
    )
    assert edited.status_code == 200
    attach_required(dossiers, dossier, citizen)

    sent = dossiers.post(f"/{dossier['id']}/submit", headers=citizen)
    assert sent.status_code == 200, sent.text
    code = sent.json()["code"]
    assert re.fullmatch(r"HT-STP-\d{6}-\d{4}", code)
    assert sent.json()["status"] == "submitted"
    [_, submitted] = mail_about(smtp, email_address, 2)  # activation, then the dossier
    assert code in submitted.subject + submitted.text and "Hồ sơ đã gửi" in submitted.text
    again = dossiers.post(f"/{dossier['id']}/submit", headers=citizen)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM

    inbox = dossiers.get("/inbox", params={"status": "submitted"}, headers=justice_officer).json()
    assert code in {item["code"] for item in inbox["items"]}
    received = dossiers.post(f"/{dossier['id']}/receive", headers=justice_officer)
    assert received.status_code == 200 and received.json()["status"] == "processing"
    assert received.json()["due_at"] is not None
    mail_about(smtp, email_address, 3)
    step = dossiers.post(
        f"/{dossier['id']}/steps", json={"note": "Đã thẩm định hồ sơ."}, headers=justice_officer
    )
    assert step.status_code == 200
    result = dossiers.post(
        f"/{dossier['id']}/result",
        data={"note": "Đã cấp Giấy đăng ký hoạt động."},
        files=[("files", ("giay-dang-ky.pdf", pdf("Giay dang ky"), "application/pdf"))],
        headers=justice_officer,
    )
    assert result.status_code == 200, result.text
    assert result.json()["status"] == "result_returned"
    [processing, returned] = mail_about(smtp, email_address, 4)[2:]
    assert "Hồ sơ đang xử lý" in processing.text
    assert "Hồ sơ đã trả kết quả" in returned.text and "giay-dang-ky.pdf" in returned.text

    view = dossiers.get(f"/{dossier['id']}", headers=citizen).json()
    [result_file] = view["results"]
    download = dossiers.get(f"/{dossier['id']}/results/{result_file['id']}", headers=citizen)
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    history = dossiers.get(f"/{dossier['id']}/history", headers=citizen).json()
    assert [h["action"] for h in history] == [
        "created",
        "submit",
        "receive",
        "step",
        "return_result",
    ]
    assert history[3]["note"] == "Đã thẩm định hồ sơ." and history[3]["actor_role"] == "officer"
    counts = dossiers.get("/summary", headers=citizen).json()
    assert counts["result_returned"] == 1 and counts["draft"] == 0
    mine = dossiers.get("/", params={"status": "result_returned"}, headers=citizen).json()
    assert [item["code"] for item in mine["items"]] == [code]


def test_accountless_filer_from_captcha_to_tracking_link_to_rejection(
    stack: Stack, dossiers: httpx.Client, smtp: SmtpSink, email_address: str
) -> None:
    captcha = httpx.get(f"{stack.base_url}/api/v1/accounts/captcha").json()
    body = {
        "procedure_id": BIRTH,
        "agency_id": COMMUNE,
        "applicant": {**APPLICANT, "email": email_address},
        "declaration": {
            "request": "Đăng ký khai sinh cho con.",
            "child_full_name": "Nguyễn Minh An",
            "child_date_of_birth": "2026-10-02",
            "child_gender": "Nam",
            "place_of_birth": "Bệnh viện Đa khoa tỉnh Hà Tĩnh",
        },
        "captcha_id": captcha["captcha_id"],
        "captcha_answer": "test",
    }
    created = dossiers.post("/accountless", json=body)
    assert created.status_code == 201, created.text
    dossier, token = created.json(), created.json()["token"]
    assert dossier["accountless"] and dossier["agency"]["id"] == COMMUNE
    replay = dossiers.post("/accountless", json=body)
    assert replay.status_code == 400  # the captcha is spent

    holder = {"X-Dossier-Token": token}
    attach_required(dossiers, dossier, holder)
    assert dossiers.get("/summary", headers=holder).status_code == 403
    sent = dossiers.post(f"/{dossier['id']}/submit", headers=holder)
    assert sent.status_code == 200, sent.text
    code = sent.json()["code"]
    [submitted] = mail_about(smtp, email_address, 1)
    link = re.search(r"https?://\S+/theo-doi-ho-so\?\S+", submitted.text)
    assert link and code in submitted.text
    page_url = link.group(0).rstrip(".,)")
    assert page_url.startswith(stack.base_url + "/theo-doi-ho-so?")  # a page, not the API
    # the API's tracking route takes the link's query as it is
    tracking_url = f"{stack.base_url}/api/v1/dossiers/track?{urlsplit(page_url).query}"
    tracked = httpx.get(tracking_url).json()
    assert tracked["code"] == code and tracked["status"] == "submitted"
    assert "applicant" not in tracked and "declaration" not in tracked
    assert dossiers.get(f"/{dossier['id']}", headers=holder).status_code == 404  # sent: track only

    commune_officer = officer_of(stack, smtp, COMMUNE)
    rejected = dossiers.post(
        f"/{dossier['id']}/reject",
        json={"reason": "Giấy chứng sinh không rõ, đề nghị nộp lại hồ sơ mới."},
        headers=commune_officer,
    )
    assert rejected.status_code == 200, rejected.text
    [_, rejection] = mail_about(smtp, email_address, 2)
    assert "Giấy chứng sinh không rõ" in rejection.text and "Hồ sơ bị trả lại" in rejection.text
    tracked = httpx.get(tracking_url).json()
    assert tracked["status"] == "rejected"
    assert [h["action"] for h in tracked["history"]] == ["created", "submit", "reject"]
    wrong = httpx.get(
        f"{stack.base_url}/api/v1/dossiers/track", params={"code": code, "token": "x"}
    )
    assert wrong.status_code == 404


def test_supplement_requested_then_supplemented_then_result(
    dossiers: httpx.Client,
    citizen: dict[str, str],
    justice_officer: dict[str, str],
    smtp: SmtpSink,
    email_address: str,
) -> None:
    dossier = draft(
        dossiers, citizen, LAW_FIRM_CHANGE, declaration={"request": "Thay đổi địa chỉ trụ sở."}
    )
    attach_required(dossiers, dossier, citizen)
    assert dossiers.post(f"/{dossier['id']}/submit", headers=citizen).status_code == 200
    assert dossiers.post(f"/{dossier['id']}/receive", headers=justice_officer).status_code == 200
    asked = dossiers.post(
        f"/{dossier['id']}/request-supplement",
        json={"content": "Bổ sung bản sao Giấy phép thành lập có chứng thực."},
        headers=justice_officer,
    )
    assert asked.status_code == 200 and asked.json()["status"] == "supplement_requested"
    mails = mail_about(smtp, email_address, 4)  # activation, submitted, processing, supplement
    assert "Bổ sung bản sao Giấy phép" in mails[3].text
    assert "Hồ sơ yêu cầu bổ sung" in mails[3].text
    seen = dossiers.get(f"/{dossier['id']}", headers=citizen).json()
    assert seen["supplement_request"] == "Bổ sung bản sao Giấy phép thành lập có chứng thực."
    assert dossiers.post(f"/{dossier['id']}/receive", headers=justice_officer).status_code == 409

    component = dossier["components"][0]["id"]
    extra = dossiers.post(
        f"/{dossier['id']}/components/{component}/files",
        files={"file": ("giay-phep.png", png(), "image/png")},
        headers=citizen,
    )
    assert extra.status_code == 201
    again = dossiers.post(f"/{dossier['id']}/supplement", headers=citizen)
    assert again.status_code == 200 and again.json()["status"] == "submitted"
    assert dossiers.post(f"/{dossier['id']}/receive", headers=justice_officer).status_code == 200
    result = dossiers.post(
        f"/{dossier['id']}/result",
        files=[("files", ("quyet-dinh.pdf", pdf("Quyet dinh"), "application/pdf"))],
        headers=justice_officer,
    )
    assert result.status_code == 200
    later = [m.text for m in mail_about(smtp, email_address, 7)[4:]]
    assert "Hồ sơ đã gửi" in later[0] and "Hồ sơ đang xử lý" in later[1]
    assert "Hồ sơ đã trả kết quả" in later[2]
    history = dossiers.get(f"/{dossier['id']}/history", headers=citizen).json()
    assert [h["action"] for h in history] == [
        "created",
        "submit",
        "receive",
        "request_supplement",
        "supplement",
        "receive",
        "return_result",
    ]


def test_who_may_see_and_do_what(
    stack: Stack,
    dossiers: httpx.Client,
    citizen: dict[str, str],
    justice_officer: dict[str, str],
    smtp: SmtpSink,
) -> None:
    dossier = draft(dossiers, citizen, LAWYERS_BRANCH, declaration={"request": "Đăng ký."})
    files = attach_required(dossiers, dossier, citizen)
    other_agency = officer_of(stack, smtp, "HT-SXD")
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        stranger = bearer(
            registered_citizen(accounts, smtp, f"nguoi.la.{dossier['id'][:8]}@example.vn")
        )

    assert dossiers.get(f"/{dossier['id']}").status_code == 401
    assert dossiers.get(f"/{dossier['id']}", headers=stranger).status_code == 404
    assert dossiers.get(f"/{dossier['id']}", headers=justice_officer).status_code == 404  # a draft
    file_url = f"/{dossier['id']}/files/{files[0]['id']}"
    assert dossiers.get(file_url, headers=stranger).status_code == 404
    assert dossiers.get(file_url, headers=citizen).content.startswith(b"%PDF")

    assert dossiers.post(f"/{dossier['id']}/submit", headers=citizen).status_code == 200
    assert dossiers.get(f"/{dossier['id']}", headers=justice_officer).status_code == 200
    assert dossiers.get(file_url, headers=justice_officer).status_code == 200
    assert dossiers.get(f"/{dossier['id']}", headers=other_agency).status_code == 404
    assert dossiers.post(f"/{dossier['id']}/receive", headers=other_agency).status_code == 404
    assert dossiers.post(f"/{dossier['id']}/receive", headers=citizen).status_code == 403
    assert dossiers.get("/inbox", headers=citizen).status_code == 403
    assert (
        dossiers.post("/", json={"procedure_id": BIRTH}, headers=justice_officer).status_code == 403
    )
    patch = dossiers.patch(f"/{dossier['id']}", json={"applicant": APPLICANT}, headers=citizen)
    assert patch.status_code == 409  # sent: no longer editable
    assert dossiers.delete(f"/{dossier['id']}", headers=citizen).status_code == 409
    step = dossiers.post(f"/{dossier['id']}/steps", json={"note": "x"}, headers=justice_officer)
    assert step.status_code == 409  # not processing yet

    results = []

    def receive() -> None:
        results.append(
            httpx.post(
                f"{stack.base_url}/api/v1/dossiers/{dossier['id']}/receive",
                headers=justice_officer,
                timeout=30,
            ).status_code
        )

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409, 409, 409]


def test_uploads_are_checked_by_content(dossiers: httpx.Client, citizen: dict[str, str]) -> None:
    dossier = draft(dossiers, citizen, LAWYERS_BRANCH)
    component = dossier["components"][0]["id"]
    url = f"/{dossier['id']}/components/{component}/files"
    exe = dossiers.post(
        url,
        files={"file": ("hop-dong.pdf", b"MZ\x90\x00" + b"\0" * 200, "application/pdf")},
        headers=citizen,
    )
    assert exe.status_code == 415 and exe.headers["content-type"] == PROBLEM
    big = dossiers.post(
        url,
        files={"file": ("lon.pdf", pdf() + b"0" * (10 * 1024 * 1024), "application/pdf")},
        headers=citizen,
    )
    assert big.status_code == 413
    tricky = dossiers.post(
        url, files={"file": ("../../etc/passwd.pdf", pdf(), "application/pdf")}, headers=citizen
    )
    assert tricky.status_code == 201
    assert "/" not in tricky.json()["filename"] and ".." not in tricky.json()["filename"]
    unknown = dossiers.post(
        f"/{dossier['id']}/components/khong-co/files",
        files={"file": ("a.pdf", pdf(), "application/pdf")},
        headers=citizen,
    )
    assert unknown.status_code == 404


def test_codes_are_unique_under_concurrent_sends(
    stack: Stack, dossiers: httpx.Client, citizen: dict[str, str]
) -> None:
    ids = []
    for _ in range(8):
        dossier = draft(dossiers, citizen, LAWYERS_BRANCH, declaration={"request": "Đăng ký."})
        attach_required(dossiers, dossier, citizen)
        ids.append(dossier["id"])
    codes: list[str] = []

    def send(dossier_id: str) -> None:
        response = httpx.post(
            f"{stack.base_url}/api/v1/dossiers/{dossier_id}/submit", headers=citizen, timeout=30
        )
        assert response.status_code == 200, response.text
        codes.append(response.json()["code"])

    threads = [threading.Thread(target=send, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(codes)) == 8
    numbers = sorted(int(c.rsplit("-", 1)[1]) for c in codes)
    assert numbers == list(range(numbers[0], numbers[0] + 8))


def test_filing_errors_are_problems(dossiers: httpx.Client, citizen: dict[str, str]) -> None:
    unknown = dossiers.post("/", json={"procedure_id": "9.999999"}, headers=citizen)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "procedure_id"
    no_commune = dossiers.post("/", json={"procedure_id": BIRTH}, headers=citizen)
    assert no_commune.status_code == 422 and no_commune.json()["errors"][0]["field"] == "agency_id"
    bad = dossiers.post("/", json={"procedure_id": BIRTH, "agency_id": "HT-STP"}, headers=citizen)
    assert bad.status_code == 422
    english = dossiers.get("/khong-co", headers={**citizen, "Accept-Language": "en"})
    assert english.status_code == 404 and english.json()["detail"] == "No such dossier."


def test_deadline_counts_working_days_and_late_dossiers_are_flagged(
    stack: Stack,
    dossiers: httpx.Client,
    citizen: dict[str, str],
    justice_officer: dict[str, str],
) -> None:
    from services.dossiers.deadlines import add_working_days, is_working_day, local_date

    dossier = draft(dossiers, citizen, LAWYERS_BRANCH, declaration={"request": "Đăng ký."})
    attach_required(dossiers, dossier, citizen)
    assert dossiers.post(f"/{dossier['id']}/submit", headers=citizen).status_code == 200
    received = dossiers.post(f"/{dossier['id']}/receive", headers=justice_officer).json()
    due = dt.datetime.fromisoformat(received["due_at"])
    received_at = dt.datetime.fromisoformat(received["received_at"])
    assert due == add_working_days(received_at, 7)  # the procedure's 7 working days
    assert is_working_day(local_date(due)) and not received["overdue"]

    stack.query(
        "dossiers",
        "UPDATE dossiers SET due_at = now() - interval '1 hour' WHERE id = $1",
        dossier["id"],
    )
    late = dossiers.get("/inbox", params={"overdue": "true"}, headers=justice_officer).json()
    assert dossier["id"] in {item["id"] for item in late["items"]}
    assert all(item["overdue"] for item in late["items"])
    on_time = dossiers.get("/inbox", params={"overdue": "false"}, headers=justice_officer).json()
    assert dossier["id"] not in {item["id"] for item in on_time["items"]}


def test_a_procedure_without_a_processing_time_says_so_instead_of_a_due_date(
    stack: Stack,
    smtp: SmtpSink,
    dossiers: httpx.Client,
    citizen: dict[str, str],
    justice_officer: dict[str, str],
    email_address: str,
) -> None:
    """A procedure the catalogue gives no processing time: its dossiers have no due date, and
    the filer and the officer read that none was published (the view, the inbox, the
    tracking page, the "being processed" e-mail) rather than nothing."""
    note = "Thời hạn giải quyết: chưa được công bố; vui lòng liên hệ cơ quan thực hiện"
    admin = bearer(admin_tokens(stack))
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/catalogue", timeout=30) as catalogue:
        name = f"Thử {uuid.uuid4().hex[:6]}"
        field = catalogue.post("/fields", json={"name": name}, headers=admin)
        code = f"9.{uuid.uuid4().int % 1_000_000:06d}"
        created = catalogue.post(
            "/procedures",
            json={
                "code": code,
                "name": "Cấp giấy xác nhận chưa có thời hạn",
                "field_id": field.json()["id"],
                "tier": ["province"],
                "agency_id": "HT-STP",
                "components": [{"name": "Đơn đề nghị", "required": True}],
            },
            headers=admin,
        )
    assert created.status_code == 201, created.text
    assert created.json()["processing_time_source"] == "unknown"
    wait_for_catalogue_copy(stack, [code])

    dossier = draft(dossiers, citizen, code, declaration={"request": "Xác nhận."})
    assert dossier["deadline_note"] == note
    assert dossier["procedure"]["processing_time_source"] == "unknown"
    attach_required(dossiers, dossier, citizen)
    assert dossiers.post(f"/{dossier['id']}/submit", headers=citizen).status_code == 200
    received = dossiers.post(f"/{dossier['id']}/receive", headers=justice_officer)
    assert received.status_code == 200, received.text
    assert received.json()["due_at"] is None and received.json()["deadline_note"] == note
    inbox = dossiers.get("/inbox", params={"status": "processing"}, headers=justice_officer)
    [item] = [i for i in inbox.json()["items"] if i["id"] == dossier["id"]]
    assert item["deadline_note"] == note and not item["overdue"]
    mails = mail_about(smtp, email_address, 3)  # activation, submitted, processing
    processing = [m for m in mails if "đang xử lý" in m.subject]
    assert processing and note in processing[0].text and note in processing[0].html


def test_the_inbox_summary_counts_what_the_inbox_lists(
    dossiers: httpx.Client, justice_officer: dict[str, str], citizen: dict[str, str]
) -> None:
    submitted = draft(dossiers, citizen, LAWYERS_BRANCH, declaration={"request": "Đề nghị."})
    attach_required(dossiers, submitted, citizen)
    assert dossiers.post(f"/{submitted['id']}/submit", headers=citizen).status_code == 200
    summary = dossiers.get("/inbox/summary", headers=justice_officer)
    assert summary.status_code == 200, summary.text
    counts = summary.json()
    assert "draft" not in counts and counts["submitted"] >= 1
    for status in ("submitted", "supplement_requested", "processing", "result_returned"):
        listed = dossiers.get("/inbox", params={"status": status}, headers=justice_officer)
        assert listed.json()["total"] == counts[status], status
    late = dossiers.get("/inbox", params={"overdue": "true"}, headers=justice_officer).json()
    assert late["total"] == counts["overdue"]
    assert dossiers.get("/inbox/summary", headers=citizen).status_code == 403
